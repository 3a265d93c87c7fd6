using System.Linq;
using System.Text;
using System.Threading.Tasks;
using Xunit;

namespace Chatrm.Engine.Tests
{
    /// <summary>How a server routes lines between users, over real loopback sockets.</summary>
    public class ServerRoutingTests
    {
        [Theory]
        [InlineData("alice_bob_hi\n")]  // SOURCE_DEST_TEXT, the original client
        [InlineData("bob_alice_hi\n")]  // DEST_SOURCE_TEXT, the original README
        [InlineData("alice_bob_hi\r\n")] // Windows line ending
        [InlineData("bob_alice_hi\r\n")]
        [InlineData("ALICE_BOB_hi\n")]   // names in any case
        public async Task BothFormsArriveAsDestSourceText(string line)
        {
            await using var server = new TestServer();
            using RawClient alice = await server.JoinAsync("alice");
            using RawClient bob = await server.JoinAsync("bob");

            await alice.SendAsync(line);

            // Always the recipient's and sender's registered spellings, destination first.
            Assert.Equal("bob_alice_hi", await bob.ReadLineAsync());
        }

        [Fact]
        public async Task TextKeepsItsUnderscores()
        {
            await using var server = new TestServer();
            using RawClient alice = await server.JoinAsync("alice");
            using RawClient bob = await server.JoinAsync("bob");

            await alice.SendAsync("alice_bob_hello_world_again\n");

            // The original would have cut this at "hello".
            Assert.Equal("bob_alice_hello_world_again", await bob.ReadLineAsync());
        }

        [Fact]
        public async Task Utf8TextPassesByteForByte()
        {
            await using var server = new TestServer();
            using RawClient alice = await server.JoinAsync("alice");
            using RawClient bob = await server.JoinAsync("bob");

            await alice.SendAsync("alice_bob_héllo ✓ 日本 🎉\n");

            byte[] expected = Encoding.UTF8.GetBytes("bob_alice_héllo ✓ 日本 🎉");
            Assert.Equal(expected, await bob.ReadLineBytesAsync());
        }

        [Fact]
        public async Task WelcomeNoticeNamesTheUser()
        {
            await using var server = new TestServer();
            using RawClient alice = await server.ConnectRawAsync();

            await alice.SendAsync("alice_\n");
            string welcome = await alice.ReadLineAsync();

            Assert.StartsWith("alice_chatrm_welcome: ", welcome);
            Assert.Contains("alice", welcome.Substring("alice_chatrm_welcome: ".Length));
            // Exactly the two separators: an original client prints the whole notice.
            Assert.Equal(2, welcome.Count(c => c == '_'));
        }

        [Theory]
        [InlineData("alice\n")]      // no underscore: the original crashed on this
        [InlineData("alice_4000\n")] // a port in the handshake is ignored
        [InlineData("alice_\r\n")]
        public async Task HandshakeFormsAreAccepted(string handshake)
        {
            await using var server = new TestServer();
            using RawClient alice = await server.ConnectRawAsync();

            await alice.SendAsync(handshake);

            Assert.StartsWith("alice_chatrm_welcome: ", await alice.ReadLineAsync());
            Assert.True(server.IsOnline("alice"));
        }

        [Fact]
        public async Task RecipientIsFoundWhateverTheCase()
        {
            await using var server = new TestServer();
            using RawClient alice = await server.JoinAsync("Alice");
            using RawClient bob = await server.JoinAsync("bob");

            await bob.SendAsync("bob_ALICE_hi\n");

            // Delivered with the name as Alice registered it.
            Assert.Equal("Alice_bob_hi", await alice.ReadLineAsync());
        }

        [Fact]
        public async Task AUserCanMessageThemself()
        {
            await using var server = new TestServer();
            using RawClient alice = await server.JoinAsync("alice");

            await alice.SendAsync("alice_alice_note to self\n");

            Assert.Equal("alice_alice_note to self", await alice.ReadLineAsync());
        }

        [Fact]
        public async Task EmptyTextIsDelivered()
        {
            await using var server = new TestServer();
            using RawClient alice = await server.JoinAsync("alice");
            using RawClient bob = await server.JoinAsync("bob");

            await alice.SendAsync("alice_bob_\n");

            Assert.Equal("bob_alice_", await bob.ReadLineAsync());
        }

        [Fact]
        public async Task UnknownDestinationIsToldToTheSenderAndRoutingGoesOn()
        {
            await using var server = new TestServer();
            using RawClient alice = await server.JoinAsync("alice");
            using RawClient bob = await server.JoinAsync("bob");

            await alice.SendAsync("alice_nobody_hi\n");
            string notice = await alice.ReadLineAsync();

            Assert.StartsWith("alice_chatrm_unknown-user: ", notice);
            Assert.Contains("nobody", notice);

            // The original crashed here; this server keeps routing both ways.
            await alice.SendAsync("alice_bob_still here\n");
            Assert.Equal("bob_alice_still here", await bob.ReadLineAsync());
            await bob.SendAsync("bob_alice_me too\n");
            Assert.Equal("alice_bob_me too", await alice.ReadLineAsync());

            ServerEvent refused = await server.WaitForEventAsync(ServerEventKind.LineRefused, "alice");
            Assert.StartsWith("unknown-user", refused.Detail);
        }

        [Theory]
        [InlineData("alice__hi\n")]         // empty destination
        [InlineData("alice_chatrm_hi\n")]   // the server's own name is not a user
        [InlineData("alice_bad name_hi\n")] // not a possible name
        public async Task ImpossibleDestinationsAreUnknown(string line)
        {
            await using var server = new TestServer();
            using RawClient alice = await server.JoinAsync("alice");

            await alice.SendAsync(line);

            Assert.StartsWith("alice_chatrm_unknown-user: ", await alice.ReadLineAsync());
        }

        [Fact]
        public async Task ALineToAUserWhoLeftWaitsForThemAndTheSenderIsTold()
        {
            await using var server = new TestServer();
            using RawClient alice = await server.JoinAsync("alice");
            using (RawClient bob = await server.JoinAsync("bob"))
            {
                await bob.SendAsync("EXIT\n");
                Assert.True(await bob.ClosedByServerAsync());
            }

            await Eventually.TrueAsync(() => !server.IsOnline("bob"), "bob leaves the table");
            await alice.SendAsync("alice_bob_are you there\n");

            // A known user's line waits in its inbox (the store's; issue 16), no longer refused user-offline.
            string notice = await alice.ReadLineAsync();
            Assert.StartsWith("alice_chatrm_stored: ", notice);
            Assert.Contains("bob", notice);
        }

        [Fact]
        public async Task ForgedSenderIsRefusedAndNeverDelivered()
        {
            await using var server = new TestServer();
            using RawClient alice = await server.JoinAsync("alice");
            using RawClient bob = await server.JoinAsync("bob");
            using RawClient carol = await server.JoinAsync("carol");

            // alice claims to be carol writing to bob, then to be bob writing to carol.
            await alice.SendAsync("carol_bob_send me your password\n");
            Assert.StartsWith("alice_chatrm_forged-sender: ", await alice.ReadLineAsync());
            await alice.SendAsync("bob_carol_hi\n");
            Assert.StartsWith("alice_chatrm_forged-sender: ", await alice.ReadLineAsync());

            // A marker from alice sent afterwards must be the first thing bob and carol see:
            // one connection's lines are handled in order, so a delivered forgery would come first.
            await alice.SendAsync("alice_bob_marker\n");
            Assert.Equal("bob_alice_marker", await bob.ReadLineAsync());
            await alice.SendAsync("alice_carol_marker\n");
            Assert.Equal("carol_alice_marker", await carol.ReadLineAsync());

            ServerEvent refused = await server.WaitForEventAsync(ServerEventKind.LineRefused, "alice");
            Assert.StartsWith("forged-sender", refused.Detail);
        }

        [Theory]
        [InlineData("just some words\n")]
        [InlineData("alice_bob\n")]
        public async Task MalformedLinesAreRefusedAndTheSessionGoesOn(string line)
        {
            await using var server = new TestServer();
            using RawClient alice = await server.JoinAsync("alice");
            using RawClient bob = await server.JoinAsync("bob");

            await alice.SendAsync(line);
            string notice = await alice.ReadLineAsync();

            Assert.StartsWith("alice_chatrm_malformed-line: ", notice);
            Assert.Equal(2, notice.Count(c => c == '_'));
            await alice.SendAsync("alice_bob_ok\n");
            Assert.Equal("bob_alice_ok", await bob.ReadLineAsync());
        }

        [Fact]
        public async Task BlankLinesAreIgnoredSilently()
        {
            await using var server = new TestServer();
            using RawClient alice = await server.JoinAsync("alice");

            await alice.SendAsync("\n\r\n   \n");
            await alice.SendAsync("alice_alice_after\n");

            // No notice came for the blank lines: the next thing alice reads is her own message.
            Assert.Equal("alice_alice_after", await alice.ReadLineAsync());
        }

        [Fact]
        public async Task ExitEndsTheSessionAndTheUserLeaves()
        {
            await using var server = new TestServer();
            using RawClient alice = await server.JoinAsync("alice");
            Assert.True(server.IsOnline("alice"));

            await alice.SendAsync("EXIT\n");

            Assert.True(await alice.ClosedByServerAsync());
            ServerEvent left = await server.WaitForEventAsync(ServerEventKind.UserLeft, "alice");
            Assert.Equal("exit", left.Detail);
            Assert.False(server.IsOnline("alice"));
            await Eventually.TrueAsync(() => server.Server.ConnectionCount == 0, "the connection is gone");
        }

        [Fact]
        public async Task ANameIsFreeAgainAfterItsHolderLeaves()
        {
            await using var server = new TestServer();
            using (RawClient first = await server.JoinAsync("alice"))
            {
                await first.SendAsync("EXIT\n");
                Assert.True(await first.ClosedByServerAsync());
            }

            await Eventually.TrueAsync(() => !server.IsOnline("alice"), "alice leaves");

            // JoinAsync asserts the welcome.
            using RawClient second = await server.JoinAsync("alice");
            Assert.True(server.IsOnline("alice"));
        }

        [Fact]
        public async Task DisconnectUserEndsThatSessionOnly()
        {
            await using var server = new TestServer();
            using RawClient alice = await server.JoinAsync("alice");
            using RawClient bob = await server.JoinAsync("bob");

            Assert.True(server.Server.DisconnectUser("ALICE", "kicked"));
            Assert.False(server.Server.DisconnectUser("nobody", "kicked"));

            // Told why, then closed.
            Assert.Equal("alice_chatrm_disconnected: kicked", await alice.ReadLineAsync());
            Assert.True(await alice.ClosedByServerAsync());
            ServerEvent left = await server.WaitForEventAsync(ServerEventKind.UserLeft, "alice");
            Assert.Equal("disconnected: kicked", left.Detail);
            await bob.SendAsync("bob_bob_still here\n");
            Assert.Equal("bob_bob_still here", await bob.ReadLineAsync());
        }

        [Fact]
        public async Task JoinAndLeaveRaiseEventsAndPresence()
        {
            await using var server = new TestServer();
            var presence = new System.Collections.Concurrent.ConcurrentQueue<PresenceEventArgs>();
            server.Server.Router.PresenceChanged += (_, e) => presence.Enqueue(e);

            using (RawClient alice = await server.JoinAsync("alice"))
            {
                ServerEvent joined = await server.WaitForEventAsync(ServerEventKind.UserJoined, "alice");
                Assert.Contains("127.0.0.1", joined.Detail); // where alice came from
                Assert.Equal(new[] { "alice" }, server.Server.Router.OnlineUsers);
            }

            // A plain close (no EXIT) also ends the session.
            ServerEvent left = await server.WaitForEventAsync(ServerEventKind.UserLeft, "alice");
            Assert.Empty(server.Server.Router.OnlineUsers);
            Assert.Equal(
                new[] { (PresenceChange.Joined, "alice"), (PresenceChange.Left, "alice") },
                presence.Select(p => (p.Change, p.UserName)).ToArray());
        }
    }
}
