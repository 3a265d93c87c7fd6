using System;

namespace Chatrm.Engine
{
    /// <summary>Rules for user names: 1 to 32 ASCII letters, digits, '.' or '-', compared without regard to case.</summary>
    public static class UserNames
    {
        public const int MaxLength = 32;

        /// <summary>The reserved sender of server notices; no user may take it.</summary>
        public const string Server = "chatrm";

        public static readonly StringComparer Comparer = StringComparer.OrdinalIgnoreCase;

        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        public static bool IsValid(string name)
        {
            if (string.IsNullOrEmpty(name) || name.Length > MaxLength)
            {
                return false;
            }

            foreach (char c in name)
            {
                bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
                if (!ok)
                {
                    return false;
                }
            }

            return true;
        }

        public static bool IsReserved(string name) => Comparer.Equals(name, Server);

        public static bool AreSame(string a, string b) => Comparer.Equals(a, b);

        /// <summary>Why a name cannot be used, or null when it can.</summary>
        public static string Problem(string name)
        {
            if (!IsValid(name))
            {
                return "names are 1 to 32 letters, digits, dots or dashes";
            }

            return IsReserved(name) ? "the name chatrm is reserved for the server" : null;
        }
    }
}
