using System.Globalization;

namespace Chatrm.Engine.Protocol.Native
{
    /// <summary>The rules of a message id on the wire: a positive decimal number.</summary>
    internal static partial class NativeProtocol
    {
        /// <summary>
        /// A message id as the server writes them: digits without a leading zero, 1 or more. Anything else is no
        /// message of this server's.
        /// </summary>
        internal static bool TryParseMessageId(string id, out long number)
        {
            number = 0;
            if (string.IsNullOrEmpty(id) || id.Length > 19 || id[0] == '0')
            {
                return false;
            }

            foreach (char c in id)
            {
                if (c < '0' || c > '9')
                {
                    return false;
                }
            }

            return long.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out number);
        }

        /// <summary>The id <see cref="TryParseMessageId"/> reads as <paramref name="number"/>; null for 0, no id.</summary>
        internal static string MessageIdText(long number) => number > 0 ? number.ToString(CultureInfo.InvariantCulture) : null;
    }
}
