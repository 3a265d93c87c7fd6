using System;
using System.Text.Json.Nodes;
using System.Threading.Tasks;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace Chatrm.Engine.Tests
{
    /// <summary>The limits that read the time, on a clock the test moves: no waiting, and no race with the real one.</summary>
    public class DrivenClockTests
    {
        [Fact]
        public async Task AUserIsDroppedAsIdleOnlyOnceTheClockHasPassedTheLimit()
        {
            var clock = new FakeTimeProvider();
            await using var server = new TestServer(o => o.IdleTimeout = TimeSpan.FromMinutes(1), clock: clock);
            using RawClient alice = await server.JoinAsync("alice");

            // Just short of the limit: sweeps run, nobody goes.
            clock.Advance(TimeSpan.FromSeconds(59));
            Assert.True(server.IsOnline("alice"));

            clock.Advance(TimeSpan.FromSeconds(2));
            Assert.StartsWith("alice_chatrm_idle-timeout: ", await alice.ReadLineAsync());
            await server.WaitForEventAsync(ServerEventKind.UserLeft, "alice");
        }

        [Fact]
        public async Task TheRateLimitRefillsAsTheClockMovesAndNotBefore()
        {
            var clock = new FakeTimeProvider();
            await using var server = new TestServer(o => o.MaxMessagesPerSecond = 2, clock: clock);
            using RawClient alice = await server.JoinAsync("alice");
            using RawClient bob = await server.JoinAsync("bob");

            // However the lines are read, the clock stands still: two pass, the third is refused.
            await alice.SendAsync("alice_bob_a\n");
            await alice.SendAsync("alice_bob_b\n");
            await alice.SendAsync("alice_bob_c\n");
            Assert.Equal("alice_chatrm_rate-limited: at most 2 messages a second; that one was not delivered", await alice.ReadLineAsync());

            clock.Advance(TimeSpan.FromSeconds(1));
            await alice.SendAsync("alice_bob_d\n");
            Assert.Equal("bob_alice_a", await bob.ReadLineAsync());
            Assert.Equal("bob_alice_b", await bob.ReadLineAsync());
            Assert.Equal("bob_alice_d", await bob.ReadLineAsync());
        }

        [Fact]
        public async Task KeepaliveMeasuresTheServersClock()
        {
            var clock = new FakeTimeProvider();
            await using var server = new TestServer(o => o.KeepAliveInterval = TimeSpan.FromMinutes(1), clock: clock);
            using NativePeer alice = await server.JoinNativeAsync("alice");

            // Sweeps every half interval: the first starts the quiet time, the third finds an interval of it.
            for (int i = 0; i < 3; i++)
            {
                clock.Advance(TimeSpan.FromSeconds(30));
            }

            await alice.ExpectAsync("ping");

            // No answer for an interval more: dropped.
            clock.Advance(TimeSpan.FromSeconds(30));
            clock.Advance(TimeSpan.FromSeconds(30));
            JsonObject error = await alice.ExpectAsync("error");
            Assert.Equal("keepalive-timeout", NativePeer.Str(error, "code"));
        }

        [Fact]
        public async Task AClientPingsAndGivesUpOnItsOwnClock()
        {
            var clock = new FakeTimeProvider();
            using var fake = new FakeNativeServer();
            var options = new ClientOptions { KeepAliveInterval = TimeSpan.FromMinutes(1), Clock = clock };
            Task<ChatClient> connecting = ChatClient.ConnectAsync("127.0.0.1", fake.Port, "alice", ChatProtocol.Chatrm, options);
            await fake.AcceptAndWelcomeAsync("alice");
            using ChatClient alice = await connecting.WaitAsync(RawClient.Deadline);
            var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            alice.Closed += (_, _) => closed.TrySetResult();

            // Checks every half interval: the first starts the quiet time, the third finds an interval of it.
            for (int i = 0; i < 3; i++)
            {
                clock.Advance(TimeSpan.FromSeconds(30));
            }

            Assert.Equal("ping", (string)JsonNode.Parse(await fake.ReadLineAsync())["type"]);
            Assert.Equal(ConnectionState.Open, alice.State);

            // The silent server never answers: an interval more and the client closes.
            clock.Advance(TimeSpan.FromSeconds(30));
            clock.Advance(TimeSpan.FromSeconds(30));
            await closed.Task.WaitAsync(RawClient.Deadline);
            Assert.Contains("keepalive", alice.CloseReason);
        }

        [Fact]
        public async Task TheHandshakeTimeIsTheServersClock()
        {
            var clock = new FakeTimeProvider();
            await using var server = new TestServer(o => o.HandshakeTimeout = TimeSpan.FromMinutes(5), clock: clock);
            using RawClient early = await server.ConnectRawAsync();
            using RawClient late = await server.ConnectRawAsync();
            await Eventually.TrueAsync(() => server.Server.ConnectionCount == 2);

            // Just short of the limit: both may still name themselves.
            clock.Advance(TimeSpan.FromMinutes(5) - TimeSpan.FromSeconds(1));
            await early.SendAsync("early_\n");
            await server.WaitForEventAsync(ServerEventKind.UserJoined, "early");

            clock.Advance(TimeSpan.FromSeconds(2));
            Assert.StartsWith("unnamed_chatrm_handshake-timeout: ", await late.ReadLineAsync());
            Assert.True(await late.ClosedByServerAsync());
            Assert.True(server.IsOnline("early"));
        }
    }
}
