using System;
using System.Collections.Generic;
using System.IO;
using System.Text;

namespace Chatrm.Engine.Storage
{
    /// <summary>
    /// The body of one history row: a run of one conversation's messages, ascending by Seq, as one blob, so a commit
    /// writes one row per conversation rather than one per message. Layout: a format byte, a count, then per message
    /// Seq, Id, SentAt ticks (UTC), From, To, Text (BinaryWriter's length-prefixed UTF-8).
    /// </summary>
    internal static class HistoryChunk
    {
        private const byte Format = 1;

        public static byte[] Encode(List<StoredMessage> messages, int start, int count)
        {
            var buffer = new MemoryStream(64 + (count * 48));
            using (var writer = new BinaryWriter(buffer, Encoding.UTF8, leaveOpen: true))
            {
                writer.Write(Format);
                writer.Write(count);
                for (int i = start; i < start + count; i++)
                {
                    StoredMessage message = messages[i];
                    writer.Write(message.Seq);
                    writer.Write(message.Id);
                    writer.Write(message.SentAt.Ticks);
                    writer.Write(message.From ?? string.Empty);
                    writer.Write(message.To ?? string.Empty);
                    writer.Write(message.Text ?? string.Empty);
                }
            }

            return buffer.ToArray();
        }

        public static void Decode(byte[] body, List<StoredMessage> into)
        {
            using (var reader = new BinaryReader(new MemoryStream(body, writable: false), Encoding.UTF8))
            {
                byte format = reader.ReadByte();
                if (format != Format)
                {
                    throw new InvalidDataException($"A history chunk has format {format}, which this version does not read.");
                }

                int count = reader.ReadInt32();
                for (int i = 0; i < count; i++)
                {
                    into.Add(new StoredMessage
                    {
                        Seq = reader.ReadInt64(),
                        Id = reader.ReadInt64(),
                        SentAt = new DateTime(reader.ReadInt64(), DateTimeKind.Utc),
                        From = reader.ReadString(),
                        To = reader.ReadString(),
                        Text = reader.ReadString(),
                    });
                }
            }
        }
    }
}
