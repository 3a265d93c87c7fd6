using System;
using System.Threading.Tasks;
using Xunit;

namespace Chatrm.Engine.Tests
{
    /// <summary>The server's record of what a native recipient has not acked yet, on its own.</summary>
    public class UnconfirmedMessagesTests
    {
        private static readonly DateTime SomeTime = new DateTime(2026, 11, 26, 9, 0, 0, DateTimeKind.Utc);

        [Fact]
        public async Task AcksOutOfOrderDoNotGrowItWhileTheOldestWaits()
        {
            using var pair = await SocketPair.ConnectAsync();
            using (var transport = new LineTransport(pair.Near, 1024, long.MaxValue))
            {
                var unconfirmed = new UnconfirmedMessages(transport);
                Add(unconfirmed, transport, 1);

                // Every later message is acked alone at once; the oldest never is.
                for (int i = 2; i <= 10_001; i++)
                {
                    Add(unconfirmed, transport, i);
                    Assert.True(unconfirmed.TryTake(i, out ChatEnvelope taken));
                    Assert.Equal(i.ToString(), taken.Id);
                }

                Assert.InRange(unconfirmed.QueuedEntries, 1, 2 * 1 + 16 + 1);

                // What waits is still there, in order, for an ack through it.
                ChatEnvelope[] through = Array.Empty<ChatEnvelope>();
                Assert.Equal(1, unconfirmed.TakeThrough(1, ref through));
                Assert.Equal("1", through[0].Id);
                Assert.Equal(0, unconfirmed.QueuedEntries);
            }
        }

        [Fact]
        public async Task TakeThroughTakesEveryOneBeforeInWireOrderAndNoneTwice()
        {
            using var pair = await SocketPair.ConnectAsync();
            using (var transport = new LineTransport(pair.Near, 1024, long.MaxValue))
            {
                var unconfirmed = new UnconfirmedMessages(transport);
                for (int i = 1; i <= 5; i++)
                {
                    Add(unconfirmed, transport, i);
                }

                Assert.True(unconfirmed.TryTake(2, out _));
                ChatEnvelope[] taken = Array.Empty<ChatEnvelope>();
                Assert.Equal(0, unconfirmed.TakeThrough(2, ref taken));
                Assert.Equal(0, unconfirmed.TakeThrough(99, ref taken));

                int count = unconfirmed.TakeThrough(4, ref taken);
                Assert.Equal(new[] { "1", "3", "4" }, Array.ConvertAll(taken[..count], e => e.Id));
                Assert.Equal(new[] { "5" }, unconfirmed.TakeAll().ConvertAll(e => e.Id));

                // Once the recipient has left, nothing more is kept for it.
                Assert.True(unconfirmed.TryAddAndSend(Envelope(6), "late\n"u8, 10, out SendResult result));
                Assert.Equal(SendResult.Closed, result);
            }
        }

        [Fact]
        public async Task ThroughMeansSentBeforeNotANumberBelow()
        {
            // Ids of several servers (as a cluster would route them): the one sent later may be the smaller number.
            using var pair = await SocketPair.ConnectAsync();
            using (var transport = new LineTransport(pair.Near, 1024, long.MaxValue))
            {
                var unconfirmed = new UnconfirmedMessages(transport);
                foreach (string id in new[] { "2.9", "1", "3.1", "2.2" })
                {
                    Assert.True(unconfirmed.TryAddAndSend(Envelope(id), "x\n"u8, int.MaxValue, out SendResult result));
                    Assert.Equal(SendResult.Queued, result);
                }

                Assert.True(NativeProtocol.TryParseMessageId("3.1", out long through));
                ChatEnvelope[] taken = Array.Empty<ChatEnvelope>();
                int count = unconfirmed.TakeThrough(through, ref taken);
                Assert.Equal(new[] { "2.9", "1", "3.1" }, Array.ConvertAll(taken[..count], e => e.Id));
                Assert.Equal(new[] { "2.2" }, unconfirmed.TakeAll().ConvertAll(e => e.Id));
            }
        }

        [Fact]
        public async Task PastTheLimitNothingIsSentOrKept()
        {
            using var pair = await SocketPair.ConnectAsync();
            using (var transport = new LineTransport(pair.Near, 1024, long.MaxValue))
            {
                var unconfirmed = new UnconfirmedMessages(transport);
                Assert.True(unconfirmed.TryAddAndSend(Envelope(1), "a\n"u8, 2, out _));
                Assert.True(unconfirmed.TryAddAndSend(Envelope(2), "b\n"u8, 2, out _));

                Assert.False(unconfirmed.TryAddAndSend(Envelope(3), "c\n"u8, 2, out _));

                Assert.False(unconfirmed.TryTake(3, out _));
                Assert.Equal(2, unconfirmed.TakeAll().Count);

                // One writer, in order: had "c" gone out, it would come before the marker.
                transport.Send("end\n");
                Assert.Equal("a", await pair.ReadFarLineAsync());
                Assert.Equal("b", await pair.ReadFarLineAsync());
                Assert.Equal("end", await pair.ReadFarLineAsync());
            }
        }

        [Fact]
        public async Task RoomMessagesWaitForNoAckYetAnAckThroughOneConfirmsWhatCameBefore()
        {
            using var pair = await SocketPair.ConnectAsync();
            using (var transport = new LineTransport(pair.Near, 1024, long.MaxValue))
            {
                var unconfirmed = new UnconfirmedMessages(transport);

                // Behind nothing that waits, a room message is sent and not kept: a member that never acks rooms is fine.
                for (int i = 1; i <= 1000; i++)
                {
                    Assert.True(unconfirmed.TryAddAndSend(RoomEnvelope(i), "r\n"u8, 2, out SendResult sent));
                    Assert.Equal(SendResult.Queued, sent);
                }

                Assert.Equal(0, unconfirmed.Count);
                Assert.Equal(0, unconfirmed.QueuedEntries);

                // Direct, room, direct, room: an ack through the first room message takes the direct one before it only.
                Add(unconfirmed, transport, 1001);
                Assert.True(unconfirmed.TryAddAndSend(RoomEnvelope(1002), "r\n"u8, 2, out _));
                Add(unconfirmed, transport, 1003);
                Assert.True(unconfirmed.TryAddAndSend(RoomEnvelope(1004), "r\n"u8, 2, out _));
                Assert.Equal(2, unconfirmed.Count);
                Assert.False(unconfirmed.TryTake(1002, out _));

                ChatEnvelope[] taken = Array.Empty<ChatEnvelope>();
                int count = unconfirmed.TakeThrough(1002, ref taken);
                Assert.Equal(new[] { "1001" }, Array.ConvertAll(taken[..count], e => e.Id));

                // The limit (2) counts only what waits: room messages still go, a third direct one does not.
                Add(unconfirmed, transport, 1005);
                Assert.False(unconfirmed.TryAddAndSend(Envelope(1006), "d\n"u8, 2, out _));
                Assert.True(unconfirmed.TryAddAndSend(RoomEnvelope(1007), "r\n"u8, 2, out SendResult room));
                Assert.Equal(SendResult.Queued, room);

                count = unconfirmed.TakeThrough(1007, ref taken);
                Assert.Equal(new[] { "1003", "1005" }, Array.ConvertAll(taken[..count], e => e.Id));
                Assert.Equal(0, unconfirmed.QueuedEntries);
                Assert.Empty(unconfirmed.TakeAll());
            }
        }

        [Fact]
        public async Task RoomMessagesBehindAnOldestNeverAckedDoNotGrowItWithoutLimit()
        {
            using var pair = await SocketPair.ConnectAsync();
            using (var transport = new LineTransport(pair.Near, 1 << 20, long.MaxValue))
            {
                var unconfirmed = new UnconfirmedMessages(transport);
                Add(unconfirmed, transport, 1);
                for (int i = 2; i <= 10_001; i++)
                {
                    Assert.True(unconfirmed.TryAddAndSend(RoomEnvelope(i), "r\n"u8, 100, out _));
                }

                Assert.InRange(unconfirmed.QueuedEntries, 2, 1 + 100 + 1);

                // The newest places are there: an ack through the newest takes the oldest that waits.
                ChatEnvelope[] taken = Array.Empty<ChatEnvelope>();
                Assert.Equal(1, unconfirmed.TakeThrough(10_001, ref taken));
                Assert.Equal("1", taken[0].Id);
                Assert.Equal(0, unconfirmed.QueuedEntries);
            }
        }

        private static void Add(UnconfirmedMessages unconfirmed, LineTransport transport, long id)
        {
            Assert.True(unconfirmed.TryAddAndSend(Envelope(id), "x\n"u8, int.MaxValue, out SendResult result));
            Assert.Equal(SendResult.Queued, result);
        }

        private static ChatEnvelope Envelope(long id) => new ChatEnvelope(id.ToString(), "alice", "bob", "text", SomeTime, "r" + id);

        private static ChatEnvelope RoomEnvelope(long id) => new ChatEnvelope(id.ToString(), "alice", "#ops", "text", SomeTime, "r" + id);

        private static ChatEnvelope Envelope(string id) => new ChatEnvelope(id, "alice", "bob", "text", SomeTime, "r" + id);
    }
}
