using System;
using System.Collections.Generic;
using System.IO;
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

        private readonly Dictionary<string, int> names = new Dictionary<string, int>(StringComparer.Ordinal);
        private readonly List<string> nameList = new List<string>();
        private byte[] buffer = new byte[64 * 1024];
        private int length;

        /// <summary>The encoded body, valid until the next <see cref="Encode"/>: the first <see cref="Length"/> bytes of it.</summary>
        public byte[] Buffer => buffer;

        public int Length => length;

        // What the last Encode's run holds, for the row's columns.
        public long FirstId { get; private set; }

        public long LastId { get; private set; }

        public long FirstSentAt { get; private set; }

        public long LastSentAt { get; private set; }

        public long Bytes { get; private set; }

        /// <summary>Encodes <paramref name="count"/> messages from <paramref name="start"/> into <see cref="Buffer"/>, which is reused.</summary>
        public void Encode(List<StoredMessage> messages, int start, int count)
        {
            names.Clear();
            nameList.Clear();
            for (int i = start; i < start + count; i++)
            {
                Name(messages[i].From);
                Name(messages[i].To);
            }

            length = 0;
            Ensure(16);
            buffer[length++] = Format;
            HistoryChunk.WriteVarint(buffer, ref length, count);
            HistoryChunk.WriteVarint(buffer, ref length, nameList.Count);
            foreach (string name in nameList)
            {
                WriteString(name);
            }

            long firstId = long.MaxValue, lastId = long.MinValue, firstAt = long.MaxValue, lastAt = long.MinValue, bytes = 0;
            for (int i = start; i < start + count; i++)
            {
                StoredMessage message = messages[i];
                long at = message.SentAt.ToUniversalTime().Ticks;
                Ensure(16 + 10);
                HistoryChunk.WriteInt64(buffer, ref length, message.Id);
                HistoryChunk.WriteInt64(buffer, ref length, at);
                HistoryChunk.WriteVarint(buffer, ref length, names[message.From ?? string.Empty]);
                HistoryChunk.WriteVarint(buffer, ref length, names[message.To ?? string.Empty]);
                bytes += message.TextJson != null
                    ? WriteBytes(message.TextJson, 1, message.TextJson.Length - 2) // ASCII as it came: its bytes are its UTF-8
                    : WriteString(message.Text);
                WriteRef(message.SenderRef);
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
            int at = 0;
            if (body.Length == 0 || body[at++] != Format)
            {
                throw new InvalidDataException($"An inbox chunk has format {(body.Length == 0 ? -1 : body[0])}, which this version does not read.");
            }

            int count = HistoryChunk.ReadVarint(body, ref at);
            var table = new string[HistoryChunk.ReadVarint(body, ref at)];
            for (int i = 0; i < table.Length; i++)
            {
                table[i] = HistoryChunk.ReadString(body, ref at);
            }

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

        private void Name(string name)
        {
            name = name ?? string.Empty;
            if (!names.ContainsKey(name))
            {
                names.Add(name, nameList.Count);
                nameList.Add(name);
            }
        }

        private void Ensure(int more)
        {
            if (length + more > buffer.Length)
            {
                Array.Resize(ref buffer, Math.Max(buffer.Length * 2, length + more));
            }
        }

        /// <summary>Writes a length and the text's UTF-8; returns the byte count.</summary>
        private int WriteString(string text)
        {
            text = text ?? string.Empty;
            Ensure(Encoding.UTF8.GetMaxByteCount(text.Length) + 5);
            int before = length;
            HistoryChunk.WriteUtf8(buffer, ref length, text);
            int at = before;
            HistoryChunk.ReadVarint(buffer, ref at);
            return length - at;
        }

        private int WriteBytes(byte[] bytes, int offset, int count)
        {
            Ensure(count + 5);
            HistoryChunk.WriteVarint(buffer, ref length, count);
            System.Buffer.BlockCopy(bytes, offset, buffer, length, count);
            length += count;
            return count;
        }

        private void WriteRef(string reference)
        {
            if (reference == null)
            {
                Ensure(1);
                buffer[length++] = 0;
                return;
            }

            int bytes = Encoding.UTF8.GetByteCount(reference);
            Ensure(bytes + 5);
            HistoryChunk.WriteVarint(buffer, ref length, bytes + 1);
            length += Encoding.UTF8.GetBytes(reference, 0, reference.Length, buffer, length);
        }
    }
}
