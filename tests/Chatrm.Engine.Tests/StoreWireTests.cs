using System;
using System.Collections.Generic;
using Chatrm.Engine.Storage;
using Xunit;

namespace Chatrm.Engine.Tests
{
    /// <summary>The message store's frames on their own (docs/protocol.md, "Offline messages and history"): the exact bytes and the way back.</summary>
    public class StoreWireTests
    {
        private static readonly DateTime SomeTime = new DateTime(2026, 11, 26, 9, 12, 3, DateTimeKind.Utc).AddTicks(1234567);

        [Fact]
        public void AHistoryRequestIsWrittenAsTheProtocolPageShowsIt()
        {
            Assert.Equal(
                "{\"type\":\"history\",\"ref\":\"h1\",\"with\":\"bob\"}\n",
                NativeProtocol.Format(NativeProtocol.HistoryRequestFrame("h1", "bob", null)));
            Assert.Equal(
                "{\"type\":\"history\",\"ref\":\"h2\",\"room\":\"#ops\",\"last\":10,\"before\":120,\"after\":80}\n",
                NativeProtocol.Format(NativeProtocol.HistoryRequestFrame("h2", null, "#ops", 10, 120, 80)));
        }

        [Fact]
        public void AHistoryRequestIsReadBack()
        {
            Assert.True(NativeProtocol.TryParse("{\"type\":\"history\",\"ref\":\"h2\",\"room\":\"#ops\",\"last\":10,\"before\":120,\"after\":80}", out NativeFrame frame, out string problem), problem);
            Assert.Equal(FrameType.History, frame.Type);
            Assert.Equal("h2", frame.Ref);
            Assert.Equal("#ops", frame.Room);
            Assert.Null(frame.With);
            Assert.Equal(10, frame.Last);
            Assert.Equal(120, frame.Before);
            Assert.Equal(80, frame.After);

            Assert.True(NativeProtocol.TryParse("{\"type\":\"history\",\"with\":\"bob\"}", out frame, out problem), problem);
            Assert.Equal("bob", frame.With);
            Assert.Null(frame.Last);
            Assert.Null(frame.Before);
            Assert.Null(frame.After);
        }

        [Theory]
        [InlineData("{\"type\":\"history\",\"with\":\"bob\",\"last\":0}", "\"last\"")]
        [InlineData("{\"type\":\"history\",\"with\":\"bob\",\"last\":\"5\"}", "\"last\"")]
        [InlineData("{\"type\":\"history\",\"with\":\"bob\",\"before\":-1}", "\"before\"")]
        [InlineData("{\"type\":\"history\",\"with\":\"bob\",\"after\":1.5}", "\"after\"")]
        [InlineData("{\"type\":\"history\",\"with\":7}", "\"with\"")]
        public void AHistoryRequestWithAFieldOfTheWrongKindIsRefused(string line, string named)
        {
            Assert.False(NativeProtocol.TryParse(line, out _, out string problem));
            Assert.Contains(named, problem);
        }

        [Fact]
        public void AHistoryAnswerListsItsLinesWithEveryField()
        {
            var lines = new List<StoredMessage>
            {
                new StoredMessage { Id = 41, From = "alice", To = "bob", Text = "hi \"you\"", SentAt = SomeTime, Seq = 1 },
                new StoredMessage { Id = 42, From = "bob", To = "alice", Text = "héllo 🎉", SentAt = SomeTime, Seq = 2 },
            };

            string line = NativeProtocol.Format(NativeProtocol.HistoryFrame("h1", "bob", null, lines));

            Assert.Equal(
                "{\"type\":\"history\",\"ref\":\"h1\",\"with\":\"bob\",\"messages\":[" +
                "{\"id\":\"41\",\"from\":\"alice\",\"to\":\"bob\",\"text\":\"hi \\\"you\\\"\",\"sentAt\":\"2026-11-26T09:12:03.1234567Z\",\"seq\":1}," +
                "{\"id\":\"42\",\"from\":\"bob\",\"to\":\"alice\",\"text\":\"héllo 🎉\",\"sentAt\":\"2026-11-26T09:12:03.1234567Z\",\"seq\":2}]}\n",
                line);

            Assert.True(NativeProtocol.TryParse(line.TrimEnd('\n'), out NativeFrame back, out string problem), problem);
            Assert.Equal("bob", back.With);
            Assert.Equal(2, back.Messages.Count);
            DeliveredMessage second = back.Messages[1];
            Assert.Equal("42", second.Id);
            Assert.Equal("bob", second.From);
            Assert.Equal("alice", second.To);
            Assert.Equal("héllo 🎉", second.Text);
            Assert.Equal(SomeTime, second.SentAt);
            Assert.Equal(2, second.Seq);
            Assert.Equal(line, NativeProtocol.Format(back));
        }

        [Fact]
        public void AHistoryAnswerTooLongLeavesOutTheOldestLinesAndStaysWithinItsBound()
        {
            var lines = new List<StoredMessage>();
            for (int i = 1; i <= 100; i++)
            {
                lines.Add(new StoredMessage { Id = i, From = "alice", To = "bob", Text = new string('x', 1000), SentAt = SomeTime, Seq = i });
            }

            ReadOnlySpan<byte> written = NativeProtocol.FormatHistory("h1", "bob", null, lines, maxBytes: 20_000);

            Assert.InRange(written.Length, 10_000, 20_000);
            Assert.True(NativeProtocol.TryParse(written.Slice(0, written.Length - 1), out NativeFrame back, out string problem), problem);
            Assert.Equal(100, back.Messages[back.Messages.Count - 1].Seq);
            Assert.True(back.Messages.Count < 100);
            Assert.Equal(100 - back.Messages.Count + 1, back.Messages[0].Seq);
        }

        [Fact]
        public void ARoomsHistoryAnswerNamesTheRoomAndAnEmptyOneListsNothing()
        {
            Assert.Equal(
                "{\"type\":\"history\",\"ref\":\"h3\",\"room\":\"#ops\",\"messages\":[]}\n",
                NativeProtocol.Format(NativeProtocol.HistoryFrame("h3", null, "#ops", new List<StoredMessage>())));
        }

        [Fact]
        public void ADeliveredFrameStillReadsAsConfirmationsNotHistory()
        {
            Assert.True(NativeProtocol.TryParse("{\"type\":\"delivered\",\"messages\":[{\"ref\":\"7\",\"id\":\"42\",\"sentAt\":\"2026-11-26T09:12:03.1234567Z\"}]}", out NativeFrame frame, out string problem), problem);
            DeliveredMessage only = Assert.Single(frame.Messages);
            Assert.Equal("7", only.Ref);
            Assert.Equal("42", only.Id);
            Assert.Null(only.From);
            Assert.Null(only.Seq);
        }

        [Fact]
        public void TheStoredStatusIsAStatusLikeTheOthers()
        {
            var status = new NativeFrame { Type = FrameType.Status, Ref = "7", Id = "42", To = "bob", SentAt = SomeTime, Status = NativeProtocol.StoredStatusText };
            string line = NativeProtocol.Format(status);
            Assert.Equal("{\"type\":\"status\",\"ref\":\"7\",\"id\":\"42\",\"to\":\"bob\",\"sentAt\":\"2026-11-26T09:12:03.1234567Z\",\"status\":\"stored\"}\n", line);
            Assert.True(NativeProtocol.TryParse(line.TrimEnd('\n'), out NativeFrame back, out string problem), problem);
            Assert.Same(NativeProtocol.StoredStatusText, back.Status);
        }

        [Theory]
        [InlineData(Refusal.InboxFull, "inbox-full")]
        [InlineData(Refusal.StoreFailed, "store-failed")]
        [InlineData(Refusal.AccessDenied, "access-denied")]
        [InlineData(Refusal.HistoryOff, "history-off")]
        public void TheStoresRefusalsHaveTheirCodes(Refusal refusal, string code)
        {
            Assert.Equal(code, refusal.ToCode());
            Assert.Equal(refusal, Refusals.FromCode(code));
        }
    }
}
