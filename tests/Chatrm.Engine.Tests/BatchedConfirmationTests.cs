using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Tasks;
using Xunit;
using static Chatrm.Engine.Tests.NativePeer;

namespace Chatrm.Engine.Tests
{
    /// <summary>
    /// Batched confirmations, typed as raw JSON lines: an ack "through" one message confirms it and every message
    /// sent to the recipient before it, and a sender who asked for batches hears of them in delivered frames.
    /// </summary>
    public class BatchedConfirmationTests
    {
        [Fact]
        public async Task TheWelcomeGrantsBatchesOnlyToAHelloThatAsks()
        {
            await using var server = new TestServer();
            using NativePeer asking = await server.JoinNativeAsync("asking", batch: true);
            using NativePeer plain = await server.JoinNativeAsync("plain");

            Assert.True(asking.Welcome["batch"]?.GetValue<bool>());
            Assert.Null(plain.Welcome["batch"]);
        }

        [Fact]
        public async Task AnAckThroughConfirmsThatMessageAndEveryOneBeforeItInOneDeliveredFrame()
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice", batch: true);
            using NativePeer bob = await server.JoinNativeAsync("bob", batch: true);
            List<JsonObject> messages = await SendAndReceiveAsync(alice, bob, "r", 5);

            // Through the third: the first three are delivered, in the order sent, with the ids and times bob saw.
            await bob.AckThroughAsync(Str(messages[2], "id"));

            JsonObject delivered = await alice.ExpectAsync("delivered");
            JsonArray listed = delivered["messages"].AsArray();
            Assert.Equal(new[] { "r0", "r1", "r2" }, listed.Select(m => Str(m.AsObject(), "ref")));
            Assert.Equal(messages.Take(3).Select(m => Str(m, "id")), listed.Select(m => Str(m.AsObject(), "id")));
            Assert.Equal(messages.Take(3).Select(m => Str(m, "sentAt")), listed.Select(m => Str(m.AsObject(), "sentAt")));
            await alice.AssertNothingWaitingAsync();

            // The rest with the next ack; nothing is told twice.
            await bob.AckThroughAsync(Str(messages[4], "id"));
            JsonObject rest = await alice.ExpectAsync("delivered");
            Assert.Equal(new[] { "r3", "r4" }, rest["messages"].AsArray().Select(m => Str(m.AsObject(), "ref")));
            await alice.AssertNothingWaitingAsync();
        }

        [Fact]
        public async Task ASenderWhoDidNotAskHearsOneStatusPerMessage()
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice");
            using NativePeer bob = await server.JoinNativeAsync("bob", batch: true);
            List<JsonObject> messages = await SendAndReceiveAsync(alice, bob, "r", 3);

            await bob.AckThroughAsync(Str(messages[2], "id"));

            for (int i = 0; i < 3; i++)
            {
                JsonObject status = await alice.ExpectAsync("status");
                Assert.Equal(("r" + i, Str(messages[i], "id"), "delivered"), (Str(status, "ref"), Str(status, "id"), Str(status, "status")));
            }

            await alice.AssertNothingWaitingAsync();
        }

        [Fact]
        public async Task AnAckThroughAnUnknownOrConfirmedIdConfirmsNothing()
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice", batch: true);
            using NativePeer bob = await server.JoinNativeAsync("bob", batch: true);
            List<JsonObject> messages = await SendAndReceiveAsync(alice, bob, "r", 3);

            await bob.AckThroughAsync("no-such-id");
            await bob.AckAsync(Str(messages[0], "id"));
            await bob.AssertNothingWaitingAsync();
            JsonObject first = await alice.ExpectAsync("status");
            Assert.Equal(("r0", "delivered"), (Str(first, "ref"), Str(first, "status")));

            await bob.AckThroughAsync(Str(messages[0], "id"));
            await bob.AssertNothingWaitingAsync();
            await alice.AssertNothingWaitingAsync();

            // One acked alone, in the middle: the through after it does not tell of it again.
            await bob.AckAsync(Str(messages[1], "id"));
            await bob.AckThroughAsync(Str(messages[2], "id"));
            await bob.AssertNothingWaitingAsync();
            List<JsonObject> told = await alice.DrainAsync();
            Assert.Equal(new[] { "status:r1", "delivered:r2" }, told.Select(f => Type(f) + ":" + (Type(f) == "status" ? Str(f, "ref") : string.Join(",", f["messages"].AsArray().Select(m => Str(m.AsObject(), "ref"))))));
        }

        [Fact]
        public async Task EachSenderHearsOfItsOwnMessagesOnly()
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice", batch: true);
            using NativePeer carol = await server.JoinNativeAsync("carol", batch: true);
            using NativePeer bob = await server.JoinNativeAsync("bob", batch: true);

            // Interleaved: alice, carol, alice, carol...
            var ids = new List<string>();
            for (int i = 0; i < 4; i++)
            {
                NativePeer sender = i % 2 == 0 ? alice : carol;
                await sender.SendMessageAsync("bob", "m" + i, "r" + i);
                ids.Add(Str(await bob.ExpectAsync("message"), "id"));
            }

            await bob.AckThroughAsync(ids[3]);

            Assert.Equal(new[] { "r0", "r2" }, await DeliveredRefsAsync(alice));
            Assert.Equal(new[] { "r1", "r3" }, await DeliveredRefsAsync(carol));
        }

        [Fact]
        public async Task ADeliveredFrameStaysSmallAndTheRestFollowInFurtherFrames()
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice", batch: true);
            using NativePeer bob = await server.JoinNativeAsync("bob", batch: true);
            string longRef = new string('x', 2000);
            List<JsonObject> messages = await SendAndReceiveAsync(alice, bob, longRef, 12);

            await bob.AckThroughAsync(Str(messages[11], "id"));

            var refs = new List<string>();
            int frames = 0;
            while (refs.Count < 12)
            {
                JsonObject delivered = await alice.ExpectAsync("delivered");
                Assert.InRange(Encoding.UTF8.GetByteCount(delivered.ToJsonString()), 1, NativeProtocol.DeliveredFrameBytes + 2100);
                refs.AddRange(delivered["messages"].AsArray().Select(m => Str(m.AsObject(), "ref")));
                frames++;
            }

            Assert.Equal(Enumerable.Range(0, 12).Select(i => longRef + i), refs);
            Assert.True(frames > 1, "all in one frame");
            await alice.AssertNothingWaitingAsync();
        }

        [Fact]
        public async Task WhatARecipientLeavesUnackedIsStoredInItsInbox()
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice", batch: true);
            NativePeer bob = await server.JoinNativeAsync("bob", batch: true);
            List<JsonObject> messages = await SendAndReceiveAsync(alice, bob, "r", 3);

            await bob.AckThroughAsync(Str(messages[0], "id"));
            Assert.Equal(new[] { "r0" }, await DeliveredRefsAsync(alice));
            bob.Dispose();

            var refused = new List<string>();
            for (int i = 0; i < 2; i++)
            {
                JsonObject status = await alice.ExpectAsync("status");
                Assert.Equal(("stored", null), (Str(status, "status"), Str(status, "reason")));
                refused.Add(Str(status, "ref"));
            }

            Assert.Equal(new[] { "r1", "r2" }, refused.OrderBy(r => r));
        }

        [Fact]
        public async Task ABatchingSenderStillHearsForwardedAndRefusedAsStatuses()
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice", batch: true);
            using NativePeer bob = await server.JoinNativeAsync("bob", batch: true);
            using RawClient carol = await server.JoinAsync("carol");

            await alice.SendMessageAsync("carol", "to carol", "c");
            await alice.SendMessageAsync("nobody", "lost", "n");
            await alice.SendMessageAsync("bob", "to bob", "b");
            Assert.Equal("carol_alice_to carol", await carol.ReadLineAsync());
            string id = Str(await bob.ExpectAsync("message"), "id");
            await bob.AckThroughAsync(id);

            var told = new Dictionary<string, string>();
            while (told.Count < 3)
            {
                JsonObject frame = await alice.ReadAsync();
                switch (Type(frame))
                {
                    case "status":
                        told[Str(frame, "ref")] = Str(frame, "status") + " " + Str(frame, "reason");
                        break;
                    case "delivered":
                        foreach (JsonNode message in frame["messages"].AsArray())
                        {
                            told[Str(message.AsObject(), "ref")] = "delivered " + Str(message.AsObject(), "id");
                        }

                        break;
                }
            }

            Assert.Equal("forwarded ", told["c"]);
            Assert.Equal("refused unknown-user", told["n"]);
            Assert.Equal("delivered " + id, told["b"]);
            await alice.AssertNothingWaitingAsync();
        }

        [Fact]
        public async Task ABatchingRecipientMayStillAckOneByOne()
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice", batch: true);
            using NativePeer bob = await server.JoinNativeAsync("bob", batch: true);
            List<JsonObject> messages = await SendAndReceiveAsync(alice, bob, "r", 2);

            await bob.AckAsync(Str(messages[1], "id"));
            JsonObject second = await alice.ExpectAsync("status");
            Assert.Equal(("r1", "delivered"), (Str(second, "ref"), Str(second, "status")));

            await bob.AckAsync(Str(messages[0], "id"));
            JsonObject first = await alice.ExpectAsync("status");
            Assert.Equal(("r0", "delivered"), (Str(first, "ref"), Str(first, "status")));
            await alice.AssertNothingWaitingAsync();
        }

        /// <summary>Sends <paramref name="count"/> messages with refs prefix0, prefix1... and returns them as the recipient read them.</summary>
        private static async Task<List<JsonObject>> SendAndReceiveAsync(NativePeer sender, NativePeer recipient, string prefix, int count)
        {
            for (int i = 0; i < count; i++)
            {
                await sender.SendMessageAsync(recipient.Name, "message " + i, prefix + i);
            }

            var received = new List<JsonObject>();
            for (int i = 0; i < count; i++)
            {
                JsonObject message = await recipient.ExpectAsync("message");
                Assert.Equal("message " + i, Str(message, "text"));
                received.Add(message);
            }

            return received;
        }

        private static async Task<string[]> DeliveredRefsAsync(NativePeer sender)
        {
            JsonObject delivered = await sender.ExpectAsync("delivered");
            return delivered["messages"].AsArray().Select(m => Str(m.AsObject(), "ref")).ToArray();
        }
    }
}
