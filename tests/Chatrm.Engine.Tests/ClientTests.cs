using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Text;
using System.Threading.Tasks;
using Xunit;

namespace Chatrm.Engine.Tests
{
    /// <summary>ChatClient against a Chatrm server, and against a stand-in for the original server.</summary>
    public class ClientTests
    {
        private static readonly TimeSpan Deadline = RawClient.Deadline;

        /// <summary>Waits until at least <paramref name="count"/> items are waiting, without sleeping.</summary>
        private static Task WaitForItemsAsync(ChatClient client, int count) =>
            Eventually.TrueAsync(() => client.MessagesWaiting >= count, $"{count} items waiting for {client.UserName}");

        [Fact]
        public async Task ConnectsSendsAndReceives()
        {
            await using var server = new TestServer();
            using ChatClient alice = await server.ConnectAsync("alice");
            using ChatClient bob = await server.ConnectAsync("bob");

            Assert.True(alice.ServerIsChatrm);
            Assert.Equal(ConnectionState.Open, alice.State);
            Assert.Equal("alice", alice.UserName);

            Task arrival = bob.NextArrival();
            alice.Send("bob", "hello_world ✓");
            await arrival.WaitAsync(Deadline);

            var message = Assert.IsType<ChatMessage>(Assert.Single(bob.Take(10)));
            Assert.Equal("alice", message.From);
            Assert.Equal("bob", message.To);
            Assert.Equal("hello_world ✓", message.Text);
            Assert.Equal("[alice>>] hello_world ✓", message.ToString());
            Assert.Equal(0, bob.MessagesWaiting);
        }

        [Fact]
        public async Task SendsTheOriginalClientsBytes()
        {
            await using var server = new TestServer();
            using RawClient bob = await server.JoinAsync("bob");
            using ChatClient alice = await server.ConnectAsync("alice");

            // Multi-line text goes as one line per line, in order; a trailing break adds nothing.
            alice.Send("BOB", "one\r\ntwo\nthree_3\n");

            Assert.Equal("bob_alice_one", await bob.ReadLineAsync());
            Assert.Equal("bob_alice_two", await bob.ReadLineAsync());
            Assert.Equal("bob_alice_three_3", await bob.ReadLineAsync());
        }

        [Fact]
        public async Task TakeWithFromLeavesOtherSendersWaiting()
        {
            await using var server = new TestServer();
            using ChatClient alice = await server.ConnectAsync("alice");
            using RawClient bob = await server.JoinAsync("bob");
            using RawClient carol = await server.JoinAsync("carol");

            await bob.SendAsync("bob_alice_b1\n");
            await carol.SendAsync("carol_alice_c1\n");
            await bob.SendAsync("bob_alice_b2\n");
            await WaitForItemsAsync(alice, 3);

            // Only bob's, oldest first, and the name matches in any case.
            var fromBob = alice.Take(10, from: "BOB").Cast<ChatMessage>().Select(m => m.Text).ToArray();
            Assert.Equal(new[] { "b1", "b2" }, fromBob);
            Assert.Equal(1, alice.MessagesWaiting);

            var rest = Assert.IsType<ChatMessage>(Assert.Single(alice.Take(10)));
            Assert.Equal(("carol", "c1"), (rest.From, rest.Text));
        }
        [Fact]
        public async Task TakeWithFromAndMaxKeepsTheOthersInOrder()
        {
            await using var server = new TestServer();
            using ChatClient alice = await server.ConnectAsync("alice");
            using RawClient bob = await server.JoinAsync("bob");
            using RawClient carol = await server.JoinAsync("carol");

            // One connection per sender keeps each sender's order; wait for each so the inbox order is known.
            string[] senders = { "carol", "bob", "carol", "bob", "carol" };
            for (int i = 0; i < senders.Length; i++)
            {
                await (senders[i] == "bob" ? bob : carol).SendAsync($"{senders[i]}_alice_{i}\n");
                await WaitForItemsAsync(alice, i + 1);
            }

            // Stops at bob's first message: carol's before it were passed over, the rest not looked at.
            Assert.Equal(new[] { "1" }, alice.Take(1, from: "bob").Cast<ChatMessage>().Select(m => m.Text));
            Assert.Equal(new[] { "0", "2", "3", "4" }, alice.Take(10).Cast<ChatMessage>().Select(m => m.Text));
        }


        [Fact]
        public async Task AnInboxEmptiedAfterABurstKeepsWorking()
        {
            await using var server = new TestServer();
            using ChatClient alice = await server.ConnectAsync("alice");
            using RawClient bob = await server.JoinAsync("bob");

            // More than the inbox keeps its array for: emptying it gives the array back.
            const int burst = 3000;
            await bob.SendAsync(string.Concat(Enumerable.Range(1, burst).Select(i => $"bob_alice_{i}\n")));
            await WaitForItemsAsync(alice, burst);
            var taken = new List<string>();
            for (List<object> batch; (batch = alice.Take(256)).Count > 0;)
            {
                taken.AddRange(batch.Cast<ChatMessage>().Select(m => m.Text));
            }

            Assert.Equal(Enumerable.Range(1, burst).Select(i => i.ToString()), taken);

            await bob.SendAsync("bob_alice_after1\nbob_alice_after2\n");
            await WaitForItemsAsync(alice, 2);
            Assert.Equal(new[] { "after1", "after2" }, alice.Take(10).Cast<ChatMessage>().Select(m => m.Text));
        }

        [Theory]
        [InlineData(ChatProtocol.Classic)]
        [InlineData(ChatProtocol.Chatrm)]
        public async Task WaitingMessagesShareTheirSendersAndRecipientsNames(ChatProtocol protocol)
        {
            // A full inbox of one sender's messages should not hold that sender's name once per message.
            await using var server = new TestServer();
            using ChatClient alice = await ChatClient.ConnectAsync("127.0.0.1", server.EndPoint.Port, "alice", protocol);
            using RawClient bob = await server.JoinAsync("bob");

            await bob.SendAsync("bob_alice_1\nbob_alice_2\n");
            await WaitForItemsAsync(alice, 2);
            ChatMessage[] messages = alice.Take(10).Cast<ChatMessage>().ToArray();

            Assert.Equal(new[] { "1", "2" }, messages.Select(m => m.Text));
            Assert.Equal("bob", messages[0].From);
            Assert.Same(messages[0].From, messages[1].From);
            Assert.Same(alice.UserName, messages[0].To);
            Assert.Same(alice.UserName, messages[1].To);
        }

        [Fact]
        public async Task TakeRespectsMax()
        {
            await using var server = new TestServer();
            using ChatClient alice = await server.ConnectAsync("alice");
            using RawClient bob = await server.JoinAsync("bob");

            await bob.SendAsync("bob_alice_1\nbob_alice_2\nbob_alice_3\n");
            await WaitForItemsAsync(alice, 3);

            Assert.Equal(new[] { "1", "2" }, alice.Take(2).Cast<ChatMessage>().Select(m => m.Text));
            Assert.Equal(new[] { "3" }, alice.Take(2).Cast<ChatMessage>().Select(m => m.Text));
            Assert.Empty(alice.Take(2));
        }

        [Fact]
        public async Task AFullInboxDropsTheOldestAndCountsIt()
        {
            await using var server = new TestServer();
            using ChatClient alice = await server.ConnectAsync("alice", new ClientOptions { InboxCapacity = 3 });
            using RawClient bob = await server.JoinAsync("bob");

            await bob.SendAsync(string.Concat(Enumerable.Range(1, 5).Select(i => $"bob_alice_{i}\n")));
            await Eventually.TrueAsync(() => alice.MessagesDropped == 2, "two messages dropped");

            Assert.Equal(3, alice.MessagesWaiting);
            Assert.Equal(new[] { "3", "4", "5" }, alice.Take(10).Cast<ChatMessage>().Select(m => m.Text));
        }

        [Fact]
        public async Task RefusalsArriveAsNotices()
        {
            await using var server = new TestServer();
            using ChatClient alice = await server.ConnectAsync("alice");

            Task arrival = alice.NextArrival();
            alice.Send("nobody", "hi");
            await arrival.WaitAsync(Deadline);

            var notice = Assert.IsType<ServerNotice>(Assert.Single(alice.Take(10)));
            Assert.Equal(Refusal.UnknownUser, notice.Refusal);
            Assert.Equal("unknown-user", notice.Code);
            Assert.Contains("nobody", notice.Text);
        }

        [Fact]
        public async Task NoticesAreTakenEvenWhenFilteringBySender()
        {
            await using var server = new TestServer();
            using ChatClient alice = await server.ConnectAsync("alice");
            using ChatClient bob = await server.ConnectAsync("bob");
            await bob.CloseAsync();
            await Eventually.TrueAsync(() => !server.IsOnline("bob"), "bob leaves");

            // A notice is not a message, so MessagesWaiting does not count it: wait for its arrival instead.
            Task arrival = alice.NextArrival();
            alice.Send("bob", "are you there");
            await arrival.WaitAsync(RawClient.Deadline);

            // Take(from) filters messages only; what the server says always comes through.
            var notice = Assert.IsType<ServerNotice>(Assert.Single(alice.Take(10, from: "carol")));
            Assert.Equal("stored", notice.Code);
        }

        [Theory]
        [InlineData("alice")]
        [InlineData("ALICE")]
        public async Task ATakenNameThrowsNameTaken(string name)
        {
            await using var server = new TestServer();
            using ChatClient holder = await server.ConnectAsync("alice");

            var e = await Assert.ThrowsAsync<ChatException>(() => server.ConnectAsync(name));

            Assert.Equal(Refusal.NameTaken, e.Refusal);
            Assert.Equal(ConnectionState.Open, holder.State);
            Assert.Equal(new[] { "alice" }, server.Server.Router.OnlineUsers);
        }

        [Theory]
        [InlineData("bad name")]
        [InlineData("")]
        [InlineData("chatrm")]
        [InlineData("a_b")]
        public async Task AnInvalidNameThrowsBeforeConnecting(string name)
        {
            using var original = new FakeOriginalServer();

            var e = await Assert.ThrowsAsync<ChatException>(() =>
                ChatClient.ConnectAsync("127.0.0.1", original.Port, name));

            Assert.Equal(Refusal.InvalidName, e.Refusal);
            // Had it connected first, the connection would be waiting to be accepted.
            Assert.False(original.HasPendingConnection);
        }

        [Fact]
        public async Task SendToAnInvalidNameThrows()
        {
            await using var server = new TestServer();
            using ChatClient alice = await server.ConnectAsync("alice");

            var e = Assert.Throws<ChatException>(() => alice.Send("bad name", "x"));
            Assert.Equal(Refusal.InvalidName, e.Refusal);
        }

        [Fact]
        public async Task NoServerListeningThrowsSocketException()
        {
            // A port held so that nothing listens there, and nobody else gets it while the test runs.
            using var nothing = new ReservedPort();

            await Assert.ThrowsAnyAsync<System.Net.Sockets.SocketException>(() => ChatClient.ConnectAsync("127.0.0.1", nothing.Port, "alice"));
        }

        [Fact]
        public async Task AgainstASilentOriginalServerTheBytesAreExactlyTheOriginalClients()
        {
            using var original = new FakeOriginalServer();
            var options = new ClientOptions { GreetingTimeout = TimeSpan.FromMilliseconds(200) };
            Task<System.Net.Sockets.NetworkStream> accepted = original.AcceptAsync();

            var clock = Stopwatch.StartNew();
            using ChatClient alice = await ChatClient.ConnectAsync("127.0.0.1", original.Port, "alice", ChatProtocol.Classic, options)
                .WaitAsync(Deadline);
            clock.Stop();

            // No greeting came, so the client waited out the greeting time and took the server for an original.
            Assert.False(alice.ServerIsChatrm);
            Assert.Equal(ConnectionState.Open, alice.State);
            Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(150), $"connected after only {clock.ElapsedMilliseconds} ms");

            alice.Send("bob", "hi");
            await alice.CloseAsync();
            Assert.Equal(ConnectionState.Closed, alice.State);

            // EXIT before the close leaves an original server running.
            string received = await FakeOriginalServer.ReadToEndAsync(await accepted);
            Assert.Equal("alice_\nalice_bob_hi\nEXIT\n", received);
        }

        [Fact]
        public async Task MessagesFromAnOriginalServerAreReceived()
        {
            using var original = new FakeOriginalServer();
            var options = new ClientOptions { GreetingTimeout = TimeSpan.FromMilliseconds(200) };
            Task<System.Net.Sockets.NetworkStream> accepted = original.AcceptAsync();
            using ChatClient alice = await ChatClient.ConnectAsync("127.0.0.1", original.Port, "alice", ChatProtocol.Classic, options);
            var stream = await accepted;

            Task arrival = alice.NextArrival();
            byte[] line = Encoding.UTF8.GetBytes("alice_bob_hello\n");
            await stream.WriteAsync(line);
            await arrival.WaitAsync(Deadline);

            var message = Assert.IsType<ChatMessage>(Assert.Single(alice.Take(10)));
            Assert.Equal(("bob", "hello"), (message.From, message.Text));
            Assert.False(alice.ServerIsChatrm);
        }

        [Fact]
        public async Task WhenTheServerStopsTheClientCloses()
        {
            var server = new TestServer();
            await using (server)
            {
                using ChatClient alice = await server.ConnectAsync("alice");
                int closedEvents = 0;
                alice.Closed += (_, _) => System.Threading.Interlocked.Increment(ref closedEvents);
                Task arrival = alice.NextArrival();

                await server.Server.StopAsync();

                await arrival.WaitAsync(Deadline);
                Assert.Equal(ConnectionState.Closed, alice.State);
                Assert.Contains("stopping", alice.CloseReason);
                // Closed is raised just after the arrival completes, on the reading thread.
                await Eventually.TrueAsync(() => System.Threading.Volatile.Read(ref closedEvents) == 1, "one Closed event");
                Assert.True(alice.NextArrival().IsCompleted); // nothing more will come, so nothing to wait for
                Assert.Equal(0, alice.MessagesWaiting);       // the stopping notice closes, it is not a message

                // Nothing can be sent on a closed connection, and the caller is told so.
                var e = Assert.Throws<ChatException>(() => alice.Send("bob", "anyone?"));
                Assert.Equal(Refusal.ConnectionClosed, e.Refusal);
            }
        }

        [Fact]
        public async Task CloseSaysExitAndTheServerLetsTheUserGo()
        {
            await using var server = new TestServer();
            ChatClient alice = await server.ConnectAsync("alice");

            await alice.CloseAsync();
            await alice.CloseAsync(); // twice is harmless

            ServerEvent left = await server.WaitForEventAsync(ServerEventKind.UserLeft, "alice");
            Assert.Equal("exit", left.Detail);
            Assert.Equal(ConnectionState.Closed, alice.State);
            var e = Assert.Throws<ChatException>(() => alice.Send("bob", "x"));
            Assert.Equal(Refusal.ConnectionClosed, e.Refusal);
            alice.Dispose();
        }

        [Fact]
        public async Task NextArrivalCompletesOnlyWhenSomethingArrives()
        {
            await using var server = new TestServer();
            using ChatClient alice = await server.ConnectAsync("alice");
            using RawClient bob = await server.JoinAsync("bob");

            Task first = alice.NextArrival();
            Assert.False(first.IsCompleted);
            Assert.Same(first, alice.NextArrival()); // one waiter per arrival

            await bob.SendAsync("bob_alice_ping\n");
            await first.WaitAsync(Deadline);

            // After an arrival a new wait starts fresh, even though an item is still waiting.
            Task second = alice.NextArrival();
            Assert.False(second.IsCompleted);
            Assert.Single(alice.Take(10));
        }
    }
}
