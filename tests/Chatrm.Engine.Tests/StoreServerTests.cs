using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json.Nodes;
using System.Threading.Tasks;
using Chatrm.Engine.Storage;
using Xunit;
using static Chatrm.Engine.Tests.NativePeer;

namespace Chatrm.Engine.Tests
{
    /// <summary>
    /// The server with its store (issue 16), over the wire: offline messages, their inbox at login, receipts, limits,
    /// history and its access rules. Run against each store (see the classes below).
    /// </summary>
    public abstract class StoreServerTests
    {
        /// <summary>Points the options at this class's store.</summary>
        protected abstract void UseStore(ServerOptions options);

        private TestServer Start(Action<ServerOptions> configure = null, Func<StoreLimits, IMessageStore> store = null) =>
            new TestServer(o =>
            {
                UseStore(o);
                configure?.Invoke(o);
            }, store: store);

        /// <summary>A server whose store, a memory one inside a <see cref="HeldStore"/>, holds back what the test says.</summary>
        private TestServer StartHeld(out HeldStore held, Action<ServerOptions> configure = null)
        {
            HeldStore made = null;
            TestServer server = Start(configure, limits => made = new HeldStore(new MemoryMessageStore(limits, TimeProvider.System)));
            held = made;
            return server;
        }

        /// <summary>Sends a message to a user who is away, and waits until its write into the inbox is held.</summary>
        private static async Task SendWithItsWriteHeldAsync(HeldStore held, NativePeer sender, string to, string text, string reference)
        {
            held.HoldOffline();
            await sender.SendMessageAsync(to, text, reference);
            await Eventually.TrueAsync(() => held.HeldOffline == 1, "the write waits");
        }

        private static async Task LeaveAsync(TestServer server, NativePeer peer)
        {
            await peer.SendAsync("{\"type\":\"bye\"}");
            peer.Dispose();
            await Eventually.TrueAsync(() => !server.IsOnline(peer.Name), peer.Name + " leaves");
        }

        /// <summary>A user who logged in once and left, so the server knows the name.</summary>
        private static async Task KnownAndAwayAsync(TestServer server, string name) =>
            await LeaveAsync(server, await server.JoinNativeAsync(name));

        private static async Task<JsonObject> StoredAsync(NativePeer sender, string to, string text, string reference)
        {
            await sender.SendMessageAsync(to, text, reference);
            JsonObject status = await sender.ExpectAsync("status");
            Assert.True(Str(status, "status") == "stored", "expected stored, got " + status.ToJsonString());
            Assert.Equal(reference, Str(status, "ref"));
            return status;
        }

        [Fact]
        public async Task OfflineMessagesComeFirstAtLoginInTheOrderSentWithTheirOwnIdsSendersAndTimes()
        {
            await using TestServer server = Start();
            using NativePeer alice = await server.JoinNativeAsync("alice");
            await KnownAndAwayAsync(server, "bob");

            var statuses = new List<JsonObject>();
            for (int i = 1; i <= 3; i++)
            {
                statuses.Add(await StoredAsync(alice, "bob", "while you were out " + i, "s" + i));
            }

            using NativePeer bob = await server.JoinNativeAsync("bob");
            List<JsonObject> first = await bob.DrainAsync();

            Assert.Equal(3, first.Count);
            for (int i = 0; i < 3; i++)
            {
                Assert.Equal("message", Type(first[i]));
                Assert.Equal(Str(statuses[i], "id"), Str(first[i], "id"));
                Assert.Equal("alice", Str(first[i], "from"));
                Assert.Equal("bob", Str(first[i], "to"));
                Assert.Equal("while you were out " + (i + 1), Str(first[i], "text"));
                Assert.Equal(Time(statuses[i], "sentAt"), Time(first[i], "sentAt"));
            }

            // Then live ones, as ever.
            await alice.SendMessageAsync("bob", "and now live", "l1");
            JsonObject live = await bob.ExpectAsync("message");
            Assert.Equal("and now live", Str(live, "text"));
        }

        [Fact]
        public async Task AStoredMessageNotAckedComesAgainWithTheSameIdAndAnAckedOneNever()
        {
            await using TestServer server = Start();
            using NativePeer alice = await server.JoinNativeAsync("alice");
            await KnownAndAwayAsync(server, "bob");
            string one = Str(await StoredAsync(alice, "bob", "one", "1"), "id");
            string two = Str(await StoredAsync(alice, "bob", "two", "2"), "id");

            // bob reads both, acks only the first, and goes.
            NativePeer bob = await server.JoinNativeAsync("bob");
            List<JsonObject> first = await bob.DrainAsync();
            Assert.Equal(new[] { one, two }, first.Select(f => Str(f, "id")));
            await bob.AckAsync(one);
            await LeaveAsync(server, bob);

            bob = await server.JoinNativeAsync("bob");
            List<JsonObject> again = await bob.DrainAsync();
            Assert.Equal(new[] { two }, again.Select(f => Str(f, "id")));
            await bob.AckThroughAsync(two);
            await LeaveAsync(server, bob);

            using NativePeer last = await server.JoinNativeAsync("bob");
            await last.AssertNothingWaitingAsync();
        }

        [Fact]
        public async Task TheSenderStillConnectedHearsAReceiptWhenTheRecipientAcks()
        {
            await using TestServer server = Start();
            using NativePeer alice = await server.JoinNativeAsync("alice");
            await KnownAndAwayAsync(server, "bob");
            JsonObject stored = await StoredAsync(alice, "bob", "call me", "r1");

            using NativePeer bob = await server.JoinNativeAsync("bob");
            JsonObject message = await bob.ExpectAsync("message");
            await bob.AckAsync(Str(message, "id"));

            JsonObject receipt = await alice.ExpectAsync("status");
            Assert.Equal(("r1", Str(stored, "id"), "bob", "delivered"), (Str(receipt, "ref"), Str(receipt, "id"), Str(receipt, "to"), Str(receipt, "status")));
        }

        [Fact]
        public async Task AReceiptFindsTheSenderByNameInALaterSession()
        {
            await using TestServer server = Start();
            NativePeer alice = await server.JoinNativeAsync("alice");
            await KnownAndAwayAsync(server, "bob");
            string id = Str(await StoredAsync(alice, "bob", "later", "r2"), "id");
            await LeaveAsync(server, alice);

            using NativePeer aliceAgain = await server.JoinNativeAsync("alice");
            using NativePeer bob = await server.JoinNativeAsync("bob");
            await bob.AckAsync(Str(await bob.ExpectAsync("message"), "id"));

            JsonObject receipt = await aliceAgain.ExpectAsync("status");
            Assert.Equal((id, "delivered"), (Str(receipt, "id"), Str(receipt, "status")));
        }

        [Fact]
        public async Task AFullInboxRefusesTheMessageSayingSoAndKeepsWhatItHeld()
        {
            await using TestServer server = Start(o => o.MaxInboxMessages = 2);
            using NativePeer alice = await server.JoinNativeAsync("alice");
            await KnownAndAwayAsync(server, "bob");
            await StoredAsync(alice, "bob", "one", "1");
            await StoredAsync(alice, "bob", "two", "2");

            await alice.SendMessageAsync("bob", "three", "3");
            JsonObject refused = await alice.ExpectAsync("status");
            Assert.Equal(("3", "refused", "inbox-full"), (Str(refused, "ref"), Str(refused, "status"), Str(refused, "reason")));
            Assert.False(string.IsNullOrEmpty(Str(refused, "message")));

            using NativePeer bob = await server.JoinNativeAsync("bob");
            Assert.Equal(new[] { "one", "two" }, (await bob.DrainAsync()).Select(f => Str(f, "text")));
        }

        [Fact]
        public async Task AFullInboxOfBytesRefusesToo()
        {
            await using TestServer server = Start(o => o.MaxInboxBytes = o.MaxLineBytes);
            using NativePeer alice = await server.JoinNativeAsync("alice");
            await KnownAndAwayAsync(server, "bob");
            await StoredAsync(alice, "bob", new string('a', 10_000), "1");

            await alice.SendMessageAsync("bob", new string('b', 10_000), "2");
            JsonObject refused = await alice.ExpectAsync("status");
            Assert.Equal(("refused", "inbox-full"), (Str(refused, "status"), Str(refused, "reason")));
        }

        [Fact]
        public async Task ANameNeverSeenIsStillRefusedUnknownUser()
        {
            await using TestServer server = Start();
            using NativePeer alice = await server.JoinNativeAsync("alice");
            await alice.SendMessageAsync("nobody", "hello?", "n1");
            JsonObject status = await alice.ExpectAsync("status");
            Assert.Equal(("refused", "unknown-user"), (Str(status, "status"), Str(status, "reason")));
        }

        [Fact]
        public async Task WithCredentialsEveryNameInThemIsKnownBeforeItEverLogsIn()
        {
            var credentials = new CredentialStore();
            credentials.Add("alice", "alice-secret", 1000);
            credentials.Add("bob", "bob-secret", 1000);
            await using TestServer server = Start(o => o.Credentials = credentials);
            using NativePeer alice = await NativePeer.ConnectAsync(server.EndPoint, "alice");
            await alice.SendAsync("{\"type\":\"hello\",\"protocol\":\"chatrm_native\",\"version\":1,\"user\":\"alice\",\"password\":\"alice-secret\"}");
            await alice.ExpectAsync("welcome");

            await StoredAsync(alice, "bob", "for when you come", "c1");
        }

        [Fact]
        public async Task AMessageStoredWhileItsRecipientLogsInIsNotStrandedInTheInbox()
        {
            await using TestServer server = StartHeld(out HeldStore held);
            using NativePeer alice = await server.JoinNativeAsync("alice");
            await KnownAndAwayAsync(server, "bob");

            // The write is slow: bob logs in, and his inbox is read, before it is committed.
            await SendWithItsWriteHeldAsync(held, alice, "bob", "just in time", "t1");
            using NativePeer bob = await server.JoinNativeAsync("bob");
            await bob.AssertNothingWaitingAsync();

            held.ReleaseOffline();
            JsonObject stored = await alice.ExpectAsync("status");
            Assert.Equal("stored", Str(stored, "status"));
            JsonObject message = await bob.ExpectAsync("message");
            Assert.Equal((Str(stored, "id"), "just in time"), (Str(message, "id"), Str(message, "text")));

            // Acked, it leaves the inbox: the next login brings nothing.
            await bob.AckAsync(Str(message, "id"));
            Assert.Equal("delivered", Str(await alice.ExpectAsync("status"), "status"));
        }

        [Fact]
        public async Task AMessageStillBeingStoredAtLoginReachesItsRecipientBeforeALiveOneSentAfter()
        {
            await using TestServer server = StartHeld(out HeldStore held);
            using NativePeer alice = await server.JoinNativeAsync("alice");
            await KnownAndAwayAsync(server, "bob");

            await SendWithItsWriteHeldAsync(held, alice, "bob", "older", "o1");
            using NativePeer bob = await server.JoinNativeAsync("bob");
            await alice.SendMessageAsync("bob", "newer", "n1");

            // The live one waits behind the inbox, which waits for the write.
            await bob.AssertNothingWaitingAsync();

            held.ReleaseOffline();
            Assert.Equal("older", Str(await bob.ExpectAsync("message"), "text"));
            Assert.Equal("newer", Str(await bob.ExpectAsync("message"), "text"));
        }

        [Fact]
        public async Task AMessageKeptWhenASessionIsTakenOverReachesTheNewSessionBeforeALiveOneSentAfter()
        {
            const string token = "0123456789abcdef0123456789abcdef";
            await using TestServer server = StartHeld(out HeldStore held);
            using NativePeer alice = await server.JoinNativeAsync("alice");
            using NativePeer bob = await server.JoinNativeAsync("bob", resume: token);
            await alice.SendMessageAsync("bob", "unconfirmed", "u1");
            string id = Str(await bob.ExpectAsync("message"), "id");

            // Bob comes back on a new connection before the server noticed the old one go; what the old one never
            // confirmed is kept as it ends, slowly.
            held.HoldOffline();
            using NativePeer bobAgain = await server.JoinNativeAsync("bob", resume: token);
            await Eventually.TrueAsync(() => held.HeldOffline == 1, "the kept message's write waits");
            await alice.SendMessageAsync("bob", "after", "a1");
            await bobAgain.AssertNothingWaitingAsync();

            held.ReleaseOffline();
            JsonObject first = await bobAgain.ExpectAsync("message");
            Assert.Equal(("unconfirmed", id), (Str(first, "text"), Str(first, "id")));
            Assert.Equal("after", Str(await bobAgain.ExpectAsync("message"), "text"));
        }

        [Fact]
        public async Task LiveMessagesThatCameDuringALoginsInboxPastTheInboxLimitAreRefusedAndTheRestArriveInOrder()
        {
            await using TestServer server = StartHeld(out HeldStore held, o => o.MaxInboxMessages = 2);
            using NativePeer alice = await server.JoinNativeAsync("alice");
            await KnownAndAwayAsync(server, "bob");

            await SendWithItsWriteHeldAsync(held, alice, "bob", "stored", "s1");
            using NativePeer bob = await server.JoinNativeAsync("bob");
            await alice.SendMessageAsync("bob", "live 1", "l1");
            await alice.SendMessageAsync("bob", "live 2", "l2");
            await alice.SendMessageAsync("bob", "live 3", "l3");
            JsonObject refused = await alice.ExpectAsync("status");
            Assert.Equal(("l3", "refused", "recipient-too-slow"), (Str(refused, "ref"), Str(refused, "status"), Str(refused, "reason")));

            held.ReleaseOffline();
            var texts = new List<string>();
            for (int i = 0; i < 3; i++)
            {
                texts.Add(Str(await bob.ExpectAsync("message"), "text"));
            }

            Assert.Equal(new[] { "stored", "live 1", "live 2" }, texts);
            await bob.AssertNothingWaitingAsync();
        }

        [Fact]
        public async Task AClassicRecipientGetsAnInboxLargerThanHalfItsSendQueueWhole()
        {
            await using TestServer server = Start(o =>
            {
                o.MaxLineBytes = 1024;
                o.MaxQueuedBytesPerConnection = 2048;
            });
            using NativePeer alice = await server.JoinNativeAsync("alice");
            await KnownAndAwayAsync(server, "bob");
            const int count = 100;
            for (int i = 0; i < count; i++)
            {
                await StoredAsync(alice, "bob", "waiting " + i + " " + new string('x', 40), "w" + i);
            }

            // A classic client confirms nothing: more of its inbox goes each time its send queue empties.
            using RawClient bob = await server.JoinAsync("bob");
            for (int i = 0; i < count; i++)
            {
                Assert.Equal("bob_alice_waiting " + i + " " + new string('x', 40), await bob.ReadLineAsync());
            }
        }

        [Fact]
        public async Task AFailedWriteRefusesTheMessageStoreFailedWithTheStoresWordsAndLiveChatGoesOn()
        {
            await using TestServer server = StartHeld(out HeldStore held);
            using NativePeer alice = await server.JoinNativeAsync("alice");
            using RawClient carol = await server.JoinAsync("carol");
            await KnownAndAwayAsync(server, "bob");
            held.FailOffline = "the disk is full";

            await alice.SendMessageAsync("bob", "lost?", "f1");
            JsonObject refused = await alice.ExpectAsync("status");
            Assert.Equal(("f1", "refused", "store-failed", "the disk is full"), (Str(refused, "ref"), Str(refused, "status"), Str(refused, "reason"), Str(refused, "message")));
            Assert.NotNull(Str(refused, "id"));

            await carol.SendAsync("carol_bob_and mine?\n");
            Assert.Equal("carol_chatrm_store-failed: the disk is full", await carol.ReadLineAsync());

            await alice.SendMessageAsync("carol", "still here", "f2");
            Assert.Equal("carol_alice_still here", await carol.ReadLineAsync());
        }

        [Fact]
        public async Task DeliveredIsToldOnlyOnceTheMessagesHistoryIsCommitted()
        {
            await using TestServer server = StartHeld(out HeldStore held);
            using NativePeer alice = await server.JoinNativeAsync("alice");
            using NativePeer bob = await server.JoinNativeAsync("bob");

            held.HoldCommits();
            await alice.SendMessageAsync("bob", "durable?", "d1");
            await bob.AckAsync(Str(await bob.ExpectAsync("message"), "id"));
            await Eventually.TrueAsync(() => held.HeldCommits == 1, "the delivered report waits for the commit");
            await alice.AssertNothingWaitingAsync();

            held.ReleaseCommits();
            JsonObject delivered = await alice.ExpectAsync("status");
            Assert.Equal(("d1", "delivered"), (Str(delivered, "ref"), Str(delivered, "status")));
        }

        [Fact]
        public async Task AClassicRecipientGetsItsInboxAsLinesAfterItsWelcomeAndOnlyOnce()
        {
            await using TestServer server = Start();
            using NativePeer alice = await server.JoinNativeAsync("alice");
            using (RawClient bob = await server.JoinAsync("bob"))
            {
                await bob.SendAsync("EXIT\n");
            }

            await Eventually.TrueAsync(() => !server.IsOnline("bob"), "bob leaves");
            await StoredAsync(alice, "bob", "first", "1");
            await StoredAsync(alice, "bob", "second\nin two lines", "2");

            using (RawClient bob = await server.JoinAsync("bob"))
            {
                Assert.Equal("bob_alice_first", await bob.ReadLineAsync());
                Assert.Equal("bob_alice_second", await bob.ReadLineAsync());
                Assert.Equal("bob_alice_in two lines", await bob.ReadLineAsync());

                // Written counts as delivered for a client that cannot confirm: alice hears the receipts.
                Assert.Equal("delivered", Str(await alice.ExpectAsync("status"), "status"));
                Assert.Equal("delivered", Str(await alice.ExpectAsync("status"), "status"));
                await bob.SendAsync("EXIT\n");
            }

            await Eventually.TrueAsync(() => !server.IsOnline("bob"), "bob leaves again");
            using RawClient bobAgain = await server.JoinAsync("bob");
            await alice.SendMessageAsync("bob", "live", "3");
            Assert.Equal("bob_alice_live", await bobAgain.ReadLineAsync());
        }

        [Fact]
        public async Task AClassicSenderIsToldItsLineWaitsForTheOfflineUser()
        {
            await using TestServer server = Start();
            using RawClient carol = await server.JoinAsync("carol");
            await KnownAndAwayAsync(server, "bob");

            await carol.SendAsync("carol_bob_see you\n");
            Assert.StartsWith("carol_chatrm_stored: bob is offline", await carol.ReadLineAsync());

            using NativePeer bob = await server.JoinNativeAsync("bob");
            JsonObject message = await bob.ExpectAsync("message");
            Assert.Equal(("carol", "see you"), (Str(message, "from"), Str(message, "text")));
        }

        // ---- history ----

        private static async Task<JsonObject> HistoryAsync(NativePeer asker, string field, string name, string reference, int? last = null, long? before = null, long? after = null)
        {
            var frame = new JsonObject { ["type"] = "history", ["ref"] = reference, [field] = name };
            if (last.HasValue) frame["last"] = last.Value;
            if (before.HasValue) frame["before"] = before.Value;
            if (after.HasValue) frame["after"] = after.Value;
            await asker.SendFrameAsync(frame);
            JsonObject answer = await asker.ReadAsync();
            while (Type(answer) == "presence" || Type(answer) == "status" || Type(answer) == "message")
            {
                answer = await asker.ReadAsync();
            }

            Assert.Equal(reference, Str(answer, "ref"));
            return answer;
        }

        private static List<JsonObject> Lines(JsonObject answer)
        {
            Assert.True(Type(answer) == "history", "expected a history answer, got " + answer.ToJsonString());
            return answer["messages"].AsArray().Select(n => n.AsObject()).ToList();
        }

        private static long Seq(JsonObject line) => line["seq"].GetValue<long>();

        [Fact]
        public async Task ADirectConversationsHistoryIsTheSameForBothAndPagesBySeq()
        {
            await using TestServer server = Start();
            using NativePeer alice = await server.JoinNativeAsync("alice");
            using NativePeer bob = await server.JoinNativeAsync("bob");
            for (int i = 1; i <= 5; i++)
            {
                NativePeer from = i % 2 == 1 ? alice : bob;
                NativePeer to = i % 2 == 1 ? bob : alice;
                await from.SendMessageAsync(to.Name, "line " + i, "m" + i);
                await to.AckAsync(Str(await to.ExpectAsync("message"), "id"));
                Assert.Equal("delivered", Str(await from.ExpectAsync("status"), "status"));
            }

            List<JsonObject> all = Lines(await HistoryAsync(alice, "with", "BOB", "h1"));
            Assert.Equal(Enumerable.Range(1, 5).Select(i => "line " + i), all.Select(l => Str(l, "text")));
            Assert.Equal(all.Select(Seq).OrderBy(s => s), all.Select(Seq));
            Assert.Equal(all.Select(Seq).Distinct().Count(), all.Count);
            Assert.Equal(("alice", "bob"), (Str(all[0], "from"), Str(all[0], "to")));
            Assert.NotNull(Str(all[0], "id"));
            Time(all[0], "sentAt");

            List<JsonObject> fromBob = Lines(await HistoryAsync(bob, "with", "alice", "h2"));
            Assert.Equal(all.Select(l => Str(l, "id")), fromBob.Select(l => Str(l, "id")));

            List<JsonObject> lastTwo = Lines(await HistoryAsync(alice, "with", "bob", "h3", last: 2));
            Assert.Equal(new[] { "line 4", "line 5" }, lastTwo.Select(l => Str(l, "text")));

            List<JsonObject> before = Lines(await HistoryAsync(alice, "with", "bob", "h4", last: 2, before: Seq(lastTwo[0])));
            Assert.Equal(new[] { "line 2", "line 3" }, before.Select(l => Str(l, "text")));

            List<JsonObject> after = Lines(await HistoryAsync(alice, "with", "bob", "h5", after: Seq(all[2])));
            Assert.Equal(new[] { "line 4", "line 5" }, after.Select(l => Str(l, "text")));

            // Someone else's conversation with alice is theirs: carol sees her own, which is empty.
            using NativePeer carol = await server.JoinNativeAsync("carol");
            Assert.Empty(Lines(await HistoryAsync(carol, "with", "alice", "h6")));

            // And the operator reads it from the server's side.
            IReadOnlyList<ChatMessage> seen = server.Server.ReadHistory("bob", "alice", last: 3);
            Assert.Equal(new[] { "line 3", "line 4", "line 5" }, seen.Select(m => m.Text));
            Assert.True(seen.All(m => m.Seq > 0));
        }

        [Fact]
        public async Task AMessageKeptForAnOfflineUserIsInTheHistoryToo()
        {
            await using TestServer server = Start();
            using NativePeer alice = await server.JoinNativeAsync("alice");
            await KnownAndAwayAsync(server, "bob");
            string id = Str(await StoredAsync(alice, "bob", "noted", "1"), "id");

            JsonObject only = Assert.Single(Lines(await HistoryAsync(alice, "with", "bob", "h1")));
            Assert.Equal((id, "noted"), (Str(only, "id"), Str(only, "text")));
        }

        [Fact]
        public async Task ARoomsHistoryIsForItsMembersNowWithTheRoomsSeq()
        {
            await using TestServer server = Start();
            using NativePeer alice = await server.JoinNativeAsync("alice");
            using NativePeer bob = await server.JoinNativeAsync("bob");
            using NativePeer carol = await server.JoinNativeAsync("carol");
            foreach (NativePeer member in new[] { alice, bob })
            {
                await member.SendFrameAsync(new JsonObject { ["type"] = "join", ["ref"] = "j", ["room"] = "#ops" });
                await member.ExpectAsync("room");
            }

            var seqs = new List<long>();
            for (int i = 1; i <= 3; i++)
            {
                await alice.SendMessageAsync("#ops", "post " + i, "p" + i);
                JsonObject posted = await alice.ExpectAsync("status");
                seqs.Add(posted["seq"].GetValue<long>());
            }

            List<JsonObject> lines = Lines(await HistoryAsync(bob, "room", "#OPS", "h1"));
            Assert.Equal(new[] { "post 1", "post 2", "post 3" }, lines.Select(l => Str(l, "text")));
            Assert.Equal(seqs, lines.Select(Seq));
            Assert.True(lines.All(l => Str(l, "to") == "#ops"));

            JsonObject denied = await HistoryAsync(carol, "room", "#ops", "h2");
            Assert.Equal(("error", "access-denied"), (Type(denied), Str(denied, "code")));
            Assert.Contains("#ops", Str(denied, "message"));

            // A member who left may no longer read it.
            await bob.SendFrameAsync(new JsonObject { ["type"] = "part", ["ref"] = "p", ["room"] = "#ops" });
            await bob.ExpectAsync("room");
            Assert.Equal("access-denied", Str(await HistoryAsync(bob, "room", "#ops", "h3"), "code"));

            Assert.Equal(new[] { "post 2", "post 3" }, server.Server.ReadHistory("#ops", last: 2).Select(m => m.Text));
        }

        [Fact]
        public async Task ARoomMadeAgainCarriesOnItsSeq()
        {
            await using TestServer server = Start();
            long firstSeq;
            using (NativePeer alice = await server.JoinNativeAsync("alice"))
            {
                await alice.SendFrameAsync(new JsonObject { ["type"] = "join", ["ref"] = "j", ["room"] = "#ops" });
                await alice.ExpectAsync("room");
                await alice.SendMessageAsync("#ops", "before", "1");
                firstSeq = (await alice.ExpectAsync("status"))["seq"].GetValue<long>();
                await LeaveAsync(server, alice);
            }

            // Its last member left, so the room ended; made again, it goes on from its history.
            await Eventually.TrueAsync(() => server.Server.ListRooms().Count == 0, "the room ends");
            using NativePeer bob = await server.JoinNativeAsync("bob");
            await bob.SendFrameAsync(new JsonObject { ["type"] = "join", ["ref"] = "j", ["room"] = "#ops" });
            await bob.ExpectAsync("room");
            await bob.SendMessageAsync("#ops", "after", "2");
            Assert.Equal(firstSeq + 1, (await bob.ExpectAsync("status"))["seq"].GetValue<long>());
        }

        [Theory]
        [InlineData("{\"type\":\"history\",\"ref\":\"x\"}", "malformed-frame")]
        [InlineData("{\"type\":\"history\",\"ref\":\"x\",\"with\":\"bob\",\"room\":\"#ops\"}", "malformed-frame")]
        [InlineData("{\"type\":\"history\",\"ref\":\"x\",\"with\":\"bob\",\"last\":1001}", "malformed-frame")]
        [InlineData("{\"type\":\"history\",\"ref\":\"x\",\"room\":\"#bad name\"}", "invalid-room")]
        [InlineData("{\"type\":\"history\",\"ref\":\"x\",\"with\":\"no such name!\"}", "access-denied")]
        public async Task AHistoryRequestThatMakesNoSenseIsAnsweredWithAnError(string line, string code)
        {
            await using TestServer server = Start();
            using NativePeer alice = await server.JoinNativeAsync("alice");
            await alice.SendAsync(line);
            JsonObject error = await alice.ExpectAsync("error");
            Assert.Equal(("x", code), (Str(error, "ref"), Str(error, "code")));
        }

        [Fact]
        public async Task AServerWithoutHistoryKeepsNoneAndSaysSo()
        {
            await using TestServer server = Start(o => o.KeepHistory = false);
            using NativePeer alice = await server.JoinNativeAsync("alice");
            using NativePeer bob = await server.JoinNativeAsync("bob");
            await alice.SendMessageAsync("bob", "gone with the wind", "1");
            await bob.AckAsync(Str(await bob.ExpectAsync("message"), "id"));
            Assert.Equal("delivered", Str(await alice.ExpectAsync("status"), "status"));

            JsonObject error = await HistoryAsync(alice, "with", "bob", "h1");
            Assert.Equal(("error", "history-off"), (Type(error), Str(error, "code")));
            Assert.Empty(server.Server.ReadHistory("alice", "bob"));
        }
    }

    /// <summary>The server's behaviour with its memory store, the default.</summary>
    public sealed class MemoryStoreServerTests : StoreServerTests
    {
        protected override void UseStore(ServerOptions options) => options.StorePath = null;
    }

    /// <summary>The same behaviour with an SQLite file, made for each test and deleted after it.</summary>
    public sealed class SqliteStoreServerTests : StoreServerTests, IDisposable
    {
        private readonly TempStoreFile _file = new TempStoreFile();

        protected override void UseStore(ServerOptions options) => options.StorePath = _file.Path;

        public void Dispose() => _file.Dispose();
    }
}
