using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json.Nodes;
using System.Threading.Tasks;
using Xunit;
using static Chatrm.Engine.Tests.NativePeer;

namespace Chatrm.Engine.Tests
{
    /// <summary>Rooms through a real server: native and classic members, posts, refusals, presence, leaving.</summary>
    public class RoomServerTests
    {
        private static Task JoinRoomAsync(NativePeer peer, string room, string reference) =>
            peer.SendFrameAsync(new JsonObject { ["type"] = "join", ["ref"] = reference, ["room"] = room });

        private static async Task<JsonObject> JoinedAsync(NativePeer peer, string room, string reference)
        {
            await JoinRoomAsync(peer, room, reference);
            JsonObject answer = await peer.ExpectAsync("room");
            Assert.Equal((reference, room.ToLowerInvariant(), "true"), (Str(answer, "ref"), Str(answer, "room"), answer["joined"]!.ToJsonString()));
            return answer;
        }

        [Fact]
        public async Task NativeAndClassicMembersShareOneRoomInOneOrder()
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice");
            using NativePeer bob = await server.JoinNativeAsync("bob");
            using RawClient carol = await server.JoinAsync("carol");

            JsonObject first = await JoinedAsync(alice, "#ops", "j1");
            Assert.Equal("1", first["memberCount"]!.ToJsonString());
            JsonObject second = await JoinedAsync(bob, "#OPS", "j2");
            Assert.Equal("2", second["memberCount"]!.ToJsonString());
            JsonObject joined = await alice.ExpectAsync("presence");
            Assert.Equal(("bob", "joined", "#ops"), (Str(joined, "user"), Str(joined, "event"), Str(joined, "room")));

            // The original client joins by writing to the room.
            await carol.SendAsync("carol_#ops_hello_all\n");
            foreach (NativePeer member in new[] { alice, bob })
            {
                JsonObject presence = await member.ExpectAsync("presence");
                Assert.Equal(("carol", "joined"), (Str(presence, "user"), Str(presence, "event")));
                JsonObject message = await member.ExpectAsync("message");
                Assert.Equal(("carol", "#ops", "#ops", "hello_all", "1"),
                    (Str(message, "from"), Str(message, "to"), Str(message, "room"), Str(message, "text"), message["seq"]!.ToJsonString()));
            }

            await alice.SendMessageAsync("#ops", "from alice", "p1");
            JsonObject posted = await alice.ExpectAsync("status");
            Assert.Equal(("p1", "posted", "2", "2"), (Str(posted, "ref"), Str(posted, "status"), posted["seq"]!.ToJsonString(), posted["recipients"]!.ToJsonString()));
            Assert.Equal("carol_#ops_alice: from alice", await carol.ReadLineAsync());
            JsonObject atBob = await bob.ExpectAsync("message");
            Assert.Equal(("alice", "2"), (Str(atBob, "from"), atBob["seq"]!.ToJsonString()));

            // The sender never gets its own post back.
            await alice.AssertNothingWaitingAsync();
        }

        [Fact]
        public async Task RoomMessagesNeedNoAckYetAnAckThroughOneConfirmsTheDirectOneBefore()
        {
            await using var server = new TestServer(options => options.MaxUnconfirmedPerConnection = 4);
            using NativePeer alice = await server.JoinNativeAsync("alice", batch: true);
            using NativePeer bob = await server.JoinNativeAsync("bob", batch: true);
            await JoinedAsync(alice, "#ops", "j1");
            await JoinedAsync(bob, "#ops", "j2");
            await alice.ExpectAsync("presence");

            // Ten times the limit of unacked messages, all room messages: bob never acks and stays.
            for (int i = 1; i <= 40; i++)
            {
                await alice.SendMessageAsync("#ops", "post " + i, "p" + i);
                Assert.Equal("posted", Str(await alice.ExpectAsync("status"), "status"));
                Assert.Equal("post " + i, Str(await bob.ExpectAsync("message"), "text"));
            }

            // A direct message, then a room one: an ack through the room message confirms the direct one.
            await alice.SendMessageAsync("bob", "direct", "d1");
            JsonObject direct = await bob.ExpectAsync("message");
            Assert.Equal("direct", Str(direct, "text"));
            await alice.SendMessageAsync("#ops", "after", "p41");
            Assert.Equal("posted", Str(await alice.ExpectAsync("status"), "status"));
            JsonObject after = await bob.ExpectAsync("message");
            await bob.AckThroughAsync(Str(after, "id"));

            JsonObject delivered = await alice.ExpectAsync("delivered");
            Assert.Equal(("d1", Str(direct, "id")), (Str(delivered["messages"]![0]!.AsObject(), "ref"), Str(delivered["messages"]![0]!.AsObject(), "id")));
            Assert.True(server.IsOnline("bob"));
        }

        [Fact]
        public async Task PostingToARoomOneIsNotInIsRefusedAndReachesNobody()
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice");
            using NativePeer bob = await server.JoinNativeAsync("bob");
            await JoinedAsync(bob, "#ops", "j1");

            await alice.SendMessageAsync("#ops", "let me in", "p1");
            JsonObject status = await alice.ExpectAsync("status");
            Assert.Equal(("p1", "refused", "not-in-room"), (Str(status, "ref"), Str(status, "status"), Str(status, "reason")));

            await alice.SendMessageAsync("#bad room", "x", "p2");
            status = await alice.ExpectAsync("status");
            Assert.Equal(("p2", "invalid-room"), (Str(status, "ref"), Str(status, "reason")));
            await bob.AssertNothingWaitingAsync();
        }

        [Fact]
        public async Task JoinRefusalsNameTheLimit()
        {
            await using var server = new TestServer(o => { o.MaxRoomsPerUser = 1; o.MaxMembersPerRoom = 1; });
            using NativePeer alice = await server.JoinNativeAsync("alice");
            using NativePeer bob = await server.JoinNativeAsync("bob");
            await JoinedAsync(alice, "#one", "j1");

            await JoinRoomAsync(alice, "#two", "j2");
            JsonObject error = await alice.ExpectAsync("error");
            Assert.Equal(("j2", "too-many-rooms"), (Str(error, "ref"), Str(error, "code")));
            Assert.Contains("MaxRoomsPerUser", Str(error, "message"));

            await JoinRoomAsync(bob, "#one", "j3");
            error = await bob.ExpectAsync("error");
            Assert.Equal(("j3", "room-full"), (Str(error, "ref"), Str(error, "code")));

            await JoinRoomAsync(bob, "nohash", "j4");
            error = await bob.ExpectAsync("error");
            Assert.Equal(("j4", "invalid-room"), (Str(error, "ref"), Str(error, "code")));
        }

        [Fact]
        public async Task PartRoomsAndWhoAnswerByRef()
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice");
            using NativePeer bob = await server.JoinNativeAsync("bob");
            await JoinedAsync(alice, "#ops", "j1");
            await JoinedAsync(bob, "#ops", "j2");
            await alice.ExpectAsync("presence");

            await alice.SendFrameAsync(new JsonObject { ["type"] = "who", ["ref"] = "w1", ["room"] = "#ops" });
            JsonObject who = await alice.ExpectAsync("room");
            Assert.Equal(new[] { "alice", "bob" }, who["members"]!.AsArray().Select(n => n!.GetValue<string>()).OrderBy(n => n));

            await alice.SendFrameAsync(new JsonObject { ["type"] = "rooms", ["ref"] = "r1" });
            JsonObject rooms = await alice.ExpectAsync("rooms");
            JsonObject ops = Assert.Single(rooms["rooms"]!.AsArray())!.AsObject();
            Assert.Equal(("#ops", "2"), (Str(ops, "name"), ops["memberCount"]!.ToJsonString()));

            await bob.SendFrameAsync(new JsonObject { ["type"] = "part", ["ref"] = "x1", ["room"] = "#ops" });
            JsonObject parted = await bob.ExpectAsync("room");
            Assert.Equal(("x1", "false", "1"), (Str(parted, "ref"), parted["joined"]!.ToJsonString(), parted["memberCount"]!.ToJsonString()));
            JsonObject left = await alice.ExpectAsync("presence");
            Assert.Equal(("bob", "left", "#ops"), (Str(left, "user"), Str(left, "event"), Str(left, "room")));

            await bob.SendFrameAsync(new JsonObject { ["type"] = "part", ["ref"] = "x2", ["room"] = "#ops" });
            JsonObject error = await bob.ExpectAsync("error");
            Assert.Equal(("x2", "not-in-room"), (Str(error, "ref"), Str(error, "code")));
        }

        [Fact]
        public async Task AClassicUserLeavesWithPartAndARoomEndsWithItsLastMember()
        {
            await using var server = new TestServer();
            using RawClient carol = await server.JoinAsync("carol");
            using NativePeer alice = await server.JoinNativeAsync("alice");
            await carol.SendAsync("carol_#ops_hi\n");
            await Eventually.TrueAsync(() => server.Server.ListRooms().Count == 1, "carol's line makes the room");

            await carol.SendAsync("carol_#ops_/part\n");
            await Eventually.TrueAsync(() => server.Server.ListRooms().Count == 0, "the room ends with carol's part");

            await carol.SendAsync("carol_#ops_/part\n");
            Assert.StartsWith("carol_chatrm_not-in-room: ", await carol.ReadLineAsync());
        }

        [Fact]
        public async Task ALeavingMemberLeavesEveryRoomAndTheOthersHear()
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice");
            NativePeer bob = await server.JoinNativeAsync("bob");
            await JoinedAsync(alice, "#a", "j1");
            await JoinedAsync(bob, "#a", "j2");
            await JoinedAsync(bob, "#b", "j3");
            await alice.ExpectAsync("presence");

            await bob.SendFrameAsync(new JsonObject { ["type"] = "bye" });
            bob.Dispose();
            var left = new List<JsonObject>();
            while (left.Count < 2)
            {
                JsonObject presence = await alice.ExpectAsync("presence");
                Assert.Equal(("bob", "left"), (Str(presence, "user"), Str(presence, "event")));
                left.Add(presence);
            }

            // One in the room and one for the server; #b ended with bob.
            Assert.Contains(left, p => Str(p, "room") == "#a");
            await Eventually.TrueAsync(() => server.Server.ListRooms().Count == 1, "#b ends");
        }
    }
}
