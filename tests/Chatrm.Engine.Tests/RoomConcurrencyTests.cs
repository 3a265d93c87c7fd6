using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Chatrm.Engine.Routing.Rooms;
using Xunit;

namespace Chatrm.Engine.Tests
{
    /// <summary>Rooms under many threads at once: one order per room, suffixes without gaps, limits that hold, no deadlock.</summary>
    public class RoomConcurrencyTests
    {
        private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

        private static LocalRouter RouterWith(IEnumerable<FakeMember> members, RoomLimits limits = null)
        {
            var router = new LocalRouter(roomLimits: limits);
            foreach (FakeMember m in members)
            {
                Assert.True(router.TryRegister(m, takeOver: false, out _));
            }

            return router;
        }

        private static ChatEnvelope Message(string from, string room, string text) => new ChatEnvelope("0", from, room, text, DateTime.UtcNow);

        /// <summary>Runs each action on a thread of its own, all let go at once; fails if they do not all end in time.</summary>
        private static void RunTogether(IReadOnlyList<Action> actions)
        {
            using var go = new ManualResetEventSlim();
            var failures = new ConcurrentQueue<Exception>();
            Thread[] threads = actions.Select(action => new Thread(() =>
            {
                go.Wait();
                try
                {
                    action();
                }
                catch (Exception e)
                {
                    failures.Enqueue(e);
                }
            }) { IsBackground = true }).ToArray();
            foreach (Thread t in threads)
            {
                t.Start();
            }

            go.Set();
            DateTime until = DateTime.UtcNow + Deadline;
            foreach (Thread t in threads)
            {
                TimeSpan left = until - DateTime.UtcNow;
                Assert.True(t.Join(left > TimeSpan.Zero ? left : TimeSpan.Zero), "a thread did not end in time: a deadlock?");
            }

            Assert.Empty(failures);
        }

        [Fact]
        public void SendersAtOnceMakeOneOrderThatEveryMemberSeesWholeAndAlike()
        {
            const int Posters = 6;
            const int PerPoster = 2000;
            const int Total = Posters * PerPoster;
            FakeMember[] listeners = Enumerable.Range(0, 40).Select(i => new FakeMember("listener" + i)).ToArray();
            FakeMember[] posters = Enumerable.Range(0, Posters).Select(i => new FakeMember("poster" + i)).ToArray();
            LocalRouter router = RouterWith(listeners.Concat(posters));
            foreach (FakeMember m in listeners.Concat(posters))
            {
                Assert.True(router.Join(m, "#ops").Joined);
            }

            var posted = new long[Posters][];
            RunTogether(Enumerable.Range(0, Posters).Select(p => (Action)(() =>
            {
                posted[p] = new long[PerPoster];
                for (int k = 0; k < PerPoster; k++)
                {
                    RoomPost post = router.Post(Message(posters[p].UserName, "#OPS", p + ":" + k));
                    Assert.True(post.Posted);
                    Assert.Equal(Posters + 39, post.Recipients);
                    posted[p][k] = post.Seq;
                }
            })).ToList());

            long[] whole = Enumerable.Range(1, Total).Select(n => (long)n).ToArray();
            List<ChatEnvelope> first = listeners[0].Received;
            foreach (FakeMember listener in listeners)
            {
                Assert.Equal(whole, listener.Seqs());
                Assert.True(first.SequenceEqual(listener.Received), listener.UserName + " saw another order");
            }

            for (int p = 0; p < Posters; p++)
            {
                // A sender's own posts keep their order, and are the gaps in what it received.
                Assert.Equal(posted[p].OrderBy(s => s), posted[p]);
                List<long> heard = posters[p].Seqs();
                Assert.Empty(heard.Intersect(posted[p]));
                Assert.Equal(whole, heard.Concat(posted[p]).OrderBy(s => s));
                Assert.Equal(heard.OrderBy(s => s), heard);
                Assert.DoesNotContain(posters[p].Received, e => e.From == posters[p].UserName);
            }
        }

        [Fact]
        public void AMemberThatJoinsOrLeavesMidStreamSeesOneRunWithoutGaps()
        {
            const int PerPoster = 4000;
            FakeMember[] posters = { new FakeMember("p0"), new FakeMember("p1") };
            FakeMember[] joiners = Enumerable.Range(0, 8).Select(i => new FakeMember("joiner" + i)).ToArray();
            FakeMember[] leavers = Enumerable.Range(0, 8).Select(i => new FakeMember("leaver" + i)).ToArray();
            LocalRouter router = RouterWith(posters.Concat(joiners).Concat(leavers));
            foreach (FakeMember m in posters.Concat(leavers))
            {
                router.Join(m, "#ops");
            }

            long posts = 0;
            var actions = new List<Action>();
            actions.AddRange(posters.Select(p => (Action)(() =>
            {
                for (int k = 0; k < PerPoster; k++)
                {
                    Assert.True(router.Post(Message(p.UserName, "#ops", "x")).Posted);
                    Interlocked.Increment(ref posts);
                }
            })));
            actions.AddRange(joiners.Select((j, i) => (Action)(() =>
            {
                SpinWait.SpinUntil(() => Volatile.Read(ref posts) >= i * PerPoster / 5);
                Assert.True(router.Join(j, "#ops").Joined);
            })));
            actions.AddRange(leavers.Select((l, i) => (Action)(() =>
            {
                SpinWait.SpinUntil(() => Volatile.Read(ref posts) >= i * PerPoster / 5);
                Assert.True(router.Leave(l, "#ops").Left);
            })));
            RunTogether(actions);

            long last = 2 * PerPoster;
            foreach (FakeMember j in joiners)
            {
                List<long> seqs = j.Seqs();
                Assert.Equal(Enumerable.Range(0, seqs.Count).Select(n => last - seqs.Count + 1 + n), seqs);
            }

            foreach (FakeMember l in leavers)
            {
                List<long> seqs = l.Seqs();
                Assert.Equal(Enumerable.Range(1, seqs.Count).Select(n => (long)n), seqs);
            }
        }

        [Fact]
        public void JoinsLeavesPostsAndEndsFromManyThreadsLeaveTheTableWhole()
        {
            string[] rooms = { "#a", "#b", "#c", "#d", "#e" };
            FakeMember[] members = Enumerable.Range(0, 16).Select(i => new FakeMember("m" + i)).ToArray();
            LocalRouter router = RouterWith(members, new RoomLimits(maxRoomsPerUser: 3, maxMembersPerRoom: 12, maxRooms: 4));

            RunTogether(Enumerable.Range(0, 8).Select(t => (Action)(() =>
            {
                var random = new Random(t);
                for (int i = 0; i < 20000; i++)
                {
                    // Threads share the members, so one session's own operations race too.
                    FakeMember m = members[random.Next(members.Length)];
                    string room = rooms[random.Next(rooms.Length)];
                    switch (random.Next(10))
                    {
                        case 0:
                        case 1:
                        case 2:
                            RoomJoin join = router.Join(m, room.ToUpperInvariant());
                            Assert.Contains(join.Refusal, new[] { Refusal.None, Refusal.TooManyRooms, Refusal.RoomFull, Refusal.NoMoreRooms });
                            break;
                        case 3:
                        case 4:
                            Assert.Contains(router.Leave(m, room).Refusal, new[] { Refusal.None, Refusal.NotInRoom });
                            break;
                        case 5:
                            router.Rooms.LeaveAll(m, DateTime.UtcNow);
                            break;
                        case 6:
                            router.ListRooms(m);
                            router.GetRoom(room, null);
                            break;
                        default:
                            Assert.Contains(router.Post(Message(m.UserName, room, "x")).Refusal, new[] { Refusal.None, Refusal.NotInRoom });
                            break;
                    }
                }
            })).ToList());

            // What each session thinks it is in is what the rooms list, and the limits held.
            IReadOnlyList<RoomInfo> all = router.ListRooms(null);
            Assert.True(all.Count <= 4);
            Assert.Equal(all.Count, router.Rooms.Count);
            foreach (FakeMember m in members)
            {
                int listed = all.Count(r => r.Members.Contains(m.UserName));
                Assert.Equal(listed, router.Rooms.RoomsOf(m));
                Assert.Equal(listed, router.ListRooms(m).Count(r => r.IsMember));
                Assert.True(listed <= 3);
            }

            Assert.All(all, r => Assert.InRange(r.MemberCount, 1, 12));
            Assert.All(all, r => Assert.Equal(r.MemberCount, r.Members.Distinct().Count()));

            foreach (FakeMember m in members)
            {
                router.Unregister(m);
            }

            Assert.Empty(router.ListRooms(null));
            Assert.Equal(0, router.Rooms.Count);
        }

        [Fact]
        public void EveryLimitHoldsWhenJoinsRaceForTheLastPlace()
        {
            FakeMember[] members = Enumerable.Range(0, 48).Select(i => new FakeMember("m" + i)).ToArray();

            // Rooms in all: each member makes a room of its own.
            LocalRouter router = RouterWith(members, new RoomLimits(maxRooms: 10));
            var answers = new ConcurrentQueue<Refusal>();
            RunTogether(members.Select((m, i) => (Action)(() => answers.Enqueue(router.Join(m, "#r" + i).Refusal))).ToList());
            Assert.Equal(10, answers.Count(r => r == Refusal.None));
            Assert.Equal(38, answers.Count(r => r == Refusal.NoMoreRooms));
            Assert.Equal(10, router.Rooms.Count);

            // Members per room: all into one.
            router = RouterWith(members, new RoomLimits(maxMembersPerRoom: 10));
            answers = new ConcurrentQueue<Refusal>();
            RunTogether(members.Select(m => (Action)(() => answers.Enqueue(router.Join(m, "#one").Refusal))).ToList());
            Assert.Equal(10, answers.Count(r => r == Refusal.None));
            Assert.Equal(38, answers.Count(r => r == Refusal.RoomFull));
            Assert.Equal(10, router.GetRoom("#one", null).MemberCount);

            // Rooms per user: one session joining from many threads.
            router = RouterWith(members.Take(1), new RoomLimits(maxRoomsPerUser: 5));
            answers = new ConcurrentQueue<Refusal>();
            RunTogether(Enumerable.Range(0, 16).Select(i => (Action)(() => answers.Enqueue(router.Join(members[0], "#u" + i).Refusal))).ToList());
            Assert.Equal(5, answers.Count(r => r == Refusal.None));
            Assert.Equal(11, answers.Count(r => r == Refusal.TooManyRooms));
            Assert.Equal(5, router.Rooms.RoomsOf(members[0]));
        }
        [Fact]
        public void APostToAHundredMembersAllocatesNothingOnTheWay()
        {
            var router = new LocalRouter();
            CountingMember[] members = Enumerable.Range(0, 101).Select(i => new CountingMember("m" + i)).ToArray();
            foreach (CountingMember m in members)
            {
                router.TryRegister(m, takeOver: false, out _);
                router.Join(m, "#ops");
            }

            ChatEnvelope envelope = Message("m0", "#ops", "x");
            for (int i = 0; i < 100; i++)
            {
                router.Post(envelope);
            }

            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 1000; i++)
            {
                router.Post(envelope);
            }

            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.Equal(1100 * 100, members.Sum(m => m.Count));
            Assert.True(allocated < 1024, allocated + " bytes allocated by 1,000 posts");
        }

        private sealed class CountingMember : IChatEndpoint
        {
            private static long s_next;

            public CountingMember(string name)
            {
                UserName = name;
                Address = new SenderAddress(0, Interlocked.Increment(ref s_next));
            }

            public long Count;

            public string UserName { get; }

            public string Protocol => ProtocolNames.Chatrm;

            public DateTime ConnectedAt => default;
            public string ResumeToken => null;

            public SenderAddress Address { get; }

            public DeliveryStatus Deliver(ChatEnvelope envelope)
            {
                Count++;
                return DeliveryStatus.Accepted;
            }

            public void RoomPresence(string room, string userName, PresenceChange change, DateTime time)
            {
            }

            public void PostAnswered(ChatEnvelope envelope, RoomPost post)
            {
            }

            public void Disconnect(Refusal why, string text)
            {
            }

            public void Forwarded(ChatEnvelope envelope)
            {
            }

            public void Delivered(ChatEnvelope envelope)
            {
            }

            public void Delivered(ReadOnlySpan<ChatEnvelope> envelopes)
            {
            }

            public void Refused(ChatEnvelope envelope, Refusal reason, string message)
            {
            }

            public void Failed(ChatEnvelope envelope, Refusal reason, string message)
            {
            }

            public void Stored(ChatEnvelope envelope)
            {
            }
        }
    }
}
