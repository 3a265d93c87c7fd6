using System;
using System.Collections.Generic;
using System.Linq;
using Chatrm.Engine.Storage;
using Xunit;

namespace Chatrm.Engine.Tests.Storage
{
    public sealed class HistoryChunkTests
    {
        [Fact]
        public void A_chunk_decodes_to_what_was_encoded_and_its_buffer_is_reused()
        {
            var at = new DateTime(2026, 6, 1, 12, 0, 0, DateTimeKind.Utc);
            var messages = new List<StoredMessage>
            {
                new StoredMessage { Seq = 1, Id = long.MaxValue, From = "alice", To = "#ops", Text = string.Empty, SentAt = at },
                new StoredMessage { Seq = 2, Id = 2, From = "bob", To = "#ops", Text = "héllo 👋", SentAt = at.AddTicks(1) },
                new StoredMessage { Seq = 300, Id = 3, From = "alice", To = "#ops", Text = new string('é', 70_000), SentAt = at.AddDays(1) },
            };
            var chunk = new HistoryChunk();

            chunk.Encode(messages, 0, 3);
            byte[] first = chunk.Buffer.Take(chunk.Length).ToArray();
            chunk.Encode(messages, 1, 1);
            byte[] second = chunk.Buffer.Take(chunk.Length).ToArray();

            var decoded = new List<StoredMessage>();
            HistoryChunk.Decode(first, decoded);
            Assert.Equal(messages.Select(m => (m.Seq, m.Id, m.From, m.To, m.Text, m.SentAt)), decoded.Select(m => (m.Seq, m.Id, m.From, m.To, m.Text, m.SentAt)));
            Assert.All(decoded, m => Assert.Equal(DateTimeKind.Utc, m.SentAt.Kind));

            decoded.Clear();
            HistoryChunk.Decode(second, decoded);
            Assert.Equal("héllo 👋", Assert.Single(decoded).Text);
        }

        [Fact]
        public void A_text_kept_as_its_wire_bytes_is_written_as_the_same_text_would_be()
        {
            var at = new DateTime(2026, 6, 1, 12, 0, 0, DateTimeKind.Utc);
            byte[] quoted = System.Text.Encoding.ASCII.GetBytes("\"hi <b> & 'you' ~\"");
            var asBytes = new StoredMessage { Seq = 1, Id = 7, From = "alice", To = "bob", TextJson = quoted, SentAt = at };
            var asText = new StoredMessage { Seq = 1, Id = 7, From = "alice", To = "bob", Text = "hi <b> & 'you' ~", SentAt = at };
            var chunk = new HistoryChunk();

            chunk.Encode(new List<StoredMessage> { asBytes }, 0, 1);
            byte[] fromBytes = chunk.Buffer.Take(chunk.Length).ToArray();
            chunk.Encode(new List<StoredMessage> { asText }, 0, 1);
            Assert.Equal(chunk.Buffer.Take(chunk.Length).ToArray(), fromBytes);

            var decoded = new List<StoredMessage>();
            HistoryChunk.Decode(fromBytes, decoded);
            Assert.Equal("hi <b> & 'you' ~", Assert.Single(decoded).Text);
            Assert.Equal(16, asBytes.TextLength);
        }

        [Fact]
        public void A_chunk_of_an_unknown_format_is_refused()
        {
            Assert.Throws<System.IO.InvalidDataException>(() => HistoryChunk.Decode(new byte[] { 9, 0, 0 }, new List<StoredMessage>()));
        }
    }
}
