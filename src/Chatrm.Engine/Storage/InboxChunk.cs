using System;
using System.Collections.Generic;
using System.Text;

namespace Chatrm.Engine.Storage
{
    /// <summary>
    /// The body of one inbox row (table inbox_chunk): a run of one user's offline messages as one blob, so a commit
    /// writes one row per recipient rather than one per message (a row of its own costs SQLite several times what the
    /// message's bytes do). Layout, in <see cref="HistoryChunk"/>'s pieces: a format byte (1); the count of messages;
    /// the names the run uses (count, then each); then per message Id and SentAt ticks UTC (8 bytes each), the index
    /// of From and of To among the names, the text, and the sender's ref (0 for none, else its UTF-8 length + 1, then
    /// its bytes). A text's encoded length is its UTF-8 byte count, which is what the inbox's quota counts.
    /// </summary>
    internal sealed class InboxChunk
    {
        private const byte Format = 1;

        private readonly ChunkWriter writer = new ChunkWriter();

        /// <summary>The encoded body, valid until the next <see cref="Encode"/>: the first <see cref="Length"/> bytes of it.</summary>
        public byte[] Buffer => writer.Buffer;

        public int Length => writer.Length;

        // What the last Encode's run holds, for the row's columns.
        public long FirstId { get; private set; }

        public long LastId { get; private set; }

        public long FirstSentAt { get; private set; }

        public long LastSentAt { get; private set; }

        public long Bytes { get; private set; }

        /// <summary>Encodes <paramref name="count"/> messages from <paramref name="start"/> into <see cref="Buffer"/>, which is reused.</summary>
        public void Encode(List<StoredMessage> messages, int start, int count)
        {
            writer.Begin(Format, messages, start, count);
            long firstId = long.MaxValue, lastId = long.MinValue, firstAt = long.MaxValue, lastAt = long.MinValue, bytes = 0;
            for (int i = start; i < start + count; i++)
            {
                StoredMessage message = messages[i];
                long at = message.SentAt.ToUniversalTime().Ticks;
                writer.WriteInt64(message.Id);
                writer.WriteInt64(at);
                writer.WriteName(message.From);
                writer.WriteName(message.To);
                bytes += message.TextJson != null
                    ? writer.WriteBytes(message.TextJson, 1, message.TextJson.Length - 2) // ASCII as it came: its bytes are its UTF-8
                    : writer.WriteString(message.Text);
                writer.WriteOptional(message.SenderRef);
                firstId = Math.Min(firstId, message.Id);
                lastId = Math.Max(lastId, message.Id);
                firstAt = Math.Min(firstAt, at);
                lastAt = Math.Max(lastAt, at);
            }

            FirstId = firstId;
            LastId = lastId;
            FirstSentAt = firstAt;
            LastSentAt = lastAt;
            Bytes = bytes;
        }

        public static void Decode(byte[] body, List<StoredMessage> into)
        {
            string[] table = ChunkWriter.ReadHead(body, Format, "An inbox chunk", out int count, out int at);
            for (int i = 0; i < count; i++)
            {
                var message = new StoredMessage
                {
                    Id = HistoryChunk.ReadInt64(body, ref at),
                    SentAt = new DateTime(HistoryChunk.ReadInt64(body, ref at), DateTimeKind.Utc),
                    From = table[HistoryChunk.ReadVarint(body, ref at)],
                    To = table[HistoryChunk.ReadVarint(body, ref at)],
                    Text = HistoryChunk.ReadString(body, ref at),
                };
                int reference = HistoryChunk.ReadVarint(body, ref at);
                if (reference > 0)
                {
                    message.SenderRef = Encoding.UTF8.GetString(body, at, reference - 1);
                    at += reference - 1;
                }

                into.Add(message);
            }
        }
    }
}
