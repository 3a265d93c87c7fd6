using System;
using System.Collections.Generic;
using Chatrm.Engine.Messaging;

namespace Chatrm.Engine.Routing.Rooms
{
    /// <summary>
    /// One room: its members, and the one order of its messages. Everything happens under the room's own lock, and
    /// nothing here takes another lock but that of a member's outbound queue (inside <see cref="IChatEndpoint.Deliver"/>),
    /// so two rooms never wait for each other. A post takes its <see cref="ChatEnvelope.Seq"/> and reaches every member's
    /// queue under the lock, so every member sees the room's messages in the same order, and one that joins sees every
    /// message after its join and none before: a suffix with no gap.
    /// </summary>
    /// <remarks>
    /// A member's <see cref="IChatEndpoint.Deliver"/> and <see cref="IChatEndpoint.RoomPresence"/> are called under the
    /// lock: they must queue and return, and must not call the router's room operations (a session ends, and leaves
    /// its rooms, from its own reader, never from inside a delivery).
    /// </remarks>
    internal sealed class Room
    {
        private static readonly IReadOnlyList<string> NoNames = Array.Empty<string>();

        private readonly object _gate = new object();

        // Who is in the room and since when, looked up by session. The fan-out walks _members, a copy made at every
        // join and leave, so a post allocates nothing and never enumerates the dictionary.
        private readonly Dictionary<IChatEndpoint, DateTime> _joinedAt = new Dictionary<IChatEndpoint, DateTime>(IdentityComparer<IChatEndpoint>.Instance);
        private IChatEndpoint[] _members = Array.Empty<IChatEndpoint>();

        // The members' names in join order, made when first asked for after a change; read-only, as every RoomInfo
        // that lists them shares it.
        private IReadOnlyList<string> _names;
        private long _seq;
        private bool _ended;

        private readonly IRoomHistory _history;

        /// <param name="history">Where posts are kept, and the Seq the room starts after; none when null.</param>
        public Room(string name, IRoomHistory history = null)
        {
            Name = name;
            _history = history;
            _seq = history?.LastSeq(name) ?? 0;
        }

        /// <summary>As the member who made the room wrote it.</summary>
        public string Name { get; }

        /// <summary>The Seq of the room's last message: 0 before the first.</summary>
        public long LastSeq
        {
            get
            {
                lock (_gate)
                {
                    return _seq;
                }
            }
        }

        /// <summary>
        /// Adds the member and tells the others. False when it cannot: the room has ended (its last member left
        /// after the caller found it: make a new one) or is full (<paramref name="full"/>).
        /// </summary>
        public bool TryAdd(IChatEndpoint member, int maxMembers, DateTime now, out RoomInfo joined, out bool wasMember, out bool full)
        {
            lock (_gate)
            {
                joined = null;
                wasMember = false;
                full = false;
                if (_ended)
                {
                    return false;
                }

                if (_joinedAt.TryGetValue(member, out DateTime since))
                {
                    wasMember = true;
                    joined = new RoomInfo(Name, _members.Length, Names(), isMember: true, joinedAt: since) { LastSeq = _seq };
                    return true;
                }

                if (_members.Length >= maxMembers)
                {
                    full = true;
                    return false;
                }

                IChatEndpoint[] before = _members;
                var after = new IChatEndpoint[before.Length + 1];
                Array.Copy(before, after, before.Length);
                after[before.Length] = member;
                _joinedAt.Add(member, now);
                _members = after;
                _names = null;

                // A second session of the same name (a login elsewhere, the old one on its way out) is no news.
                if (!HasOtherNamed(before, member.UserName))
                {
                    foreach (IChatEndpoint other in before)
                    {
                        other.RoomPresence(Name, member.UserName, PresenceChange.Joined, now);
                    }
                }

                joined = new RoomInfo(Name, after.Length, Names(), isMember: true, joinedAt: now) { LastSeq = _seq };
                return true;
            }
        }

        /// <summary>
        /// Takes the member out and tells the others; false when it was not in. <paramref name="ended"/> says the room
        /// had no member left and has ended: the caller takes it out of the table.
        /// </summary>
        public bool Remove(IChatEndpoint member, DateTime now, out int left, out bool ended)
        {
            lock (_gate)
            {
                ended = _ended;
                left = _members.Length;
                if (!_joinedAt.Remove(member))
                {
                    return false;
                }

                IChatEndpoint[] before = _members;
                var after = new IChatEndpoint[before.Length - 1];
                int n = 0;
                foreach (IChatEndpoint m in before)
                {
                    if (!ReferenceEquals(m, member))
                    {
                        after[n++] = m;
                    }
                }

                _members = after;
                _names = null;
                left = after.Length;
                if (after.Length == 0)
                {
                    _ended = ended = true;
                    return true;
                }

                if (!HasOtherNamed(after, member.UserName))
                {
                    foreach (IChatEndpoint other in after)
                    {
                        other.RoomPresence(Name, member.UserName, PresenceChange.Left, now);
                    }
                }

                return true;
            }
        }

        /// <summary>
        /// Gives the message the room's next Seq and hands it to every member but the sender; answers how many took
        /// it, or -1 when the sender is not a member (and then the Seq is not used). A member whose session says it is
        /// gone or too slow is not counted and holds nobody up: its session tells it and drops it, as for a direct
        /// message.
        /// </summary>
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        public int Post(IChatEndpoint sender, ChatEnvelope envelope)
        {
            lock (_gate)
            {
                if (sender == null || !_joinedAt.ContainsKey(sender))
                {
                    return -1;
                }

                envelope.Seq = ++_seq;
                _history?.Append(envelope);
                int recipients = 0;
                IChatEndpoint[] members = _members;
                for (int i = 0; i < members.Length; i++)
                {
                    IChatEndpoint member = members[i];
                    if (!ReferenceEquals(member, sender) && member.Deliver(envelope) == DeliveryStatus.Accepted)
                    {
                        recipients++;
                    }
                }

                return recipients;
            }
        }

        /// <summary>
        /// The room as <paramref name="asking"/> sees it (null: the server, which sees the members); null when the room
        /// has ended or has nobody in it yet.
        /// </summary>
        public RoomInfo Describe(IChatEndpoint asking, bool withMembers)
        {
            lock (_gate)
            {
                if (_members.Length == 0)
                {
                    return null;
                }

                DateTime since = default;
                bool isMember = asking != null && _joinedAt.TryGetValue(asking, out since);
                return new RoomInfo(Name, _members.Length, withMembers ? Names() : null, isMember, isMember ? since : (DateTime?)null) { LastSeq = _seq };
            }
        }

        private IReadOnlyList<string> Names()
        {
            if (_names == null)
            {
                IChatEndpoint[] members = _members;
                if (members.Length == 0)
                {
                    _names = NoNames;
                }
                else
                {
                    var names = new string[members.Length];
                    for (int i = 0; i < members.Length; i++)
                    {
                        names[i] = members[i].UserName;
                    }

                    _names = Array.AsReadOnly(names);
                }
            }

            return _names;
        }

        private static bool HasOtherNamed(IChatEndpoint[] members, string userName)
        {
            foreach (IChatEndpoint m in members)
            {
                if (UserNames.AreSame(m.UserName, userName))
                {
                    return true;
                }
            }

            return false;
        }
    }
}
