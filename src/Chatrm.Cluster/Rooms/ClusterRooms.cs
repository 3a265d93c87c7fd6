using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Chatrm.Cluster.Nodes;
using Chatrm.Cluster.Routing;
using Chatrm.Cluster.Wire;
using Chatrm.Engine;
using Chatrm.Engine.Messaging;
using Chatrm.Engine.Routing;
using Chatrm.Engine.Routing.Rooms;

namespace Chatrm.Cluster.Rooms
{
    /// <summary>
    /// Rooms across servers. A room lives on its home (<see cref="RoomHomes"/>), in that server's own room table, where
    /// members on other servers are <see cref="RemoteMember"/>s: so the home's one lock gives one order for everyone.
    /// A session here in a room homed elsewhere joins, posts and leaves by frames to the home, whose answers come in
    /// order with the room's messages; this server keeps which rooms each of its sessions is in there, and a mirror of
    /// those rooms' members for "who".
    /// </summary>
    internal sealed class ClusterRooms
    {
        private static readonly TimeSpan AnswerTimeout = TimeSpan.FromSeconds(5);

        private readonly LocalRouter _local;
        private readonly RoomHomes _homes;
        private readonly NodeDirectory _nodes;
        private readonly NodeLink _link;

        // At a home: the members of its rooms that are connected elsewhere, by their server and connection.
        private readonly ConcurrentDictionary<(int Node, long Connection), RemoteMember> _remote = new ConcurrentDictionary<(int, long), RemoteMember>();

        // Here: each session's rooms homed elsewhere, by connection id.
        private readonly ConcurrentDictionary<long, Membership> _memberships = new ConcurrentDictionary<long, Membership>();

        // Here: the members of rooms homed elsewhere that a session here is in, as their homes said.
        private readonly ConcurrentDictionary<string, List<string>> _mirrors = new ConcurrentDictionary<string, List<string>>(RoomNames.Comparer);

        private readonly ConcurrentDictionary<long, TaskCompletionSource<RoomJoin>> _joins = new ConcurrentDictionary<long, TaskCompletionSource<RoomJoin>>();
        private readonly ConcurrentDictionary<long, TaskCompletionSource<RoomLeave>> _leaves = new ConcurrentDictionary<long, TaskCompletionSource<RoomLeave>>();
        private long _nextRequest;

        public ClusterRooms(LocalRouter local, RoomHomes homes, NodeDirectory nodes, NodeLink link)
        {
            _local = local;
            _homes = homes;
            _nodes = nodes;
            _link = link;
            _nodes.NodeGone += OnNodeGone;
        }

        private RoomTable Table => _local.Rooms;

        public RoomJoin Join(IChatEndpoint member, string room)
        {
            if (!RoomNames.IsValid(room))
            {
                return _local.Join(member, room);
            }

            bool known = _homes.TryGetHome(room, out int home);
            if (known && home == _nodes.Self)
            {
                return JoinHere(member, room);
            }

            Membership mine = MembershipOf(member, create: false);
            if (mine != null && mine.Rooms.TryGetValue(room, out Joined joined))
            {
                return RoomJoin.Done(Describe(room, member, joined), wasMember: true);
            }

            if (!_link.IsConnected)
            {
                return RoomJoin.Refused(Refusal.ClusterUnavailable, "the room " + room + " is on another server, and the cluster is unavailable");
            }

            return RoomJoin.Pending(JoinElsewhereAsync(member, room, known ? home : (int?)null));
        }

        public RoomLeave Leave(IChatEndpoint member, string room)
        {
            Membership mine = RoomNames.IsValid(room) ? MembershipOf(member, create: false) : null;
            if (mine == null || !mine.Rooms.TryGetValue(room, out Joined joined))
            {
                RoomLeave left = _local.Leave(member, room);
                if (left.Left)
                {
                    _homes.Update(room, left.Room.MemberCount);
                }

                return left;
            }

            long request = Interlocked.Increment(ref _nextRequest);
            TaskCompletionSource<RoomLeave> answer = Await(_leaves, request, RoomLeave.Refused(Refusal.ClusterUnavailable, "the server of the room " + room + " did not answer"));
            if (!_link.TrySend(joined.Home, ClusterFrame.RoomLeaveAsk(request, room, member.Address.ConnectionId)))
            {
                _leaves.TryRemove(request, out _);
                return RoomLeave.Refused(Refusal.ClusterUnavailable, "the room " + room + " is on another server, and the cluster is unavailable");
            }

            return RoomLeave.Pending(answer.Task.ContinueWith(
                done =>
                {
                    if (done.Result.Left)
                    {
                        Forget(mine, room);
                    }

                    return done.Result;
                },
                CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default));
        }

        public RoomPost Post(ChatEnvelope envelope)
        {
            string room = envelope.To;
            if (room != null && _local.TryGetOnline(envelope.From ?? string.Empty, out IChatEndpoint sender)
                && _memberships.TryGetValue(sender.Address.ConnectionId, out Membership mine) && mine.Rooms.TryGetValue(room, out Joined joined))
            {
                return _link.TrySend(joined.Home, ClusterFrame.RoomPost(sender.Address.ConnectionId, envelope))
                    ? RoomPost.Pending
                    : RoomPost.Refused(Refusal.ClusterUnavailable, "the room " + room + " is on another server, and the cluster is unavailable");
            }

            return _local.Post(envelope);
        }

        /// <summary>The session has ended: its rooms elsewhere hear it left; those here, through the local table, already did.</summary>
        public void Ended(IChatEndpoint member)
        {
            if (_memberships.TryRemove(member.Address.ConnectionId, out Membership mine))
            {
                foreach (KeyValuePair<string, Joined> pair in mine.Rooms)
                {
                    _link.TrySend(pair.Value.Home, ClusterFrame.RoomLeaveAsk(0, pair.Key, member.Address.ConnectionId));
                    DropFromMirror(pair.Key, member.UserName);
                }
            }

            CountHomedRooms();
        }

        public IReadOnlyList<RoomInfo> List(IChatEndpoint asking)
        {
            var rooms = new List<RoomInfo>(_local.ListRooms(asking));
            var listed = new HashSet<string>(rooms.Select(r => r.Name), RoomNames.Comparer);
            foreach (KeyValuePair<string, int> remote in _homes.Remote())
            {
                if (listed.Add(remote.Key))
                {
                    rooms.Add(_mirrors.ContainsKey(remote.Key) ? Describe(remote.Key, asking, JoinedOf(asking, remote.Key), withMembers: asking == null)
                        : new RoomInfo(remote.Key, remote.Value));
                }
            }

            rooms.Sort((a, b) => RoomNames.Comparer.Compare(a.Name, b.Name));
            return rooms;
        }

        public RoomInfo Get(string room, IChatEndpoint asking)
        {
            if (RoomNames.IsValid(room) && _mirrors.ContainsKey(room))
            {
                return Describe(room, asking, JoinedOf(asking, room));
            }

            if (RoomNames.IsValid(room) && _homes.TryGetRemote(room, out int count))
            {
                return new RoomInfo(room, count, Array.Empty<string>());
            }

            return _local.GetRoom(room, asking);
        }

        /// <summary>A room frame from another server; false when it is none of these.</summary>
        public bool OnFrame(FrameKind kind, int from, BinaryReader r)
        {
            switch (kind)
            {
                case FrameKind.RoomJoinAsk:
                    OnJoinAsk(from, r);
                    return true;
                case FrameKind.RoomLeaveAsk:
                    OnLeaveAsk(from, r);
                    return true;
                case FrameKind.RoomPost:
                    OnPost(from, r);
                    return true;
                case FrameKind.RoomJoinAnswer:
                    OnJoinAnswer(r);
                    return true;
                case FrameKind.RoomLeaveAnswer:
                    OnLeaveAnswer(r);
                    return true;
                case FrameKind.RoomPostAnswer:
                    OnPostAnswer(r);
                    return true;
                case FrameKind.RoomMessage:
                    OnRoomMessage(r);
                    return true;
                case FrameKind.RoomPresence:
                    OnRoomPresence(r);
                    return true;
                default:
                    return false;
            }
        }

        // ---- Here, for a room homed elsewhere ----

        private async Task<RoomJoin> JoinElsewhereAsync(IChatEndpoint member, string room, int? known)
        {
            int home;
            try
            {
                using var timeout = new CancellationTokenSource(AnswerTimeout);
                home = known ?? await _homes.ClaimAsync(room, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is NATS.Client.Core.NatsException || e is OperationCanceledException || e is TimeoutException)
            {
                return RoomJoin.Refused(Refusal.ClusterUnavailable, "the cluster did not say where the room " + room + " is; try again");
            }

            if (home == _nodes.Self)
            {
                return JoinHere(member, room);
            }

            Membership mine = MembershipOf(member, create: true);
            if (mine.Rooms.Count + Table.RoomsOf(member) >= Table.Limits.MaxRoomsPerUser)
            {
                return RoomJoin.Refused(Refusal.TooManyRooms, Table.Limits.TooManyRooms());
            }

            long request = Interlocked.Increment(ref _nextRequest);
            TaskCompletionSource<RoomJoin> answer = Await(_joins, request, RoomJoin.Refused(Refusal.ClusterUnavailable, "the server of the room " + room + " did not answer"));
            if (!_link.TrySend(home, ClusterFrame.RoomJoinAsk(request, room, member.UserName, member.Protocol, member.ConnectedAt, member.Address.ConnectionId)))
            {
                _joins.TryRemove(request, out _);
                return RoomJoin.Refused(Refusal.ClusterUnavailable, "the room " + room + " is on another server, and the cluster is unavailable");
            }

            // Resumed on the link's thread as the answer is read, before the room's next frame: the joiner hears it first.
            RoomJoin joined = await answer.Task;
            if (joined.Joined)
            {
                mine.Rooms[room] = new Joined(home, joined.Room.JoinedAtUtc ?? DateTime.UtcNow);
                _mirrors[room] = new List<string>(joined.Room.Members ?? Array.Empty<string>());
            }

            return joined;
        }

        private void OnJoinAnswer(BinaryReader r)
        {
            long request = r.ReadInt64();
            Refusal refusal = ClusterFrame.ReadRefusal(r);
            string message = ClusterFrame.ReadNullable(r);
            RoomInfo room = r.ReadBoolean() ? ClusterFrame.ReadRoom(r) : null;
            if (_joins.TryRemove(request, out TaskCompletionSource<RoomJoin> waiting))
            {
                waiting.TrySetResult(refusal == Refusal.None && room != null ? RoomJoin.Done(room, wasMember: false) : RoomJoin.Refused(refusal, message ?? refusal.ToCode()));
            }
        }

        private void OnLeaveAnswer(BinaryReader r)
        {
            long request = r.ReadInt64();
            Refusal refusal = ClusterFrame.ReadRefusal(r);
            string message = ClusterFrame.ReadNullable(r);
            RoomInfo room = r.ReadBoolean() ? ClusterFrame.ReadRoom(r) : null;
            if (_leaves.TryRemove(request, out TaskCompletionSource<RoomLeave> waiting))
            {
                waiting.TrySetResult(refusal == Refusal.None && room != null ? RoomLeave.Done(room) : RoomLeave.Refused(refusal, message ?? refusal.ToCode()));
            }
        }

        private void OnPostAnswer(BinaryReader r)
        {
            long connection = r.ReadInt64();
            ChatEnvelope envelope = ClusterFrame.ReadEnvelope(r);
            Refusal refusal = ClusterFrame.ReadRefusal(r);
            string message = ClusterFrame.ReadNullable(r);
            long seq = r.ReadInt64();
            int recipients = r.ReadInt32();
            if (_memberships.TryGetValue(connection, out Membership mine))
            {
                mine.Endpoint.PostAnswered(envelope, refusal == Refusal.None ? RoomPost.Done(seq, recipients) : RoomPost.Refused(refusal, message ?? refusal.ToCode()));
            }
        }

        private void OnRoomMessage(BinaryReader r)
        {
            long connection = r.ReadInt64();
            ChatEnvelope envelope = ClusterFrame.ReadEnvelope(r);
            if (_memberships.TryGetValue(connection, out Membership mine))
            {
                mine.Endpoint.Deliver(envelope);
            }
        }

        private void OnRoomPresence(BinaryReader r)
        {
            long connection = r.ReadInt64();
            string room = r.ReadString();
            string user = r.ReadString();
            var change = (PresenceChange)r.ReadInt32();
            DateTime time = ClusterFrame.ReadTime(r);
            if (!RoomNames.IsValid(room) || !UserNames.IsValid(user) || !Enum.IsDefined(typeof(PresenceChange), change))
            {
                throw new InvalidDataException("room presence that cannot be");
            }

            if (_mirrors.TryGetValue(room, out List<string> members))
            {
                lock (members)
                {
                    if (change == PresenceChange.Joined && !members.Contains(user, UserNames.Comparer))
                    {
                        members.Add(user);
                    }
                    else if (change == PresenceChange.Left)
                    {
                        members.RemoveAll(m => UserNames.AreSame(m, user));
                    }
                }
            }

            if (_memberships.TryGetValue(connection, out Membership mine))
            {
                mine.Endpoint.RoomPresence(room, user, change, time);
            }
        }

        // ---- At the home, for members elsewhere ----

        private RoomJoin JoinHere(IChatEndpoint member, string room)
        {
            RoomJoin joined = _local.Join(member, room);
            if (joined.Joined && !joined.WasMember)
            {
                _homes.Update(room, joined.Room.MemberCount);
            }

            return joined;
        }

        private void OnJoinAsk(int from, BinaryReader r)
        {
            long request = r.ReadInt64();
            string room = r.ReadString();
            string user = r.ReadString();
            string protocol = r.ReadString();
            DateTime connectedAt = ClusterFrame.ReadTime(r);
            long connection = r.ReadInt64();
            if (!UserNames.IsValid(user))
            {
                throw new InvalidDataException("a join for a name that cannot be");
            }

            RoomJoin joined;
            if (!_homes.TryGetHome(room, out int home) || home != _nodes.Self)
            {
                joined = RoomJoin.Refused(Refusal.ClusterUnavailable, "the room " + room + " moved to another server; join again");
            }
            else
            {
                RemoteMember member = _remote.GetOrAdd((from, connection), key => new RemoteMember(_link, key.Node, key.Connection, user, protocol, connectedAt));
                joined = JoinHere(member, room);
            }

            _link.TrySend(from, ClusterFrame.RoomAnswer(FrameKind.RoomJoinAnswer, request, joined.Refusal, joined.Message, joined.Room));
        }

        private void OnLeaveAsk(int from, BinaryReader r)
        {
            long request = r.ReadInt64();
            string room = r.ReadString();
            long connection = r.ReadInt64();
            RoomLeave left = _remote.TryGetValue((from, connection), out RemoteMember member)
                ? _local.Leave(member, room)
                : RoomLeave.Refused(Refusal.NotInRoom, RoomLimits.NotInRoom(room));
            if (left.Left)
            {
                _homes.Update(room, left.Room.MemberCount);
                if (Table.RoomsOf(member) == 0)
                {
                    _remote.TryRemove((from, connection), out _);
                }
            }

            if (request != 0)
            {
                _link.TrySend(from, ClusterFrame.RoomAnswer(FrameKind.RoomLeaveAnswer, request, left.Refusal, left.Message, left.Room));
            }
        }

        private void OnPost(int from, BinaryReader r)
        {
            long connection = r.ReadInt64();
            ChatEnvelope envelope = ClusterFrame.ReadEnvelope(r);
            RoomPost post = _remote.TryGetValue((from, connection), out RemoteMember member)
                ? Table.Post(member, envelope)
                : RoomPost.Refused(Refusal.NotInRoom, RoomLimits.NotInRoom(envelope.To));
            _link.TrySend(from, ClusterFrame.RoomPostAnswer(connection, envelope, post.Refusal, post.Message, post.Seq, post.Recipients));
        }

        // A server gone: its members leave the rooms homed here, and this server's sessions are out of the rooms it homed.
        private void OnNodeGone(int node)
        {
            foreach (KeyValuePair<(int Node, long Connection), RemoteMember> pair in _remote)
            {
                if (pair.Key.Node == node && _remote.TryRemove(pair.Key, out RemoteMember member))
                {
                    Table.LeaveAll(member, DateTime.UtcNow);
                }
            }

            foreach (Membership mine in _memberships.Values)
            {
                foreach (KeyValuePair<string, Joined> pair in mine.Rooms)
                {
                    if (pair.Value.Home == node)
                    {
                        Forget(mine, pair.Key);
                    }
                }
            }

            CountHomedRooms();
        }

        // ---- Shared ----

        private void CountHomedRooms()
        {
            foreach (RoomInfo room in _local.ListRooms(null))
            {
                _homes.Update(room.Name, room.MemberCount);
            }
        }

        private Membership MembershipOf(IChatEndpoint member, bool create)
        {
            if (member == null)
            {
                return null;
            }

            long connection = member.Address.ConnectionId;
            return create ? _memberships.GetOrAdd(connection, _ => new Membership(member))
                : _memberships.TryGetValue(connection, out Membership mine) ? mine : null;
        }

        private Joined? JoinedOf(IChatEndpoint asking, string room)
        {
            Membership mine = MembershipOf(asking, create: false);
            return mine != null && mine.Rooms.TryGetValue(room, out Joined joined) ? joined : (Joined?)null;
        }

        private RoomInfo Describe(string room, IChatEndpoint asking, Joined? joined, bool withMembers = true)
        {
            string[] members = Array.Empty<string>();
            if (_mirrors.TryGetValue(room, out List<string> mirror))
            {
                lock (mirror)
                {
                    members = mirror.ToArray();
                }
            }

            return new RoomInfo(room, members.Length, withMembers ? members : null, joined != null, joined?.At);
        }

        private void Forget(Membership mine, string room)
        {
            mine.Rooms.TryRemove(room, out _);
            DropFromMirror(room, mine.Endpoint.UserName);
        }

        private void DropFromMirror(string room, string user)
        {
            bool anyoneHere = _memberships.Values.Any(m => m.Rooms.ContainsKey(room));
            if (!anyoneHere)
            {
                _mirrors.TryRemove(room, out _);
            }
            else if (_mirrors.TryGetValue(room, out List<string> members))
            {
                lock (members)
                {
                    members.RemoveAll(m => UserNames.AreSame(m, user));
                }
            }
        }

        // The answer's completion runs what waits on it on the thread that read the answer, in order with the room's frames.
        private static TaskCompletionSource<T> Await<T>(ConcurrentDictionary<long, TaskCompletionSource<T>> waiting, long request, T timedOut)
        {
            var answer = new TaskCompletionSource<T>();
            waiting[request] = answer;
            var timeout = new CancellationTokenSource(AnswerTimeout);
            timeout.Token.Register(() =>
            {
                if (waiting.TryRemove(request, out TaskCompletionSource<T> late))
                {
                    late.TrySetResult(timedOut);
                }
            });
            answer.Task.ContinueWith(_ => timeout.Dispose(), TaskScheduler.Default);
            return answer;
        }

        private sealed class Membership
        {
            public Membership(IChatEndpoint endpoint) => Endpoint = endpoint;

            public IChatEndpoint Endpoint { get; }

            public ConcurrentDictionary<string, Joined> Rooms { get; } = new ConcurrentDictionary<string, Joined>(RoomNames.Comparer);
        }

        private readonly struct Joined
        {
            public Joined(int home, DateTime at)
            {
                Home = home;
                At = at;
            }

            public int Home { get; }

            public DateTime At { get; }
        }
    }
}
