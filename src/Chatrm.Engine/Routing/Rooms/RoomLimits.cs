using System;
using System.Globalization;

namespace Chatrm.Engine.Routing.Rooms
{
    /// <summary>
    /// The three room limits of a server (see <see cref="ServerOptions"/>) and the words a refusal says when one is
    /// met: each names the limit and the Start-ChatrmServer parameter that sets it.
    /// </summary>
    internal sealed class RoomLimits
    {
        public const int DefaultMaxRoomsPerUser = 100;
        public const int DefaultMaxMembersPerRoom = 1_000;
        public const int DefaultMaxRooms = 10_000;

        public RoomLimits(int maxRoomsPerUser = DefaultMaxRoomsPerUser, int maxMembersPerRoom = DefaultMaxMembersPerRoom, int maxRooms = DefaultMaxRooms)
        {
            if (maxRoomsPerUser < 1) throw new ArgumentOutOfRangeException(nameof(maxRoomsPerUser), maxRoomsPerUser, "A user may be in at least one room.");
            if (maxMembersPerRoom < 1) throw new ArgumentOutOfRangeException(nameof(maxMembersPerRoom), maxMembersPerRoom, "A room has room for at least one member.");
            if (maxRooms < 1) throw new ArgumentOutOfRangeException(nameof(maxRooms), maxRooms, "The server has room for at least one room.");
            MaxRoomsPerUser = maxRoomsPerUser;
            MaxMembersPerRoom = maxMembersPerRoom;
            MaxRooms = maxRooms;
        }

        public static RoomLimits Default { get; } = new RoomLimits();

        public int MaxRoomsPerUser { get; }

        public int MaxMembersPerRoom { get; }

        public int MaxRooms { get; }

        public static RoomLimits From(ServerOptions options) =>
            new RoomLimits(options.MaxRoomsPerUser, options.MaxMembersPerRoom, options.MaxRooms);

        public string TooManyRooms() =>
            "you are in " + Number(MaxRoomsPerUser) + " rooms, as many as a user may be (-MaxRoomsPerUser)";

        public string RoomFull(string room) =>
            room + " has " + Number(MaxMembersPerRoom) + " members, as many as a room may have (-MaxMembersPerRoom)";

        public string NoMoreRooms() =>
            "the server has " + Number(MaxRooms) + " rooms, as many as it may have (-MaxRooms)";

        public static string NotInRoom(string room) => "you are not in " + room;

        private static string Number(int n) => n.ToString(CultureInfo.InvariantCulture);
    }
}
