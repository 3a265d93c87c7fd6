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

        /// <summary>Where reports about this user's messages go.</summary>
        SenderAddress Address { get; }

        /// <summary>
        /// Hands a message to the user without waiting for the network: <see cref="DeliveryStatus.Accepted"/>, or
        /// <see cref="DeliveryStatus.UserOffline"/> when it is gone. What happens next goes to the sender as a report.
        /// </summary>
        DeliveryStatus Deliver(ChatEnvelope envelope);

        /// <summary>Ends the user's session, telling them why.</summary>
        void Disconnect(Refusal why, string text);
    }
}
