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
    /// <summary>The server's side of the native protocol, typed as raw JSON lines, as a person with nc would.</summary>
    public class NativeServerTests
    {
        // ---- Opening ----

        [Fact]
        public async Task AHelloIsAnsweredWithAWelcomeThatCarriesTheLimits()
        {
            await using var server = new TestServer(o =>
            {
                o.MaxLineBytes = 4096;
                o.KeepAliveInterval = TimeSpan.FromSeconds(90);
            });
            using RawClient raw = await server.ConnectRawAsync();

            await raw.SendAsync("{\"type\":\"hello\",\"protocol\":\"chatrm_native\",\"version\":1,\"user\":\"Alice\"}\n");

            string line = await raw.ReadLineAsync();
            var welcome = JsonNode.Parse(line).AsObject();
            Assert.Equal("welcome", Type(welcome));
            Assert.Equal("chatrm_native", Str(welcome, "protocol"));
            Assert.Equal(1, welcome["version"].GetValue<int>());
            Assert.Equal("Alice", Str(welcome, "user"));
            Assert.Equal(90, welcome["keepAlive"].GetValue<double>());
            Assert.Equal(4096, welcome["maxFrameBytes"].GetValue<int>());

            Assert.True(server.IsOnline("alice"));
            Assert.Equal("chatrm", server.ProtocolOf("alice"));
            ServerEvent joined = await server.WaitForEventAsync(ServerEventKind.UserJoined, "alice");
            Assert.Equal("Alice", joined.UserName);
        }

        [Theory]
        [InlineData(200, 0.2)]      // exactly, so a client going by it is never dropped for pinging late
        [InlineData(1500, 1.5)]
        [InlineData(60000, 60)]
        public async Task TheWelcomeGivesTheKeepAliveInSeconds(int intervalMs, double seconds)
        {
            await using var server = new TestServer(o => o.KeepAliveInterval = TimeSpan.FromMilliseconds(intervalMs));
            using NativePeer alice = await server.JoinNativeAsync("alice");

            Assert.Equal(seconds, alice.Welcome["keepAlive"].GetValue<double>());
            Assert.Equal(ServerOptions.DefaultMaxLineBytes, alice.Welcome["maxFrameBytes"].GetValue<int>());
        }

        [Theory]
        [InlineData("  {0}\n")]
        [InlineData("\t{0}\r\n")]
        [InlineData("{0}\r\n")]
        public async Task WhiteSpaceBeforeTheBraceAndACrLfStillOpenTheNativeProtocol(string format)
        {
            await using var server = new TestServer();
            using RawClient raw = await server.ConnectRawAsync();

            await raw.SendAsync(string.Format(format, Hello("alice")));

            Assert.Equal("welcome", Type(JsonNode.Parse(await raw.ReadLineAsync()).AsObject()));
            Assert.Equal("chatrm", server.ProtocolOf("alice"));
        }

        [Fact]
        public async Task AHelloSentByteByByteIsReassembled()
        {
            await using var server = new TestServer();
            using RawClient raw = await server.ConnectRawAsync();

            await raw.SendByteByByteAsync(Hello("alice") + "\n");

            Assert.Equal("welcome", Type(JsonNode.Parse(await raw.ReadLineAsync()).AsObject()));
        }

        [Fact]
        public async Task AClassicHandshakeStaysClassicEvenWhenJsonFollows()
        {
            await using var server = new TestServer();
            using RawClient alice = await server.ConnectRawAsync();

            await alice.SendAsync("alice_\n");
            Assert.StartsWith("alice_chatrm_welcome: ", await alice.ReadLineAsync());
            Assert.Equal("classic", server.ProtocolOf("alice"));

            // Only the first line decides: later JSON from a classic user is a classic line like any other.
            await alice.SendAsync("{\"type\":\"who\",\"ref\":\"1\"}\n");
            Assert.StartsWith("alice_chatrm_malformed-line: ", await alice.ReadLineAsync());
            await alice.SendAsync("alice_alice_still classic_\n");
            Assert.Equal("alice_alice_still classic_", await alice.ReadLineAsync());
        }

        [Theory]
        [InlineData(",\"version\":2")]
        [InlineData(",\"version\":0")]
        [InlineData(",\"version\":-1")]
        [InlineData(",\"version\":2147483647")]
        [InlineData("")] // no version at all
        public async Task AnotherVersionIsRefusedAndClosed(string versionField)
        {
            await using var server = new TestServer();
            using RawClient raw = await server.ConnectRawAsync();

            await raw.SendAsync("{\"type\":\"hello\",\"protocol\":\"chatrm_native\"" + versionField + ",\"user\":\"alice\"}\n");

            JsonObject error = JsonNode.Parse(Assert.Single(await raw.ReadUntilClosedAsync())).AsObject();
            Assert.Equal("error", Type(error));
            Assert.Equal("unsupported-version", Str(error, "code"));
            Assert.Contains("version 1", Str(error, "message"));
            Assert.False(server.IsOnline("alice"));
            ServerEvent refused = await server.WaitForEventAsync(ServerEventKind.HandshakeRefused);
            Assert.StartsWith("unsupported-version", refused.Detail);
        }

        [Theory]
        [InlineData("\"user\":\"bad name\"")]
        [InlineData("\"user\":\"\"")]
        [InlineData("\"user\":\"a_b\"")]                 // '_' is the classic separator
        [InlineData("\"user\":\"héllo\"")]               // not ASCII
        [InlineData("\"user\":\"abcdefghijklmnopqrstuvwxyz0123456\"")] // 33 characters
        [InlineData("\"user\":\"chatrm\"")]              // the server's own name
        [InlineData("\"user\":\"ChatRM\"")]
        [InlineData("\"user\":\"{alice\"")]
        [InlineData("\"user\":\"alice\\n\"")]
        [InlineData("\"user\":null")]
        [InlineData("\"nick\":\"alice\"")]               // no user at all
        public async Task AnInvalidNameIsRefusedAndClosed(string userField)
        {
            await using var server = new TestServer();
            using RawClient raw = await server.ConnectRawAsync();

            await raw.SendAsync("{\"type\":\"hello\",\"protocol\":\"chatrm_native\",\"version\":1," + userField + "}\n");

            JsonObject error = JsonNode.Parse(Assert.Single(await raw.ReadUntilClosedAsync())).AsObject();
            Assert.Equal(("error", "invalid-name"), (Type(error), Str(error, "code")));
            Assert.False(string.IsNullOrWhiteSpace(Str(error, "message")));
            Assert.Empty(server.Server.Router.OnlineUsers);
            ServerEvent refused = await server.WaitForEventAsync(ServerEventKind.HandshakeRefused);
            Assert.StartsWith("invalid-name", refused.Detail);
        }

        [Theory]
        [InlineData("abcdefghijklmnopqrstuvwxyz012345")] // 32 characters, the longest
        [InlineData("a.b-C9")]
        [InlineData("-")]
        [InlineData("X")]
        public async Task TheNameRulesAreTheClassicOnes(string name)
        {
            await using var server = new TestServer();
            using NativePeer peer = await server.JoinNativeAsync(name);

            Assert.Equal(name, Str(peer.Welcome, "user"));
            Assert.True(server.IsOnline(name));
        }

        [Theory]
        [InlineData("{\"type\":\"who\",\"ref\":\"1\"}")]
        [InlineData("{\"type\":\"send\",\"to\":\"bob\",\"text\":\"hi\"}")]
        [InlineData("{\"type\":\"welcome\",\"version\":1,\"user\":\"alice\"}")]
        [InlineData("{oops")]
        [InlineData("{}")]
        [InlineData("{\"user\":\"alice\",\"version\":1}")]
        [InlineData("{\"type\":\"hello\",\"version\":\"1\",\"user\":\"alice\"}")]
        [InlineData("{\"type\":\"hello\",\"version\":1,\"user\":5}")]
        [InlineData("{\"type\":\"hello\",\"version\":1,\"user\":\"alice\"} trailing")]
        public async Task AFirstFrameThatIsNotAReadableHelloIsRefusedAndClosed(string line)
        {
            await using var server = new TestServer();
            using RawClient raw = await server.ConnectRawAsync();

            await raw.SendAsync(line + "\n");

            JsonObject error = JsonNode.Parse(Assert.Single(await raw.ReadUntilClosedAsync())).AsObject();
            Assert.Equal(("error", "malformed-frame"), (Type(error), Str(error, "code")));
            Assert.Empty(server.Server.Router.OnlineUsers);
        }

        [Fact]
        public async Task UnknownFieldsInTheHelloAreIgnored()
        {
            await using var server = new TestServer();
            using RawClient raw = await server.ConnectRawAsync();

            await raw.SendAsync("{\"client\":\"nc\",\"type\":\"hello\",\"features\":[\"x\",{\"y\":null}],\"version\":1,\"user\":\"alice\",\"protocol\":\"chatrm_native\"}\n");

            Assert.Equal("welcome", Type(JsonNode.Parse(await raw.ReadLineAsync()).AsObject()));
        }

        [Theory]
        [InlineData(true, "alice")]
        [InlineData(true, "ALICE")]
        [InlineData(false, "alice")]
        [InlineData(false, "Alice")]
        public async Task ATakenNameIsRefusedAndTheHolderKeepsIt(bool holderIsNative, string newcomerName)
        {
            await using var server = new TestServer();
            NativePeer nativeHolder = holderIsNative ? await server.JoinNativeAsync("alice") : null;
            RawClient classicHolder = holderIsNative ? null : await server.JoinAsync("alice");
            try
            {
                using RawClient bob = await server.JoinAsync("bob");
                using RawClient newcomer = await server.ConnectRawAsync();

                await newcomer.SendAsync(Hello(newcomerName) + "\n");

                JsonObject error = JsonNode.Parse(Assert.Single(await newcomer.ReadUntilClosedAsync())).AsObject();
                Assert.Equal(("error", "name-taken"), (Type(error), Str(error, "code")));
                Assert.Contains(newcomerName, Str(error, "message"));

                // What is sent to the name still reaches the holder.
                await bob.SendAsync("bob_alice_still yours\n");
                if (holderIsNative)
                {
                    JsonObject message = await nativeHolder.ExpectAsync("message");
                    Assert.Equal(("bob", "still yours"), (Str(message, "from"), Str(message, "text")));
                }
                else
                {
                    Assert.Equal("alice_bob_still yours", await classicHolder.ReadLineAsync());
                }

                Assert.Equal(holderIsNative ? "chatrm" : "classic", server.ProtocolOf("alice"));
            }
            finally
            {
                nativeHolder?.Dispose();
                classicHolder?.Dispose();
            }
        }

        [Fact]
        public async Task AClassicNewcomerCannotTakeANativeUsersName()
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice");
            using RawClient newcomer = await server.ConnectRawAsync();

            await newcomer.SendAsync("ALICE_\n");

            // Refused in its own protocol.
            Assert.StartsWith("ALICE_chatrm_name-taken: ", Assert.Single(await newcomer.ReadUntilClosedAsync()));
            Assert.Equal("chatrm", server.ProtocolOf("alice"));
        }

        [Fact]
        public async Task ARefusedNewcomerCausesNoPresenceFrames()
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice");
            using RawClient newcomer = await server.ConnectRawAsync();

            await newcomer.SendAsync(Hello("alice") + "\n");
            Assert.Single(await newcomer.ReadUntilClosedAsync());

            // Strictly the next frame: no presence came for the one who never joined.
            await alice.SendAsync("{\"type\":\"ping\",\"ref\":\"after\"}");
            JsonObject next = await alice.ReadAsync();
            Assert.Equal(("pong", "after"), (Type(next), Str(next, "ref")));
        }

        // ---- Frames ----

        [Theory]
        [InlineData("{\"type\":\"ping\",\"ref\":\"p-1\"}", "p-1")]
        [InlineData("{\"type\":\"ping\"}", null)]
        [InlineData("{ \"ref\" : \"7\" , \"type\" : \"ping\" , \"extra\" : 1 }", "7")]
        public async Task APingIsAnsweredWithAPongCarryingItsRef(string ping, string reference)
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice");

            await alice.SendAsync(ping);

            JsonObject pong = await alice.ReadAsync();
            Assert.Equal("pong", Type(pong));
            Assert.Equal(reference, Str(pong, "ref"));
        }

        [Fact]
        public async Task PongsAndAcksNobodyAskedForAreIgnoredQuietly()
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice");

            await alice.SendAsync("{\"type\":\"pong\"}");
            await alice.SendAsync("{\"type\":\"ack\",\"id\":\"999\"}");
            // An ack with no id at all is answered (ProtocolDocTests.AnAckWithNeitherIdNorThroughIsAnsweredWithAnError).

            await alice.AssertNothingWaitingAsync();
            Assert.DoesNotContain(server.Events, e => e.Kind == ServerEventKind.LineRefused);
        }

        [Fact]
        public async Task WhoListsEveryUserWithTheirProtocolAndSinceWhen()
        {
            await using var server = new TestServer();
            DateTime before = DateTime.UtcNow;
            using NativePeer alice = await server.JoinNativeAsync("alice");
            using RawClient bob = await server.JoinAsync("Bob");
            using NativePeer carol = await server.JoinNativeAsync("carol");
            DateTime after = DateTime.UtcNow;

            await alice.SendAsync("{\"type\":\"who\",\"ref\":\"w1\"}");

            JsonObject users = await alice.ExpectAsync("users");
            Assert.Equal("w1", Str(users, "ref"));
            var listed = users["users"].AsArray().Select(u => u.AsObject()).OrderBy(u => Str(u, "name"), StringComparer.OrdinalIgnoreCase).ToList();
            Assert.Equal(new[] { ("alice", "chatrm"), ("Bob", "classic"), ("carol", "chatrm") }, listed.Select(u => (Str(u, "name"), Str(u, "protocol"))));
            foreach (JsonObject user in listed)
            {
                DateTime since = Time(user, "connectedAt");
                Assert.InRange(since, before.AddMilliseconds(-1), after.AddMilliseconds(1));
            }

            // Joined in that order, and the times say so.
            Assert.True(Time(listed[0], "connectedAt") <= Time(listed[1], "connectedAt"));
            Assert.True(Time(listed[1], "connectedAt") <= Time(listed[2], "connectedAt"));

            // Once Bob has gone he is no longer listed.
            await bob.SendAsync("EXIT\n");
            await server.WaitForEventAsync(ServerEventKind.UserLeft, "bob");
            await alice.SendAsync("{\"type\":\"who\"}");
            JsonObject again = await alice.ExpectAsync("users");
            Assert.Null(Str(again, "ref"));
            Assert.Equal(new[] { "alice", "carol" }, again["users"].AsArray().Select(u => Str(u.AsObject(), "name")).OrderBy(n => n));
        }

        [Fact]
        public async Task ByeEndsTheSessionAndTheOthersAreTold()
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice");
            using NativePeer bob = await server.JoinNativeAsync("bob");

            await bob.SendAsync("{\"type\":\"bye\"}");

            // The server closes without another word to bob.
            Assert.Empty(await bob.Raw.ReadUntilClosedAsync());
            ServerEvent left = await server.WaitForEventAsync(ServerEventKind.UserLeft, "bob");
            Assert.Equal("bye", left.Detail);
            Assert.False(server.IsOnline("bob"));

            JsonObject joined = await alice.ReadAsync();
            Assert.Equal(("presence", "joined", "bob"), (Type(joined), Str(joined, "event"), Str(joined, "user")));
            JsonObject gone = await alice.ReadAsync();
            Assert.Equal(("presence", "left", "bob"), (Type(gone), Str(gone, "event"), Str(gone, "user")));
        }

        [Fact]
        public async Task ASecondHelloIsAnErrorAndTheSessionGoesOn()
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice");

            await alice.SendAsync("{\"type\":\"hello\",\"protocol\":\"chatrm_native\",\"version\":1,\"user\":\"mallory\",\"ref\":\"h2\"}");

            JsonObject error = await alice.ReadAsync();
            Assert.Equal(("error", "malformed-frame", "h2"), (Type(error), Str(error, "code"), Str(error, "ref")));
            Assert.Contains("alice", Str(error, "message"));
            Assert.True(server.IsOnline("alice"));
            Assert.False(server.IsOnline("mallory"));
            await alice.AssertNothingWaitingAsync();
        }

        [Theory]
        [InlineData("dance")]
        [InlineData("welcome")]  // the server's frames are not the client's to send
        [InlineData("status")]
        [InlineData("message")]
        [InlineData("users")]
        [InlineData("presence")]
        [InlineData("error")]
        [InlineData("SEND")]     // types are case-sensitive
        public async Task AnUnknownFrameTypeIsAnErrorThatNamesIt(string type)
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice");

            await alice.SendAsync("{\"type\":\"" + type + "\",\"ref\":\"u1\",\"to\":\"alice\",\"text\":\"x\"}");

            JsonObject error = await alice.ReadAsync();
            Assert.Equal(("error", "malformed-frame", "u1"), (Type(error), Str(error, "code"), Str(error, "ref")));
            Assert.Contains("\"" + type + "\"", Str(error, "message"));
            await alice.AssertNothingWaitingAsync();
        }

        [Theory]
        [InlineData("")]
        [InlineData("   ")]
        [InlineData("\r")]
        public async Task ABlankLineIsIgnoredAsInTheClassicProtocol(string line)
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice");

            await alice.SendAsync(line);
            await alice.SendFrameAsync(new JsonObject { ["type"] = "ping" });

            // The first thing back is the pong: the blank line earned no error.
            Assert.Equal("pong", Type(await alice.ReadAsync()));
        }

        [Theory]
        [InlineData("hello?")]
        [InlineData("[1,2,3]")]
        [InlineData("42")]
        [InlineData("\"send\"")]
        [InlineData("null")]
        [InlineData("{}")]
        [InlineData("{\"ref\":\"1\"}")]
        [InlineData("{\"type\":5}")]
        [InlineData("{\"type\":\"send\",\"to\":5,\"text\":\"x\"}")]
        [InlineData("{\"type\":\"send\",\"to\":\"alice\",\"text\":[\"x\"]}")]
        [InlineData("{\"type\":\"ack\",\"id\":42}")]
        [InlineData("{\"type\":\"ping\",}")]
        [InlineData("{\"type\":\"ping\"}{\"type\":\"ping\"}")]
        [InlineData("{\"type\":\"send\",\"to\":\"alice\",\"text\":\"\\ud800\"}")] // an escape that is no character
        [InlineData("{\"type\":\"send\",\"to\":\"alice\",\"text\":\"unterminated}")]
        public async Task AMalformedFrameIsAnsweredAndTheConnectionStaysUsable(string line)
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice");

            await alice.SendAsync(line);

            JsonObject error = await alice.ReadAsync();
            Assert.Equal(("error", "malformed-frame"), (Type(error), Str(error, "code")));
            Assert.False(string.IsNullOrWhiteSpace(Str(error, "message")));

            // Still connected, still in step, still able to chat.
            await alice.AssertNothingWaitingAsync();
            await alice.SendMessageAsync("alice", "to myself", "r1");
            JsonObject message = await alice.ExpectAsync("message");
            Assert.Equal("to myself", Str(message, "text"));
            Assert.True(server.IsOnline("alice"));
            ServerEvent refused = await server.WaitForEventAsync(ServerEventKind.LineRefused, "alice");
            Assert.StartsWith("malformed-frame", refused.Detail);
            Assert.DoesNotContain(server.Events, e => e.Kind == ServerEventKind.ServerError || e.Kind == ServerEventKind.UserLeft);
        }

        [Fact]
        public async Task ManyBadFramesInARowLeaveTheSessionIntact()
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice");
            using NativePeer bob = await server.JoinNativeAsync("bob");

            var garbage = new StringBuilder();
            for (int i = 0; i < 50; i++)
            {
                garbage.Append("{\"type\":\"nope\",\"ref\":\"g").Append(i).Append("\"}\nnot json ").Append(i).Append('\n');
            }

            await alice.Raw.SendAsync(garbage.ToString());
            await alice.SendMessageAsync("bob", "after the noise", "real");

            // 100 errors in order, then the status of the real message once bob acks it.
            for (int i = 0; i < 50; i++)
            {
                JsonObject unknown = await alice.ExpectAsync("error");
                Assert.Equal("g" + i, Str(unknown, "ref"));
                JsonObject notJson = await alice.ExpectAsync("error");
                Assert.Null(Str(notJson, "ref"));
            }

            JsonObject message = await bob.ExpectAsync("message");
            Assert.Equal("after the noise", Str(message, "text"));
            await bob.AckAsync(Str(message, "id"));
            JsonObject status = await alice.ExpectAsync("status");
            Assert.Equal(("real", "delivered"), (Str(status, "ref"), Str(status, "status")));
        }

        // ---- Sending and its fate ----

        [Theory]
        [InlineData("{\"type\":\"send\",\"ref\":\"s1\",\"text\":\"hi\"}")]
        [InlineData("{\"type\":\"send\",\"ref\":\"s1\",\"to\":\"alice\"}")]
        [InlineData("{\"type\":\"send\",\"ref\":\"s1\",\"to\":null,\"text\":\"hi\"}")]
        public async Task ASendWithoutToOrTextIsRefusedWithItsRef(string line)
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice");

            await alice.SendAsync(line);

            JsonObject status = await alice.ReadAsync();
            Assert.Equal(("status", "s1", "refused", "malformed-frame"), (Type(status), Str(status, "ref"), Str(status, "status"), Str(status, "reason")));
            // Nothing was accepted, so there is no id and no time.
            Assert.Null(status["id"]);
            Assert.Null(status["sentAt"]);
            await alice.AssertNothingWaitingAsync();
        }

        [Theory]
        [InlineData("nobody")]
        [InlineData("chatrm")]   // the server's own name is nobody's
        [InlineData("bad name")]
        [InlineData("a_b")]
        [InlineData("")]
        [InlineData("abcdefghijklmnopqrstuvwxyz0123456789")]
        public async Task ASendToNoSuchUserIsRefusedUnknownUser(string to)
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice");
            DateTime before = DateTime.UtcNow;

            await alice.SendMessageAsync(to, "hello?", "u1");

            JsonObject status = await alice.ExpectAsync("status");
            Assert.Equal(("u1", "refused", "unknown-user"), (Str(status, "ref"), Str(status, "status"), Str(status, "reason")));
            Assert.False(string.IsNullOrEmpty(Str(status, "id")));
            Assert.InRange(Time(status, "sentAt"), before, DateTime.UtcNow);
            Assert.False(string.IsNullOrWhiteSpace(Str(status, "message")));
            ServerEvent refused = await server.WaitForEventAsync(ServerEventKind.LineRefused, "alice");
            Assert.StartsWith("unknown-user", refused.Detail);
        }

        [Fact]
        public async Task ASendToAUserWhoLeftIsStoredForThem()
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice");
            using (NativePeer bob = await server.JoinNativeAsync("bob"))
            {
                await bob.SendAsync("{\"type\":\"bye\"}");
            }

            await server.WaitForEventAsync(ServerEventKind.UserLeft, "bob");
            await alice.SendMessageAsync("BOB", "are you there", "o1");

            // Known, so kept for bob (issue 16), no longer refused user-offline; the status names it as sent.
            JsonObject status = await alice.ExpectAsync("status");
            Assert.Equal(("o1", "stored", null, "BOB"), (Str(status, "ref"), Str(status, "status"), Str(status, "reason"), Str(status, "to")));
            Assert.NotNull(Str(status, "id"));
        }

        [Fact]
        public async Task DeliveredComesOnlyOnceTheRecipientAcks()
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice");
            using NativePeer bob = await server.JoinNativeAsync("bob");
            DateTime before = DateTime.UtcNow;

            await alice.SendAsync("{\"type\":\"send\",\"ref\":\"r1\",\"to\":\"BOB\",\"text\":\"hi_bob\"}");

            JsonObject message = await bob.ExpectAsync("message");
            DateTime after = DateTime.UtcNow;
            string id = Str(message, "id");
            Assert.False(string.IsNullOrEmpty(id));
            Assert.Equal(("alice", "bob", "hi_bob"), (Str(message, "from"), Str(message, "to"), Str(message, "text")));
            Assert.InRange(Time(message, "sentAt"), before, after);

            // Not acked yet: alice has heard nothing.
            await alice.AssertNothingWaitingAsync();

            await bob.AckAsync(id);

            JsonObject status = await alice.ExpectAsync("status");
            Assert.Equal(("r1", id, "delivered"), (Str(status, "ref"), Str(status, "id"), Str(status, "status")));
            Assert.Equal(Str(message, "sentAt"), Str(status, "sentAt"));
            Assert.Equal("bob", Str(status, "to"), ignoreCase: true);
            Assert.Null(status["reason"]);
        }

        [Fact]
        public async Task OnlyTheRecipientsFirstAckCounts()
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice");
            using NativePeer bob = await server.JoinNativeAsync("bob");
            using NativePeer carol = await server.JoinNativeAsync("carol");

            await alice.SendMessageAsync("bob", "for bob only", "r1");
            string id = Str(await bob.ExpectAsync("message"), "id");

            // carol cannot confirm bob's message.
            await carol.AckAsync(id);
            await carol.AssertNothingWaitingAsync();   // her ack has been handled
            await alice.AssertNothingWaitingAsync();

            await bob.AckAsync(id);
            await bob.AckAsync(id);
            await bob.AssertNothingWaitingAsync();     // both acks handled

            JsonObject status = await alice.ExpectAsync("status");
            Assert.Equal(("r1", "delivered"), (Str(status, "ref"), Str(status, "status")));
            await alice.AssertNothingWaitingAsync();   // one status, not two
        }

        [Fact]
        public async Task TheSenderIsTheRegisteredNameWhateverTheFrameClaims()
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice");
            using NativePeer bob = await server.JoinNativeAsync("bob");

            await alice.SendAsync("{\"type\":\"send\",\"from\":\"mallory\",\"id\":\"666\",\"sentAt\":\"2000-01-01T00:00:00Z\",\"to\":\"bob\",\"text\":\"hi\"}");

            JsonObject message = await bob.ExpectAsync("message");
            Assert.Equal("alice", Str(message, "from"));
            Assert.NotEqual("666", Str(message, "id"));
            Assert.True(Time(message, "sentAt").Year > 2000);
        }

        [Fact]
        public async Task EveryMessageGetsItsOwnIdAndEverySendOneStatus()
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice");
            using NativePeer bob = await server.JoinNativeAsync("bob");
            using RawClient carol = await server.JoinAsync("carol");
            const int each = 20;

            var burst = new StringBuilder();
            for (int i = 0; i < each; i++)
            {
                burst.Append(new JsonObject { ["type"] = "send", ["ref"] = "b" + i, ["to"] = "bob", ["text"] = "to bob " + i }.ToJsonString()).Append('\n');
                burst.Append(new JsonObject { ["type"] = "send", ["ref"] = "c" + i, ["to"] = "carol", ["text"] = "to carol " + i }.ToJsonString()).Append('\n');
                burst.Append(new JsonObject { ["type"] = "send", ["ref"] = "n" + i, ["to"] = "nobody", ["text"] = "lost " + i }.ToJsonString()).Append('\n');
            }

            await alice.Raw.SendAsync(burst.ToString());

            // bob acks each as it comes, in order.
            var bobsIds = new List<string>();
            for (int i = 0; i < each; i++)
            {
                JsonObject message = await bob.ExpectAsync("message");
                Assert.Equal("to bob " + i, Str(message, "text"));
                bobsIds.Add(Str(message, "id"));
                await bob.AckAsync(Str(message, "id"));
            }

            for (int i = 0; i < each; i++)
            {
                Assert.Equal("carol_alice_to carol " + i, await carol.ReadLineAsync());
            }

            var statuses = new Dictionary<string, JsonObject>();
            while (statuses.Count < 3 * each)
            {
                JsonObject status = await alice.ExpectAsync("status");
                Assert.True(statuses.TryAdd(Str(status, "ref"), status), "two statuses for " + Str(status, "ref"));
            }

            await alice.AssertNothingWaitingAsync();
            Assert.Equal(3 * each, statuses.Values.Select(s => Str(s, "id")).Distinct().Count());
            for (int i = 0; i < each; i++)
            {
                Assert.Equal(("delivered", bobsIds[i]), (Str(statuses["b" + i], "status"), Str(statuses["b" + i], "id")));
                Assert.Equal("forwarded", Str(statuses["c" + i], "status"));
                Assert.Equal(("refused", "unknown-user"), (Str(statuses["n" + i], "status"), Str(statuses["n" + i], "reason")));
            }
        }

        [Theory]
        [InlineData("close", false)]
        [InlineData("bye", false)]
        [InlineData("reset", false)]
        [InlineData("close", true)]
        [InlineData("reset", true)]
        public async Task ARecipientThatLeavesWithoutAckingHasThemKeptInItsInboxInOrder(string howBobLeaves, bool storeFile)
        {
            using var file = new TempStoreFile();
            await using var server = new TestServer(o => o.StorePath = storeFile ? file.Path : null);
            using NativePeer alice = await server.JoinNativeAsync("alice");
            NativePeer bob = await server.JoinNativeAsync("bob");

            for (int i = 1; i <= 3; i++)
            {
                await alice.SendMessageAsync("bob", "unconfirmed " + i, "r" + i);
            }

            var ids = new List<string>();
            for (int i = 1; i <= 3; i++)
            {
                ids.Add(Str(await bob.ExpectAsync("message"), "id"));
            }

            await alice.AssertNothingWaitingAsync(); // no ack, no status
            switch (howBobLeaves)
            {
                case "bye": await bob.SendAsync("{\"type\":\"bye\"}"); break;
                case "reset": bob.Raw.Abort(); break;
            }

            bob.Dispose();

            // Each waits in bob's inbox, and alice hears stored (same id), not recipient-left.
            var statuses = new List<JsonObject>();
            for (int i = 0; i < 3; i++)
            {
                statuses.Add(await alice.ExpectAsync("status"));
            }

            Assert.All(statuses, s => Assert.Equal("stored", Str(s, "status")));
            Assert.Equal(new[] { "r1", "r2", "r3" }, statuses.Select(s => Str(s, "ref")).OrderBy(r => r));
            Assert.Equal(ids.OrderBy(i => i), statuses.Select(s => Str(s, "id")).OrderBy(i => i));

            // One sent after bob left comes after them.
            await Eventually.TrueAsync(() => !server.IsOnline("bob"), "bob is gone");
            await alice.SendMessageAsync("bob", "after", "r4");
            Assert.Equal("stored", Str(await alice.ExpectAsync("status"), "status"));

            using NativePeer back = await server.JoinNativeAsync("bob");
            var again = new List<JsonObject>();
            for (int i = 0; i < 4; i++)
            {
                again.Add(await back.ExpectAsync("message"));
            }

            Assert.Equal(new[] { "unconfirmed 1", "unconfirmed 2", "unconfirmed 3", "after" }, again.Select(m => Str(m, "text")));
            Assert.Equal(ids, again.Take(3).Select(m => Str(m, "id")));
            await back.AckAsync(Str(again[0], "id"));
            JsonObject receipt = await alice.ExpectAsync("status");
            Assert.Equal(("delivered", ids[0]), (Str(receipt, "status"), Str(receipt, "id")));
        }

        [Fact]
        public async Task AMessageWithLineBreaksReachesANativeRecipientWholeOnOneLine()
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice");
            using NativePeer bob = await server.JoinNativeAsync("bob");
            const string text = "first line\nsecond_line_with_underscores\r\nthird\rfourth\n\n✓ 日本 🎉\n";

            await alice.SendMessageAsync("bob", text, "m1");

            // Skip bob's presence frames, then look at the message frame's very bytes.
            byte[] bytes;
            JsonObject message;
            do
            {
                bytes = await bob.Raw.ReadLineBytesAsync();
                message = JsonNode.Parse(bytes).AsObject();
            }
            while (Type(message) == "presence");

            Assert.Equal("message", Type(message));
            Assert.DoesNotContain((byte)'\r', bytes);
            Assert.Equal(text, Str(message, "text"));
            // Readable in nc: the letters themselves are in the line.
            Assert.Contains("✓ 日本", Encoding.UTF8.GetString(bytes));
        }

        [Fact]
        public async Task RawUtf8FromTheClientIsRead()
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice");
            using NativePeer bob = await server.JoinNativeAsync("bob");

            // Typed as is, not escaped: UTF-8 straight from a terminal.
            await alice.SendAsync("{\"type\":\"send\",\"to\":\"bob\",\"text\":\"héllo ✓ 日本 🎉 \\\"quoted\\\" \\\\ \\u00e9\"}");

            Assert.Equal("héllo ✓ 日本 🎉 \"quoted\" \\ é", Str(await bob.ExpectAsync("message"), "text"));
        }

        // ---- Presence ----

        [Fact]
        public async Task PresenceTellsEveryOtherNativeUserWhoJoinedAndLeft()
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice");

            DateTime before = DateTime.UtcNow;
            NativePeer bob = await server.JoinNativeAsync("bob");
            JsonObject bobJoined = await alice.ReadAsync();
            Assert.Equal(("presence", "joined", "bob"), (Type(bobJoined), Str(bobJoined, "event"), Str(bobJoined, "user")));
            Assert.InRange(Time(bobJoined, "time"), before, DateTime.UtcNow);

            // bob hears nothing about himself, nor about alice who was there first.
            await bob.SendAsync("{\"type\":\"ping\",\"ref\":\"b\"}");
            Assert.Equal("pong", Type(await bob.ReadAsync()));

            // A classic user's coming and going is reported too, to both native users.
            RawClient carol = await server.JoinAsync("Carol");
            foreach (NativePeer peer in new[] { alice, bob })
            {
                JsonObject carolJoined = await peer.ReadAsync();
                Assert.Equal(("presence", "joined", "Carol"), (Type(carolJoined), Str(carolJoined, "event"), Str(carolJoined, "user")));
            }

            // The classic user gets no presence lines: the next line she reads is her own message.
            await carol.SendAsync("Carol_Carol_x\n");
            Assert.Equal("Carol_Carol_x", await carol.ReadLineAsync());

            await bob.SendAsync("{\"type\":\"bye\"}");
            bob.Dispose();
            JsonObject bobLeft = await alice.ReadAsync();
            Assert.Equal(("presence", "left", "bob"), (Type(bobLeft), Str(bobLeft, "event"), Str(bobLeft, "user")));

            await carol.SendAsync("EXIT\n");
            carol.Dispose();
            JsonObject carolLeft = await alice.ReadAsync();
            Assert.Equal(("presence", "left", "Carol"), (Type(carolLeft), Str(carolLeft, "event"), Str(carolLeft, "user")));
            Assert.True(Time(carolLeft, "time") >= Time(bobLeft, "time"));
        }

        [Fact]
        public async Task AUserWhoSaysPresenceFalseHearsNoPresenceButIsAnnounced()
        {
            await using var server = new TestServer();
            using NativePeer watcher = await server.JoinNativeAsync("watcher");
            using NativePeer quiet = await NativePeer.ConnectAsync(server.EndPoint, "quiet");
            await quiet.SendAsync("{\"type\":\"hello\",\"protocol\":\"chatrm_native\",\"version\":1,\"user\":\"quiet\",\"presence\":false}");
            Assert.Equal("welcome", Type(await quiet.ReadAsync()));

            // Others still hear of the quiet user.
            JsonObject joined = await watcher.ReadAsync();
            Assert.Equal(("presence", "joined", "quiet"), (Type(joined), Str(joined, "event"), Str(joined, "user")));

            // The quiet user hears nobody come and go: after dave joins and leaves, the next frame is its pong.
            using (NativePeer dave = await server.JoinNativeAsync("dave"))
            {
                Assert.Equal("joined", Str(await watcher.ReadAsync(), "event"));
            }

            Assert.Equal("left", Str(await watcher.ReadAsync(), "event"));
            await quiet.SendAsync("{\"type\":\"ping\",\"ref\":\"q\"}");
            JsonObject pong = await quiet.ReadAsync();
            Assert.Equal(("pong", "q"), (Type(pong), Str(pong, "ref")));

            // And it chats as any user does.
            await quiet.SendMessageAsync("watcher", "hi", "1");
            JsonObject message = await watcher.ExpectAsync("message");
            Assert.Equal(("quiet", "hi"), (Str(message, "from"), Str(message, "text")));
        }

        [Fact]
        public async Task AClientThatAsksForNoPresenceSaysSoInItsHello()
        {
            await using var server = new TestServer();
            using NativePeer watcher = await server.JoinNativeAsync("watcher");
            using ChatClient quiet = await server.ConnectNativeAsync("quiet", new ClientOptions { ReceivePresence = false });
            Assert.Equal("joined", Str(await watcher.ReadAsync(), "event"));

            using (NativePeer dave = await server.JoinNativeAsync("dave"))
            {
                Assert.Equal("joined", Str(await watcher.ReadAsync(), "event"));
            }

            Assert.Equal("left", Str(await watcher.ReadAsync(), "event"));

            // A message sent after dave came and went arrives with nothing before it: no presence was queued.
            Task arrival = quiet.NextArrival();
            await watcher.SendMessageAsync("quiet", "after dave", "1");
            await arrival.WaitAsync(RawClient.Deadline);
            List<object> items = quiet.Take(100, includePresence: true);
            Assert.Equal("after dave", Assert.IsType<ChatMessage>(Assert.Single(items)).Text);
        }

        // ---- Keepalive ----

        [Fact]
        public async Task APeerThatStopsAnsweringIsPingedThenDropped()
        {
            // Short enough to be quick, long enough that the watcher, who must answer its own pings within an
            // interval, is not dropped too on a loaded machine.
            var interval = TimeSpan.FromMilliseconds(400);
            await using var server = new TestServer(o => o.KeepAliveInterval = interval);
            using ChatClient watcher = await server.ConnectNativeAsync("watcher");
            var clock = Stopwatch.StartNew();
            using NativePeer mute = await server.JoinNativeAsync("mute");

            // The watcher sends mute a message mute never acks; its fate waits on mute.
            Task<SentMessage> fate = watcher.SendAsync("mute", "are you there?");

            // mute reads but never answers: a ping, then the keepalive error, then the close.
            List<string> lines = await mute.Raw.ReadUntilClosedAsync();
            clock.Stop();
            var frames = lines.Select(l => JsonNode.Parse(l).AsObject()).ToList();
            Assert.Contains(frames, f => Type(f) == "ping");
            JsonObject last = frames[frames.Count - 1];
            Assert.Equal(("error", "keepalive-timeout"), (Type(last), Str(last, "code")));
            Assert.Single(frames, f => Type(f) == "error");
            Assert.True(frames.FindIndex(f => Type(f) == "ping") < frames.Count - 1, "the ping comes before the error");

            // Not before a ping went unanswered for a whole interval.
            Assert.True(clock.Elapsed >= 1.5 * interval, $"dropped after only {clock.ElapsedMilliseconds} ms");

            ServerEvent left = await server.WaitForEventAsync(ServerEventKind.UserLeft, "mute");
            Assert.Contains("keepalive", left.Detail);
            Assert.False(server.IsOnline("mute"));

            // The other user hears that mute left, and that the message was never confirmed.
            await Eventually.TrueAsync(
                () => watcher.Take(100, includePresence: true).OfType<PresenceEvent>().Any(p => p.Kind == PresenceChange.Left && p.UserName == "mute"),
                "the watcher hears that mute left");
            // Never confirmed: it waits in mute's inbox (every test server has a store), and the watcher is told so.
            SentMessage sent = await fate.WaitAsync(RawClient.Deadline);
            Assert.Equal(SendStatus.Stored, sent.Status);

            // The watcher answered its pings all along and is still here.
            Assert.Equal(ConnectionState.Open, watcher.State);
            Assert.True(server.IsOnline("watcher"));
        }

        [Fact]
        public async Task APeerThatAnswersPingsStaysForManyIntervals()
        {
            await using var server = new TestServer(o => o.KeepAliveInterval = TimeSpan.FromMilliseconds(300));
            using ChatClient early = await server.ConnectNativeAsync("early"); // Chatrm's client answers by itself
            using NativePeer alice = await server.JoinNativeAsync("alice");

            // alice answers each ping by hand, as a person with nc would.
            int pings = 0;
            while (pings < 4)
            {
                JsonObject frame = await alice.ReadAsync();
                if (Type(frame) == "ping")
                {
                    pings++;
                    await alice.SendAsync("{\"type\":\"pong\"}");
                }
            }

            // Four pings means at least four intervals have passed for her, and more for early.
            Assert.True(server.IsOnline("alice"));
            Assert.True(server.IsOnline("early"));
            Assert.Equal(ConnectionState.Open, early.State);
            Assert.DoesNotContain(server.Events, e => e.Kind == ServerEventKind.UserLeft);
            Assert.Equal(SendStatus.Delivered, (await early.SendAsync("early", "still here").WaitAsync(RawClient.Deadline)).Status);
        }

        [Fact]
        public async Task AnyFrameAnswersAPing()
        {
            await using var server = new TestServer(o => o.KeepAliveInterval = TimeSpan.FromMilliseconds(300));
            using NativePeer alice = await server.JoinNativeAsync("alice");

            // Answer each ping with something other than a pong: a who, or a frame of a later version.
            int pings = 0, answers = 0;
            while (pings < 3)
            {
                JsonObject frame = await alice.ReadAsync();
                switch (Type(frame))
                {
                    case "ping":
                        pings++;
                        await alice.SendAsync(pings % 2 == 0 ? "{\"type\":\"who\"}" : "{\"type\":\"later-version-frame\"}");
                        break;
                    case "users":
                    case "error":
                        Assert.NotEqual("keepalive-timeout", Str(frame, "code"));
                        answers++;
                        break;
                    default:
                        Assert.Fail("Unexpected frame: " + frame.ToJsonString());
                        break;
                }
            }

            Assert.True(answers >= 2);
            Assert.True(server.IsOnline("alice"));
            Assert.DoesNotContain(server.Events, e => e.Kind == ServerEventKind.UserLeft);
        }

        // ---- Limits ----

        [Fact]
        public async Task AFrameOverTheLimitIsAnsweredSkippedAndTheConnectionStaysInStep()
        {
            await using var server = new TestServer(o => o.MaxLineBytes = 256);
            using NativePeer alice = await server.JoinNativeAsync("alice");
            using NativePeer bob = await server.JoinNativeAsync("bob");

            await alice.SendMessageAsync("bob", new string('x', 1000), "big");
            JsonObject error = await alice.ExpectAsync("error");
            Assert.Equal("line-too-long", Str(error, "code"));
            Assert.Contains("256", Str(error, "message"));

            await alice.SendMessageAsync("bob", "small", "small");
            JsonObject message = await bob.ExpectAsync("message");
            Assert.Equal("small", Str(message, "text")); // the big one never reached bob
            ServerEvent refused = await server.WaitForEventAsync(ServerEventKind.LineRefused, "alice");
            Assert.StartsWith("line-too-long", refused.Detail);
        }

        [Fact]
        public async Task AFrameAtTheLimitPassesAndOneByteMoreDoesNot()
        {
            const int limit = 256;
            await using var server = new TestServer(o => o.MaxLineBytes = limit);
            using NativePeer alice = await server.JoinNativeAsync("alice");

            await alice.SendAsync(SendFrameOfExactly(limit, "fits", 'x'));
            JsonObject message = await alice.ExpectAsync("message");
            Assert.StartsWith("xxx", Str(message, "text"));
            await alice.AckAsync(Str(message, "id"));
            JsonObject status = await alice.ExpectAsync("status");
            Assert.Equal(("fits", "delivered"), (Str(status, "ref"), Str(status, "status")));

            await alice.SendAsync(SendFrameOfExactly(limit + 1, "over", 'x'));
            Assert.Equal("line-too-long", Str(await alice.ExpectAsync("error"), "code"));

            // Bytes count, not characters: 'é' is two bytes in UTF-8.
            string twoByteChars = "{\"type\":\"send\",\"to\":\"alice\",\"text\":\"" + new string('é', 120) + "\"}";
            Assert.True(twoByteChars.Length < limit && Encoding.UTF8.GetByteCount(twoByteChars) > limit);
            await alice.SendAsync(twoByteChars);
            Assert.Equal("line-too-long", Str(await alice.ExpectAsync("error"), "code"));
            await alice.AssertNothingWaitingAsync();
        }

        [Fact]
        public async Task AOneMebibyteFrameIsSkippedAndTheConnectionStaysInStep()
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice");

            await alice.SendMessageAsync("alice", new string('z', 1024 * 1024), "huge");
            await alice.SendAsync("{\"type\":\"ping\",\"ref\":\"after\"}");

            Assert.Equal("line-too-long", Str(await alice.ExpectAsync("error"), "code"));
            JsonObject pong = await alice.ExpectAsync("pong");
            Assert.Equal("after", Str(pong, "ref"));
            Assert.True(server.IsOnline("alice"));
        }

        [Fact]
        public async Task ANativeRecipientThatNeverReadsIsDroppedAndTheSenderIsTold()
        {
            // The queue limit is small, but not so small that alice's statuses overflow it: bob's leaving sends
            // her a burst of recipient-left statuses, one for each message the socket buffers held for him.
            await using var server = new TestServer(o =>
            {
                o.MaxQueuedBytesPerConnection = 1024 * 1024;
                o.CloseGrace = TimeSpan.FromMilliseconds(200);
            });
            using NativePeer alice = await server.JoinNativeAsync("alice");
            using NativePeer bob = await server.JoinNativeAsync("bob"); // bob never reads again

            // alice floods bob and reads her statuses as they come, so only bob's side backs up.
            using var done = new CancellationTokenSource();
            var reasons = new List<string>();
            Task reader = Task.Run(async () =>
            {
                while (!reasons.Contains("stored"))
                {
                    JsonObject frame = await alice.ReadAsync();
                    if (Type(frame) == "status")
                    {
                        lock (reasons)
                        {
                            reasons.Add(Str(frame, "reason") ?? Str(frame, "status"));
                        }

                        if (Str(frame, "reason") == "recipient-too-slow")
                        {
                            done.Cancel();
                        }
                    }
                }
            });
            string text = new string('z', 8000);
            string chunk = string.Concat(Enumerable.Range(0, 8).Select(_ => "{\"type\":\"send\",\"to\":\"bob\",\"text\":\"" + text + "\"}\n"));
            long sent = 0;
            while (!done.IsCancellationRequested && !reader.IsCompleted && sent < 512L * 1024 * 1024)
            {
                await alice.Raw.SendAsync(chunk);
                sent += chunk.Length;
            }

            await reader.WaitAsync(RawClient.Deadline);
            lock (reasons)
            {
                Assert.Contains("recipient-too-slow", reasons);
                // The messages bob was handed and never confirmed wait in his inbox, and alice is told so.
                Assert.Contains("stored", reasons);
                Assert.DoesNotContain("delivered", reasons);
                Assert.DoesNotContain("forwarded", reasons);
            }

            ServerEvent left = await server.WaitForEventAsync(ServerEventKind.UserLeft, "bob");
            Assert.Contains("too slow", left.Detail);
            Assert.True(server.IsOnline("alice"));
        }

        [Fact]
        public async Task ANativeSenderThatNeverReadsItsStatusesIsDroppedNotSilentlyShortChanged()
        {
            // Each send to nobody earns a status; alice never reads them. Once her queue is full, a status can
            // no longer be sent: she is dropped as too slow, as a recipient would be. (Dropping only the status
            // would leave her waiting forever for the fate of a message.)
            await using var server = new TestServer(o =>
            {
                o.MaxQueuedBytesPerConnection = 64 * 1024;
                o.CloseGrace = TimeSpan.FromMilliseconds(200);
            });
            using NativePeer carol = await server.JoinNativeAsync("carol");
            using NativePeer alice = await server.JoinNativeAsync("alice");

            byte[] chunk = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 1000).Select(i => "{\"type\":\"send\",\"to\":\"nobody\",\"text\":\"x\"}\n")));
            long sent = 0;
            try
            {
                while (!server.Events.Any(e => e.Kind == ServerEventKind.UserLeft) && sent < 64L * 1024 * 1024)
                {
                    await alice.Raw.SendAsync(chunk);
                    sent += chunk.Length;
                }
            }
            catch (System.IO.IOException)
            {
                // The server closed alice's connection while she was still writing.
            }

            ServerEvent left = await server.WaitForEventAsync(ServerEventKind.UserLeft, "alice");
            Assert.Contains("too slow", left.Detail);
            JsonObject joined = await carol.ReadAsync();
            Assert.Equal(("presence", "joined", "alice"), (Type(joined), Str(joined, "event"), Str(joined, "user")));
            JsonObject gone = await carol.ReadAsync();
            Assert.Equal(("presence", "left", "alice"), (Type(gone), Str(gone, "event"), Str(gone, "user")));
        }

        [Fact]
        public async Task AStoppingServerSaysByeThenCloses()
        {
            var server = new TestServer();
            await using (server)
            {
                using NativePeer alice = await server.JoinNativeAsync("alice");

                Task stopping = server.Server.StopAsync();

                JsonObject bye = JsonNode.Parse(Assert.Single(await alice.Raw.ReadUntilClosedAsync())).AsObject();
                Assert.Equal(("bye", "server-stopping"), (Type(bye), Str(bye, "reason")));
                Assert.False(string.IsNullOrWhiteSpace(Str(bye, "message")));
                await stopping.WaitAsync(RawClient.Deadline);
            }
        }

        /// <summary>A send frame to alice (from alice) of exactly <paramref name="bytes"/> bytes, ASCII only.</summary>
        private static string SendFrameOfExactly(int bytes, string reference, char fill)
        {
            string head = "{\"type\":\"send\",\"ref\":\"" + reference + "\",\"to\":\"alice\",\"text\":\"";
            const string tail = "\"}";
            string frame = head + new string(fill, bytes - head.Length - tail.Length) + tail;
            Assert.Equal(bytes, Encoding.UTF8.GetByteCount(frame));
            return frame;
        }

        [Fact]
        public async Task AServerWithAnIdentityWritesItIntoEveryIdAndTakesItsAcks()
        {
            await using var server = new TestServer(router: new LocalRouter(serverId: 7));
            using NativePeer alice = await server.JoinNativeAsync("alice");
            using NativePeer bob = await server.JoinNativeAsync("bob");

            await alice.SendMessageAsync("bob", "hi", "r1");
            JsonObject message = await bob.ExpectAsync("message");
            string id = Str(message, "id");
            Assert.Matches(@"^7\.[1-9][0-9]*$", id);

            await bob.AckThroughAsync(id);
            JsonObject status = await alice.ExpectAsync("status");
            Assert.Equal(id, Str(status, "id"));
            Assert.Equal("delivered", Str(status, "status"));
        }
    }
}
