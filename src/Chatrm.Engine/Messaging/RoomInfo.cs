using System;
using System.Collections.Generic;

namespace Chatrm.Engine
{
    /// <summary>
    /// A room as someone sees it: its name, who is in it, and whether (and since when) the one asking is a member.
    /// The server's own view (<see cref="ChatServer"/>) always lists members and has no member of its own.
    /// </summary>
    public sealed class RoomInfo
    {
        private static readonly IReadOnlyList<string> NoMembers = Array.Empty<string>();

        public RoomInfo(string name, int memberCount, IReadOnlyList<string> members = null, bool isMember = false, DateTime? joinedAt = null)
        {
            Name = name;
            MemberCount = memberCount;
            Members = members ?? NoMembers;
            IsMember = isMember;
            JoinedAtUtc = joinedAt;
        }

        /// <summary>As the server writes it, '#' included: <c>#ops</c>.</summary>
        public string Name { get; }

        public int MemberCount { get; }

        /// <summary>The members' names, when the answer listed them (joining a room and asking for one room do); else empty.</summary>
        public IReadOnlyList<string> Members { get; }

        /// <summary>Whether the one who asked is in the room.</summary>
        public bool IsMember { get; }

        /// <summary>When the one who asked joined, in local time, as Get-Date is; null when it is not a member.</summary>
        public DateTime? JoinedAt => JoinedAtUtc?.ToLocalTime();

        /// <summary>As the wire carries it.</summary>
        internal DateTime? JoinedAtUtc { get; }

        /// <summary>The room's last Seq when this answer was made (a room frame's seq): later posts reach a member live.</summary>
        internal long LastSeq { get; set; }

        public override string ToString() => Name;
    }
}
