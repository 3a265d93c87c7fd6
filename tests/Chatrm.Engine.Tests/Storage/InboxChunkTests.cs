using System;
using System.Collections.Generic;
using System.Linq;
using Chatrm.Engine.Storage;
using Xunit;

namespace Chatrm.Engine.Tests.Storage
{
    public sealed class InboxChunkTests
    {
        [Fact]
        public void A_chunk_decodes_to_what_was_encoded_and_says_its_ids_times_and_bytes()
        {
            var at = new DateTime(2026, 6, 1, 12, 0, 0, DateTimeKind.Utc);
            var messages = new List<StoredMessage>
            {
                new StoredMessage { Id = 9, From = "alice", To = "Bob", Text = "héllo 👋", SentAt = at.AddSeconds(5), SenderRef = "r-é" },
                new StoredMessage { Id = 3, From = "carol", To = "Bob", Text = string.Empty, SentAt = at },
                new StoredMessage { Id = long.MaxValue, From = "alice", To = "Bob", TextJson = System.Text.Encoding.ASCII.GetBytes("\"as it came\""), SentAt = at.AddDays(1), SenderRef = string.Empty },
                new StoredMessage { Id = 4, From = "alice", To = "Bob", Text = new string('é', 70_000), SentAt = at.AddTicks(1), SenderRef = "x" },
            };
            var chunk = new InboxChunk();

            chunk.Encode(messages, 0, messages.Count);
            var decoded = new List<StoredMessage>();
            InboxChunk.Decode(chunk.Buffer.Take(chunk.Length).ToArray(), decoded);

            Assert.Equal(
                messages.Select(m => (m.Id, m.From, m.To, m.Text, m.SentAt, m.SenderRef)),
                decoded.Select(m => (m.Id, m.From, m.To, m.Text, m.SentAt, m.SenderRef)));
            Assert.All(decoded, m => Assert.Equal(DateTimeKind.Utc, m.SentAt.Kind));
            Assert.Null(decoded[1].SenderRef);
            Assert.Equal(3, chunk.FirstId);
            Assert.Equal(long.MaxValue, chunk.LastId);
            Assert.Equal(at.Ticks, chunk.FirstSentAt);
            Assert.Equal(at.AddDays(1).Ticks, chunk.LastSentAt);

            // What the inbox's quota counted for each, so a confirm gives back what the store took.
            Assert.Equal(messages.Sum(InboxQuota.BytesOf), chunk.Bytes);
            Assert.Equal(messages.Select(InboxQuota.BytesOf), decoded.Select(InboxQuota.BytesOf));
        }

        [Fact]
        public void Part_of_a_list_is_encoded_and_the_buffer_is_reused()
        {
            var at = new DateTime(2026, 6, 1, 12, 0, 0, DateTimeKind.Utc);
            var messages = Enumerable.Range(1, 5).Select(i => new StoredMessage { Id = i, From = "a" + i, To = "bob", Text = "m" + i, SentAt = at }).ToList();
            var chunk = new InboxChunk();
            chunk.Encode(messages, 0, 5);
            chunk.Encode(messages, 2, 2);

            var decoded = new List<StoredMessage>();
            InboxChunk.Decode(chunk.Buffer.Take(chunk.Length).ToArray(), decoded);
            Assert.Equal(new long[] { 3, 4 }, decoded.Select(m => m.Id));
            Assert.Equal(new[] { "a3", "a4" }, decoded.Select(m => m.From));
        }

        [Fact]
        public void A_chunk_of_an_unknown_format_is_refused()
        {
            Assert.Throws<System.IO.InvalidDataException>(() => InboxChunk.Decode(new byte[] { 9, 0, 0 }, new List<StoredMessage>()));
        }
    }
}
