using System;
using System.Collections.Generic;
using System.Text;

namespace Chatrm.Engine.Storage
{
    /// <summary>
    /// The body of one history row: a run of one conversation's messages, ascending by Seq, as one blob, so a commit
    /// writes one row per conversation rather than one per message. Layout (integers little-endian, lengths and
    /// indexes as 7-bit varints, strings UTF-8): a format byte (1); the count of messages; the names the run uses
    /// (count, then each); then per message Seq, Id, SentAt ticks UTC (8 bytes each), the index of From and of To
    /// among the names, and the text.
    /// </summary>
    internal sealed class HistoryChunk
    {
        private const byte Format = 1;

        private readonly ChunkWriter writer = new ChunkWriter();

        /// <summary>The encoded body, valid until the next <see cref="Encode"/>: the first <see cref="Length"/> bytes of it.</summary>
        public byte[] Buffer => writer.Buffer;

        public int Length => writer.Length;

        /// <summary>Encodes <paramref name="count"/> messages from <paramref name="start"/> into <see cref="Buffer"/>, which is reused.</summary>
        public void Encode(List<StoredMessage> messages, int start, int count)
        {
            writer.Begin(Format, messages, start, count);
            for (int i = start; i < start + count; i++)
            {
                StoredMessage message = messages[i];
                writer.WriteInt64(message.Seq);
                writer.WriteInt64(message.Id);
                writer.WriteInt64(message.SentAt.Ticks);
                writer.WriteName(message.From);
                writer.WriteName(message.To);
                if (message.TextJson != null)
                {
                    // ASCII as it came: its bytes are its UTF-8, between the quotes.
                    writer.WriteBytes(message.TextJson, 1, message.TextJson.Length - 2);
                }
                else
                {
                    writer.WriteString(message.Text);
                }
            }
        }

        public static void Decode(byte[] body, List<StoredMessage> into)
        {
            string[] table = ChunkWriter.ReadHead(body, Format, "A history chunk", out int count, out int at);
            for (int i = 0; i < count; i++)
            {
                into.Add(new StoredMessage
                {
                    Seq = ReadInt64(body, ref at),
                    Id = ReadInt64(body, ref at),
                    SentAt = new DateTime(ReadInt64(body, ref at), DateTimeKind.Utc),
                    From = table[ReadVarint(body, ref at)],
                    To = table[ReadVarint(body, ref at)],
                    Text = ReadString(body, ref at),
                });
            }
        }

        // The pieces a line is made of, shared with the memory store's segments (MemoryHistory), which hold lines the same way.
        internal static void WriteInt64(byte[] into, ref int at, long value)
        {
            // Little-endian, as the loop of eight byte stores it replaced wrote: one store instead, in the hot path of every line.
            System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(new Span<byte>(into, at, 8), value);
            at += 8;
        }

        internal static void WriteVarint(byte[] into, ref int at, int value)
        {
            uint v = (uint)value;
            while (v >= 0x80)
            {
                into[at++] = (byte)(v | 0x80);
                v >>= 7;
            }

            into[at++] = (byte)v;
        }

        /// <summary>
        /// A length and the text's UTF-8 in one pass over the text: room for the length is kept as wide as the longest
        /// the text could encode to, and the length written padded to that width once the bytes are.
        /// </summary>
        internal static void WriteUtf8(byte[] into, ref int at, string text)
        {
            int most = Encoding.UTF8.GetMaxByteCount(text.Length);
            int width = most < 0x80 ? 1 : most < 0x4000 ? 2 : most < 0x200000 ? 3 : 5;
            int bytes = Encoding.UTF8.GetBytes(text, 0, text.Length, into, at + width);
            WriteVarintPadded(into, ref at, bytes, width);
            at += bytes;
        }

        // A varint stretched to a fixed width with continuation bytes of 0x80, which decode the same.
        private static void WriteVarintPadded(byte[] into, ref int at, int value, int width)
        {
            uint v = (uint)value;
            for (int i = 0; i < width - 1; i++)
            {
                into[at++] = (byte)((v & 0x7F) | 0x80);
                v >>= 7;
            }

            into[at++] = (byte)v;
        }

        internal static long ReadInt64(byte[] body, ref int at)
        {
            long value = System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(new ReadOnlySpan<byte>(body, at, 8));
            at += 8;
            return value;
        }

        internal static int ReadVarint(byte[] body, ref int at)
        {
            uint value = 0;
            int shift = 0;
            byte b;
            do
            {
                b = body[at++];
                value |= (uint)(b & 0x7F) << shift;
                shift += 7;
            }
            while ((b & 0x80) != 0 && shift < 35);

            return (int)value;
        }

        internal static string ReadString(byte[] body, ref int at)
        {
            int bytes = ReadVarint(body, ref at);
            string text = Encoding.UTF8.GetString(body, at, bytes);
            at += bytes;
            return text;
        }
    }
}
