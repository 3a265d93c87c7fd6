using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using Xunit;

namespace Chatrm.Engine.Tests.Cluster
{
    /// <summary>A room spans the servers of a cluster: one order and one Seq for every member, wherever each is connected.</summary>
    [Collection(ClusterCollection.Name)]
    public sealed class ClusterRoomTests
    {
        private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

        private static async Task<List<ChatMessage>> TakeRoomAsync(ChatClient client, string room, int count)
        {
            var got = new List<ChatMessage>();
            await Eventually.TrueAsync(() =>
            {
                got.AddRange(client.Take(1000, room: room).OfType<ChatMessage>());
                return got.Count >= count;
            }, Deadline, $"{count} posts of {room} for {client.UserName}");
            return got;
        }

        [Fact]
        public async Task MembersOnThreeServersSeeEveryPostOfSendersOnEachInOneOrderWithGapFreeSeqs()
        {
            await using TestCluster cluster = await TestCluster.StartAsync(3);
            var members = new List<ChatClient>();
            try
            {
                for (int i = 0; i < 6; i++)
                {
                    ChatClient member = await cluster[i % 3].ConnectAsync("m" + i);
                    members.Add(member);
                    RoomInfo joined = await member.JoinRoomAsync("#ops", Deadline);
                    Assert.Equal(i + 1, joined.MemberCount);
                    Assert.Equal(Enumerable.Range(0, i + 1).Select(n => "m" + n), joined.Members);
                }

                // Three senders, one per server, post at once; none hears its own posts.
                const int PerSender = 60;
                await Task.WhenAll(Enumerable.Range(0, 3).Select(async s =>
                {
                    var posts = new List<Task<SentMessage>>();
                    for (int n = 0; n < PerSender; n++)
                    {
                        posts.Add(members[s].SendAsync("#ops", $"s{s}-{n}"));
                    }

                    foreach (SentMessage sent in await Task.WhenAll(posts).WaitAsync(Deadline))
                    {
                        Assert.Equal(SendStatus.Posted, sent.Status);
                        Assert.Equal(5, sent.Recipients);
                    }
                }));

                var seen = new List<List<ChatMessage>>();
                for (int i = 0; i < members.Count; i++)
                {
                    int expected = i < 3 ? 2 * PerSender : 3 * PerSender;
                    seen.Add(await TakeRoomAsync(members[i], "#ops", expected));
                    Assert.DoesNotContain(seen[i], m => m.From == "m" + i);
                }

                // Listeners (m3..m5) saw everything: the same Seqs in the same order, 1, 2, 3, ... with no gap.
                List<long> seqs = seen[3].Select(m => m.Seq.Value).ToList();
                Assert.Equal(Enumerable.Range(1, 3 * PerSender).Select(n => (long)n), seqs);
                Assert.Equal(seen[3].Select(m => m.Text), seen[4].Select(m => m.Text));
                Assert.Equal(seen[3].Select(m => m.Text), seen[5].Select(m => m.Text));

                // Each sender's posts keep the order it sent them in.
                for (int s = 0; s < 3; s++)
                {
                    Assert.Equal(Enumerable.Range(0, PerSender).Select(n => $"s{s}-{n}"), seen[3].Where(m => m.From == "m" + s).Select(m => m.Text));
                }

                // A sender sees the others' posts in that same order, its own left out.
                Assert.Equal(seen[3].Where(m => m.From != "m0").Select(m => m.Text), seen[0].Select(m => m.Text));
            }
            finally
            {
                members.ForEach(m => m.Dispose());
            }
        }

        [Fact]
        public async Task JoinsAndLeavesOnOneServerAreHeardOnAnotherAndWhoListsEveryone()
        {
            await using TestCluster cluster = await TestCluster.StartAsync(2);
            using ChatClient alice = await cluster[0].ConnectAsync("alice");
            using ChatClient bob = await cluster[1].ConnectAsync("bob");
            await alice.JoinRoomAsync("#dev", Deadline);
            await bob.JoinRoomAsync("#DEV", Deadline);

            await Eventually.TrueAsync(() => alice.Take(10, includePresence: true).OfType<PresenceEvent>()
                .Any(p => p.UserName == "bob" && p.Kind == PresenceChange.Joined && p.Room == "#dev"), Deadline, "alice hears bob joined #dev");

            RoomInfo who = await bob.GetRoomAsync("#dev", Deadline);
            Assert.Equal(new[] { "alice", "bob" }, who.Members.OrderBy(n => n));
            Assert.True(who.IsMember);
            RoomInfo listed = Assert.Single(await alice.GetRoomsAsync(Deadline), r => r.Name == "#dev");
            Assert.Equal(2, listed.MemberCount);

            await bob.LeaveRoomAsync("#dev", Deadline);
            await Eventually.TrueAsync(() => alice.Take(10, includePresence: true).OfType<PresenceEvent>()
                .Any(p => p.UserName == "bob" && p.Kind == PresenceChange.Left), Deadline, "alice hears bob left");
            SentMessage after = await bob.SendAsync("#dev", "still here?").WaitAsync(Deadline);
            Assert.Equal((SendStatus.Refused, "not-in-room"), (after.Status, after.Reason));
        }

        [Fact]
        public async Task AnOriginalClientJoinsARoomOnAnotherServerByWritingToIt()
        {
            await using TestCluster cluster = await TestCluster.StartAsync(2);
            using ChatClient alice = await cluster[0].ConnectAsync("alice");
            await alice.JoinRoomAsync("#ops", Deadline);
            using RawClient carol = await cluster[1].JoinRawAsync("carol");

            await carol.SendAsync("carol_#ops_hello room\n");
            ChatMessage heard = Assert.Single(await TakeRoomAsync(alice, "#ops", 1));
            Assert.Equal(("carol", "hello room", "#ops"), (heard.From, heard.Text, heard.Room));

            SentMessage reply = await alice.SendAsync("#ops", "hi carol").WaitAsync(Deadline);
            Assert.Equal((SendStatus.Posted, 1), (reply.Status, reply.Recipients));
            Assert.Equal("carol_#ops_alice: hi carol", await carol.ReadLineAsync());
        }

        [Fact]
        public async Task AMemberWhoDisconnectsLeavesTheRoomOnItsHome()
        {
            await using TestCluster cluster = await TestCluster.StartAsync(2);
            using ChatClient alice = await cluster[0].ConnectAsync("alice");
            await alice.JoinRoomAsync("#ops", Deadline);
            ChatClient bob = await cluster[1].ConnectAsync("bob");
            await bob.JoinRoomAsync("#ops", Deadline);
            await bob.CloseAsync();
            bob.Dispose();

            await Eventually.TrueAsync(() => cluster[0].Server.ListRooms().Single(r => r.Name == "#ops").MemberCount == 1, Deadline, "the home's #ops down to alice");
            SentMessage post = await alice.SendAsync("#ops", "anyone?").WaitAsync(Deadline);
            Assert.Equal((SendStatus.Posted, 0), (post.Status, post.Recipients));
        }
    }
}
