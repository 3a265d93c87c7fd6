using System;
using System.Runtime.InteropServices;
using System.Text;

namespace Chatrm.Engine.Protocol.Native
{
    /// <summary>
    /// Chatrm's native protocol: one UTF-8 JSON object per line. The opening frame names the protocol as
    /// "chatrm_native": the '_' makes an original server read it as a handshake instead of crashing.
    /// Frames are read and written as UTF-8 bytes (System.Text.Json's reader and writer), never as strings
    /// on the way: only the field values a frame carries become strings.
    /// </summary>
    internal static partial class NativeProtocol
    {
        public const int Version = 1;
        public const string ProtocolName = "chatrm_native";

        private static readonly UTF8Encoding Utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);

        /// <summary>A first line that opens the native protocol: no classic name starts with '{'.</summary>
        public static bool IsNativeOpening(string line) => line.TrimStart().StartsWith("{", StringComparison.Ordinal);

        /// <summary>The same test on the line's bytes.</summary>
        public static bool IsNativeOpening(ReadOnlySpan<byte> line)
        {
            int first = SkipAsciiWhiteSpace(line);
            if (first == line.Length)
            {
                return false;
            }

            // Past non-ASCII (Unicode white space, perhaps) the string test decides, as it always has.
            return line[first] >= 0x80 ? IsNativeOpening(Utf8.GetString(line.ToArray())) : line[first] == (byte)'{';
        }

        /// <summary>A line of nothing but white space, which a person pressing Enter sends.</summary>
        internal static bool IsBlank(ReadOnlySpan<byte> line)
        {
            int first = SkipAsciiWhiteSpace(line);
            if (first == line.Length)
            {
                return true;
            }

            return line[first] >= 0x80 && Utf8.GetString(line.ToArray()).Trim().Length == 0;
        }

        /// <summary>Where the first byte that is not ASCII white space is (the length when there is none).</summary>
        private static int SkipAsciiWhiteSpace(ReadOnlySpan<byte> line)
        {
            int i = 0;
            while (i < line.Length && IsAsciiWhiteSpace(line[i]))
            {
                i++;
            }

            return i;
        }

        /// <summary>
        /// Whether every byte is printable ASCII, 0x20 to 0x7E. A string value's bytes like that, with no quote or
        /// backslash (which the caller rules out), are what the writer writes for the same text: its encoder
        /// escapes only controls, quotes, backslash and DEL.
        /// </summary>
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        internal static bool IsPrintableAscii(ReadOnlySpan<byte> bytes)
        {
            // Eight bytes at a time. A byte is 0x7F or above when it, or it plus one, has its top bit set (a carry out
            // of a byte comes only from 0xFF, caught itself); below 0x20 when, all being under 0x80, subtracting 0x20
            // borrows into its top bit (a borrow out of a byte comes only from one below 0x20, caught itself).
            ReadOnlySpan<ulong> words = MemoryMarshal.Cast<byte, ulong>(bytes);
            foreach (ulong word in words)
            {
                if (((word | (word + 0x0101010101010101UL)) & 0x8080808080808080UL) != 0 ||
                    ((word - 0x2020202020202020UL) & ~word & 0x8080808080808080UL) != 0)
                {
                    return false;
                }
            }

            for (int i = words.Length * sizeof(ulong); i < bytes.Length; i++)
            {
                if (bytes[i] < 0x20 || bytes[i] >= 0x7F)
                {
                    return false;
                }
            }

            return true;
        }

        private static bool IsAsciiWhiteSpace(byte b) => b == (byte)' ' || b == (byte)'\t' || b == (byte)'\r' || b == (byte)'\n' || b == 0x0B || b == 0x0C;

        private static bool IsValidUtf8(ReadOnlySpan<byte> bytes)
        {
            try
            {
                StrictUtf8.GetCharCount(bytes.ToArray());
                return true;
            }
            catch (DecoderFallbackException)
            {
                return false;
            }
        }

        private static readonly UTF8Encoding StrictUtf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
    }
}
