using System;
using System.Buffers.Text;
using System.Globalization;
using Chatrm.Engine.Messaging;

namespace Chatrm.Engine.Protocol.Native
{
    /// <summary>
    /// The rules of a message id on the wire. A lone server's (server identity 0) is its sequence number in
    /// decimal, "42"; a cluster node's is its identity, a dot and the sequence, "3.42". Digits without a leading
    /// zero, so each id has exactly one spelling.
    /// </summary>
    internal static partial class NativeProtocol
    {
        // The longest id written: "32767.281474976710655".
        internal const int MaxMessageIdBytes = 21;

        /// <summary>
        /// An id as its number (see <see cref="MessageIds"/>). Plain digits read as they always did, up to
        /// <see cref="long.MaxValue"/>; a lone server writes no more than <see cref="MessageIds.MaxSequence"/> of them.
        /// </summary>
        internal static bool TryParseMessageId(string id, out long number)
        {
            number = 0;
            if (string.IsNullOrEmpty(id))
            {
                return false;
            }

            int dot = id.IndexOf('.');
            if (dot < 0)
            {
                return TryParseDigits(id, 0, id.Length, long.MaxValue, out number);
            }

            if (!TryParseDigits(id, 0, dot, MessageIds.MaxServerId, out long server) ||
                !TryParseDigits(id, dot + 1, id.Length - dot - 1, MessageIds.MaxSequence, out long sequence))
            {
                number = 0;
                return false;
            }

            number = MessageIds.Compose((int)server, sequence);
            return true;
        }

        /// <summary>The id <see cref="TryParseMessageId"/> reads as <paramref name="number"/>; null for 0, no id.</summary>
        internal static string MessageIdText(long number)
        {
            if (number <= 0)
            {
                return null;
            }

            int server = MessageIds.ServerOf(number);
            string sequence = MessageIds.SequenceOf(number).ToString(CultureInfo.InvariantCulture);
            return server == 0 ? sequence : server.ToString(CultureInfo.InvariantCulture) + "." + sequence;
        }

        /// <summary>Writes the id of <paramref name="number"/> (greater than 0) as UTF-8; returns its length.</summary>
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        internal static int FormatMessageId(long number, Span<byte> into)
        {
            int used = 0;
            int server = MessageIds.ServerOf(number);
            if (server != 0)
            {
                // Only a cluster node's ids: a lone server writes the sequence alone, as it always did.
                Utf8Formatter.TryFormat(server, into, out used);
                into[used++] = (byte)'.';
                number = MessageIds.SequenceOf(number);
            }

            Utf8Formatter.TryFormat(number, into.Slice(used), out int digits);
            return used + digits;
        }

        private static bool TryParseDigits(string text, int start, int length, long max, out long value)
        {
            value = 0;
            if (length == 0 || length > 19 || text[start] == '0')
            {
                return false;
            }

            for (int i = start; i < start + length; i++)
            {
                char c = text[i];
                if (c < '0' || c > '9' || value > (max - (c - '0')) / 10)
                {
                    value = 0;
                    return false;
                }

                value = value * 10 + (c - '0');
            }

            return true;
        }
    }
}
