using System;
using Chatrm.Engine.Messaging;

namespace Chatrm.Engine.Routing
{
    /// <summary>A user's session on this server: delivered to, and told of its own messages' fates.</summary>
    internal interface IChatEndpoint : IDeliveryReceipt
    {
        string UserName { get; }

        /// <summary>The protocol the user speaks: chatrm or classic.</summary>
        string Protocol { get; }

        DateTime ConnectedAt { get; }

        /// <summary>
        /// The token the client's hello carried (null: none): a later hello for the name with the same token is the
        /// same client coming back, and takes this session over.
        /// </summary>
        string ResumeToken { get; }

        /// <summary>Where reports about this user's messages go.</summary>
        SenderAddress Address { get; }

        /// <summary>
        /// Hands a message to the user without waiting for the network: <see cref="DeliveryStatus.Accepted"/>, or
        /// <see cref="DeliveryStatus.UserOffline"/> when it is gone. What happens next goes to the sender as a report.
        /// A room message (<see cref="ChatEnvelope.Room"/> set, with its Seq) comes the same way, under the room's lock.
        /// </summary>
        DeliveryStatus Deliver(ChatEnvelope envelope);

        /// <summary>
        /// Tells the user that someone joined or left a room it is in (never of itself). Called under the room's lock,
        /// in the room's order with its messages: it queues and returns, and calls no room operation of the router.
        /// </summary>
        void RoomPresence(string room, string userName, PresenceChange change, DateTime time);

        /// <summary>The answer to a post that another server's room gave later (<see cref="RoomPost.IsPending"/>): tell the sender.</summary>
        void PostAnswered(ChatEnvelope envelope, RoomPost post);

        /// <summary>Ends the user's session, telling them why.</summary>
        void Disconnect(Refusal why, string text);
    }
}
