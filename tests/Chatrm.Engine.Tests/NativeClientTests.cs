using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading;
using System.Threading.Tasks;
using Xunit;
using static Chatrm.Engine.Tests.NativePeer;

namespace Chatrm.Engine.Tests
{
    /// <summary>ChatClient speaking the native protocol: to a Chatrm server, and to servers that misbehave.</summary>
    public class NativeClientTests
    {
        private static readonly TimeSpan Deadline = RawClient.Deadline;

        private static Task<SentMessage> Fate(Task<SentMessage> send) => send.WaitAsync(Deadline);

        // ---- Opening ----

        [Fact]
        public async Task TheNativeProtocolIsTheDefault()
        {
            await using var server = new TestServer(o => o.MaxLineBytes = 4096);

            using ChatClient alice = await ChatClient.ConnectAsync("127.0.0.1", server.EndPoint.Port, "alice");

            Assert.Equal(ChatProtocol.Chatrm, alice.Protocol);
            Assert.True(alice.ServerIsChatrm);
            Assert.Equal(ConnectionState.Open, alice.State);
            Assert.Equal(4096, alice.MaxFrameBytes);        // from the welcome
            Assert.Equal("chatrm", server.ProtocolOf("alice"));
        }

        [Theory]
        [InlineData("alice")]
        [InlineData("ALICE")]
        public async Task ATakenNameThrowsNameTaken(string name)
        {
            await using var server = new TestServer();
            using ChatClient holder = await server.ConnectNativeAsync("alice");

            var e = await Assert.ThrowsAsync<ChatException>(() => server.ConnectNativeAsync(name));

            Assert.Equal(Refusal.NameTaken, e.Refusal);
            Assert.Contains(name, e.Message);
            Assert.Equal(ConnectionState.Open, holder.State);
            Assert.Equal(new[] { "alice" }, server.Server.Router.OnlineUsers);
        }

        [Fact]
        public async Task AgainstASilentOriginalServerItFailsWithProtocolMismatchAndSaysExit()
        {
            using var original = new FakeOriginalServer();
            Task<System.Net.Sockets.NetworkStream> accepted = original.AcceptAsync();
            var options = new ClientOptions { NativeOpeningTimeout = TimeSpan.FromMilliseconds(300) };

            var clock = Stopwatch.StartNew();
            var e = await Assert.ThrowsAsync<ChatException>(() =>
                ChatClient.ConnectAsync("127.0.0.1", original.Port, "alice", ChatProtocol.Chatrm, options).WaitAsync(Deadline));
            clock.Stop();

            Assert.Equal(Refusal.ProtocolMismatch, e.Refusal);
            Assert.Contains("Classic", e.Message);
            Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(250), $"gave up after only {clock.ElapsedMilliseconds} ms");

            // Everything the original server got: the hello, then EXIT, then the close.
            string received = await FakeOriginalServer.ReadToEndAsync(await accepted);
            string[] lines = received.Split('\n');
            Assert.Equal(3, lines.Length);
            Assert.Equal(("EXIT", ""), (lines[1], lines[2]));
            JsonObject hello = JsonNode.Parse(lines[0]).AsObject();
            Assert.Equal(("hello", "chatrm_native", "alice"), (Type(hello), Str(hello, "protocol"), Str(hello, "user")));
            Assert.Equal(1, hello["version"].GetValue<int>());

            // The original splits its first line on '_' and takes field 0 as the name: it must find one.
            Assert.Contains('_', lines[0]);
            Assert.NotEqual(string.Empty, lines[0].Trim().Split('_')[0]);
        }

        [Fact]
        public async Task AServerThatAnswersWithAClassicLineIsAProtocolMismatch()
        {
            using var fake = new FakeNativeServer();
            var options = new ClientOptions { NativeOpeningTimeout = TimeSpan.FromSeconds(30) };
            Task<ChatClient> connecting = ChatClient.ConnectAsync("127.0.0.1", fake.Port, "alice", ChatProtocol.Chatrm, options);
            await fake.AcceptAsync();
            Assert.StartsWith("{\"type\":\"hello\"", await fake.ReadLineAsync());

            // An original server relaying a message before anything else.
            await fake.WriteLineAsync("alice_bob_hello");

            var e = await Assert.ThrowsAsync<ChatException>(() => connecting.WaitAsync(Deadline));
            Assert.Equal(Refusal.ProtocolMismatch, e.Refusal);
            // EXIT before the close, so an original server survives it.
            Assert.Equal(new[] { "EXIT" }, await fake.ReadUntilClosedAsync());
        }

        [Fact]
        public async Task AChatrmServerWithoutTheNativeProtocolIsAProtocolMismatchNotABadName()
        {
            using var fake = new FakeNativeServer();
            var options = new ClientOptions { NativeOpeningTimeout = TimeSpan.FromSeconds(30) };
            Task<ChatClient> connecting = ChatClient.ConnectAsync("127.0.0.1", fake.Port, "alice", ChatProtocol.Chatrm, options);
            await fake.AcceptAsync();
            string hello = await fake.ReadLineAsync();

            // What a classic-only Chatrm server answers to the hello: its name field is {"type":"hello","protocol":"chatrm
            Assert.False(UserNames.IsValid(ClassicProtocol.ParseHandshake(hello)));
            await fake.WriteLineAsync("unnamed_chatrm_invalid-name: names are 1 to 32 letters, digits, dots or dashes");

            var e = await Assert.ThrowsAsync<ChatException>(() => connecting.WaitAsync(Deadline));
            Assert.Equal(Refusal.ProtocolMismatch, e.Refusal);
            Assert.Contains("Classic", e.Message);
        }

        [Theory]
        [InlineData("unsupported-version", Refusal.UnsupportedVersion)]
        [InlineData("invalid-name", Refusal.InvalidName)]
        [InlineData("name-taken", Refusal.NameTaken)]
        [InlineData("something-new", Refusal.MalformedFrame)]
        public async Task AnErrorFrameInsteadOfAWelcomeThrowsItsRefusal(string code, Refusal refusal)
        {
            using var fake = new FakeNativeServer();
            Task<ChatClient> connecting = ChatClient.ConnectAsync("127.0.0.1", fake.Port, "alice");
            await fake.AcceptAsync();
            await fake.ReadLineAsync();

            await fake.WriteLineAsync("{\"type\":\"error\",\"code\":\"" + code + "\",\"message\":\"the words of the server\"}");

            var e = await Assert.ThrowsAsync<ChatException>(() => connecting.WaitAsync(Deadline));
            Assert.Equal(refusal, e.Refusal);
            Assert.Contains("the words of the server", e.Message);
        }

        [Fact]
        public async Task AServerThatClosesBeforeGreetingThrowsConnectionClosed()
        {
            using var fake = new FakeNativeServer();
            Task<ChatClient> connecting = ChatClient.ConnectAsync("127.0.0.1", fake.Port, "alice");
            await fake.AcceptAsync();
            await fake.ReadLineAsync();

            fake.Dispose();

            var e = await Assert.ThrowsAsync<ChatException>(() => connecting.WaitAsync(Deadline));
            Assert.Equal(Refusal.ConnectionClosed, e.Refusal);
        }

        // ---- Sending ----

        [Theory]
        [InlineData(true)]
        [InlineData(false)]
        public async Task AMessageToANativeUserIsDeliveredWithTheIdAndTimeTheRecipientSees(bool batch)
        {
            await using var server = new TestServer();
            using ChatClient alice = await server.ConnectNativeAsync("alice", new ClientOptions { BatchConfirmations = batch });
            using ChatClient bob = await server.ConnectNativeAsync("bob", new ClientOptions { BatchConfirmations = batch });
            DateTime before = DateTime.UtcNow;

            SentMessage sent = await Fate(alice.SendAsync("bob", "hi_bob ✓"));

            DateTime after = DateTime.UtcNow;
            Assert.Equal(SendStatus.Delivered, sent.Status);
            Assert.Null(sent.Reason);
            Assert.Equal(Refusal.None, sent.Refusal);
            Assert.Equal(("alice", "bob", "hi_bob ✓"), (sent.From, sent.To, sent.Text));
            Assert.False(string.IsNullOrEmpty(sent.Id));
            Assert.InRange(sent.SentAt.ToUniversalTime(), before, after);
            Assert.Equal(DateTimeKind.Local, sent.SentAt.Kind);

            // Delivered means bob's client has it: it is waiting to be taken, with the same id and time.
            var message = Assert.IsType<ChatMessage>(Assert.Single(bob.Take(10)));
            Assert.Equal(("alice", "bob", "hi_bob ✓"), (message.From, message.To, message.Text));
            Assert.Equal(sent.Id, message.Id);
            Assert.Equal(sent.SentAt, message.SentAt);
        }

        [Fact]
        public async Task AMessageToAClassicUserIsForwarded()
        {
            await using var server = new TestServer();
            using ChatClient alice = await server.ConnectNativeAsync("alice");
            using RawClient bob = await server.JoinAsync("bob");

            SentMessage sent = await Fate(alice.SendAsync("bob", "hello_classic"));

            Assert.Equal(SendStatus.Forwarded, sent.Status);
            Assert.Null(sent.Reason);
            Assert.False(string.IsNullOrEmpty(sent.Id));
            Assert.Equal("bob_alice_hello_classic", await bob.ReadLineAsync());
        }

        [Fact]
        public async Task AMessageToNoSuchUserIsRefusedAndTheTaskDoesNotFault()
        {
            await using var server = new TestServer();
            using ChatClient alice = await server.ConnectNativeAsync("alice");

            SentMessage sent = await Fate(alice.SendAsync("nobody", "hello?"));

            Assert.Equal(SendStatus.Refused, sent.Status);
            Assert.Equal(("unknown-user", Refusal.UnknownUser), (sent.Reason, sent.Refusal));
            Assert.Contains("nobody", sent.Detail);
            Assert.False(string.IsNullOrEmpty(sent.Id));
            Assert.Equal(ConnectionState.Open, alice.State);
        }

        [Fact]
        public async Task AMessageToANameNeverSeenIsRefusedUnknownUser()
        {
            // A user who left is known now, and its messages wait for it (issue 16); a name never seen is still refused.
            await using var server = new TestServer();
            using ChatClient alice = await server.ConnectNativeAsync("alice");

            SentMessage sent = await Fate(alice.SendAsync("nobody", "are you there"));

            Assert.Equal((SendStatus.Refused, Refusal.UnknownUser), (sent.Status, sent.Refusal));
            Assert.Contains("nobody", sent.Detail);
        }

        [Theory]
        [InlineData(true)]
        [InlineData(false)]
        public async Task ManySendsWithoutWaitingEachGetTheirOwnFateAndId(bool batch)
        {
            await using var server = new TestServer();
            using ChatClient alice = await server.ConnectNativeAsync("alice", new ClientOptions { BatchConfirmations = batch });
            using ChatClient bob = await server.ConnectNativeAsync("bob", new ClientOptions { BatchConfirmations = batch });
            using RawClient carol = await server.JoinAsync("carol");
            const int count = 100;

            var sends = new List<Task<SentMessage>>();
            for (int i = 0; i < count; i++)
            {
                sends.Add(alice.SendAsync(i % 4 == 3 ? "carol" : i % 4 == 2 ? "nobody" : "bob", "m" + i));
            }

            SentMessage[] fates = await Task.WhenAll(sends).WaitAsync(Deadline);

            for (int i = 0; i < count; i++)
            {
                SendStatus expected = i % 4 == 3 ? SendStatus.Forwarded : i % 4 == 2 ? SendStatus.Refused : SendStatus.Delivered;
                Assert.Equal(("m" + i, expected), (fates[i].Text, fates[i].Status));
            }

            Assert.Equal(count, fates.Select(f => f.Id).Distinct().Count());

            // bob received his, in order, with the ids alice was told.
            var delivered = fates.Where(f => f.Status == SendStatus.Delivered).ToList();
            var received = bob.Take(1000).Cast<ChatMessage>().ToList();
            Assert.Equal(delivered.Select(f => (f.Id, f.Text)), received.Select(m => (m.Id, m.Text)));
        }

        [Fact]
        public async Task TheClientAcksWhatOneReadBroughtWithOneAckThrough()
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice", batch: true);
            using ChatClient bob = await server.ConnectNativeAsync("bob");
            const int count = 20;

            var burst = new System.Text.StringBuilder();
            for (int i = 0; i < count; i++)
            {
                burst.Append("{\"type\":\"send\",\"ref\":\"r" + i + "\",\"to\":\"bob\",\"text\":\"m" + i + "\"}\n");
            }

            await alice.Raw.SendAsync(burst.ToString());

            // Only acks "through" make delivered frames (a single ack makes a status): bob's client batched them.
            var refs = new List<string>();
            while (refs.Count < count)
            {
                System.Text.Json.Nodes.JsonObject delivered = await alice.ExpectAsync("delivered");
                refs.AddRange(delivered["messages"].AsArray().Select(m => NativePeer.Str(m.AsObject(), "ref")));
            }

            Assert.Equal(Enumerable.Range(0, count).Select(i => "r" + i), refs);
            Assert.Equal(Enumerable.Range(0, count).Select(i => "m" + i), bob.Take(100).Cast<ChatMessage>().Select(m => m.Text));
        }

        [Fact]
        public async Task ARecipientThatNeverAcksAndLeavesHasItStoredInItsInbox()
        {
            await using var server = new TestServer();
            using ChatClient alice = await server.ConnectNativeAsync("alice");
            NativePeer bob = await server.JoinNativeAsync("bob");

            Task<SentMessage> fate = alice.SendAsync("bob", "please confirm");
            JsonObject message = await bob.ExpectAsync("message");

            // A round trip for alice: had the server sent a status already, it would have come first.
            await alice.GetUsersAsync(Deadline);
            Assert.False(fate.IsCompleted, "the message has no fate until bob acks or leaves");

            bob.Dispose();

            SentMessage sent = await Fate(fate);
            // Kept in bob's inbox (the test server has a store), with the id bob was handed.
            Assert.Equal((SendStatus.Stored, Refusal.None), (sent.Status, sent.Refusal));
            Assert.Equal(Str(message, "id"), sent.Id);
        }

        [Fact]
        public async Task TextWithLineBreaksReachesANativeClientWhole()
        {
            await using var server = new TestServer();
            using ChatClient alice = await server.ConnectNativeAsync("alice");
            using ChatClient bob = await server.ConnectNativeAsync("bob");
            const string text = "line one\nline_two\r\n\r\n  indented\ttab 🎉 日本\n";

            Assert.Equal(SendStatus.Delivered, (await Fate(alice.SendAsync("bob", text))).Status);

            var message = Assert.IsType<ChatMessage>(Assert.Single(bob.Take(10)));
            Assert.Equal(text, message.Text);
        }

        [Theory]
        [InlineData("plain printable ascii, kept as it came")]
        [InlineData("")]
        [InlineData("quote \" backslash \\ slash / angle <b> & amp ' plus +")]
        [InlineData("h\u00e9llo \u2713 \U0001F389")]
        public async Task TextAndIdReachANativeClientAsSentWhetherOrNotTheTextNeededEscapes(string text)
        {
            await using var server = new TestServer();
            using ChatClient alice = await server.ConnectNativeAsync("alice");
            using ChatClient bob = await server.ConnectNativeAsync("bob");

            SentMessage sent = await Fate(alice.SendAsync("bob", text));
            Assert.Equal(SendStatus.Delivered, sent.Status);

            var message = Assert.IsType<ChatMessage>(Assert.Single(bob.Take(10)));
            Assert.Equal(text, message.Text);
            Assert.Same(message.Text, message.Text);
            Assert.Equal(sent.Id, message.Id);
            Assert.Matches("^[1-9][0-9]*$", message.Id);
            Assert.Equal($"[alice>>] {text}", message.ToString());
        }

        [Fact]
        public async Task TextLargerThanTheServersFrameLimitIsRefusedWithoutBeingSent()
        {
            await using var server = new TestServer(o => o.MaxLineBytes = 256);
            using ChatClient alice = await server.ConnectNativeAsync("alice");
            using ChatClient bob = await server.ConnectNativeAsync("bob");
            Assert.Equal(256, alice.MaxFrameBytes);

            Task<SentMessage> big = alice.SendAsync("bob", new string('x', 300));

            // Known at once, without asking the server.
            Assert.True(big.IsCompleted);
            SentMessage sent = await big;
            Assert.Equal((SendStatus.Refused, "line-too-long", Refusal.LineTooLong), (sent.Status, sent.Reason, sent.Refusal));
            Assert.Null(sent.Id);
            Assert.Contains("256", sent.Detail);

            // The next message is the first bob gets, and the server never saw a line too long.
            Assert.Equal(SendStatus.Delivered, (await Fate(alice.SendAsync("bob", "small"))).Status);
            Assert.Equal(new[] { "small" }, bob.Take(10).Cast<ChatMessage>().Select(m => m.Text));
            Assert.DoesNotContain(server.Events, e => e.Kind == ServerEventKind.LineRefused);
            Assert.Equal(ConnectionState.Open, alice.State);
        }

        [Fact]
        public async Task AMessageThatJustFitsIsSentAndOneByteMoreIsNot()
        {
            const int limit = 256;
            await using var server = new TestServer(o => o.MaxLineBytes = limit);
            using ChatClient alice = await server.ConnectNativeAsync("alice");
            using ChatClient bob = await server.ConnectNativeAsync("bob");

            // The client numbers its sends 1, 2, ... after its connection's prefix: the frames it will write are these.
            string fits = TextForFrameOf(limit, alice.RefPrefix + "1", "bob");
            SentMessage first = await Fate(alice.SendAsync("bob", fits));
            Assert.Equal(SendStatus.Delivered, first.Status);

            string over = TextForFrameOf(limit + 1, alice.RefPrefix + "2", "bob");
            SentMessage second = await Fate(alice.SendAsync("bob", over));
            Assert.Equal((SendStatus.Refused, Refusal.LineTooLong), (second.Status, second.Refusal));

            // Bytes, not characters: two-byte letters that would fit if counted as characters.
            string accents = new string('é', 120);
            SentMessage third = await Fate(alice.SendAsync("bob", accents));
            Assert.Equal((SendStatus.Refused, Refusal.LineTooLong), (third.Status, third.Refusal));

            Assert.Equal(new[] { fits }, bob.Take(10).Cast<ChatMessage>().Select(m => m.Text));
        }

        [Fact]
        public async Task SendingOnAClosedConnectionThrowsConnectionClosed()
        {
            await using var server = new TestServer();
            ChatClient alice = await server.ConnectNativeAsync("alice");

            await alice.CloseAsync();
            await alice.CloseAsync(); // twice is harmless

            ServerEvent left = await server.WaitForEventAsync(ServerEventKind.UserLeft, "alice");
            Assert.Equal("bye", left.Detail);
            Assert.Equal(ConnectionState.Closed, alice.State);
            // Thrown at once, not a task that faults.
            var e = Assert.Throws<ChatException>(() => { _ = alice.SendAsync("bob", "x"); });
            Assert.Equal(Refusal.ConnectionClosed, e.Refusal);
            var who = await Assert.ThrowsAsync<ChatException>(() => alice.GetUsersAsync(Deadline));
            Assert.Equal(Refusal.ConnectionClosed, who.Refusal);
            alice.Dispose();
        }

        [Fact]
        public async Task WhenTheServerStopsAPendingSendIsKeptOrRefusedAndTheClientCloses()
        {
            var server = new TestServer();
            await using (server)
            {
                using ChatClient alice = await server.ConnectNativeAsync("alice");
                using NativePeer bob = await server.JoinNativeAsync("bob"); // never acks
                Task<SentMessage> fate = alice.SendAsync("bob", "waiting for an ack");
                await bob.ExpectAsync("message");

                await server.Server.StopAsync();

                // Bob leaves first or alice does: his unacked message is kept in his inbox (stored, as any recipient
                // that leaves unacked), or alice's connection closes before she hears so.
                SentMessage sent = await Fate(fate);
                if (sent.Status != SendStatus.Stored)
                {
                    Assert.Equal(SendStatus.Refused, sent.Status);
                    Assert.Contains(sent.Refusal, new[] { Refusal.RecipientLeft, Refusal.ConnectionClosed });
                }
                await Eventually.TrueAsync(() => alice.State == ConnectionState.Closed, "alice's client closes");
                Assert.Contains("stopping", alice.CloseReason);
            }
        }

        // ---- Who and what arrives ----

        [Fact]
        public async Task GetUsersListsNativeAndClassicUsers()
        {
            await using var server = new TestServer();
            DateTime before = DateTime.UtcNow;
            using ChatClient alice = await server.ConnectNativeAsync("alice");
            using RawClient bob = await server.JoinAsync("bob");
            using NativePeer carol = await server.JoinNativeAsync("carol");
            DateTime after = DateTime.UtcNow;

            IReadOnlyList<UserInfo> users = await alice.GetUsersAsync(Deadline);

            Assert.Equal(
                new[] { ("alice", (ChatProtocol?)ChatProtocol.Chatrm), ("bob", ChatProtocol.Classic), ("carol", ChatProtocol.Chatrm) },
                users.OrderBy(u => u.Name).Select(u => (u.Name, u.Protocol)));
            Assert.All(users, u => Assert.InRange(u.ConnectedAt.ToUniversalTime(), before.AddMilliseconds(-1), after.AddMilliseconds(1)));
        }

        [Fact]
        public async Task GetUsersNeedsTheNativeProtocol()
        {
            await using var server = new TestServer();
            using ChatClient classic = await server.ConnectAsync("alice");

            var e = await Assert.ThrowsAsync<ChatException>(() => classic.GetUsersAsync(Deadline));
            Assert.Equal(Refusal.ProtocolMismatch, e.Refusal);
        }

        [Fact]
        public async Task TakeReturnsMessagesWithIdsAndPresenceOnlyWhenAsked()
        {
            await using var server = new TestServer();
            using ChatClient alice = await server.ConnectNativeAsync("alice");

            Task arrival = alice.NextArrival();
            ChatClient bob = await server.ConnectNativeAsync("bob");
            await arrival.WaitAsync(Deadline);
            var joined = Assert.IsType<PresenceEvent>(Assert.Single(alice.Take(10, includePresence: true)));
            Assert.Equal((PresenceChange.Joined, "bob"), (joined.Kind, joined.UserName));
            Assert.Equal(0, alice.MessagesWaiting); // presence is not a message

            // A classic user's line arrives as a message with an id and a time; the presence before it is
            // passed over (and dropped) by a Take that does not ask for presence.
            using RawClient carol = await server.JoinAsync("carol");
            await carol.SendAsync("carol_alice_hi_from_classic\n");
            await Eventually.TrueAsync(() => alice.MessagesWaiting == 1, "carol's message waits");
            var message = Assert.IsType<ChatMessage>(Assert.Single(alice.Take(10)));
            Assert.Equal(("carol", "alice", "hi_from_classic"), (message.From, message.To, message.Text));
            Assert.False(string.IsNullOrEmpty(message.Id));
            Assert.NotNull(message.SentAt);
            Assert.Empty(alice.Take(10, includePresence: true));

            await bob.CloseAsync();
            bob.Dispose();
            PresenceEvent left = null;
            await Eventually.TrueAsync(() => (left = alice.Take(10, includePresence: true).OfType<PresenceEvent>().FirstOrDefault()) != null, "bob's leaving is heard");
            Assert.Equal((PresenceChange.Left, "bob"), (left.Kind, left.UserName));
            Assert.Equal("bob left", left.ToString());
        }

        [Fact]
        public async Task FramesTheClientCannotReadAreSkipped()
        {
            using var fake = new FakeNativeServer();
            Task<ChatClient> connecting = ChatClient.ConnectAsync("127.0.0.1", fake.Port, "alice");
            await fake.AcceptAndWelcomeAsync("alice");
            using ChatClient alice = await connecting.WaitAsync(Deadline);

            await fake.WriteLineAsync("{\"type\":\"message\",\"id\":\"1\",\"from\":\"bob\",\"text\":\"\\ud800\"}"); // no text
            await fake.WriteLineAsync("{\"type\":\"message\",\"id\":2}");                                       // id of the wrong kind
            await fake.WriteLineAsync("{broken");
            await fake.WriteLineAsync("{\"type\":\"from-a-later-version\",\"x\":1}");
            await fake.WriteLineAsync("no underscores here");
            await fake.WriteLineAsync("{\"type\":\"message\",\"id\":\"3\",\"from\":\"bob\",\"to\":\"alice\",\"text\":\"fine\",\"sentAt\":\"2026-01-01T00:00:00Z\",\"future\":true}");

            await Eventually.TrueAsync(() => alice.MessagesWaiting == 1, "the readable message arrives");
            var message = Assert.IsType<ChatMessage>(Assert.Single(alice.Take(10)));
            Assert.Equal(("3", "fine"), (message.Id, message.Text));
            Assert.Equal(new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc), message.SentAt?.ToUniversalTime());
            Assert.Equal(ConnectionState.Open, alice.State);

            // Only the readable message was acked.
            Assert.Equal("{\"type\":\"ack\",\"id\":\"3\"}", await fake.ReadLineAsync());
        }

        // ---- Keepalive ----

        [Fact]
        public async Task TheClientAnswersTheServersPings()
        {
            using var fake = new FakeNativeServer();
            Task<ChatClient> connecting = ChatClient.ConnectAsync("127.0.0.1", fake.Port, "alice");
            await fake.AcceptAndWelcomeAsync("alice");
            using ChatClient alice = await connecting.WaitAsync(Deadline);

            await fake.WriteLineAsync("{\"type\":\"ping\",\"ref\":\"k1\"}");

            JsonObject pong = JsonNode.Parse(await fake.ReadLineAsync()).AsObject();
            Assert.Equal(("pong", "k1"), (Type(pong), Str(pong, "ref")));
        }

        [Fact]
        public async Task AServerThatGreetsThenFallsSilentIsNoticedAndTheConnectionCloses()
        {
            using var fake = new FakeNativeServer();
            var options = new ClientOptions { KeepAliveInterval = TimeSpan.FromMilliseconds(100) };
            Task<ChatClient> connecting = ChatClient.ConnectAsync("127.0.0.1", fake.Port, "alice", ChatProtocol.Chatrm, options);
            await fake.AcceptAndWelcomeAsync("alice");
            using ChatClient alice = await connecting.WaitAsync(Deadline);
            var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            alice.Closed += (_, _) => closed.TrySetResult();
            var clock = Stopwatch.StartNew();

            // A message whose fate the silent server will never tell.
            Task<SentMessage> fate = alice.SendAsync("bob", "anyone?");

            // The server reads, never answers: the client pings, then gives up and closes.
            List<string> lines = await fake.ReadUntilClosedAsync();
            await closed.Task.WaitAsync(Deadline);
            clock.Stop();

            Assert.Equal(ConnectionState.Closed, alice.State);
            Assert.Contains("keepalive", alice.CloseReason);
            Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(150), $"closed after only {clock.ElapsedMilliseconds} ms");
            var frames = lines.Select(l => JsonNode.Parse(l).AsObject()).ToList();
            Assert.Equal("send", Type(frames[0]));
            Assert.Contains(frames, f => Type(f) == "ping");

            // The pending send ends Refused, never faulted.
            SentMessage sent = await Fate(fate);
            Assert.Equal((SendStatus.Refused, Refusal.ConnectionClosed), (sent.Status, sent.Refusal));
        }

        [Fact]
        public async Task AServerThatAnswersPingsKeepsTheConnectionOpen()
        {
            using var fake = new FakeNativeServer();
            // The fake must answer each ping within an interval: room for that on a loaded machine.
            var options = new ClientOptions { KeepAliveInterval = TimeSpan.FromMilliseconds(300) };
            Task<ChatClient> connecting = ChatClient.ConnectAsync("127.0.0.1", fake.Port, "alice", ChatProtocol.Chatrm, options);
            await fake.AcceptAndWelcomeAsync("alice");
            using ChatClient alice = await connecting.WaitAsync(Deadline);

            // Four pings, each answered: at least four intervals of quiet, and the client stays.
            for (int i = 0; i < 4; i++)
            {
                JsonObject ping = JsonNode.Parse(await fake.ReadLineAsync()).AsObject();
                Assert.Equal("ping", Type(ping));
                await fake.WriteLineAsync("{\"type\":\"pong\"}");
                Assert.Equal(ConnectionState.Open, alice.State);
            }

            Assert.Null(alice.CloseReason);
        }

        [Fact]
        public async Task AClientWithAShortKeepAliveStaysConnectedToARealServer()
        {
            await using var server = new TestServer(o => o.KeepAliveInterval = TimeSpan.FromMilliseconds(300));
            var options = new ClientOptions { KeepAliveInterval = TimeSpan.FromMilliseconds(300) };
            using ChatClient alice = await server.ConnectNativeAsync("alice", options);
            using NativePeer watcher = await server.JoinNativeAsync("watcher");

            // Both sides ping; the watcher counts its own pings as a clock that needs no sleeping.
            int pings = 0;
            while (pings < 4)
            {
                if (Type(await watcher.ReadAsync()) == "ping")
                {
                    pings++;
                    await watcher.SendAsync("{\"type\":\"pong\"}");
                }
            }

            Assert.Equal(ConnectionState.Open, alice.State);
            Assert.True(server.IsOnline("alice"));
            Assert.Equal(SendStatus.Delivered, (await Fate(alice.SendAsync("alice", "still here"))).Status);
        }

        /// <summary>Text that makes the client's send frame exactly <paramref name="frameBytes"/> bytes long, newline not counted.</summary>
        private static string TextForFrameOf(int frameBytes, string reference, string to)
        {
            int overhead = Encoding.UTF8.GetByteCount(NativeProtocol.Format(new NativeFrame { Type = FrameType.Send, Ref = reference, To = to, Text = string.Empty })) - 1;
            string text = new string('y', frameBytes - overhead);
            string frame = NativeProtocol.Format(new NativeFrame { Type = FrameType.Send, Ref = reference, To = to, Text = text });
            Assert.Equal(frameBytes, Encoding.UTF8.GetByteCount(frame) - 1);
            return text;
        }
    }
}
