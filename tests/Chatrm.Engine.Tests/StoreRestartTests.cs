using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json.Nodes;
using System.Threading.Tasks;
using Xunit;
using static Chatrm.Engine.Tests.NativePeer;

namespace Chatrm.Engine.Tests
{
    /// <summary>What a server with a store file keeps across a stop and a start on the same file (issue 16).</summary>
    public sealed class StoreRestartTests : IDisposable
    {
        private readonly TempStoreFile _file = new TempStoreFile();

        public void Dispose() => _file.Dispose();

        private TestServer Start(Action<ServerOptions> configure = null) =>
            new TestServer(o =>
            {
                o.StorePath = _file.Path;
                configure?.Invoke(o);
            });

        private static async Task LeaveAsync(TestServer server, NativePeer peer)
        {
            await peer.SendAsync("{\"type\":\"bye\"}");
            peer.Dispose();
            await Eventually.TrueAsync(() => !server.IsOnline(peer.Name), peer.Name + " leaves");
        }

        private static long IdNumber(string id) => long.Parse(id, System.Globalization.CultureInfo.InvariantCulture);

        [Fact]
        public async Task OfflineMessagesAndTheNamesThatLoggedInOutliveTheServer()
        {
            var ids = new List<string>();
            await using (TestServer first = Start())
            {
                await LeaveAsync(first, await first.JoinNativeAsync("bob"));
                using NativePeer alice = await first.JoinNativeAsync("alice");
                for (int i = 1; i <= 3; i++)
                {
                    await alice.SendMessageAsync("bob", "kept " + i, "k" + i);
                    JsonObject status = await alice.ExpectAsync("status");
                    Assert.Equal("stored", Str(status, "status"));
                    ids.Add(Str(status, "id"));
                }
            }

            await using TestServer second = Start();
            using (NativePeer carol = await second.JoinNativeAsync("carol"))
            {
                // bob logged in to the first run only, and is still known: a message to him waits too.
                await carol.SendMessageAsync("bob", "me too", "c1");
                Assert.Equal("stored", Str(await carol.ExpectAsync("status"), "status"));
            }

            using NativePeer bob = await second.JoinNativeAsync("bob");
            List<JsonObject> inbox = await bob.DrainAsync();
            Assert.Equal(new[] { "kept 1", "kept 2", "kept 3", "me too" }, inbox.Select(f => Str(f, "text")));
            Assert.Equal(ids, inbox.Take(3).Select(f => Str(f, "id")));
            Assert.Equal("alice", Str(inbox[0], "from"));
        }

        [Fact]
        public async Task IdsAfterARestartAreAboveEveryIdOfTheRunBefore()
        {
            long highest;
            await using (TestServer first = Start())
            {
                using NativePeer alice = await first.JoinNativeAsync("alice");
                using NativePeer bob = await first.JoinNativeAsync("bob");
                await alice.SendMessageAsync("bob", "one");
                highest = IdNumber(Str(await bob.ExpectAsync("message"), "id"));
            }

            await using TestServer second = Start();
            using NativePeer alice2 = await second.JoinNativeAsync("alice");
            using NativePeer bob2 = await second.JoinNativeAsync("bob");
            await alice2.SendMessageAsync("bob", "two");

            // bob never acked "one" before the stop: it waited in his inbox, and comes first with its own id.
            JsonObject kept = await bob2.ExpectAsync("message");
            Assert.Equal(("one", highest), (Str(kept, "text"), IdNumber(Str(kept, "id"))));
            Assert.True(IdNumber(Str(await bob2.ExpectAsync("message"), "id")) > highest);
        }

        [Fact]
        public async Task ARoomsSeqAndHistoryCarryOnAcrossARestart()
        {
            long seq;
            await using (TestServer first = Start())
            {
                using NativePeer alice = await first.JoinNativeAsync("alice");
                await alice.SendFrameAsync(new JsonObject { ["type"] = "join", ["ref"] = "j", ["room"] = "#ops" });
                await alice.ExpectAsync("room");
                await alice.SendMessageAsync("#ops", "before the restart", "1");
                seq = (await alice.ExpectAsync("status"))["seq"].GetValue<long>();
            }

            await using TestServer second = Start();
            using NativePeer bob = await second.JoinNativeAsync("bob");
            await bob.SendFrameAsync(new JsonObject { ["type"] = "join", ["ref"] = "j", ["room"] = "#ops" });
            await bob.ExpectAsync("room");
            await bob.SendMessageAsync("#ops", "after it", "2");
            Assert.Equal(seq + 1, (await bob.ExpectAsync("status"))["seq"].GetValue<long>());

            Assert.Equal(new[] { "before the restart", "after it" }, second.Server.ReadHistory("#ops").Select(m => m.Text));
        }

        [Fact]
        public async Task ASecondServerOnTheSameFileFailsToStartWithTheStoresWordsAndBindsNothing()
        {
            await using TestServer first = Start();
            var options = new ServerOptions { Address = System.Net.IPAddress.Loopback, Port = 0, StorePath = _file.Path };
            using var second = new ChatServer(options);

            StoreOpenException e = Assert.Throws<StoreOpenException>(() => second.Start());

            Assert.False(string.IsNullOrEmpty(e.Message));
            Assert.Null(second.LocalEndPoint);
            Assert.False(second.IsRunning);
        }
    }
}
