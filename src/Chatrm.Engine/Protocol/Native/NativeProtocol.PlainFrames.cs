using System;

namespace Chatrm.Engine.Protocol.Native
{
    /// <summary>
    /// The fast paths for the frames a server reads most, sends and acks, written exactly as clients write them:
    /// read without the JSON reader.
    /// </summary>
    internal static partial class NativeProtocol
    {
        /// <summary>
        /// Reads a send written exactly as clients write them, {"type":"send","ref":"…","to":"…","text":"…"} (the
        /// ref optional) with every value printable ASCII and nothing escaped, without the JSON reader: for a
        /// server's routing frame, where parsing sends was the largest managed cost. Anything else, even one
        /// space more, is left to <see cref="TryRead"/>; the native fuzz target checks both read the same.
        /// </summary>
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        internal static bool TryReadPlainSend(ReadOnlySpan<byte> line, NativeFrame frame)
        {
            int at = 0;
            if (!Skip(line, ref at, "{\"type\":\"send\","u8))
            {
                return false;
            }

            int referenceAt = -1, referenceLength = 0;
            if (Skip(line, ref at, "\"ref\":"u8))
            {
                referenceAt = at;
                if (!SkipPlainString(line, ref at) || !Skip(line, ref at, ","u8))
                {
                    return false;
                }

                referenceLength = at - 1 - referenceAt;
            }

            if (!Skip(line, ref at, "\"to\":"u8))
            {
                return false;
            }

            int toAt = at;
            if (!SkipPlainString(line, ref at))
            {
                return false;
            }

            int toLength = at - toAt;
            if (!Skip(line, ref at, ",\"text\":"u8))
            {
                return false;
            }

            int textAt = at;
            if (!SkipPlainString(line, ref at) || at != line.Length - 1 || line[at] != (byte)'}')
            {
                return false;
            }

            frame.Clear();
            frame.Type = FrameType.Send;
            if (referenceAt >= 0)
            {
                frame.SetRefJson(line.Slice(referenceAt, referenceLength).ToArray());
            }

            ReadOnlySpan<byte> name = line.Slice(toAt + 1, toLength - 2);
            frame.To = frame.PreviousRecipient(name) ?? frame.RememberRecipient(name, Utf8.GetString(name.ToArray()));
            frame.SetTextJson(line.Slice(textAt, at - textAt).ToArray());
            return true;
        }

        /// <summary>
        /// Reads an ack written exactly as clients write them, {"type":"ack","through":"…"} or {"type":"ack","id":"…"},
        /// the id printable ASCII and nothing escaped, without the JSON reader: every message a native user receives
        /// brings one (or a share of one), so in a room each post brings one from every member. Anything else is
        /// left to <see cref="TryRead"/>, as for sends.
        /// </summary>
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        internal static bool TryReadPlainAck(ReadOnlySpan<byte> line, NativeFrame frame)
        {
            int at = 0;
            if (!Skip(line, ref at, "{\"type\":\"ack\",\""u8))
            {
                return false;
            }

            bool through = Skip(line, ref at, "through\":"u8);
            if (!through && !Skip(line, ref at, "id\":"u8))
            {
                return false;
            }

            int valueAt = at;
            if (!SkipPlainString(line, ref at) || at != line.Length - 1 || line[at] != (byte)'}')
            {
                return false;
            }

            frame.Clear();
            frame.Type = FrameType.Ack;
            string id = Utf8.GetString(line.Slice(valueAt + 1, at - valueAt - 2).ToArray());
            if (through)
            {
                frame.Through = id;
            }
            else
            {
                frame.Id = id;
            }

            return true;
        }

        private static bool Skip(ReadOnlySpan<byte> line, ref int at, ReadOnlySpan<byte> expected)
        {
            if (!line.Slice(at).StartsWith(expected))
            {
                return false;
            }

            at += expected.Length;
            return true;
        }

        /// <summary>Steps over a string value, quotes included, if it has no escape and only printable ASCII.</summary>
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        private static bool SkipPlainString(ReadOnlySpan<byte> line, ref int at)
        {
            if (at >= line.Length || line[at] != (byte)'"')
            {
                return false;
            }

            ReadOnlySpan<byte> rest = line.Slice(at + 1);
            int end = rest.IndexOf((byte)'"');
            if (end < 0)
            {
                return false;
            }

            ReadOnlySpan<byte> value = rest.Slice(0, end);
            if (value.IndexOf((byte)'\\') >= 0 || !IsPrintableAscii(value))
            {
                return false;
            }

            at += end + 2;
            return true;
        }
    }
}
