using System;
using Chatrm.Cluster.Routing;
using Chatrm.Cluster.Wire;
using Chatrm.Engine;
using Chatrm.Engine.Messaging;
using Chatrm.Engine.Routing;

namespace Chatrm.Cluster.Rooms
{
    /// <summary>
    /// At a room's home, a member connected to another server: one more member of the room, whose deliveries and
    /// presence go to its server as frames (a remote server is just another subscriber). One per connection there.
    /// </summary>
    internal sealed class RemoteMember : IChatEndpoint
    {
        private readonly NodeLink _link;

        public RemoteMember(NodeLink link, int node, long connection, string userName, string protocol, DateTime connectedAt)
        {
            _link = link;
            Node = node;
            Connection = connection;
            UserName = userName;
            Protocol = protocol;
            ConnectedAt = connectedAt;
            Address = new SenderAddress(node, connection);
        }

        public int Node { get; }

        public long Connection { get; }

        public string UserName { get; }

        public string Protocol { get; }

        public DateTime ConnectedAt { get; }

        public string ResumeToken => null;

        public SenderAddress Address { get; }

        // Its server takes it in order with the room's other frames; one that cannot go counts as gone, as a dropped member.
        public DeliveryStatus Deliver(ChatEnvelope envelope) =>
            _link.TrySend(Node, ClusterFrame.RoomMessage(Connection, envelope)) ? DeliveryStatus.Accepted : DeliveryStatus.UserOffline;

        public void RoomPresence(string room, string userName, PresenceChange change, DateTime time) =>
            _link.TrySend(Node, ClusterFrame.RoomPresence(Connection, room, userName, change, time));

        public void Disconnect(Refusal why, string text) => _link.TrySend(Node, ClusterFrame.Disconnect(UserName, why, text));

        // A room member here only takes posts: its own messages' fates are its server's business.
        public void PostAnswered(ChatEnvelope envelope, RoomPost post)
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
