using System;

namespace Chatrm.Engine.Server
{
    /// <summary>This user in rooms: the router's side of room presence.</summary>
    internal sealed partial class ServerConnection
    {
        /// <summary>
        /// Someone joined or left a room this user is in. A stub for now: the wiring (a native presence frame with
        /// the room, nothing for classic users) comes next, with the per-protocol sessions.
        /// </summary>
        public void RoomPresence(string room, string userName, PresenceChange change, DateTime time)
        {
        }
    }
}
