using System;

namespace Chatrm.Engine
{
    /// <summary>
    /// Rules for room names: '#' and then 1 to 32 ASCII letters, digits, '.' or '-' (a user name's rules), compared
    /// without regard to case. No user name starts with '#', so a recipient is a room exactly when it does.
    /// </summary>
    public static class RoomNames
    {
        /// <summary>The longest room name, '#' included.</summary>
        public const int MaxLength = UserNames.MaxLength + 1;

        public const char Prefix = '#';

        public static readonly StringComparer Comparer = StringComparer.OrdinalIgnoreCase;

        /// <summary>Whether the recipient names a room (valid or not): it starts with '#'.</summary>
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        public static bool IsRoom(string to) => !string.IsNullOrEmpty(to) && to[0] == Prefix;

        public static bool IsValid(string name) =>
            IsRoom(name) && name.Length <= MaxLength && UserNames.IsValid(name.Substring(1));

        public static bool AreSame(string a, string b) => Comparer.Equals(a, b);

        /// <summary>Why a name cannot be a room, or null when it can.</summary>
        public static string Problem(string name) =>
            IsValid(name) ? null : "room names are # and 1 to 32 letters, digits, dots or dashes";
    }
}
