using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading.Tasks;
using Chatrm.Cluster;
using Xunit;

namespace Chatrm.Engine.Tests.Cluster
{
    /// <summary>In a cluster the store is JetStream: what waits for a user, and every conversation's history, is the same from any server.</summary>
    [Collection(ClusterCollection.Name)]
    public sealed class ClusterStoreTests
    {
        private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

        private static Task<SentMessage> Fate(Task<SentMessage> send) => send.WaitAsync(Deadline);

        private static async Task<List<ChatMessage>> TakeAsync(ChatClient client, int count, string room = null)
        {
            var got = new List<ChatMessage>();
            await Eventually.TrueAsync(() =>
            {
                got.AddRange(client.Take(1000, room: room).OfType<ChatMessage>());
                return got.Count >= count;
            }, Deadline, $"{count} messages for {client.UserName}");
            return got;
        }

        /// <summary>Logs a name in and out once, so every server knows it (a known user's messages wait for it).</summary>
        private static async Task MakeKnownAsync(TestCluster.Member server, string name)
        {
            using ChatClient once = await server.ConnectAsync(name);
            await once.CloseAsync();
            await Eventually.TrueAsync(() => !server.Server.OnlineUsers.Contains(name, UserNames.Comparer), Deadline, name + " gone");
        }

        [Fact]
        public async Task AMessageStoredThroughOneServerIsDeliveredAtLoginOnAnotherConfirmedAndThenGone()
        {
            await using TestCluster cluster = await TestCluster.StartAsync(2);
            await MakeKnownAsync(cluster[1], "bob");
            using ChatClient alice = await cluster[0].ConnectAsync("alice");

            var sent = new List<SentMessage>();
            for (int i = 1; i <= 3; i++)
            {
                sent.Add(await Fate(alice.SendAsync("bob", "while you were away " + i)));
            }

            Assert.All(sent, s => Assert.Equal(SendStatus.Stored, s.Status));

            using (ChatClient bob = await cluster[1].ConnectAsync("bob"))
            {
                List<ChatMessage> got = await TakeAsync(bob, 3);
                Assert.Equal(sent.Select(s => s.Id), got.Select(m => m.Id));
                Assert.Equal(new[] { "while you were away 1", "while you were away 2", "while you were away 3" }, got.Select(m => m.Text));
                Assert.All(got, m => Assert.Equal("alice", m.From));

                // Bob's client confirms each: alice, on the other server, hears the second tick.
                await Eventually.TrueAsync(() => alice.Take(10, includeReceipts: true).OfType<DeliveryReceipt>().Any(r => r.Id == sent[2].Id), Deadline, "a receipt for the last");
                await bob.CloseAsync();
            }

            // Confirmed, so gone: a login on either server finds nothing waiting.
            await Eventually.TrueAsync(() => !cluster[0].Server.OnlineUsers.Contains("bob", UserNames.Comparer), Deadline, "bob gone");
            using ChatClient again = await cluster[0].ConnectAsync("bob");
            SentMessage probe = await Fate(alice.SendAsync("bob", "live now"));
            Assert.Equal(SendStatus.Delivered, probe.Status);
            List<ChatMessage> after = await TakeAsync(again, 1);
            Assert.Equal(new[] { "live now" }, after.Select(m => m.Text));
        }

        [Fact]
        public async Task HistoryOfADirectConversationAndOfARoomReadsTheSameFromEveryServer()
        {
            await using TestCluster cluster = await TestCluster.StartAsync(3);
            using ChatClient alice = await cluster[0].ConnectAsync("alice");
            using ChatClient bob = await cluster[1].ConnectAsync("bob");
            await Eventually.TrueAsync(() => cluster[0].Server.OnlineUsers.Contains("bob", UserNames.Comparer), Deadline, "bob seen on node 1");

            for (int i = 1; i <= 6; i++)
            {
                ChatClient from = i % 2 == 1 ? alice : bob;
                Assert.Equal(SendStatus.Delivered, (await Fate(from.SendAsync(i % 2 == 1 ? "bob" : "alice", "line " + i))).Status);
            }

            await alice.JoinRoomAsync("#ops", Deadline);
            await bob.JoinRoomAsync("#ops", Deadline);
            for (int i = 1; i <= 5; i++)
            {
                Assert.Equal(SendStatus.Posted, (await Fate((i % 2 == 1 ? alice : bob).SendAsync("#ops", "post " + i))).Status);
            }

            foreach (TestCluster.Member member in cluster.Members)
            {
                IReadOnlyList<ChatMessage> direct = member.Server.ReadHistory("bob", "alice", last: 50);
                Assert.Equal(Enumerable.Range(1, 6).Select(i => "line " + i), direct.Select(m => m.Text));
                Assert.Equal(direct.Select(m => m.Seq ?? 0).OrderBy(s => s), direct.Select(m => m.Seq ?? 0));
                Assert.Equal(direct.Count, direct.Select(m => m.Seq ?? 0).Distinct().Count());

                // Paging back from the fourth line, and on from the second.
                IReadOnlyList<ChatMessage> older = member.Server.ReadHistory("alice", "bob", last: 2, before: direct[3].Seq.Value);
                Assert.Equal(new[] { "line 2", "line 3" }, older.Select(m => m.Text));
                IReadOnlyList<ChatMessage> newer = member.Server.ReadHistory("alice", "bob", last: 50, after: direct[1].Seq.Value);
                Assert.Equal(new[] { "line 3", "line 4", "line 5", "line 6" }, newer.Select(m => m.Text));

                IReadOnlyList<ChatMessage> room = member.Server.ReadHistory("#OPS", last: 3);
                Assert.Equal(new long[] { 3, 4, 5 }, room.Select(m => m.Seq ?? 0));
                Assert.Equal(new[] { "post 3", "post 4", "post 5" }, room.Select(m => m.Text));
                Assert.Equal(new long[] { 1, 2 }, member.Server.ReadHistory("#ops", last: 50, before: 3).Select(m => m.Seq ?? 0));
                Assert.Equal(new long[] { 4, 5 }, member.Server.ReadHistory("#ops", last: 50, after: 3).Select(m => m.Seq ?? 0));
                Assert.Equal(new long[] { 3 }, member.Server.ReadHistory("#ops", last: 50, before: 4, after: 2).Select(m => m.Seq ?? 0));
            }

            // A member asks its own server, wherever the room lives.
            IReadOnlyList<ChatMessage> asked = await bob.GetHistoryAsync("#ops", 2, 0, 0, Deadline);
            Assert.Equal(new long[] { 4, 5 }, asked.Select(m => m.Seq ?? 0));
        }

        [Fact]
        public async Task ARoomMadeAgainOnAnotherServerAfterItsHomeStoppedGoesOnFromItsLastSeq()
        {
            await using TestCluster cluster = await TestCluster.StartAsync(2);
            using (ChatClient alice = await cluster[0].ConnectAsync("alice"))
            {
                await alice.JoinRoomAsync("#ops", Deadline);
                for (int i = 1; i <= 3; i++)
                {
                    Assert.Equal(SendStatus.Posted, (await Fate(alice.SendAsync("#ops", "post " + i))).Status);
                }
            }

            await cluster[0].DisposeAsync();

            using ChatClient bob = await cluster[1].ConnectAsync("bob");
            using ChatClient carol = await cluster[1].ConnectAsync("carol");
            await bob.JoinRoomAsync("#ops", Deadline);
            await carol.JoinRoomAsync("#ops", Deadline);
            Assert.Equal(SendStatus.Posted, (await Fate(bob.SendAsync("#ops", "post 4"))).Status);
            ChatMessage got = (await TakeAsync(carol, 1, "#ops")).Single();
            Assert.Equal((4L, "post 4"), (got.Seq ?? 0, got.Text));
            Assert.Equal(new long[] { 1, 2, 3, 4 }, cluster[1].Server.ReadHistory("#ops", last: 50).Select(m => m.Seq ?? 0));
        }

        [Fact]
        public async Task WhatAUserNeverConfirmedBeforeLeavingComesAgainWithItsIdAtItsLoginOnAnotherServer()
        {
            await using TestCluster cluster = await TestCluster.StartAsync(2);
            using ChatClient alice = await cluster[0].ConnectAsync("alice");
            string id;
            using (NativePeer bob = await NativePeer.JoinAsync(cluster[1].Server.LocalEndPoint, "bob"))
            {
                await Eventually.TrueAsync(() => cluster[0].Server.OnlineUsers.Contains("bob", UserNames.Comparer), Deadline, "bob seen on node 1");
                Task<SentMessage> fate = alice.SendAsync("bob", "read but not confirmed");
                id = NativePeer.Str(await bob.ExpectAsync("message"), "id");

                // Bob's connection ends without an ack: the server he was on keeps it in the cluster's store.
                bob.Dispose();
                SentMessage sent = await Fate(fate);
                Assert.Equal((SendStatus.Stored, id), (sent.Status, sent.Id));
            }

            using ChatClient again = await cluster[0].ConnectAsync("bob");
            ChatMessage got = (await TakeAsync(again, 1)).Single();
            Assert.Equal(("read but not confirmed", id), (got.Text, got.Id));
        }

        [Fact]
        public async Task AMessageKeptAfterItsRecipientLoggedInElsewhereReachesThatLoginOnceWithoutTheOnesBefore()
        {
            await using TestCluster cluster = await TestCluster.StartAsync(2);
            await MakeKnownAsync(cluster[1], "bob");
            using ChatClient alice = await cluster[0].ConnectAsync("alice");
            SentMessage first = await Fate(alice.SendAsync("bob", "before the login"));
            Assert.Equal(SendStatus.Stored, first.Status);

            // A native peer that never confirms: what the login wrote stays in the inbox, and must not come twice.
            using NativePeer bob = await NativePeer.JoinAsync(cluster[1].Server.LocalEndPoint, "bob");
            Assert.Equal("before the login", NativePeer.Str(await bob.ExpectAsync("message"), "text"));

            // As when server one's commit lands after server two's read: kept in bob's inbox, then server one says so.
            var kept = new TaskCompletionSource<Chatrm.Engine.Storage.StoreResult>(TaskCreationOptions.RunContinuationsAsynchronously);
            cluster[0].Server.Store.StoreOffline(
                new Chatrm.Engine.Storage.StoredMessage { Id = 424242, From = "alice", To = "bob", Text = "late", SentAt = DateTime.UtcNow },
                result => kept.SetResult(result));
            Assert.Equal(Chatrm.Engine.Storage.StoreOutcome.Stored, (await kept.Task.WaitAsync(Deadline)).Outcome);
            await Eventually.TrueAsync(() => cluster[0].Server.OnlineUsers.Contains("bob", UserNames.Comparer), Deadline, "bob seen on node 1");
            cluster[0].Server.Router.InboxWritten("bob");

            Assert.Equal("late", NativePeer.Str(await bob.ExpectAsync("message"), "text"));
            await bob.AssertNothingWaitingAsync();
        }

        [Fact]
        public async Task AFullInboxRefusesTheNextMessageSayingSo()
        {
            await using TestCluster cluster = await TestCluster.StartAsync(2, options => options.MaxInboxMessages = 2);
            await MakeKnownAsync(cluster[1], "bob");
            using ChatClient alice = await cluster[0].ConnectAsync("alice");

            Assert.Equal(SendStatus.Stored, (await Fate(alice.SendAsync("bob", "one"))).Status);
            Assert.Equal(SendStatus.Stored, (await Fate(alice.SendAsync("bob", "two"))).Status);
            SentMessage third = await Fate(alice.SendAsync("bob", "three"));
            Assert.Equal((SendStatus.Refused, "inbox-full"), (third.Status, third.Reason));

            using ChatClient bob = await cluster[1].ConnectAsync("bob");
            Assert.Equal(new[] { "one", "two" }, (await TakeAsync(bob, 2)).Select(m => m.Text));
        }

        [Fact]
        public async Task WithNatsGoneAMessageForAnOfflineUserIsRefusedAtOnceAndLocalChatGoesOn()
        {
            await using TestCluster cluster = await TestCluster.StartAsync(1);
            await MakeKnownAsync(cluster[0], "bob");
            using ChatClient alice = await cluster[0].ConnectAsync("alice");
            using ChatClient amy = await cluster[0].ConnectAsync("amy");

            await cluster.KillNatsAsync();
            await Eventually.TrueAsync(() => cluster[0].Node.State == ClusterState.Reconnecting, Deadline, "node reconnecting");

            Assert.Equal(SendStatus.Delivered, (await Fate(alice.SendAsync("amy", "still here"))).Status);
            var clock = Stopwatch.StartNew();
            SentMessage away = await Fate(alice.SendAsync("bob", "for later"));
            Assert.Equal(SendStatus.Refused, away.Status);
            Assert.Contains("cluster unavailable", away.Detail ?? string.Empty);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), "refused within 2 s: " + clock.Elapsed);
        }
    }
}
