using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json.Nodes;
using System.Threading.Tasks;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace Chatrm.Engine.Tests
{
    /// <summary>
    /// The server's half of "a resent send is not delivered twice" (issue 17): a session with a resume token has its
    /// refs remembered for the resend window, across its connections; a repeated ref is answered with the first
    /// one's fate, never routed again.
    /// </summary>
    public sealed class ResendServerTests
    {
        private const string Token = "0123456789abcdef0123456789abcdef";
        private const string OtherToken = "fedcba9876543210fedcba9876543210";

        // Driven-clock tests: keepalive far away, so advancing the clock pings nobody.
        private static Action<ServerOptions> Window(TimeSpan window, Action<ServerOptions> more = null) => o =>
        {
            o.ResendWindow = window;
            o.KeepAliveInterval = TimeSpan.FromHours(10);
            more?.Invoke(o);
        };

        private static async Task<JsonObject> StatusAsync(NativePeer peer, string reference)
        {
            JsonObject status = await peer.ExpectAsync("status");
            Assert.Equal(reference, NativePeer.Str(status, "ref"));
            return status;
        }

        /// <summary>The sender's next status, for <paramref name="reference"/>: delivered, and with the id of <paramref name="message"/> when one is given.</summary>
        private static async Task<JsonObject> DeliveredAsync(NativePeer sender, string reference, JsonObject message = null)
        {
            JsonObject status = await StatusAsync(sender, reference);
            Assert.Equal("delivered", NativePeer.Str(status, "status"));
            if (message != null)
            {
                Assert.Equal(NativePeer.Str(message, "id"), NativePeer.Str(status, "id"));
            }

            return status;
        }

        /// <summary>Bob reads one message and acks it; returns it.</summary>
        private static async Task<JsonObject> ReceiveAndAckAsync(NativePeer bob)
        {
            JsonObject message = await bob.ExpectAsync("message");
            await bob.AckAsync(NativePeer.Str(message, "id"));
            return message;
        }

        [Fact]
        public async Task ARepeatedRefWhoseFateIsKnownIsToldItAgainAndNotRoutedAgain()
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice", resume: Token);
            using NativePeer bob = await server.JoinNativeAsync("bob");

            await alice.SendMessageAsync("bob", "hi", "r1");
            JsonObject message = await ReceiveAndAckAsync(bob);
            JsonObject first = await DeliveredAsync(alice, "r1");

            await alice.SendMessageAsync("bob", "hi", "r1");
            JsonObject again = await DeliveredAsync(alice, "r1", message);
            Assert.Equal(NativePeer.Str(first, "sentAt"), NativePeer.Str(again, "sentAt"));
            Assert.Equal("bob", NativePeer.Str(again, "to"));
            await bob.AssertNothingWaitingAsync();
        }

        [Fact]
        public async Task ARepeatedRefWhoseFateIsNotKnownYetHearsItOnceItIs()
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice", resume: Token);
            using NativePeer bob = await server.JoinNativeAsync("bob");

            await alice.SendMessageAsync("bob", "hi", "r1");
            JsonObject message = await bob.ExpectAsync("message");
            await alice.SendMessageAsync("bob", "hi", "r1");

            // Nothing is known yet: no status, and bob got the message once.
            await alice.AssertNothingWaitingAsync();
            await bob.AssertNothingWaitingAsync();

            await bob.AckAsync(NativePeer.Str(message, "id"));
            await DeliveredAsync(alice, "r1", message);
            await alice.AssertNothingWaitingAsync();
        }

        [Fact]
        public async Task TwoSpellingsOfOneRefAreOneRef()
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice", resume: Token);
            using NativePeer bob = await server.JoinNativeAsync("bob");

            // Escaped, the ref is read as a string; plain, it is kept as its bytes.
            await alice.SendAsync("{\"type\":\"send\",\"ref\":\"r\\u0031\",\"to\":\"bob\",\"text\":\"hi\"}");
            await ReceiveAndAckAsync(bob);
            await DeliveredAsync(alice, "r1");

            await alice.SendMessageAsync("bob", "hi", "r1");
            await DeliveredAsync(alice, "r1");
            await bob.AssertNothingWaitingAsync();
        }

        [Fact]
        public async Task WithoutATokenARepeatedRefIsANewMessage()
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice");
            using NativePeer bob = await server.JoinNativeAsync("bob");

            await alice.SendMessageAsync("bob", "hi", "r1");
            await alice.SendMessageAsync("bob", "hi", "r1");
            JsonObject first = await ReceiveAndAckAsync(bob);
            JsonObject second = await ReceiveAndAckAsync(bob);
            Assert.NotEqual(NativePeer.Str(first, "id"), NativePeer.Str(second, "id"));
            await DeliveredAsync(alice, "r1");
            await DeliveredAsync(alice, "r1");
        }

        [Fact]
        public async Task AnotherTokenDoesNotShareTheRefs()
        {
            await using var server = new TestServer();
            using NativePeer bob = await server.JoinNativeAsync("bob");
            using (NativePeer alice = await server.JoinNativeAsync("alice", resume: Token))
            {
                await alice.SendMessageAsync("bob", "hi", "r1");
                await ReceiveAndAckAsync(bob);
                await DeliveredAsync(alice, "r1");
                await alice.SendFrameAsync(new JsonObject { ["type"] = "bye" });
                await server.WaitForEventAsync(ServerEventKind.UserLeft, "alice");
            }

            using NativePeer other = await server.JoinNativeAsync("alice", resume: OtherToken);
            await other.SendMessageAsync("bob", "hi", "r1");
            await ReceiveAndAckAsync(bob);
            await DeliveredAsync(other, "r1");
        }

        [Fact]
        public async Task TheSameTokenUnderAnotherNameDoesNotShareTheRefs()
        {
            await using var server = new TestServer();
            using NativePeer bob = await server.JoinNativeAsync("bob");
            using NativePeer alice = await server.JoinNativeAsync("alice", resume: Token);
            using NativePeer carol = await server.JoinNativeAsync("carol", resume: Token);

            await alice.SendMessageAsync("bob", "from alice", "r1");
            await carol.SendMessageAsync("bob", "from carol", "r1");
            JsonObject first = await ReceiveAndAckAsync(bob);
            JsonObject second = await ReceiveAndAckAsync(bob);
            Assert.Equal(new[] { "alice", "carol" }, new[] { NativePeer.Str(first, "from"), NativePeer.Str(second, "from") }.OrderBy(n => n));
        }

        [Fact]
        public async Task PastTheWindowARepeatedRefIsANewMessage()
        {
            var clock = new FakeTimeProvider();
            await using var server = new TestServer(Window(TimeSpan.FromMinutes(1)), clock: clock);
            using NativePeer alice = await server.JoinNativeAsync("alice", resume: Token);
            using NativePeer bob = await server.JoinNativeAsync("bob");

            await alice.SendMessageAsync("bob", "hi", "r1");
            JsonObject first = await ReceiveAndAckAsync(bob);
            await StatusAsync(alice, "r1");

            // Just inside the window: still the same message.
            clock.Advance(TimeSpan.FromSeconds(59));
            await alice.SendMessageAsync("bob", "hi", "r1");
            Assert.Equal(NativePeer.Str(first, "id"), NativePeer.Str(await StatusAsync(alice, "r1"), "id"));
            await bob.AssertNothingWaitingAsync();

            clock.Advance(TimeSpan.FromSeconds(2));
            await alice.SendMessageAsync("bob", "hi", "r1");
            JsonObject second = await ReceiveAndAckAsync(bob);
            Assert.NotEqual(NativePeer.Str(first, "id"), NativePeer.Str(second, "id"));
            Assert.Equal(NativePeer.Str(second, "id"), NativePeer.Str(await StatusAsync(alice, "r1"), "id"));
        }

        [Fact]
        public async Task PastMaxRememberedRefsTheOldestIsForgottenFirst()
        {
            await using var server = new TestServer(o => o.MaxRememberedRefs = 2);
            using NativePeer alice = await server.JoinNativeAsync("alice", resume: Token);
            using NativePeer bob = await server.JoinNativeAsync("bob");

            var ids = new Dictionary<string, string>();
            foreach (string reference in new[] { "r1", "r2", "r3" })
            {
                await alice.SendMessageAsync("bob", "hi " + reference, reference);
                ids[reference] = NativePeer.Str(await ReceiveAndAckAsync(bob), "id");
                await StatusAsync(alice, reference);
            }

            // r3 and r2 are remembered: told again, not routed.
            await alice.SendMessageAsync("bob", "hi r3", "r3");
            Assert.Equal(ids["r3"], NativePeer.Str(await StatusAsync(alice, "r3"), "id"));
            await bob.AssertNothingWaitingAsync();

            // r1 was forgotten when r3 came: a new message, which makes r2 the oldest and forgets it.
            await alice.SendMessageAsync("bob", "hi r1", "r1");
            JsonObject again = await ReceiveAndAckAsync(bob);
            Assert.NotEqual(ids["r1"], NativePeer.Str(again, "id"));
            Assert.Equal(NativePeer.Str(again, "id"), NativePeer.Str(await StatusAsync(alice, "r1"), "id"));

            await alice.SendMessageAsync("bob", "hi r2", "r2");
            Assert.NotEqual(ids["r2"], NativePeer.Str(await ReceiveAndAckAsync(bob), "id"));
        }

        [Fact]
        public async Task AResendAfterTheLinkDroppedHearsTheFateTheRecipientGaveMeanwhile()
        {
            await using var server = new TestServer();
            using NativePeer bob = await server.JoinNativeAsync("bob");
            JsonObject message;
            using (NativePeer alice = await server.JoinNativeAsync("alice", resume: Token))
            {
                await alice.SendMessageAsync("bob", "hi", "r1");
                message = await bob.ExpectAsync("message");

                // The link drops before any fate: the server sees the socket close.
                alice.Raw.Abort();
                await server.WaitForEventAsync(ServerEventKind.UserLeft, "alice");
                await Eventually.TrueAsync(() => Released(server), "alice's state let go");
            }

            // Bob acks while alice is away: nobody holds the token, so the fate is only recorded.
            await bob.AckAsync(NativePeer.Str(message, "id"));
            await bob.AssertNothingWaitingAsync();

            using NativePeer back = await server.JoinNativeAsync("alice", resume: Token);
            await back.SendMessageAsync("bob", "hi", "r1");
            await DeliveredAsync(back, "r1", message);
            await bob.AssertNothingWaitingAsync();
        }

        [Fact]
        public async Task AfterATakeOverTheOldConnectionsFatesReachTheNewOne()
        {
            await using var server = new TestServer();
            using NativePeer bob = await server.JoinNativeAsync("bob");
            using NativePeer old = await server.JoinNativeAsync("alice", resume: Token);
            await old.SendMessageAsync("bob", "hi", "r1");
            JsonObject message = await bob.ExpectAsync("message");

            // The client thinks its link is dead (the server does not yet) and comes back with its token.
            using NativePeer fresh = await server.JoinNativeAsync("alice", resume: Token);
            Assert.Equal("replaced", NativePeer.Str(await old.ExpectAsync("error"), "code"));
            await fresh.SendMessageAsync("bob", "hi", "r1");
            await fresh.AssertNothingWaitingAsync();

            await bob.AckAsync(NativePeer.Str(message, "id"));
            await DeliveredAsync(fresh, "r1", message);
            await bob.AssertNothingWaitingAsync();
        }

        [Fact]
        public async Task ARefusalIsToldAgainWithItsReason()
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice", resume: Token);

            await alice.SendMessageAsync("nobody", "hi", "r1");
            JsonObject first = await StatusAsync(alice, "r1");
            Assert.Equal("unknown-user", NativePeer.Str(first, "reason"));

            await alice.SendMessageAsync("nobody", "hi", "r1");
            JsonObject again = await StatusAsync(alice, "r1");
            Assert.Equal("refused", NativePeer.Str(again, "status"));
            Assert.Equal("unknown-user", NativePeer.Str(again, "reason"));
            Assert.Equal(NativePeer.Str(first, "message"), NativePeer.Str(again, "message"));
            Assert.Equal(NativePeer.Str(first, "id"), NativePeer.Str(again, "id"));
        }

        [Fact]
        public async Task AStoredMessageIsToldStoredAgain()
        {
            await using var server = new TestServer();
            using (NativePeer bob = await server.JoinNativeAsync("bob"))
            {
                await bob.SendFrameAsync(new JsonObject { ["type"] = "bye" });
                await server.WaitForEventAsync(ServerEventKind.UserLeft, "bob");
            }

            using NativePeer alice = await server.JoinNativeAsync("alice", resume: Token);
            await alice.SendMessageAsync("bob", "hi", "r1");
            JsonObject first = await StatusAsync(alice, "r1");
            Assert.Equal("stored", NativePeer.Str(first, "status"));
            await alice.SendMessageAsync("bob", "hi", "r1");
            JsonObject again = await StatusAsync(alice, "r1");
            Assert.Equal("stored", NativePeer.Str(again, "status"));
            Assert.Equal(NativePeer.Str(first, "id"), NativePeer.Str(again, "id"));

            // Bob's inbox holds it once.
            using NativePeer back = await server.JoinNativeAsync("bob");
            await back.ExpectAsync("message");
            await back.AssertNothingWaitingAsync();
        }

        [Fact]
        public async Task ARepeatedRoomPostIsToldPostedAgainWithItsSeq()
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice", resume: Token);
            using NativePeer bob = await server.JoinNativeAsync("bob");
            foreach (NativePeer peer in new[] { alice, bob })
            {
                await peer.SendFrameAsync(new JsonObject { ["type"] = "join", ["room"] = "#ops", ["ref"] = "j" });
                await peer.ExpectAsync("room");
            }

            await alice.SendMessageAsync("#ops", "hello room", "p1");
            JsonObject first = await StatusAsync(alice, "p1");
            Assert.Equal("posted", NativePeer.Str(first, "status"));
            JsonObject post = await bob.ExpectAsync("message");

            await alice.SendMessageAsync("#ops", "hello room", "p1");
            JsonObject again = await StatusAsync(alice, "p1");
            Assert.Equal("posted", NativePeer.Str(again, "status"));
            Assert.Equal(NativePeer.Str(post, "id"), NativePeer.Str(again, "id"));
            Assert.Equal(first["seq"]!.GetValue<long>(), again["seq"]!.GetValue<long>());
            Assert.Equal(1, again["recipients"]!.GetValue<int>());
            await bob.AssertNothingWaitingAsync();
        }

        [Fact]
        public async Task ATokenNobodyComesBackForIsForgottenAfterTheWindow()
        {
            var clock = new FakeTimeProvider();
            await using var server = new TestServer(Window(TimeSpan.FromMinutes(1)), clock: clock);
            using (NativePeer alice = await server.JoinNativeAsync("alice", resume: Token))
            {
                await alice.SendFrameAsync(new JsonObject { ["type"] = "bye" });
            }

            await Eventually.TrueAsync(() => server.Server.ResumeStates.Count == 1 && !server.IsOnline("alice"), "alice gone, her token kept");
            await Eventually.TrueAsync(() => Released(server), "alice's state let go");

            // A sweep inside the window keeps it; the sweep after it forgets it.
            clock.Advance(TimeSpan.FromSeconds(50));
            server.Server.SweepKeepAlive();
            Assert.Equal(1, server.Server.ResumeStates.Count);
            clock.Advance(TimeSpan.FromSeconds(11));
            server.Server.SweepKeepAlive();
            Assert.Equal(0, server.Server.ResumeStates.Count);
        }

        [Fact]
        public async Task TheNumberOfTokensKeptIsBounded()
        {
            // Room for a closing connection beside bob and the next user.
            await using var server = new TestServer(o => o.MaxConnections = 3);
            int max = server.Server.ResumeStates.MaxStates;
            Assert.Equal(6, max);
            using NativePeer bob = await server.JoinNativeAsync("bob");
            for (int i = 0; i < max + 3; i++)
            {
                using NativePeer user = await server.JoinNativeAsync("u" + i, resume: Token);
                await user.SendFrameAsync(new JsonObject { ["type"] = "bye" });
                await server.WaitForEventAsync(ServerEventKind.UserLeft, "u" + i);
                await Eventually.TrueAsync(() => Released(server), "u" + i + "'s state let go");
                Assert.True(server.Server.ResumeStates.Count <= max, $"{server.Server.ResumeStates.Count} states kept");
            }

            Assert.Equal(max, server.Server.ResumeStates.Count);
        }

        private static bool Released(TestServer server) => server.Server.ResumeStates.HeldCount == 0;
    }
}
