using Chatrm.Engine.Messaging;

namespace Chatrm.Engine.Routing.Rooms
{
    /// <summary>Where a room's posts are kept beyond the room: a room made again carries on from its last Seq.</summary>
    internal interface IRoomHistory
    {
        /// <summary>The Seq of the last post kept for this room, 0 for none.</summary>
        long LastSeq(string room);

        /// <summary>Keeps a post that has its Seq; called under its room's lock, so posts are kept in Seq order. Only queues.</summary>
        void Append(ChatEnvelope post);
    }
}
