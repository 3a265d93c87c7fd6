using System;
using System.Collections.Generic;
using System.Linq;
using Xunit;

namespace Chatrm.Engine.Tests
{
    /// <summary>The room table behind the router: names, joins and leaves, limits, posts and room presence.</summary>
    public class RoomTests
    {
        private static (LocalRouter Router, FakeMember[] Members) Online(params string[] names) => Online(null, names);

        private static (LocalRouter Router, FakeMember[] Members) Online(Routing.Rooms.RoomLimits limits, params string[] names)
        {
            var router = new LocalRouter(roomLimits: limits);
            FakeMember[] members = names.Select(n => new FakeMember(n)).ToArray();
            foreach (FakeMember m in members)
            {
                Assert.True(router.TryRegister(m, takeOver: false, out _));
            }

            return (router, members);
        }

        private static ChatEnvelope Message(string from, string room, string text = "hi") =>
            new ChatEnvelope("0", from, room, text, DateTime.UtcNow);

        [Theory]
        [InlineData("ops")]
        [InlineData("#")]
        [InlineData("##ops")]
        [InlineData("#o_ps")]
        [InlineData("#o ps")]
        [InlineData("#0123456789012345678901234567890123")]
        [InlineData("")]
        public void ANameThatBreaksTheRulesIsRefusedInvalidRoomEverywhere(string name)
        {
            (LocalRouter router, FakeMember[] m) = Online("alice");

            RoomJoin join = router.Join(m[0], name);
            Assert.Equal(Refusal.InvalidRoom, join.Refusal);
            Assert.Equal(RoomNames.Problem(name), join.Message);
            Assert.Null(join.Room);
            Assert.Equal(Refusal.InvalidRoom, router.Leave(m[0], name).Refusal);
            Assert.Null(router.GetRoom(name, m[0]));
            if (RoomNames.IsRoom(name))
            {
                Assert.Equal(Refusal.InvalidRoom, router.Post(Message("alice", name)).Refusal);
            }

            Assert.Empty(router.ListRooms(null));
        }

        [Fact]
        public void NamesAreTheLongestAllowedAndComparedWithoutRegardToCase()
        {
            (LocalRouter router, FakeMember[] m) = Online("alice", "bob");
            string longest = "#" + new string('a', 32);
            Assert.True(router.Join(m[0], longest).Joined);

            RoomJoin first = router.Join(m[0], "#Ops");
            RoomJoin again = router.Join(m[0], "#OPS");
            RoomJoin other = router.Join(m[1], "#ops");

            Assert.False(first.WasMember);
            Assert.True(again.WasMember);
            Assert.Equal("#Ops", again.Room.Name);
            Assert.Equal(first.Room.JoinedAt, again.Room.JoinedAt);
            Assert.Equal("#Ops", other.Room.Name);
            Assert.Equal(new[] { "alice", "bob" }, other.Room.Members);
            Assert.Equal(2, router.ListRooms(null).Count);
            Assert.True(router.Post(Message("alice", "#oPS")).Posted);
            Assert.Single(m[1].Received);
        }

        [Fact]
        public void AJoinMakesTheRoomAndTheLastLeaveEndsIt()
        {
            (LocalRouter router, FakeMember[] m) = Online("alice", "bob");
            Assert.Empty(router.ListRooms(null));

            RoomJoin made = router.Join(m[0], "#ops");
            Assert.True(made.Joined);
            Assert.Equal(new RoomInfo("#ops", 1).Name, made.Room.Name);
            Assert.Equal(1, made.Room.MemberCount);
            Assert.Equal(new[] { "alice" }, made.Room.Members);
            Assert.True(made.Room.IsMember);
            Assert.NotNull(made.Room.JoinedAt);

            router.Join(m[1], "#ops");
            Assert.Equal(1, router.Post(Message("alice", "#ops")).Seq);

            RoomLeave one = router.Leave(m[0], "#ops");
            Assert.True(one.Left);
            Assert.Equal(1, one.Room.MemberCount);
            Assert.False(one.Room.IsMember);
            Assert.Single(router.ListRooms(null));

            RoomLeave last = router.Leave(m[1], "#OPS");
            Assert.Equal(0, last.Room.MemberCount);
            Assert.Empty(router.ListRooms(null));
            Assert.Equal(0, router.Rooms.Count);
            RoomInfo gone = router.GetRoom("#ops", m[0]);
            Assert.Equal(0, gone.MemberCount);
            Assert.Empty(gone.Members);
            Assert.False(gone.IsMember);

            // A room made again starts its count again.
            router.Join(m[0], "#ops");
            router.Join(m[1], "#ops");
            Assert.Equal(1, router.Post(Message("alice", "#ops")).Seq);
        }

        [Fact]
        public void LeavingOrPostingToARoomOneIsNotInIsRefusedNotInRoom()
        {
            (LocalRouter router, FakeMember[] m) = Online("alice", "bob");

            RoomLeave never = router.Leave(m[0], "#ops");
            Assert.Equal(Refusal.NotInRoom, never.Refusal);
            Assert.Equal("you are not in #ops", never.Message);
            RoomPost nowhere = router.Post(Message("alice", "#ops"));
            Assert.Equal(Refusal.NotInRoom, nowhere.Refusal);
            Assert.Equal("you are not in #ops", nowhere.Message);

            router.Join(m[1], "#ops");
            Assert.Equal(Refusal.NotInRoom, router.Leave(m[0], "#ops").Refusal);
            RoomPost outsider = router.Post(Message("alice", "#ops"));
            Assert.Equal(Refusal.NotInRoom, outsider.Refusal);
            Assert.Equal(0, outsider.Seq);
            Assert.Empty(m[1].Received);

            // Not online at all: nobody to be a member.
            Assert.Equal(Refusal.NotInRoom, router.Post(Message("carol", "#ops")).Refusal);

            // The refusal used no Seq.
            router.Join(m[0], "#ops");
            Assert.Equal(1, router.Post(Message("alice", "#ops")).Seq);
        }

        [Fact]
        public void RoomsPerUserIsALimitThatSaysSo()
        {
            (LocalRouter router, FakeMember[] m) = Online(new Routing.Rooms.RoomLimits(maxRoomsPerUser: 2), "alice", "bob");
            Assert.True(router.Join(m[0], "#a").Joined);
            Assert.True(router.Join(m[0], "#b").Joined);

            RoomJoin third = router.Join(m[0], "#c");
            Assert.Equal(Refusal.TooManyRooms, third.Refusal);
            Assert.Equal("you are in 2 rooms, as many as a user may be (-MaxRoomsPerUser)", third.Message);
            Assert.Null(router.ListRooms(null).FirstOrDefault(r => r.Name == "#c"));

            // Joining one of its own again is no new room; someone else is not held by alice's limit.
            Assert.True(router.Join(m[0], "#A").Joined);
            Assert.True(router.Join(m[1], "#c").Joined);

            router.Leave(m[0], "#a");
            Assert.True(router.Join(m[0], "#c").Joined);
        }

        [Fact]
        public void MembersPerRoomIsALimitThatSaysSo()
        {
            (LocalRouter router, FakeMember[] m) = Online(new Routing.Rooms.RoomLimits(maxMembersPerRoom: 2), "alice", "bob", "carol");
            router.Join(m[0], "#ops");
            router.Join(m[1], "#ops");

            RoomJoin full = router.Join(m[2], "#OPS");
            Assert.Equal(Refusal.RoomFull, full.Refusal);
            Assert.Equal("#ops has 2 members, as many as a room may have (-MaxMembersPerRoom)", full.Message);
            Assert.Equal(2, router.GetRoom("#ops", null).MemberCount);
            Assert.Equal(0, router.Rooms.RoomsOf(m[2]));

            // The members already in still answer as members.
            Assert.True(router.Join(m[1], "#ops").WasMember);
            router.Leave(m[0], "#ops");
            Assert.True(router.Join(m[2], "#ops").Joined);
        }

        [Fact]
        public void RoomsInAllIsALimitThatSaysSoAndLeavesRoomsThatExistOpen()
        {
            (LocalRouter router, FakeMember[] m) = Online(new Routing.Rooms.RoomLimits(maxRooms: 2), "alice", "bob");
            router.Join(m[0], "#a");
            router.Join(m[0], "#b");

            RoomJoin none = router.Join(m[1], "#c");
            Assert.Equal(Refusal.NoMoreRooms, none.Refusal);
            Assert.Equal("the server has 2 rooms, as many as it may have (-MaxRooms)", none.Message);
            Assert.True(router.Join(m[1], "#a").Joined);
            Assert.Equal(2, router.Rooms.Count);

            // A room that ends makes room for a new one.
            router.Leave(m[0], "#b");
            Assert.True(router.Join(m[1], "#c").Joined);
            Assert.Equal(new[] { "#a", "#c" }, router.ListRooms(null).Select(r => r.Name));
        }

        [Fact]
        public void APostGoesToEveryOtherMemberWithTheNextSeqAndNeverBackToItsSender()
        {
            (LocalRouter router, FakeMember[] m) = Online("alice", "bob", "carol", "dave");
            foreach (FakeMember member in m.Take(3))
            {
                router.Join(member, "#ops");
            }

            RoomPost first = router.Post(Message("alice", "#ops", "one"));
            RoomPost second = router.Post(Message("bob", "#ops", "two"));

            Assert.Equal((1L, 2), (first.Seq, first.Recipients));
            Assert.Equal((2L, 2), (second.Seq, second.Recipients));
            Assert.Equal(new[] { "two" }, m[0].Received.Select(e => e.Text));
            Assert.Equal(new[] { "one" }, m[1].Received.Select(e => e.Text));
            Assert.Equal(new[] { "one", "two" }, m[2].Received.Select(e => e.Text));
            Assert.Equal(new[] { 1L, 2L }, m[2].Seqs("#ops"));
            Assert.Equal("#ops", m[2].Received[0].Room);
            Assert.Empty(m[3].Received);
        }

        [Fact]
        public void AMemberThatIsGoneOrTooSlowIsNotCountedAndHoldsNobodyUp()
        {
            (LocalRouter router, FakeMember[] m) = Online("alice", "bob", "carol", "dave");
            foreach (FakeMember member in m)
            {
                router.Join(member, "#ops");
            }

            m[1].Answer = DeliveryStatus.UserOffline;
            RoomPost post = router.Post(Message("alice", "#ops"));

            Assert.True(post.Posted);
            Assert.Equal(2, post.Recipients);
            Assert.Empty(m[1].Received);
            Assert.Equal(new[] { 1L }, m[2].Seqs());
            Assert.Equal(new[] { 1L }, m[3].Seqs());

            // It stays a member until its session ends and leaves; the others keep their pace meanwhile.
            Assert.Equal(2, router.Post(Message("alice", "#ops")).Recipients);
            Assert.Equal(new[] { 1L, 2L }, m[3].Seqs());
            router.Unregister(m[1]);
            Assert.Equal(3, router.GetRoom("#ops", null).MemberCount);
        }

        [Fact]
        public void PresenceGoesToTheOtherMembersOnly()
        {
            (LocalRouter router, FakeMember[] m) = Online("alice", "bob", "carol", "dave");
            router.Join(m[0], "#ops");
            router.Join(m[1], "#ops");
            router.Join(m[2], "#ops");
            router.Join(m[3], "#other");
            router.Join(m[1], "#ops");
            router.Leave(m[2], "#ops");

            Assert.Equal(new[] { "#ops bob joined", "#ops carol joined", "#ops carol left" }, m[0].Presence);
            Assert.Equal(new[] { "#ops carol joined", "#ops carol left" }, m[1].Presence);
            Assert.Empty(m[2].Presence);
            Assert.Empty(m[3].Presence);
        }

        [Fact]
        public void PresenceAndMessagesComeInTheRoomsOneOrder()
        {
            (LocalRouter router, FakeMember[] m) = Online("alice", "bob", "carol");
            router.Join(m[0], "#ops");
            router.Join(m[1], "#ops");
            router.Post(Message("bob", "#ops", "before"));
            router.Join(m[2], "#ops");
            router.Post(Message("carol", "#ops", "after"));

            // carol sees only what came after her join; the others hear of her before her message.
            Assert.Equal(new[] { "#ops bob joined", "#ops bob: before", "#ops carol joined", "#ops carol: after" }, m[0].Events);
            Assert.Equal(new[] { "#ops carol joined", "#ops carol: after" }, m[1].Events);
            Assert.Empty(m[2].Events);
        }

        [Fact]
        public void UnregisterLeavesEveryRoomAndTellsTheOthers()
        {
            (LocalRouter router, FakeMember[] m) = Online("alice", "bob", "carol");
            router.Join(m[0], "#a");
            router.Join(m[0], "#b");
            router.Join(m[0], "#alone");
            router.Join(m[1], "#a");
            router.Join(m[2], "#b");

            router.Unregister(m[0]);

            Assert.Equal(new[] { "#a alice left" }, m[1].Presence);
            Assert.Equal(new[] { "#b alice left" }, m[2].Presence);
            Assert.Equal(0, router.Rooms.RoomsOf(m[0]));
            Assert.Equal(new[] { "#a", "#b" }, router.ListRooms(null).Select(r => r.Name));
            Assert.All(router.ListRooms(null), r => Assert.Equal(1, r.MemberCount));
            Assert.Equal(Refusal.NotInRoom, router.Leave(m[0], "#a").Refusal);

            // Unregistering again, or one that was in no room, is nothing.
            router.Unregister(m[0]);
            router.Unregister(m[1]);
            router.Unregister(m[2]);
            Assert.Empty(router.ListRooms(null));
            Assert.Equal(0, router.Rooms.Count);
        }

        [Fact]
        public void RoomsArePerSessionSoALoginElsewhereStartsWithNone()
        {
            (LocalRouter router, FakeMember[] m) = Online("alice", "bob");
            router.Join(m[0], "#ops");
            router.Join(m[1], "#ops");
            var again = new FakeMember("ALICE");
            Assert.True(router.TryRegister(again, takeOver: true, out IChatEndpoint displaced));
            Assert.Same(m[0], displaced);

            // The new session is not in the room its old one was in, which is still there until its session ends.
            Assert.Equal(Refusal.NotInRoom, router.Post(Message("alice", "#ops")).Refusal);
            Assert.False(router.GetRoom("#ops", again).IsMember);
            Assert.True(router.GetRoom("#ops", m[0]).IsMember);

            // A second session of one name in a room is no news to the others, either way.
            Assert.True(router.Join(again, "#ops").Joined);
            Assert.Equal(2, router.Post(Message("alice", "#ops")).Recipients);
            router.Unregister(m[0]);
            Assert.Equal(new[] { "bob", "ALICE" }, router.GetRoom("#ops", null).Members);
            Assert.Empty(m[1].Presence);
            Assert.Equal(1, router.Post(Message("alice", "#ops")).Recipients);

            router.Leave(again, "#ops");
            Assert.Equal(new[] { "#ops ALICE left" }, m[1].Presence);
        }

        [Fact]
        public void TheListSaysWhoIsAMemberAndTheServersViewListsMembers()
        {
            (LocalRouter router, FakeMember[] m) = Online("alice", "bob");
            router.Join(m[0], "#ops");
            router.Join(m[1], "#ops");
            router.Join(m[1], "#dev");

            IReadOnlyList<RoomInfo> alices = router.ListRooms(m[0]);
            Assert.Equal(new[] { "#dev", "#ops" }, alices.Select(r => r.Name));
            Assert.Equal(new[] { false, true }, alices.Select(r => r.IsMember));
            Assert.Equal(new[] { 1, 2 }, alices.Select(r => r.MemberCount));
            Assert.All(alices, r => Assert.Empty(r.Members));
            Assert.Null(alices[0].JoinedAt);
            Assert.NotNull(alices[1].JoinedAt);

            IReadOnlyList<RoomInfo> servers = router.ListRooms(null);
            Assert.Equal(new[] { "bob", "alice,bob" }, servers.Select(r => string.Join(",", r.Members)));
            Assert.All(servers, r => Assert.False(r.IsMember));

            RoomInfo one = router.GetRoom("#OPS", m[1]);
            Assert.Equal("#ops", one.Name);
            Assert.Equal(new[] { "alice", "bob" }, one.Members);
            Assert.True(one.IsMember);
        }

        [Fact]
        public void TheServerTakesItsRoomLimitsFromItsOptionsAndListsRoomsWithMembers()
        {
            var options = new ServerOptions { MaxRoomsPerUser = 3, MaxMembersPerRoom = 4, MaxRooms = 5 };
            using var server = new ChatServer(options);
            var router = (LocalRouter)server.Router;
            Assert.Equal((3, 4, 5), (router.Rooms.Limits.MaxRoomsPerUser, router.Rooms.Limits.MaxMembersPerRoom, router.Rooms.Limits.MaxRooms));

            var alice = new FakeMember("alice");
            router.TryRegister(alice, takeOver: false, out _);
            router.Join(alice, "#ops");
            RoomInfo ops = Assert.Single(server.ListRooms());
            Assert.Equal(new[] { "alice" }, ops.Members);
        }

        [Theory]
        [InlineData(nameof(ServerOptions.MaxRoomsPerUser))]
        [InlineData(nameof(ServerOptions.MaxMembersPerRoom))]
        [InlineData(nameof(ServerOptions.MaxRooms))]
        public void EachRoomLimitIsAtLeastOne(string limit)
        {
            var options = new ServerOptions();
            typeof(ServerOptions).GetProperty(limit).SetValue(options, 0);
            ArgumentOutOfRangeException refused = Assert.Throws<ArgumentOutOfRangeException>(options.Validate);
            Assert.Equal(limit, refused.ParamName);
            typeof(ServerOptions).GetProperty(limit).SetValue(options, 1);
            options.Validate();
        }

        [Fact]
        public void TheDefaultsAreTheDocumentedOnes()
        {
            var options = new ServerOptions();
            Assert.Equal((100, 1000, 10000), (options.MaxRoomsPerUser, options.MaxMembersPerRoom, options.MaxRooms));
        }
    }
}
