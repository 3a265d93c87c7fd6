using System;
using System.Text.Encodings.Web;

namespace Chatrm.Engine.Protocol.Native
{
    /// <summary>
    /// <see cref="JavaScriptEncoder.UnsafeRelaxedJsonEscaping"/>, except that characters outside the Basic
    /// Multilingual Plane (emoji, most CJK extensions) go as their UTF-8 bytes instead of a pair of \u escapes,
    /// as the other non-ASCII text already does: frames stay readable in nc, and four bytes instead of twelve. For
    /// every BMP character it escapes exactly what the relaxed encoder escapes (tests check every one), so the
    /// wire of BMP text is the same. A lone surrogate, which no UTF-8 can carry, is still the relaxed encoder's.
    /// </summary>
    internal sealed class Utf8JsonEncoder : JavaScriptEncoder
    {
        private static readonly JavaScriptEncoder Relaxed = UnsafeRelaxedJsonEscaping;

        public static readonly Utf8JsonEncoder Instance = new Utf8JsonEncoder();

        private Utf8JsonEncoder()
        {
        }

        public override int MaxOutputCharactersPerInputCharacter => Relaxed.MaxOutputCharactersPerInputCharacter;

        public override bool WillEncode(int unicodeScalar) => unicodeScalar <= 0xFFFF && Relaxed.WillEncode(unicodeScalar);

        public override unsafe int FindFirstCharacterToEncode(char* text, int textLength)
        {
            int start = 0;
            while (start < textLength)
            {
                int found = Relaxed.FindFirstCharacterToEncode(text + start, textLength - start);
                if (found < 0)
                {
                    return -1;
                }

                int at = start + found;
                if (!char.IsHighSurrogate(text[at]) || at + 1 >= textLength || !char.IsLowSurrogate(text[at + 1]))
                {
                    return at;
                }

                start = at + 2;
            }

            return -1;
        }

        public override int FindFirstCharacterToEncodeUtf8(ReadOnlySpan<byte> utf8Text)
        {
            int start = 0;
            while (start < utf8Text.Length)
            {
                int found = Relaxed.FindFirstCharacterToEncodeUtf8(utf8Text.Slice(start));
                if (found < 0)
                {
                    return -1;
                }

                int at = start + found;
                if (!IsFourByteScalar(utf8Text.Slice(at)))
                {
                    return at;
                }

                start = at + 4;
            }

            return -1;
        }

        public override unsafe bool TryEncodeUnicodeScalar(int unicodeScalar, char* buffer, int bufferLength, out int numberOfCharactersWritten) =>
            Relaxed.TryEncodeUnicodeScalar(unicodeScalar, buffer, bufferLength, out numberOfCharactersWritten);

        /// <summary>Whether the bytes start with a well-formed four-byte UTF-8 sequence: a scalar above U+FFFF.</summary>
        private static bool IsFourByteScalar(ReadOnlySpan<byte> bytes)
        {
            if (bytes.Length < 4)
            {
                return false;
            }

            byte lead = bytes[0];
            byte second = bytes[1];
            bool secondOk = lead == 0xF0 ? second >= 0x90 && second <= 0xBF
                : lead >= 0xF1 && lead <= 0xF3 ? second >= 0x80 && second <= 0xBF
                : lead == 0xF4 && second >= 0x80 && second <= 0x8F;
            return secondOk && (bytes[2] & 0xC0) == 0x80 && (bytes[3] & 0xC0) == 0x80;
        }
    }
}
