using System;
using System.Diagnostics;
using System.Linq;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Tasks;
using Xunit;
using static Chatrm.Engine.Tests.NativePeer;

namespace Chatrm.Engine.Tests
{
    /// <summary>Each limit tells the client why, and nobody else notices.</summary>
    public class LimitsTests
    {
        [Fact]
        public async Task OneConnectionPastMaxConnectionsIsToldTheServerIsFull()
        {
            await using var server = new TestServer(o => o.MaxConnections = 2);
            using RawClient alice = await server.JoinAsync("alice");
            using RawClient bob = await server.JoinAsync("bob");

            using RawClient third = await server.ConnectRawAsync();
            Assert.StartsWith("unnamed_chatrm_server-full: ", await third.ReadLineAsync());
            Assert.True(await third.ClosedByServerAsync());

            // The two who are in still chat.
            await alice.SendAsync("alice_bob_still fine\n");
            Assert.Equal("bob_alice_still fine", await bob.ReadLineAsync());
        }

        [Fact]
        public async Task ANativeRecipientThatReadsButNeverAcksIsDroppedAtTheUnconfirmedLimit()
        {
            await using var server = new TestServer(o => o.MaxUnconfirmedPerConnection = 5);
            using NativePeer alice = await server.JoinNativeAsync("alice");
            using NativePeer bob = await server.JoinNativeAsync("bob");
            using NativePeer carol = await server.JoinNativeAsync("carol");

            for (int i = 0; i < 5; i++)
            {
                await alice.SendMessageAsync("bob", "unconfirmed " + i, "r" + i);
                Assert.Equal("unconfirmed " + i, NativePeer.Str(await bob.ExpectAsync("message"), "text"));
            }

            // The sixth finds five waiting for bob's ack: bob is told and dropped, the sixth is refused.
            await alice.SendMessageAsync("bob", "one too many", "r5");
            System.Text.Json.Nodes.JsonObject error = await bob.ExpectAsync("error");
            Assert.Equal("recipient-too-slow", NativePeer.Str(error, "code"));
            Assert.Contains("5", NativePeer.Str(error, "message"));
            Assert.True(await bob.Raw.ClosedByServerAsync());

            var fates = new System.Collections.Generic.Dictionary<string, string>();
            while (fates.Count < 6)
            {
                System.Text.Json.Nodes.JsonObject status = await alice.ExpectAsync("status");
                fates[NativePeer.Str(status, "ref")] = NativePeer.Str(status, "reason");
                Assert.Equal(NativePeer.Str(status, "ref") == "r5" ? "refused" : "stored", NativePeer.Str(status, "status"));
            }

            Assert.Equal("recipient-too-slow", fates["r5"]);
            // The five bob was handed and never confirmed wait in his inbox: alice hears stored (no reason).
            Assert.All(Enumerable.Range(0, 5), i => Assert.Null(fates["r" + i]));
            ServerEvent left = await server.WaitForEventAsync(ServerEventKind.UserLeft, "bob");
            Assert.Contains("did not confirm", left.Detail);

            // Everyone else goes on.
            await alice.SendMessageAsync("carol", "still here", "c1");
            Assert.Equal("still here", NativePeer.Str(await carol.ExpectAsync("message"), "text"));
        }

        [Fact]
        public async Task ANativeClientPastTheLimitGetsServerFull()
        {
            await using var server = new TestServer(o => o.MaxConnections = 1);
            using RawClient alice = await server.JoinAsync("alice");

            var e = await Assert.ThrowsAsync<ChatException>(() =>
                ChatClient.ConnectAsync("127.0.0.1", server.EndPoint.Port, "bob", ChatProtocol.Chatrm));
            Assert.Equal(Refusal.ServerFull, e.Refusal);
        }

        [Fact]
        public async Task ConnectionsPerAddressAreCountedAndFreedWhenOneLeaves()
        {
            await using var server = new TestServer(o => o.MaxConnectionsPerAddress = 1);
            RawClient alice = await server.JoinAsync("alice");

            using (RawClient second = await server.ConnectRawAsync())
            {
                Assert.Contains("at most 1 connections from one address", await second.ReadLineAsync());
            }

            // When alice leaves, her address may connect again.
            await alice.SendAsync("EXIT\n");
            Assert.True(await alice.ClosedByServerAsync());
            alice.Dispose();
            await Eventually.TrueAsync(() => server.Server.ConnectionCount == 0, "alice's connection is gone");
            using RawClient again = await server.JoinAsync("alice");
        }

        [Fact]
        public async Task MessagesOverTheRateAreRefusedAndTheRestDelivered()
        {
            await using var server = new TestServer(o => o.MaxMessagesPerSecond = 5);
            using RawClient alice = await server.JoinAsync("alice");
            using RawClient bob = await server.JoinAsync("bob");

            // Twenty at once: a burst of five passes; of the rest, only what the bucket refills in the meantime.
            var burst = new StringBuilder();
            for (int i = 0; i < 20; i++)
            {
                burst.Append("alice_bob_m").Append(i).Append('\n');
            }

            await alice.SendAsync(burst.ToString());
            string first = await alice.ReadLineAsync();
            Assert.StartsWith("alice_chatrm_rate-limited: at most 5 messages a second", first);

            // What bob got is in order and starts with the burst.
            for (int i = 0; i < 5; i++)
            {
                Assert.Equal("bob_alice_m" + i, await bob.ReadLineAsync());
            }

            ServerEvent refused = await server.WaitForEventAsync(ServerEventKind.LineRefused, "alice");
            Assert.StartsWith("rate-limited", refused.Detail);
        }

        [Fact]
        public async Task ANativeSenderOverTheRateGetsRefusedStatuses()
        {
            await using var server = new TestServer(o => o.MaxMessagesPerSecond = 3);
            using ChatClient alice = await ChatClient.ConnectAsync("127.0.0.1", server.EndPoint.Port, "alice");
            using ChatClient bob = await ChatClient.ConnectAsync("127.0.0.1", server.EndPoint.Port, "bob");

            SentMessage[] fates = await Task.WhenAll(Enumerable.Range(0, 10).Select(i => alice.SendAsync("bob", "m" + i)).ToArray())
                .WaitAsync(RawClient.Deadline);

            Assert.Equal(SendStatus.Delivered, fates[0].Status);
            Assert.Contains(fates, f => f.Status == SendStatus.Refused && f.Refusal == Refusal.RateLimited);
            Assert.All(fates, f => Assert.True(f.Status == SendStatus.Delivered || f.Refusal == Refusal.RateLimited));
        }

        [Fact]
        public async Task BothProtocolsWordARateLimitRefusalAlike()
        {
            // MaxMessagesPerSecond 1: of two sends at once, the second is refused (the bucket holds one).
            await using var server = new TestServer(o => o.MaxMessagesPerSecond = 1);
            using RawClient classic = await server.JoinAsync("alice");
            using NativePeer native = await server.JoinNativeAsync("carol");
            using RawClient bob = await server.JoinAsync("bob");

            await classic.SendAsync("alice_bob_a\nalice_bob_b\n");
            string notice = await classic.ReadLineAsync();
            Assert.StartsWith("alice_chatrm_rate-limited: ", notice);

            await native.SendAsync("{\"type\":\"send\",\"to\":\"bob\",\"text\":\"a\",\"ref\":\"1\"}\n{\"type\":\"send\",\"to\":\"bob\",\"text\":\"b\",\"ref\":\"2\"}");
            JsonObject status;
            do
            {
                status = await native.ExpectAsync("status");
            }
            while (NativePeer.Str(status, "ref") != "2");

            Assert.Equal("rate-limited", NativePeer.Str(status, "reason"));
            Assert.Equal(notice.Substring("alice_chatrm_rate-limited: ".Length), NativePeer.Str(status, "message"));
        }

        [Fact]
        public async Task AnIdleUserIsToldAndDisconnectedWhileAnActiveOneStays()
        {
            await using var server = new TestServer(o => o.IdleTimeout = TimeSpan.FromSeconds(1));
            using RawClient idle = await server.JoinAsync("idle");
            using RawClient busy = await server.JoinAsync("busy");

            // busy keeps talking (to itself) while idle says nothing.
            Task<string> notice = idle.ReadLineAsync();
            while (!notice.IsCompleted)
            {
                await busy.SendAsync("busy_busy_tick\n");
                Assert.Equal("busy_busy_tick", await busy.ReadLineAsync());
            }

            Assert.StartsWith("idle_chatrm_idle-timeout: ", await notice);
            Assert.True(await idle.ClosedByServerAsync());
            Assert.True(server.IsOnline("busy"));
        }

        [Fact]
        public async Task PingsAndPongsDoNotKeepAnIdleUserOn()
        {
            // Keepalive traffic both ways, far more often than the idle limit: the user still sends no message.
            await using var server = new TestServer(o =>
            {
                o.IdleTimeout = TimeSpan.FromSeconds(1);
                o.KeepAliveInterval = TimeSpan.FromMilliseconds(100);
            });
            using ChatClient pinging = await server.ConnectNativeAsync("pinging", new ClientOptions { KeepAliveInterval = TimeSpan.FromMilliseconds(100) });
            using NativePeer answering = await server.JoinNativeAsync("answering");
            var clock = Stopwatch.StartNew();

            // answering answers every ping the server sends, and pings the server itself, until it is told.
            JsonObject frame;
            while ((frame = await answering.ReadAsync()) != null && Str(frame, "code") != "idle-timeout")
            {
                if (Type(frame) == "ping")
                {
                    await answering.SendAsync("{\"type\":\"pong\"}");
                    await answering.SendAsync("{\"type\":\"ping\"}");
                }
            }

            Assert.Equal("error", Type(frame));
            Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(0.9), $"told after only {clock.ElapsedMilliseconds} ms");
            await Eventually.TrueAsync(() => pinging.State == ConnectionState.Closed, "the pinging client is dropped too");
            Assert.Contains("no message sent", pinging.CloseReason);
            Assert.False(server.IsOnline("answering"));
            Assert.False(server.IsOnline("pinging"));
        }

        [Fact]
        public async Task AReaderThatNeverReadsIsToldAndDroppedWhileOthersKeepChatting()
        {
            await using var server = new TestServer(o =>
            {
                o.MaxQueuedBytesPerConnection = 64 * 1024;
                o.CloseGrace = TimeSpan.FromMilliseconds(200);
            });
            using RawClient stuck = await server.JoinAsync("stuck");
            using RawClient alice = await server.JoinAsync("alice");
            using RawClient bob = await server.JoinAsync("bob");

            // alice floods stuck, who never reads, and chats with bob between floods.
            string flood = string.Concat(Enumerable.Repeat("alice_stuck_" + new string('x', 1000) + "\n", 64));
            for (int round = 0; round < 200 && !server.Events.Any(e => e.Kind == ServerEventKind.UserLeft); round++)
            {
                await alice.SendAsync(flood);
                await alice.SendAsync("alice_bob_round " + round + "\n");
                Assert.Equal("bob_alice_round " + round, await bob.ReadLineAsync());
            }

            ServerEvent left = await server.WaitForEventAsync(ServerEventKind.UserLeft, "stuck");
            Assert.Contains("too slow", left.Detail);
            Assert.False(server.IsOnline("stuck"));

            // alice heard that stuck was too slow, then, once it was gone, that her lines wait for it (or its inbox is full).
            await alice.SendAsync("alice_stuck_are you there\n");
            await alice.SendAsync("alice_bob_after\n");
            Assert.Equal("bob_alice_after", await bob.ReadLineAsync());
            string line;
            bool toldTooSlow = false;
            do
            {
                line = await alice.ReadLineAsync();
                toldTooSlow |= line.StartsWith("alice_chatrm_recipient-too-slow: ", StringComparison.Ordinal);
            }
            while (!line.StartsWith("alice_chatrm_stored: ", StringComparison.Ordinal) && !line.StartsWith("alice_chatrm_inbox-full: ", StringComparison.Ordinal));

            Assert.True(toldTooSlow);
        }

        [Fact]
        public async Task TheOperatorDisconnectsAUserWhoIsToldWhy()
        {
            await using var server = new TestServer();
            using ChatClient alice = await ChatClient.ConnectAsync("127.0.0.1", server.EndPoint.Port, "alice");
            using RawClient bob = await server.JoinAsync("bob");

            Task arrival = alice.NextArrival();
            Assert.True(server.Server.DisconnectUser("alice", "spamming"));
            await Eventually.TrueAsync(() => alice.State == ConnectionState.Closed, "alice is closed");
            var notice = Assert.IsType<ServerNotice>(Assert.Single(alice.Take(10)));
            Assert.Equal((Refusal.Disconnected, "spamming"), (notice.Refusal, notice.Text));
            Assert.True(server.IsOnline("bob"));
        }

        [Theory]
        [InlineData(nameof(ServerOptions.MaxConnections), 0)]
        [InlineData(nameof(ServerOptions.MaxConnectionsPerAddress), -1)]
        [InlineData(nameof(ServerOptions.MaxMessagesPerSecond), -1)]
        public void NonsenseLimitsAreRefused(string property, int value)
        {
            var options = new ServerOptions();
            typeof(ServerOptions).GetProperty(property).SetValue(options, value);
            Assert.Throws<ArgumentOutOfRangeException>(() => options.Validate());
        }

        // ---- The opening line and the line limit (issue 13, finding 4) ----

        [Fact]
        public async Task AHelloLongerThanASmallLineLimitIsStillWelcomedAndLaterFramesKeepTheLimit()
        {
            await using var server = new TestServer(o => o.MaxLineBytes = 64);
            using RawClient raw = await server.ConnectRawAsync();
            string hello = "{\"type\":\"hello\",\"protocol\":\"chatrm_native\",\"version\":1,\"user\":\"alice\",\"presence\":false,\"batch\":true}";
            Assert.True(hello.Length > 64);
            string tooLong = "{\"type\":\"send\",\"ref\":\"1\",\"to\":\"nobody\",\"text\":\"" + new string('x', 40) + "\"}";

            // In one write, so the frame after the hello is framed in the same read as it.
            await raw.SendAsync(hello + "\n" + tooLong + "\n");

            var welcome = System.Text.Json.Nodes.JsonNode.Parse(await raw.ReadLineAsync()).AsObject();
            Assert.Equal("welcome", NativePeer.Type(welcome));
            Assert.Equal(64, welcome["maxFrameBytes"].GetValue<int>());
            var error = System.Text.Json.Nodes.JsonNode.Parse(await raw.ReadLineAsync()).AsObject();
            Assert.Equal("line-too-long", NativePeer.Str(error, "code"));
        }

        [Fact]
        public async Task ChatrmsClientConnectsToAServerWithTheSmallestLineLimit()
        {
            await using var server = new TestServer(o => o.MaxLineBytes = 64);
            using ChatClient alice = await server.ConnectNativeAsync("alice-with-a-long-name-of-32-chr", new ClientOptions { Password = null });

            Assert.Equal(ConnectionState.Open, alice.State);
        }

        [Fact]
        public async Task AClassicHandshakeIsStillHeldToTheLineLimitAfterTheOpening()
        {
            await using var server = new TestServer(o => o.MaxLineBytes = 64);
            using RawClient alice = await server.JoinAsync("alice");

            await alice.SendAsync("alice_nobody_" + new string('x', 60) + "\n");

            Assert.StartsWith("alice_chatrm_line-too-long: ", await alice.ReadLineAsync());
        }

        [Fact]
        public async Task AnOpeningTooLongForTheServerFailsTheConnectWithLineTooLongNotAProtocolMismatch()
        {
            await using var server = new TestServer(o => o.MaxLineBytes = 64);

            var failure = await Assert.ThrowsAsync<ChatException>(() =>
                server.ConnectNativeAsync("alice", new ClientOptions { Password = new string('p', 5000) }));

            Assert.Equal(Refusal.LineTooLong, failure.Refusal);
            Assert.Contains("opening line", failure.Message);
            Assert.Contains("too long", failure.Message);
        }
    }
}
