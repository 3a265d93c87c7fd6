using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Threading;
using Chatrm.Engine.Messaging;

namespace Chatrm.Engine.Routing.Rooms
{
    /// <summary>
    /// The rooms of one server: made by their first join, ended by their last leave, names compared without regard to
    /// case, and the limits on rooms per user, members per room and rooms in all. Thread-safe: joins, leaves, posts and
    /// sessions' ends may come from any threads at once.
    /// </summary>
    /// <remarks>
    /// Locks, always in this order and at most one of each: a session's <see cref="UserRooms"/>, then one
    /// <see cref="Room"/>. A post takes only its room's lock. No code path holds two rooms' locks, so rooms never wait
    /// on each other; the table itself is lock-free.
    /// </remarks>
    internal sealed class RoomTable
    {
        private readonly ConcurrentDictionary<string, Room> _rooms = new ConcurrentDictionary<string, Room>(RoomNames.Comparer);
        private readonly ConcurrentDictionary<IChatEndpoint, UserRooms> _users =
            new ConcurrentDictionary<IChatEndpoint, UserRooms>(IdentityComparer<IChatEndpoint>.Instance);

        // Rooms in the table: counted up before a new one goes in, so MaxRooms holds however many joins race.
        private int _roomCount;

        private readonly IRoomHistory _history;

        /// <param name="history">Where rooms keep their posts; none when null.</param>
        public RoomTable(RoomLimits limits = null, IRoomHistory history = null)
        {
            Limits = limits ?? RoomLimits.Default;
            _history = history;
        }

        public RoomLimits Limits { get; }

        /// <summary>How many rooms there are.</summary>
        public int Count => Volatile.Read(ref _roomCount);

        public RoomJoin Join(IChatEndpoint member, string name, DateTime now)
        {
            if (member == null)
            {
                throw new ArgumentNullException(nameof(member));
            }

            if (!RoomNames.IsValid(name))
            {
                return RoomJoin.Refused(Refusal.InvalidRoom, RoomNames.Problem(name));
            }

            while (true)
            {
                UserRooms mine = _users.GetOrAdd(member, _ => new UserRooms());
                lock (mine.Gate)
                {
                    if (mine.Gone)
                    {
                        continue;
                    }

                    RoomJoin joined = JoinHolding(mine, member, name, now);
                    if (mine.Count == 0)
                    {
                        // Refused with no room to its name: nothing to keep for it.
                        Forget(member, mine);
                    }

                    return joined;
                }
            }
        }

        public RoomLeave Leave(IChatEndpoint member, string name, DateTime now)
        {
            if (!RoomNames.IsValid(name))
            {
                return RoomLeave.Refused(Refusal.InvalidRoom, RoomNames.Problem(name));
            }

            if (member != null && _users.TryGetValue(member, out UserRooms mine))
            {
                lock (mine.Gate)
                {
                    if (!mine.Gone && mine.Remove(name, out Room room))
                    {
                        int left = LeaveRoom(room, member, now);
                        if (mine.Count == 0)
                        {
                            Forget(member, mine);
                        }

                        return RoomLeave.Done(new RoomInfo(room.Name, left) { LastSeq = room.LastSeq });
                    }
                }
            }

            return RoomLeave.Refused(Refusal.NotInRoom, RoomLimits.NotInRoom(name));
        }

        /// <summary>Posts the envelope to its room (<see cref="ChatEnvelope.To"/>) from <paramref name="sender"/>, who must be a member.</summary>
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        public RoomPost Post(IChatEndpoint sender, ChatEnvelope envelope)
        {
            string name = envelope.To;
            if (name != null && _rooms.TryGetValue(name, out Room room))
            {
                int recipients = room.Post(sender, envelope);
                if (recipients >= 0)
                {
                    return RoomPost.Done(envelope.Seq, recipients);
                }
            }
            else if (!RoomNames.IsValid(name))
            {
                return RoomPost.Refused(Refusal.InvalidRoom, RoomNames.Problem(name));
            }

            return RoomPost.Refused(Refusal.NotInRoom, RoomLimits.NotInRoom(name));
        }

        /// <summary>The session has ended: out of every room it was in, the others told.</summary>
        public void LeaveAll(IChatEndpoint member, DateTime now)
        {
            if (member == null || !_users.TryGetValue(member, out UserRooms mine))
            {
                return;
            }

            lock (mine.Gate)
            {
                if (mine.Gone)
                {
                    return;
                }

                foreach (Room room in mine.TakeAll())
                {
                    LeaveRoom(room, member, now);
                }

                Forget(member, mine);
            }
        }

        /// <summary>Every room, by name; <paramref name="asking"/> null is the server's view, with members.</summary>
        public IReadOnlyList<RoomInfo> List(IChatEndpoint asking)
        {
            var rooms = new List<RoomInfo>(Math.Max(0, Count));
            foreach (KeyValuePair<string, Room> pair in _rooms)
            {
                RoomInfo info = pair.Value.Describe(asking, withMembers: asking == null);
                if (info != null)
                {
                    rooms.Add(info);
                }
            }

            rooms.Sort((a, b) => RoomNames.Comparer.Compare(a.Name, b.Name));
            return rooms;
        }

        /// <summary>One room with its members, as <paramref name="asking"/> sees it; a room that does not exist has none. Null for a name that cannot be a room.</summary>
        public RoomInfo Get(string name, IChatEndpoint asking)
        {
            if (!RoomNames.IsValid(name))
            {
                return null;
            }

            return (_rooms.TryGetValue(name, out Room room) ? room.Describe(asking, withMembers: true) : null)
                ?? new RoomInfo(name, 0, Array.Empty<string>());
        }

        /// <summary>How many rooms the session is in.</summary>
        public int RoomsOf(IChatEndpoint member)
        {
            if (member == null || !_users.TryGetValue(member, out UserRooms mine))
            {
                return 0;
            }

            lock (mine.Gate)
            {
                return mine.Gone ? 0 : mine.Count;
            }
        }

        private RoomJoin JoinHolding(UserRooms mine, IChatEndpoint member, string name, DateTime now)
        {
            if (mine.TryGet(name, out Room current))
            {
                // In it already: the answer is the same as the first join's, and nobody hears of it.
                RoomInfo info = current.Describe(member, withMembers: true);
                if (info != null)
                {
                    return RoomJoin.Done(info, wasMember: true);
                }
            }

            if (mine.Count >= Limits.MaxRoomsPerUser)
            {
                return RoomJoin.Refused(Refusal.TooManyRooms, Limits.TooManyRooms());
            }

            while (true)
            {
                if (!_rooms.TryGetValue(name, out Room room))
                {
                    if (Interlocked.Increment(ref _roomCount) > Limits.MaxRooms)
                    {
                        Interlocked.Decrement(ref _roomCount);
                        return RoomJoin.Refused(Refusal.NoMoreRooms, Limits.NoMoreRooms());
                    }

                    var made = new Room(name, _history);
                    if (!_rooms.TryAdd(name, made))
                    {
                        // Someone made it first: join theirs.
                        Interlocked.Decrement(ref _roomCount);
                        continue;
                    }

                    room = made;
                }

                if (room.TryAdd(member, Limits.MaxMembersPerRoom, now, out RoomInfo joined, out bool wasMember, out bool full))
                {
                    mine.Add(room);
                    return RoomJoin.Done(joined, wasMember);
                }

                if (full)
                {
                    return RoomJoin.Refused(Refusal.RoomFull, Limits.RoomFull(room.Name));
                }

                // Its last member left after it was found: it is on its way out of the table; help it out and make a new one.
                Drop(room);
            }
        }

        private int LeaveRoom(Room room, IChatEndpoint member, DateTime now)
        {
            room.Remove(member, now, out int left, out bool ended);
            if (ended)
            {
                Drop(room);
            }

            return left;
        }

        // Whoever takes an ended room out of the table counts it out; the room is compared as itself, so a new room
        // of the same name stays.
        private void Drop(Room room)
        {
            if (((ICollection<KeyValuePair<string, Room>>)_rooms).Remove(new KeyValuePair<string, Room>(room.Name, room)))
            {
                Interlocked.Decrement(ref _roomCount);
            }
        }

        // Under the session's lock: a joiner that waited on it looks the session up again and finds a new one.
        private void Forget(IChatEndpoint member, UserRooms mine)
        {
            mine.Gone = true;
            ((ICollection<KeyValuePair<IChatEndpoint, UserRooms>>)_users).Remove(new KeyValuePair<IChatEndpoint, UserRooms>(member, mine));
        }
    }
}
