using System.Collections.Generic;

namespace Chatrm.Engine.Routing.Rooms
{
    /// <summary>
    /// The rooms one session is in, by name. Its lock is held through a join, a leave or a session's end, so what it
    /// lists and the rooms' own member lists agree whenever nobody holds it. It is taken before a room's lock, never
    /// after.
    /// </summary>
    internal sealed class UserRooms
    {
        private readonly Dictionary<string, Room> _rooms = new Dictionary<string, Room>(RoomNames.Comparer);

        /// <summary>The lock: held by whoever changes this session's rooms.</summary>
        public object Gate => _rooms;

        /// <summary>
        /// Taken out of the table (the session left its last room, or ended): whoever held it waiting must look the
        /// session up again.
        /// </summary>
        public bool Gone { get; set; }

        public int Count => _rooms.Count;

        public bool TryGet(string name, out Room room) => _rooms.TryGetValue(name, out room);

        public void Add(Room room) => _rooms[room.Name] = room;

        public bool Remove(string name, out Room room) => _rooms.TryGetValue(name, out room) && _rooms.Remove(name);

        /// <summary>Every room, and none left here.</summary>
        public List<Room> TakeAll()
        {
            var all = new List<Room>(_rooms.Values);
            _rooms.Clear();
            return all;
        }
    }
}
