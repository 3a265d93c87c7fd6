using System;
using System.Linq;
using System.Threading.Tasks;
using Chatrm.Engine.Messaging;
using Xunit;

namespace Chatrm.Engine.Tests
{
    /// <summary>What a server's events say, for its operator: what happened, in words a person reads.</summary>
    public class ServerEventTests
    {
        [Theory]
        [InlineData(1500, "1.5 s")]
        [InlineData(1000, "1 s")]
        [InlineData(200, "0.2 s")]
        [InlineData(12, "0.012 s")]
        [InlineData(59_000, "59 s")]
        [InlineData(60_000, "1 min")]
        [InlineData(90_000, "1 min 30 s")]
        [InlineData(300_000, "5 min")]
        [InlineData(3_600_000, "1 h")]
        [InlineData(5_400_000, "1 h 30 min")]
        public void DurationsAreWrittenForPeople(int milliseconds, string written) =>
            Assert.Equal(written, Durations.Describe(TimeSpan.FromMilliseconds(milliseconds)));

        [Fact]
        public async Task AUserDisconnectedByTheOperatorLeavesWithTheReasonAndNoRefusedLine()
        {
            await using var server = new TestServer();
            using RawClient alice = await server.JoinAsync("alice");

            Assert.True(server.Server.DisconnectUser("alice", "spam"));

            Assert.Equal("alice_chatrm_disconnected: spam", await alice.ReadLineAsync());
            ServerEvent left = await server.WaitForEventAsync(ServerEventKind.UserLeft, "alice");
            Assert.Equal("disconnected: spam", left.Detail);
            Assert.DoesNotContain(server.Events, e => e.Kind == ServerEventKind.LineRefused);
        }

        [Fact]
        public async Task AnIdleUserIsToldInSecondsAndLeavesWithNoRefusedLine()
        {
            await using var server = new TestServer(o => o.IdleTimeout = TimeSpan.FromMilliseconds(300));
            using RawClient alice = await server.JoinAsync("alice");

            Assert.Equal("alice_chatrm_idle-timeout: no message sent within 0.3 s", await alice.ReadLineAsync());
            ServerEvent left = await server.WaitForEventAsync(ServerEventKind.UserLeft, "alice");
            Assert.Equal("idle-timeout: no message sent within 0.3 s", left.Detail);
            Assert.DoesNotContain(server.Events, e => e.Kind == ServerEventKind.LineRefused);
        }

        [Fact]
        public async Task ANoHandshakeNoticeSaysTheTimeForPeople()
        {
            await using var server = new TestServer(o => o.HandshakeTimeout = TimeSpan.FromMilliseconds(250));
            using RawClient raw = await server.ConnectRawAsync();

            Assert.Equal("unnamed_chatrm_handshake-timeout: no name was given within 0.25 s", await raw.ReadLineAsync());
        }

        [Theory]
        [InlineData("José", "José")]
        [InlineData("bad name", "bad name")]
        [InlineData("a\u001b[2Jb", "a?[2Jb")]
        [InlineData("x\u202eevil\u0085", "x?evil?")]
        [InlineData("abcdefghijabcdefghijabcdefghijabcdefghij", "abcdefghijabcdefghijabcdefghijab...")]
        public async Task ARefusedClassicNameIsLoggedAsGivenMadeSafe(string typed, string logged)
        {
            await using var server = new TestServer();
            using RawClient raw = await server.ConnectRawAsync();

            await raw.SendAsync(typed + "_\n");

            Assert.StartsWith("unnamed_chatrm_invalid-name: ", await raw.ReadLineAsync());
            ServerEvent refused = await server.WaitForEventAsync(ServerEventKind.HandshakeRefused);
            Assert.Equal(logged, refused.UserName);
        }

        [Fact]
        public async Task ARefusedNativeNameIsLoggedAsGivenMadeSafe()
        {
            await using var server = new TestServer();
            using RawClient raw = await server.ConnectRawAsync();

            await raw.SendAsync(NativePeer.Hello("Jos\u00e9\u0007") + "\n");

            await raw.ReadLineAsync();
            ServerEvent refused = await server.WaitForEventAsync(ServerEventKind.HandshakeRefused);
            Assert.Equal("Jos\u00e9?", refused.UserName);
        }
    }
}
