using System;
using System.Collections.Generic;
using System.IO;
using System.Text;

namespace Chatrm.Engine.Storage
{
    /// <summary>
    /// What a history row and an inbox row share (<see cref="HistoryChunk"/>, <see cref="InboxChunk"/>): a reused
    /// buffer, and a run's head, a format byte, the count of messages and the names the run uses (count, then each),
    /// written with <see cref="HistoryChunk"/>'s pieces. Each row kind writes its own fields per message after it.
    /// </summary>
    internal sealed class ChunkWriter
    {
        private readonly Dictionary<string, int> names = new Dictionary<string, int>(StringComparer.Ordinal);
        private readonly List<string> nameList = new List<string>();
        private byte[] buffer = new byte[64 * 1024];
        private int length;

        /// <summary>The encoded body, valid until the next <see cref="Begin"/>: the first <see cref="Length"/> bytes of it.</summary>
        public byte[] Buffer => buffer;

        public int Length => length;

        /// <summary>Starts a body: the head of the run of <paramref name="count"/> messages from <paramref name="start"/>.</summary>
        public void Begin(byte format, List<StoredMessage> messages, int start, int count)
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
            buffer[length++] = format;
            HistoryChunk.WriteVarint(buffer, ref length, count);
            HistoryChunk.WriteVarint(buffer, ref length, nameList.Count);
            foreach (string name in nameList)
            {
                WriteString(name);
            }
        }

        /// <summary>Where a name of the run stands in its head, as a varint.</summary>
        public void WriteName(string name)
        {
            Ensure(5);
            HistoryChunk.WriteVarint(buffer, ref length, names[name ?? string.Empty]);
        }

        public void WriteInt64(long value)
        {
            Ensure(8);
            HistoryChunk.WriteInt64(buffer, ref length, value);
        }

        public void WriteVarint(int value)
        {
            Ensure(5);
            HistoryChunk.WriteVarint(buffer, ref length, value);
        }

        /// <summary>Writes a length and the text's UTF-8; returns the byte count.</summary>
        public int WriteString(string text)
        {
            text = text ?? string.Empty;
            Ensure(Encoding.UTF8.GetMaxByteCount(text.Length) + 5);
            int before = length;
            HistoryChunk.WriteUtf8(buffer, ref length, text);
            HistoryChunk.ReadVarint(buffer, ref before);
            return length - before;
        }

        /// <summary>Writes a length and the bytes; returns the byte count.</summary>
        public int WriteBytes(byte[] bytes, int offset, int count)
        {
            Ensure(count + 5);
            HistoryChunk.WriteVarint(buffer, ref length, count);
            System.Buffer.BlockCopy(bytes, offset, buffer, length, count);
            length += count;
            return count;
        }

        /// <summary>Writes 0 for none, or the text's UTF-8 byte count + 1 as a varint and then its UTF-8.</summary>
        public void WriteOptional(string text)
        {
            if (text == null)
            {
                WriteVarint(0);
                return;
            }

            int bytes = Encoding.UTF8.GetByteCount(text);
            Ensure(bytes + 5);
            HistoryChunk.WriteVarint(buffer, ref length, bytes + 1);
            length += Encoding.UTF8.GetBytes(text, 0, text.Length, buffer, length);
        }

        /// <summary>
        /// Reads a body's head: checks its format (a <paramref name="kind"/> of another format is an error), and returns
        /// the names, with the count of messages and where they begin.
        /// </summary>
        public static string[] ReadHead(byte[] body, byte format, string kind, out int count, out int at)
        {
            at = 0;
            if (body.Length == 0 || body[at++] != format)
            {
                throw new InvalidDataException($"{kind} has format {(body.Length == 0 ? -1 : body[0])}, which this version does not read.");
            }

            count = HistoryChunk.ReadVarint(body, ref at);
            var table = new string[HistoryChunk.ReadVarint(body, ref at)];
            for (int i = 0; i < table.Length; i++)
            {
                table[i] = HistoryChunk.ReadString(body, ref at);
            }

            return table;
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
    }
}
