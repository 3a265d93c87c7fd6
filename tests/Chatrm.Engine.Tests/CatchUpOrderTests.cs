using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Chatrm.Engine.Client;
using Chatrm.Engine.Server.Inbox;
using Xunit;

namespace Chatrm.Engine.Tests
{
    /// <summary>
    /// The pieces that keep a conversation in order across a return (issue 17): on the server, live messages held behind
    /// a login's inbox, and the writes into an inbox a login waits for; on the client, a room's live posts against the
    /// posts a reconnect's fetch releases.
    /// </summary>
    public sealed class CatchUpOrderTests
    {
        private static ChatEnvelope Envelope(string text) => new ChatEnvelope(null, "alice", "bob", text, DateTime.UtcNow);

        private static ChatMessage Post(long seq) => new ChatMessage("alice", "#ops", "post " + seq, DateTime.UtcNow) { Room = "#ops", Seq = seq };

        [Fact]
        public void HeldDeliveriesGoInTheOrderTheyCameAndNothingIsHeldAfterTheRelease()
        {
            var held = new HeldDeliveries(limit: 10);
            Assert.Equal(HoldResult.Held, held.TryHold(Envelope("one")));
            Assert.Equal(HoldResult.Held, held.TryHold(Envelope("two")));

            var delivered = new List<string>();
            held.Release(e => delivered.Add(e.Text));
            Assert.Equal(new[] { "one", "two" }, delivered);
            Assert.False(held.IsHolding);
            Assert.Equal(HoldResult.NotHolding, held.TryHold(Envelope("three")));

            held.Release(e => delivered.Add(e.Text));
            Assert.Equal(2, delivered.Count);
        }

        [Fact]
        public void HeldDeliveriesRefuseOnePastTheLimitAndGiveWhatWasHeldToTheEnd()
        {
            var held = new HeldDeliveries(limit: 1);
            Assert.Equal(HoldResult.Held, held.TryHold(Envelope("one")));
            Assert.Equal(HoldResult.Full, held.TryHold(Envelope("two")));

            Assert.Equal(new[] { "one" }, held.TakeAll().Select(e => e.Text));
            Assert.Equal(HoldResult.NotHolding, held.TryHold(Envelope("three")));
            Assert.Empty(held.TakeAll());
        }

        [Fact]
        public void AnInboxReadWaitsForEveryWriteIntoItAndRunsAtOnceWhenThereIsNone()
        {
            var writes = new InboxWritesInFlight();
            bool ranAtOnce = false;
            writes.WhenSettled("bob", () => ranAtOnce = true);
            Assert.True(ranAtOnce);

            writes.Add("bob");
            writes.Add("BOB");
            writes.Add("carol");
            using var settled = new ManualResetEventSlim();
            writes.WhenSettled("Bob", settled.Set);

            writes.Done("bob");
            writes.Done("carol");
            Assert.False(settled.Wait(TimeSpan.FromMilliseconds(50)), "one write into bob's inbox is still in flight");
            Assert.Equal(1, writes.CountFor("bob"));

            writes.Done("bob");
            Assert.True(settled.Wait(TimeSpan.FromSeconds(10)), "the last write settled the read");
            Assert.Equal(0, writes.CountFor("bob"));
        }

        [Fact]
        public async Task ALivePostWaitsWhileAFetchReleasesItsPostsAndComesAfterThem()
        {
            var rooms = new JoinedRooms();
            rooms.Joined("#ops", 0);
            rooms.HoldAll();
            var shown = new List<long>();
            using var releasing = new ManualResetEventSlim();
            using var goOn = new ManualResetEventSlim();

            Task release = Task.Run(() => rooms.Release("#ops", new[] { Post(1), Post(2) }, message =>
            {
                shown.Add(message.Seq.Value);
                if (message.Seq == 1)
                {
                    releasing.Set();
                    goOn.Wait();
                }
            }, () => true));

            Assert.True(releasing.Wait(TimeSpan.FromSeconds(10)));
            Task live = Task.Run(() => rooms.HoldOrShow(Post(3), message => shown.Add(message.Seq.Value)));
            await Task.WhenAny(live, Task.Delay(50));
            Assert.False(live.IsCompleted, "the live post waits for the release");
            goOn.Set();
            await Task.WhenAll(release, live);

            Assert.Equal(new long[] { 1, 2, 3 }, shown);
        }

        [Fact]
        public void AFetchWhoseLinkEndedReleasesNothingAndTheNextFetchStartsFromTheSameSeq()
        {
            var rooms = new JoinedRooms();
            rooms.Joined("#ops", 4);
            rooms.HoldAll();
            var shown = new List<long>();

            // The fetch came back on a link that has ended since (and held the room again): nothing is shown, and the
            // next link's live post, past the ones that end lost, waits too.
            rooms.Release("#ops", new[] { Post(5), Post(6) }, message => shown.Add(message.Seq.Value), () => false);
            rooms.HoldOrShow(Post(9), message => shown.Add(message.Seq.Value));
            Assert.Empty(shown);
            Assert.Equal(4, rooms.Snapshot().Single().Value);

            // The next reconnect fetches from 4 again, and everything comes once, in order.
            rooms.Release("#ops", new[] { Post(5), Post(6), Post(7), Post(8) }, message => shown.Add(message.Seq.Value), () => true);
            Assert.Equal(new long[] { 5, 6, 7, 8, 9 }, shown);
        }
    }
}
