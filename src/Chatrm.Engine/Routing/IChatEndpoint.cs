using System;
using Chatrm.Engine.Messaging;

namespace Chatrm.Engine.Routing
{
    /// <summary>A user who can be delivered to: a connection on this server, or, later, one reached through a fabric.</summary>
    internal interface IChatEndpoint
    {
        string UserName { get; }

        /// <summary>The protocol the user speaks: chatrm or classic.</summary>
        string Protocol { get; }

        DateTime ConnectedAt { get; }

        /// <summary>Hands a message to the user without waiting for the network.</summary>
        DeliveryStatus Deliver(ChatEnvelope envelope);

        /// <summary>Ends the user's session, telling them why.</summary>
        void Disconnect(Refusal why, string text);
    }
}
