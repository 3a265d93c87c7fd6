using System;
using System.Linq;
using System.Threading.Tasks;
using Xunit;

namespace Chatrm.Engine.Tests
{
    /// <summary>How a server treats a new connection before it becomes a user.</summary>
    public class ServerHandshakeTests
    {
        [Theory]
        [InlineData("alice")]
        [InlineData("Alice")] // names are case-insensitive
        [InlineData("ALICE")]
        public async Task ATakenNameIsRefusedAndTheHolderKeepsIt(string newcomerName)
        {
            await using var server = new TestServer();
            using RawClient holder = await server.JoinAsync("alice");
            using RawClient bob = await server.JoinAsync("bob");

            using RawClient newcomer = await server.ConnectRawAsync();
            await newcomer.SendAsync(newcomerName + "_\n");

            // The newcomer is told, then closed. (The original silently handed the name over.)
            var lines = await newcomer.ReadUntilClosedAsync();
            string notice = Assert.Single(lines);
            Assert.StartsWith(newcomerName + "_chatrm_name-taken: ", notice);

            // The holder still receives what is sent to the name.
            await bob.SendAsync("bob_alice_still yours\n");
            Assert.Equal("alice_bob_still yours", await holder.ReadLineAsync());
            Assert.Equal(new[] { "alice" }, server.Server.Router.OnlineUsers.Where(n => UserNames.AreSame(n, "alice")));

            ServerEvent refused = await server.WaitForEventAsync(ServerEventKind.HandshakeRefused);
            Assert.StartsWith("name-taken", refused.Detail);
        }

        [Theory]
        [InlineData("bad name_\n", "unnamed")]
        [InlineData("_\n", "unnamed")]                        // no name at all
        [InlineData("\n", "unnamed")]                         // an empty first line
        [InlineData("héllo_\n", "unnamed")]                    // not ASCII
        [InlineData("abcdefghijklmnopqrstuvwxyz0123456_\n", "unnamed")] // 33 characters
        [InlineData("chatrm_\n", "chatrm")]                   // reserved for the server
        [InlineData("ChatRM_\n", "ChatRM")]
        public async Task InvalidNamesAreRefusedAndClosed(string handshake, string addressedTo)
        {
            await using var server = new TestServer();
            using RawClient client = await server.ConnectRawAsync();

            await client.SendAsync(handshake);

            var lines = await client.ReadUntilClosedAsync();
            string notice = Assert.Single(lines);
            Assert.StartsWith(addressedTo + "_chatrm_invalid-name: ", notice);
            Assert.Equal(2, notice.Count(c => c == '_'));
            Assert.Empty(server.Server.Router.OnlineUsers);

            ServerEvent refused = await server.WaitForEventAsync(ServerEventKind.HandshakeRefused);
            Assert.StartsWith("invalid-name", refused.Detail);
        }

        [Fact]
        public async Task ConcurrentJoinsWithOneNameHaveExactlyOneWinner()
        {
            await using var server = new TestServer();
            const int contenders = 20;
            var clients = await Task.WhenAll(Enumerable.Range(0, contenders).Select(_ => server.ConnectRawAsync()));
            try
            {
                // All race for the name at once; the table must give it to exactly one.
                await Task.WhenAll(clients.Select(c => c.SendAsync("alice_\n")));
                string[] replies = await Task.WhenAll(clients.Select(c => c.ReadLineAsync()));

                Assert.Equal(1, replies.Count(r => r.StartsWith("alice_chatrm_welcome: ", StringComparison.Ordinal)));
                Assert.Equal(contenders - 1, replies.Count(r => r.StartsWith("alice_chatrm_name-taken: ", StringComparison.Ordinal)));
                Assert.Equal(new[] { "alice" }, server.Server.Router.OnlineUsers);
            }
            finally
            {
                foreach (RawClient c in clients)
                {
                    c.Dispose();
                }
            }
        }

        [Fact]
        public async Task ManyUsersCanJoinAtOnce()
        {
            await using var server = new TestServer();
            var clients = await Task.WhenAll(Enumerable.Range(0, 50).Select(i => server.JoinAsync("user" + i)));
            try
            {
                Assert.Equal(50, server.Server.Router.OnlineUsers.Count);
                Assert.Equal(50, server.Server.ConnectionCount);
            }
            finally
            {
                foreach (RawClient c in clients)
                {
                    c.Dispose();
                }
            }
        }

        [Fact]
        public async Task ASilentConnectionDoesNotBlockOthers()
        {
            await using var server = new TestServer();

            // The original accepted the next connection only after this one's first line.
            using RawClient silent = await server.ConnectRawAsync();
            using RawClient halfHandshake = await server.ConnectRawAsync();
            await halfHandshake.SendAsync("carol"); // no newline: still in the handshake

            using RawClient alice = await server.JoinAsync("alice");
            using RawClient bob = await server.JoinAsync("bob");
            await alice.SendAsync("alice_bob_hi\n");
            Assert.Equal("bob_alice_hi", await bob.ReadLineAsync());

            // The half handshake completes later and is accepted.
            await halfHandshake.SendAsync("_\n");
            Assert.StartsWith("carol_chatrm_welcome: ", await halfHandshake.ReadLineAsync());
        }

        [Fact]
        public async Task ASilentConnectionIsClosedAtTheHandshakeTimeout()
        {
            await using var server = new TestServer(o => o.HandshakeTimeout = TimeSpan.FromMilliseconds(300));
            using RawClient silent = await server.ConnectRawAsync();
            using RawClient alice = await server.JoinAsync("alice");

            var lines = await silent.ReadUntilClosedAsync();

            string notice = Assert.Single(lines);
            Assert.StartsWith("unnamed_chatrm_handshake-timeout: ", notice);
            ServerEvent refused = await server.WaitForEventAsync(ServerEventKind.HandshakeRefused);
            Assert.StartsWith("handshake-timeout", refused.Detail);

            // A user who joined in time is not touched by the timer, even now it has passed.
            await alice.SendAsync("alice_alice_still here\n");
            Assert.Equal("alice_alice_still here", await alice.ReadLineAsync());
            Assert.True(server.IsOnline("alice"));
        }

        [Fact]
        public async Task AnOverlongHandshakeIsRefusedAndClosed()
        {
            await using var server = new TestServer(o => o.MaxLineBytes = 64);
            using RawClient client = await server.ConnectRawAsync();

            // No newline ever comes. The opening may be longer than the line limit, up to OpeningLineBytes.
            await client.SendAsync(new string('a', ServerOptions.OpeningLineBytes + 1000));

            var lines = await client.ReadUntilClosedAsync();
            Assert.StartsWith("unnamed_chatrm_line-too-long: ", Assert.Single(lines));
            Assert.Empty(server.Server.Router.OnlineUsers);
        }
    }
}
