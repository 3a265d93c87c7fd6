using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading.Tasks;
using Chatrm.Engine.Tests.Support;
using Xunit;

namespace Chatrm.Engine.Tests
{
    /// <summary>The client's half of reconnect and resume (issue 17): links cut by a proxy, servers stopped and started.</summary>
    public sealed class ReconnectTests
    {
        private static ClientOptions Reconnecting(double timeoutSeconds = 30) =>
            new ClientOptions { Reconnect = true, ReconnectTimeout = TimeSpan.FromSeconds(timeoutSeconds) };

        private static Task<ChatClient> ConnectAsync(int port, string name, ClientOptions options = null, ChatProtocol protocol = ChatProtocol.Chatrm) =>
            ChatClient.ConnectAsync("127.0.0.1", port, name, protocol, options ?? Reconnecting());

        /// <summary>Takes from <paramref name="client"/> into <paramref name="taken"/> until <paramref name="done"/> holds, against a deadline.</summary>
        private static async Task TakeUntilAsync(ChatClient client, List<object> taken, Func<List<object>, bool> done, string what, bool includePresence = true)
        {
            var clock = Stopwatch.StartNew();
            while (!done(taken))
            {
                Task arrival = client.NextArrival();
                List<object> items = client.Take(1000, includePresence: includePresence);
                if (items.Count > 0)
                {
                    taken.AddRange(items);
                    continue;
                }

                TimeSpan left = Eventually.DefaultDeadline - clock.Elapsed;
                if (left <= TimeSpan.Zero)
                {
                    Assert.Fail($"Not taken within {Eventually.DefaultDeadline.TotalSeconds} s: {what}; took {string.Join(" | ", taken)}");
                }

                await Task.WhenAny(arrival, Task.Delay(left));
            }
        }

        private static bool Has(List<object> taken, ConnectionChange change) => taken.OfType<ConnectionEvent>().Any(e => e.Change == change);

        private static List<string> Texts(List<object> taken, string room = null) =>
            taken.OfType<ChatMessage>().Where(m => room == null || m.Room == room).Select(m => m.Text).ToList();

        [Fact]
        public async Task ACutLinkComesBackAndMessagesFlowAgain()
        {
            await using var server = new TestServer();
            await using var proxy = new ChaosProxy(server.EndPoint.Port);
            using ChatClient alice = await ConnectAsync(proxy.Port, "alice");
            using ChatClient bob = await ConnectAsync(server.EndPoint.Port, "bob", new ClientOptions());

            proxy.CutAll();
            var taken = new List<object>();
            await TakeUntilAsync(alice, taken, t => Has(t, ConnectionChange.Reconnected), "the return");
            Assert.Equal(ConnectionState.Open, alice.State);
            ConnectionEvent lost = taken.OfType<ConnectionEvent>().First();
            Assert.Equal(ConnectionChange.Reconnecting, lost.Change);
            Assert.True(taken.OfType<ConnectionEvent>().Last().Attempts >= 1);
            Assert.Equal((1, 1), (alice.TimesDropped, alice.TimesReconnected));

            SentMessage sent = await bob.SendAsync("alice", "after the cut");
            Assert.Equal(SendStatus.Delivered, sent.Status);
            await TakeUntilAsync(alice, taken, t => Texts(t).Contains("after the cut"), "bob's message");
            Assert.Equal(2, proxy.Accepted);
        }

        [Fact]
        public async Task WithoutPresenceTheReconnectIsNotInTheInboxButStateShowsIt()
        {
            await using var server = new TestServer();
            await using var proxy = new ChaosProxy(server.EndPoint.Port);
            using ChatClient alice = await ConnectAsync(proxy.Port, "alice");
            using var away = new ReservedPort();
            proxy.TargetPort = away.Port;
            proxy.CutAll();
            await Eventually.TrueAsync(() => alice.State == ConnectionState.Reconnecting, "alice reconnecting");
            proxy.TargetPort = server.EndPoint.Port;
            await Eventually.TrueAsync(() => alice.State == ConnectionState.Open, "alice back");
            Assert.Empty(alice.Take(100));
        }

        [Fact]
        public async Task AServerRestartWithItsStoreFileLosesNothingSentWhileAway()
        {
            using var file = new TempStoreFile();
            var first = new TestServer(o => o.StorePath = file.Path);
            await using var proxy = new ChaosProxy(first.EndPoint.Port);
            using ChatClient alice = await ConnectAsync(proxy.Port, "alice");
            await first.DisposeAsync();
            await Eventually.TrueAsync(() => alice.State == ConnectionState.Reconnecting, "alice reconnecting");

            await using var second = new TestServer(o => o.StorePath = file.Path);
            using (ChatClient bob = await ConnectAsync(second.EndPoint.Port, "bob", new ClientOptions()))
            {
                Assert.Equal(SendStatus.Stored, (await bob.SendAsync("alice", "while you were away")).Status);
            }

            proxy.TargetPort = second.EndPoint.Port;
            var taken = new List<object>();
            await TakeUntilAsync(alice, taken, t => Has(t, ConnectionChange.Reconnected) && Texts(t).Count == 1, "the stored message and the return");
            Assert.Equal(new[] { "while you were away" }, Texts(taken));

            // A store file keeps its ids scope: no gap is reported.
            Assert.False(Has(taken, ConnectionChange.Gap));
        }

        [Fact]
        public async Task AServerThatStartedAfreshWithoutItsStoreIsReportedAsAGap()
        {
            var first = new TestServer();
            await using var proxy = new ChaosProxy(first.EndPoint.Port);
            using ChatClient alice = await ConnectAsync(proxy.Port, "alice");
            await first.DisposeAsync();
            await using var second = new TestServer();
            proxy.TargetPort = second.EndPoint.Port;

            var taken = new List<object>();
            await TakeUntilAsync(alice, taken, t => Has(t, ConnectionChange.Reconnected), "the return");
            ConnectionEvent gap = Assert.Single(taken.OfType<ConnectionEvent>(), e => e.Change == ConnectionChange.Gap);
            Assert.Equal(string.Empty, gap.Room);
            Assert.Contains("without its store", gap.Reason);
        }

        [Fact]
        public async Task TheUsersOwnCloseIsNotReconnected()
        {
            await using var server = new TestServer();
            await using var proxy = new ChaosProxy(server.EndPoint.Port);
            ChatClient alice = await ConnectAsync(proxy.Port, "alice");
            await alice.CloseAsync();
            Assert.Equal(ConnectionState.Closed, alice.State);
            Assert.Equal("closed by this client", alice.CloseReason);
            await Eventually.TrueAsync(() => !server.IsOnline("alice"), "alice gone");

            // Another user through the same proxy: by the time it is in, a reconnect's first attempt (at most 100 ms
            // after the drop) would have been accepted before it.
            await Task.Delay(ReconnectBackoffCeilingOfFirstTwoAttempts);
            using ChatClient bob = await ConnectAsync(proxy.Port, "bob", new ClientOptions());
            Assert.Equal(2, proxy.Accepted);
            Assert.False(server.IsOnline("alice"));
        }

        // An observation window for something that must not happen: the first two attempts' waits at most.
        private static readonly TimeSpan ReconnectBackoffCeilingOfFirstTwoAttempts = TimeSpan.FromMilliseconds(300);

        [Fact]
        public async Task BeingDisconnectedByTheOperatorIsFinal()
        {
            await using var server = new TestServer();
            using ChatClient alice = await ConnectAsync(server.EndPoint.Port, "alice");
            Assert.True(server.Server.DisconnectUser("alice", "enough"));

            // Closed is where a client ends; a reconnecting one would show Reconnecting instead.
            await Eventually.TrueAsync(() => alice.State == ConnectionState.Closed, "alice closed");
            Assert.Contains("enough", alice.CloseReason);
            Assert.DoesNotContain(alice.Take(100, includePresence: true), item => item is ConnectionEvent);
        }

        [Fact]
        public async Task TheServersIdleCutIsFinal()
        {
            var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
            await using var server = new TestServer(o => o.IdleTimeout = TimeSpan.FromMinutes(5), clock: clock);
            using ChatClient alice = await ConnectAsync(server.EndPoint.Port, "alice");
            await Eventually.TrueAsync(() =>
            {
                clock.Advance(TimeSpan.FromMinutes(1));
                return alice.State == ConnectionState.Closed;
            }, "alice idled out");
            Assert.DoesNotContain(alice.Take(100, includePresence: true), item => item is ConnectionEvent);
        }

        [Fact]
        public async Task ALoginElsewhereWithThePasswordIsFinal()
        {
            var credentials = new CredentialStore();
            credentials.Add("alice", "s3cret", 1_000);
            await using var server = new TestServer(o => o.Credentials = credentials);
            var options = Reconnecting();
            options.Password = "s3cret";
            using ChatClient first = await ConnectAsync(server.EndPoint.Port, "alice", options);
            var other = new ClientOptions { Password = "s3cret" };
            using ChatClient second = await ConnectAsync(server.EndPoint.Port, "alice", other);

            await Eventually.TrueAsync(() => first.State == ConnectionState.Closed, "the first session closed");
            Assert.Equal(ConnectionState.Open, second.State);
        }

        [Fact]
        public async Task ReconnectingGivesUpAfterItsTimeoutAndFailsWhatWaits()
        {
            var server = new TestServer();
            using var away = new ReservedPort();
            await using var proxy = new ChaosProxy(server.EndPoint.Port);
            using ChatClient alice = await ConnectAsync(proxy.Port, "alice", Reconnecting(timeoutSeconds: 1));
            proxy.TargetPort = away.Port;
            var clock = Stopwatch.StartNew();
            await server.DisposeAsync();
            await Eventually.TrueAsync(() => alice.State == ConnectionState.Reconnecting, "alice reconnecting");
            Task<SentMessage> waiting = alice.SendAsync("bob", "never");
            Assert.False(waiting.IsCompleted);

            await Eventually.TrueAsync(() => alice.State == ConnectionState.Closed, "alice gave up");
            Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(0.9), clock.Elapsed.ToString());
            Assert.Contains("gave up", alice.CloseReason);
            SentMessage refused = await waiting;
            Assert.Equal(SendStatus.Refused, refused.Status);
            Assert.Equal(Refusal.ConnectionClosed.ToCode(), refused.Reason);
        }

        [Fact]
        public async Task QuestionsAndClassicSendsDuringAReconnectFailWithNotConnected()
        {
            await using var server = new TestServer();
            using var away = new ReservedPort();
            await using var proxy = new ChaosProxy(server.EndPoint.Port);
            using ChatClient alice = await ConnectAsync(proxy.Port, "alice");
            using ChatClient carol = await ConnectAsync(proxy.Port, "carol", protocol: ChatProtocol.Classic);
            proxy.TargetPort = away.Port;
            proxy.CutAll();
            await Eventually.TrueAsync(() => alice.State == ConnectionState.Reconnecting && carol.State == ConnectionState.Reconnecting, "both reconnecting");

            var question = await Assert.ThrowsAsync<ChatException>(() => alice.GetRoomsAsync(TimeSpan.FromSeconds(5)));
            Assert.Equal(Refusal.NotConnected, question.Refusal);
            var classic = Assert.Throws<ChatException>(() => carol.Send("bob", "hi"));
            Assert.Equal(Refusal.NotConnected, classic.Refusal);
        }

        [Fact]
        public async Task ASendThatHadNoFateGoesAgainWithItsRefAndIsDeliveredOnce()
        {
            await using var server = new TestServer();
            await using var proxy = new ChaosProxy(server.EndPoint.Port);
            using ChatClient alice = await ConnectAsync(proxy.Port, "alice");
            using ChatClient bob = await ConnectAsync(server.EndPoint.Port, "bob", new ClientOptions());

            // Held: the frame waits in the proxy, then the cut drops it; the reconnect sends it again.
            proxy.Links.Single().Hold();
            Task<SentMessage> sending = alice.SendAsync("bob", "through the cut");
            proxy.CutAll();
            SentMessage sent = await sending.WaitAsync(Eventually.DefaultDeadline);
            Assert.Equal(SendStatus.Delivered, sent.Status);

            var taken = new List<object>();
            await TakeUntilAsync(bob, taken, t => Texts(t).Count >= 1, "bob's copy", includePresence: false);
            SentMessage marker = await alice.SendAsync("bob", "marker");
            await TakeUntilAsync(bob, taken, t => Texts(t).Contains("marker"), "the marker", includePresence: false);
            Assert.Equal(new[] { "through the cut", "marker" }, Texts(taken));
        }

        [Fact]
        public async Task SendsMadeWhileReconnectingGoOutInOrderOnceBack()
        {
            await using var server = new TestServer();
            using var away = new ReservedPort();
            await using var proxy = new ChaosProxy(server.EndPoint.Port);
            using ChatClient alice = await ConnectAsync(proxy.Port, "alice");
            using ChatClient bob = await ConnectAsync(server.EndPoint.Port, "bob", new ClientOptions());
            proxy.TargetPort = away.Port;
            proxy.CutAll();
            await Eventually.TrueAsync(() => alice.State == ConnectionState.Reconnecting, "alice reconnecting");

            var sending = Enumerable.Range(1, 20).Select(i => alice.SendAsync("bob", "m" + i)).ToList();
            proxy.TargetPort = server.EndPoint.Port;
            SentMessage[] fates = await Task.WhenAll(sending).WaitAsync(Eventually.DefaultDeadline);
            Assert.All(fates, f => Assert.Equal(SendStatus.Delivered, f.Status));

            var taken = new List<object>();
            await TakeUntilAsync(bob, taken, t => Texts(t).Count >= 20, "bob's 20", includePresence: false);
            Assert.Equal(Enumerable.Range(1, 20).Select(i => "m" + i), Texts(taken));
        }

        [Fact]
        public async Task RoomsAreJoinedAgainAndWhatTheySaidMeanwhileComesFirstInOrder()
        {
            await using var server = new TestServer();
            using var away = new ReservedPort();
            await using var proxy = new ChaosProxy(server.EndPoint.Port);
            using ChatClient alice = await ConnectAsync(proxy.Port, "alice");
            using ChatClient bob = await ConnectAsync(server.EndPoint.Port, "bob", new ClientOptions());
            await alice.JoinRoomAsync("#ops", TimeSpan.FromSeconds(10));
            await bob.JoinRoomAsync("#ops", TimeSpan.FromSeconds(10));
            await bob.SendAsync("#ops", "before");
            var taken = new List<object>();
            await TakeUntilAsync(alice, taken, t => Texts(t, "#ops").Count == 1, "the first post");

            proxy.TargetPort = away.Port;
            proxy.CutAll();
            await Eventually.TrueAsync(() => !server.IsOnline("alice"), "alice gone from the server");
            for (int i = 1; i <= 5; i++)
            {
                await bob.SendAsync("#ops", "away " + i);
            }

            // alice's own post, waiting while she is away: it goes once she is back, and she is not shown it.
            Task<SentMessage> own = alice.SendAsync("#ops", "mine");

            proxy.TargetPort = server.EndPoint.Port;
            await TakeUntilAsync(alice, taken, t => Has(t, ConnectionChange.Reconnected), "the return");

            // Her post went out on the new link before any send made after it; its fate comes before bob posts again.
            SentMessage posted = await own.WaitAsync(Eventually.DefaultDeadline);
            Assert.Equal(SendStatus.Posted, posted.Status);
            Assert.Equal(7, posted.Seq);
            for (int i = 1; i <= 3; i++)
            {
                await bob.SendAsync("#ops", "back " + i);
            }

            await TakeUntilAsync(alice, taken, t => Texts(t, "#ops").Count >= 9, "every post");
            Assert.Equal(new[] { "before", "away 1", "away 2", "away 3", "away 4", "away 5", "back 1", "back 2", "back 3" }, Texts(taken, "#ops"));
            Assert.Equal(new long?[] { 1, 2, 3, 4, 5, 6, 8, 9, 10 }, taken.OfType<ChatMessage>().Select(m => m.Seq));
            Assert.False(Has(taken, ConnectionChange.Gap));
        }

        [Fact]
        public async Task ARoomsGapIsShownWhenTheServerKeepsNoHistory()
        {
            await using var server = new TestServer(o => o.KeepHistory = false);
            using var away = new ReservedPort();
            await using var proxy = new ChaosProxy(server.EndPoint.Port);
            using ChatClient alice = await ConnectAsync(proxy.Port, "alice");
            using ChatClient bob = await ConnectAsync(server.EndPoint.Port, "bob", new ClientOptions());
            await alice.JoinRoomAsync("#ops", TimeSpan.FromSeconds(10));
            await bob.JoinRoomAsync("#ops", TimeSpan.FromSeconds(10));

            proxy.TargetPort = away.Port;
            proxy.CutAll();
            await Eventually.TrueAsync(() => !server.IsOnline("alice"), "alice gone from the server");
            await bob.SendAsync("#ops", "lost 1");
            await bob.SendAsync("#ops", "lost 2");
            proxy.TargetPort = server.EndPoint.Port;

            var taken = new List<object>();
            await TakeUntilAsync(alice, taken, t => Has(t, ConnectionChange.Reconnected), "the return");
            await bob.SendAsync("#ops", "live");
            await TakeUntilAsync(alice, taken, t => Texts(t, "#ops").Contains("live"), "the live post");

            ConnectionEvent gap = Assert.Single(taken.OfType<ConnectionEvent>(), e => e.Change == ConnectionChange.Gap);
            Assert.Equal("#ops", gap.Room);
            Assert.Equal((1L, 2L), (gap.MissedFrom, gap.MissedTo));
            Assert.Equal(new[] { "live" }, Texts(taken, "#ops"));
        }

        [Fact]
        public async Task AGapIsTakenEvenWithoutPresence()
        {
            var first = new TestServer();
            await using var proxy = new ChaosProxy(first.EndPoint.Port);
            using ChatClient alice = await ConnectAsync(proxy.Port, "alice");
            await first.DisposeAsync();
            await using var second = new TestServer();
            proxy.TargetPort = second.EndPoint.Port;
            var taken = new List<object>();
            await TakeUntilAsync(alice, taken, t => Has(t, ConnectionChange.Gap), "the gap", includePresence: false);
            Assert.DoesNotContain(taken.OfType<ConnectionEvent>(), e => e.Change != ConnectionChange.Gap);
        }

        [Fact]
        public async Task AClassicClientReconnectsWithItsHandshake()
        {
            await using var server = new TestServer();
            await using var proxy = new ChaosProxy(server.EndPoint.Port);
            using ChatClient carol = await ConnectAsync(proxy.Port, "carol", protocol: ChatProtocol.Classic);
            using ChatClient bob = await ConnectAsync(server.EndPoint.Port, "bob", new ClientOptions());
            proxy.CutAll();
            var taken = new List<object>();
            await TakeUntilAsync(carol, taken, t => Has(t, ConnectionChange.Reconnected), "the return");
            Assert.Equal(SendStatus.Forwarded, (await bob.SendAsync("carol", "hello again")).Status);
            await TakeUntilAsync(carol, taken, t => Texts(t).Contains("hello again"), "bob's line");
        }
    }
}
