using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json.Nodes;
using System.Threading.Tasks;
using Chatrm.Engine.Storage;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;
using Xunit;
using static Chatrm.Engine.Tests.NativePeer;

namespace Chatrm.Engine.Tests
{
    /// <summary>
    /// The resend memory across a graceful restart: a server with a store file keeps each token's refs from its stop
    /// to its next start, so a client that resends a send whose fate it never heard (its link dropped as the server
    /// stopped) hears that fate instead of having it delivered twice. The memory store keeps nothing.
    /// </summary>
    public sealed class ResendRestartTests : IDisposable
    {
        private const string Token = "0123456789abcdef0123456789abcdef";
        private readonly TempStoreFile _file = new TempStoreFile();

        public void Dispose() => _file.Dispose();

        private TestServer Start(TimeProvider clock = null, bool file = true, TimeSpan? window = null) =>
            new TestServer(
                o =>
                {
                    o.StorePath = file ? _file.Path : null;
                    o.ResendWindow = window ?? o.ResendWindow;

                    // A driven clock is advanced by minutes: keepalive far away, so it pings nobody.
                    o.KeepAliveInterval = TimeSpan.FromHours(10);
                },
                clock: clock);

        private static async Task LeaveAsync(TestServer server, NativePeer peer)
        {
            await peer.SendAsync("{\"type\":\"bye\"}");
            peer.Dispose();
            await Eventually.TrueAsync(() => !server.IsOnline(peer.Name), peer.Name + " leaves");
        }

        private long KeptRows(string where = "1")
        {
            using (var connection = new SqliteConnection(SqliteSchema.ConnectionString(_file.Path, readOnly: true)))
            {
                connection.Open();
                return SqliteSchema.Scalar(connection, "SELECT count(*) FROM kept_ref WHERE " + where);
            }
        }

        [Fact]
        public async Task AMessageKeptAtTheStopIsNotDeliveredAgainWhenItsSenderResendsItAfterTheRestart()
        {
            string id;
            await using (TestServer first = Start())
            {
                using NativePeer alice = await first.JoinNativeAsync("alice", resume: Token);
                using NativePeer bob = await first.JoinNativeAsync("bob");
                await alice.SendMessageAsync("bob", "hi", "r1");

                // Bob has it and never acks; alice never reads her status: the stop puts it in bob's inbox, and its
                // fate (stored) is told on the store's writer, after the commit, as the server stops.
                id = Str(await bob.ExpectAsync("message"), "id");
            }

            // Kept under the token's hash, never the token itself.
            Assert.Equal(1, KeptRows());
            Assert.Equal(0, KeptRows($"token_hash = '{Token}'"));
            Assert.DoesNotContain(Token, File.ReadAllText(_file.Path, System.Text.Encoding.Latin1));

            await using TestServer second = Start();
            using (NativePeer alice = await second.JoinNativeAsync("alice", resume: Token))
            {
                await alice.SendMessageAsync("bob", "hi", "r1");
                JsonObject status = await alice.ExpectAsync("status");
                Assert.Equal(("r1", "stored", id, "bob"), (Str(status, "ref"), Str(status, "status"), Str(status, "id"), Str(status, "to")));
                await alice.AssertNothingWaitingAsync();
            }

            // Bob's inbox has it once, with its id; the resend added nothing.
            using NativePeer bob2 = await second.JoinNativeAsync("bob");
            List<JsonObject> inbox = await bob2.DrainAsync();
            Assert.Equal(new[] { id }, inbox.Where(f => Type(f) == "message").Select(f => Str(f, "id")));

            // Taken out of the file at the start: a crash now would leave nothing behind.
            Assert.Equal(0, KeptRows());
        }

        [Fact]
        public async Task ADeliveredMessageIsToldDeliveredAgainAfterTheRestartAndNotRouted()
        {
            string id;
            string sentAt;
            await using (TestServer first = Start())
            {
                using NativePeer bob = await first.JoinNativeAsync("bob");
                using NativePeer alice = await first.JoinNativeAsync("alice", resume: Token);
                await alice.SendMessageAsync("bob", "hi", "r1");
                JsonObject message = await bob.ExpectAsync("message");
                id = Str(message, "id");
                sentAt = Str(message, "sentAt");
                await bob.AckAsync(id);
                await bob.DrainAsync();
            }

            await using TestServer second = Start();
            using NativePeer bob2 = await second.JoinNativeAsync("bob");
            using NativePeer alice2 = await second.JoinNativeAsync("alice", resume: Token);
            await alice2.SendMessageAsync("bob", "hi", "r1");
            JsonObject status = await alice2.ExpectAsync("status");
            Assert.Equal(("delivered", id, sentAt), (Str(status, "status"), Str(status, "id"), Str(status, "sentAt")));
            await bob2.AssertNothingWaitingAsync();
        }

        [Fact]
        public async Task TheWindowCountsFromTheSendAcrossTheRestart()
        {
            var clock = new FakeTimeProvider();
            TimeSpan window = TimeSpan.FromMinutes(1);
            string id;
            await using (TestServer first = Start(clock, window: window))
            {
                using NativePeer alice = await first.JoinNativeAsync("alice", resume: Token);
                using NativePeer bob = await first.JoinNativeAsync("bob");
                await alice.SendMessageAsync("bob", "hi", "r1");
                id = Str(await bob.ExpectAsync("message"), "id");
                await bob.AckAsync(id);
                await bob.DrainAsync();
                clock.Advance(TimeSpan.FromSeconds(30));
            }

            await using TestServer second = Start(clock, window: window);
            using NativePeer bob2 = await second.JoinNativeAsync("bob");
            using NativePeer alice2 = await second.JoinNativeAsync("alice", resume: Token);

            // 59 s after the send: still the same message.
            clock.Advance(TimeSpan.FromSeconds(29));
            await alice2.SendMessageAsync("bob", "hi", "r1");
            Assert.Equal(id, Str(await alice2.ExpectAsync("status"), "id"));
            await bob2.AssertNothingWaitingAsync();

            // 61 s after it (31 s after the start): a new message, routed again.
            clock.Advance(TimeSpan.FromSeconds(2));
            await alice2.SendMessageAsync("bob", "hi", "r1");
            JsonObject again = await bob2.ExpectAsync("message");
            Assert.NotEqual(id, Str(again, "id"));
        }

        [Fact]
        public async Task RefsPastTheWindowAtTheStopAreNotKept()
        {
            var clock = new FakeTimeProvider();
            await using (TestServer first = Start(clock, window: TimeSpan.FromMinutes(1)))
            {
                using NativePeer alice = await first.JoinNativeAsync("alice", resume: Token);
                using NativePeer bob = await first.JoinNativeAsync("bob");
                await alice.SendMessageAsync("bob", "old", "r1");
                await bob.AckAsync(Str(await bob.ExpectAsync("message"), "id"));
                await bob.DrainAsync();
                clock.Advance(TimeSpan.FromSeconds(61));
                await alice.SendMessageAsync("bob", "new", "r2");
                await bob.AckAsync(Str(await bob.ExpectAsync("message"), "id"));
                await bob.DrainAsync();
            }

            Assert.Equal(0, KeptRows("ref = 'r1'"));
            Assert.Equal(1, KeptRows("ref = 'r2'"));
        }

        [Fact]
        public async Task AnotherTokenAfterTheRestartDoesNotGetTheRefs()
        {
            await using (TestServer first = Start())
            {
                using NativePeer alice = await first.JoinNativeAsync("alice", resume: Token);
                using NativePeer bob = await first.JoinNativeAsync("bob");
                await alice.SendMessageAsync("bob", "hi", "r1");
                await bob.AckAsync(Str(await bob.ExpectAsync("message"), "id"));
                await bob.DrainAsync();
            }

            await using TestServer second = Start();
            Assert.Equal(1, second.Server.ResumeStates.RestoredCount);
            using NativePeer bob2 = await second.JoinNativeAsync("bob");
            using NativePeer other = await second.JoinNativeAsync("alice", resume: "fedcba9876543210fedcba9876543210");
            await other.SendMessageAsync("bob", "hi", "r1");
            Assert.Equal("hi", Str(await bob2.ExpectAsync("message"), "text"));
            Assert.Equal(1, second.Server.ResumeStates.RestoredCount);
        }

        [Fact]
        public async Task WithoutAStoreFileARestartedServerRemembersNoRefs()
        {
            string id;
            string scope;
            await using (TestServer first = Start(file: false))
            {
                using NativePeer alice = await first.JoinNativeAsync("alice", resume: Token);
                using NativePeer bob = await first.JoinNativeAsync("bob");
                await alice.SendMessageAsync("bob", "hi", "r1");
                id = Str(await bob.ExpectAsync("message"), "id");
                await bob.AckAsync(id);
                await bob.DrainAsync();
                scope = Str(alice.Welcome, "ids");
            }

            Assert.False(File.Exists(_file.Path));
            await using TestServer second = Start(file: false);
            using NativePeer bob2 = await second.JoinNativeAsync("bob");
            using NativePeer alice2 = await second.JoinNativeAsync("alice", resume: Token);
            await alice2.SendMessageAsync("bob", "hi", "r1");
            JsonObject again = await bob2.ExpectAsync("message");
            Assert.Equal("hi", Str(again, "text"));

            // Ids start again too, in a new scope, so a client knows the id it may see again is another message.
            Assert.NotEqual(scope, Str(alice2.Welcome, "ids"));
            await bob2.AckAsync(Str(again, "id"));
            JsonObject status = await alice2.ExpectAsync("status");
            Assert.Equal(("r1", "delivered", Str(again, "id")), (Str(status, "ref"), Str(status, "status"), Str(status, "id")));
        }
    }
}
