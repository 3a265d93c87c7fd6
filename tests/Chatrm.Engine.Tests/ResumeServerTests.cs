using System;
using System.Text.Json.Nodes;
using System.Threading.Tasks;
using Chatrm.Engine.Server;
using Xunit;

namespace Chatrm.Engine.Tests
{
    /// <summary>The server's half of reconnect and resume (issue 17): the resume token, the welcome's fields, room seq.</summary>
    public sealed class ResumeServerTests
    {
        private const string Token = "0123456789abcdef0123456789abcdef";

        /// <summary>Says a hello with <paramref name="token"/> (and a password when given) and reads the first answer.</summary>
        private static async Task<(NativePeer Peer, JsonObject Answer)> HelloAsync(TestServer server, string name, string token, string password = null)
        {
            NativePeer peer = await NativePeer.ConnectAsync(server.EndPoint, name);
            JsonObject hello = JsonNode.Parse(NativePeer.Hello(name)).AsObject();
            if (token != null)
            {
                hello["resume"] = token;
            }

            if (password != null)
            {
                hello["password"] = password;
            }

            await peer.SendFrameAsync(hello);
            return (peer, await peer.ReadAsync());
        }

        [Fact]
        public async Task TheSameTokenTakesItsOwnSessionOver()
        {
            await using var server = new TestServer();
            (NativePeer old, JsonObject first) = await HelloAsync(server, "alice", Token);
            using (old)
            {
                Assert.Equal("welcome", NativePeer.Type(first));
                (NativePeer fresh, JsonObject second) = await HelloAsync(server, "alice", Token);
                using (fresh)
                {
                    Assert.Equal("welcome", NativePeer.Type(second));
                    Assert.Equal("replaced", NativePeer.Str(await old.ExpectAsync("error"), "code"));
                    Assert.True(server.IsOnline("alice"));
                }
            }
        }

        [Fact]
        public async Task TheSameTokenTakesOverWithCredentialsToo()
        {
            var credentials = new CredentialStore();
            credentials.Add("alice", "s3cret", 1_000);
            await using var server = new TestServer(o => o.Credentials = credentials);
            (NativePeer old, JsonObject first) = await HelloAsync(server, "alice", Token, "s3cret");
            using (old)
            {
                Assert.Equal("welcome", NativePeer.Type(first));
                (NativePeer wrong, JsonObject refused) = await HelloAsync(server, "alice", Token, "guess");
                using (wrong)
                {
                    // Credentials are checked before the token: a stolen token without the password takes nothing.
                    Assert.Equal("auth-failed", NativePeer.Str(refused, "code"));
                }

                (NativePeer fresh, JsonObject second) = await HelloAsync(server, "alice", Token, "s3cret");
                using (fresh)
                {
                    Assert.Equal("welcome", NativePeer.Type(second));
                    Assert.Equal("replaced", NativePeer.Str(await old.ExpectAsync("error"), "code"));
                }
            }
        }

        [Theory]
        [InlineData("fedcba9876543210fedcba9876543210")]
        [InlineData(null)]
        public async Task AnotherOrNoTokenOnAHeldNameIsNameTaken(string token)
        {
            await using var server = new TestServer();
            (NativePeer old, _) = await HelloAsync(server, "alice", Token);
            using (old)
            {
                (NativePeer other, JsonObject answer) = await HelloAsync(server, "alice", token);
                using (other)
                {
                    Assert.Equal("error", NativePeer.Type(answer));
                    Assert.Equal("name-taken", NativePeer.Str(answer, "code"));
                }

                // The holder is untouched: it still answers.
                await old.SendFrameAsync(new JsonObject { ["type"] = "ping", ["ref"] = "p" });
                Assert.Equal("p", NativePeer.Str(await old.ExpectAsync("pong"), "ref"));
            }
        }

        [Fact]
        public async Task AHeldNameWithoutATokenIsNotTakenByAnyToken()
        {
            await using var server = new TestServer();
            (NativePeer old, _) = await HelloAsync(server, "alice", null);
            using (old)
            {
                (NativePeer other, JsonObject answer) = await HelloAsync(server, "alice", Token);
                using (other)
                {
                    Assert.Equal("name-taken", NativePeer.Str(answer, "code"));
                }
            }
        }

        [Fact]
        public async Task TheWelcomeSaysResumeAndAScopeNewForEveryMemoryServer()
        {
            string firstScope;
            await using (var server = new TestServer())
            {
                (NativePeer peer, JsonObject welcome) = await HelloAsync(server, "alice", Token);
                using (peer)
                {
                    Assert.True(welcome["resume"]!.GetValue<bool>());
                    firstScope = NativePeer.Str(welcome, "ids");
                    Assert.False(string.IsNullOrEmpty(firstScope));
                }
            }

            await using (var server = new TestServer())
            {
                (NativePeer peer, JsonObject welcome) = await HelloAsync(server, "alice", Token);
                using (peer)
                {
                    Assert.NotEqual(firstScope, NativePeer.Str(welcome, "ids"));
                }
            }
        }

        [Fact]
        public async Task AStoreFileKeepsItsScopeAcrossRestarts()
        {
            using var file = new TempStoreFile();
            string[] scopes = new string[2];
            for (int run = 0; run < 2; run++)
            {
                await using var server = new TestServer(o => o.StorePath = file.Path);
                (NativePeer peer, JsonObject welcome) = await HelloAsync(server, "alice", Token);
                using (peer)
                {
                    scopes[run] = NativePeer.Str(welcome, "ids");
                }
            }

            Assert.False(string.IsNullOrEmpty(scopes[0]));
            Assert.Equal(scopes[0], scopes[1]);
        }

        [Fact]
        public async Task RoomFramesCarryTheRoomsLastSeq()
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice");
            using NativePeer bob = await server.JoinNativeAsync("bob");
            await alice.SendFrameAsync(new JsonObject { ["type"] = "join", ["room"] = "#ops", ["ref"] = "j" });
            // No post yet: no seq (a seq on the wire is never 0).
            Assert.Null((await alice.ExpectAsync("room"))["seq"]);
            for (int i = 0; i < 3; i++)
            {
                await alice.SendMessageAsync("#ops", "line " + i, "s" + i);
                Assert.Equal("posted", NativePeer.Str(await alice.ExpectAsync("status"), "status"));
            }

            // Posts after seq 3 reach bob live; those up to it are history.
            await bob.SendFrameAsync(new JsonObject { ["type"] = "join", ["room"] = "#ops", ["ref"] = "j" });
            Assert.Equal(3, (await bob.ExpectAsync("room"))["seq"]!.GetValue<long>());
            await bob.SendFrameAsync(new JsonObject { ["type"] = "who", ["room"] = "#ops", ["ref"] = "w" });
            Assert.Equal(3, (await bob.ExpectAsync("room"))["seq"]!.GetValue<long>());
            await bob.SendFrameAsync(new JsonObject { ["type"] = "part", ["room"] = "#ops", ["ref"] = "p" });
            Assert.Equal(3, (await bob.ExpectAsync("room"))["seq"]!.GetValue<long>());
        }
    }
}
