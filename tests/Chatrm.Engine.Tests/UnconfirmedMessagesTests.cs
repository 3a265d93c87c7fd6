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
                var unconfirmed = new UnconfirmedMessages();
                Add(unconfirmed, transport, "0");

                // Every later message is acked alone at once; the oldest never is.
                for (int i = 1; i <= 10_000; i++)
                {
                    Add(unconfirmed, transport, i.ToString());
                    Assert.True(unconfirmed.TryTake(i.ToString(), out ChatEnvelope taken));
                    Assert.Equal(i.ToString(), taken.Id);
                }

                Assert.InRange(unconfirmed.QueuedEntries, 1, 2 * 1 + 16 + 1);

                // What waits is still there, in order, for an ack through it.
                ChatEnvelope[] through = Array.Empty<ChatEnvelope>();
                Assert.Equal(1, unconfirmed.TakeThrough("0", ref through));
                Assert.Equal("0", through[0].Id);
                Assert.Equal(0, unconfirmed.QueuedEntries);
            }
        }

        [Fact]
        public async Task TakeThroughTakesEveryOneBeforeInWireOrderAndNoneTwice()
        {
            using var pair = await SocketPair.ConnectAsync();
            using (var transport = new LineTransport(pair.Near, 1024, long.MaxValue))
            {
                var unconfirmed = new UnconfirmedMessages();
                for (int i = 0; i < 5; i++)
                {
                    Add(unconfirmed, transport, "m" + i);
                }

                Assert.True(unconfirmed.TryTake("m1", out _));
                ChatEnvelope[] taken = Array.Empty<ChatEnvelope>();
                Assert.Equal(0, unconfirmed.TakeThrough("m1", ref taken));
                Assert.Equal(0, unconfirmed.TakeThrough("unknown", ref taken));

                int count = unconfirmed.TakeThrough("m3", ref taken);
                Assert.Equal(new[] { "m0", "m2", "m3" }, Array.ConvertAll(taken[..count], e => e.Id));
                Assert.Equal(new[] { "m4" }, unconfirmed.TakeAll().ConvertAll(e => e.Id));

                // Once the recipient has left, nothing more is kept for it.
                Assert.True(unconfirmed.TryAddAndSend(Envelope("late"), transport, "late\n"u8, 10, out SendResult result));
                Assert.Equal(SendResult.Closed, result);
            }
        }

        [Fact]
        public async Task PastTheLimitNothingIsSentOrKept()
        {
            using var pair = await SocketPair.ConnectAsync();
            using (var transport = new LineTransport(pair.Near, 1024, long.MaxValue))
            {
                var unconfirmed = new UnconfirmedMessages();
                Assert.True(unconfirmed.TryAddAndSend(Envelope("a"), transport, "a\n"u8, 2, out _));
                Assert.True(unconfirmed.TryAddAndSend(Envelope("b"), transport, "b\n"u8, 2, out _));

                Assert.False(unconfirmed.TryAddAndSend(Envelope("c"), transport, "c\n"u8, 2, out _));

                Assert.False(unconfirmed.TryTake("c", out _));
                Assert.Equal(2, unconfirmed.TakeAll().Count);

                // One writer, in order: had "c" gone out, it would come before the marker.
                transport.Send("end\n");
                Assert.Equal("a", await pair.ReadFarLineAsync());
                Assert.Equal("b", await pair.ReadFarLineAsync());
                Assert.Equal("end", await pair.ReadFarLineAsync());
            }
        }

        private static void Add(UnconfirmedMessages unconfirmed, LineTransport transport, string id)
        {
            Assert.True(unconfirmed.TryAddAndSend(Envelope(id), transport, "x\n"u8, int.MaxValue, out SendResult result));
            Assert.Equal(SendResult.Queued, result);
        }

        private static ChatEnvelope Envelope(string id) => new ChatEnvelope(id, "alice", "bob", "text", SomeTime, "r" + id);
    }
}
