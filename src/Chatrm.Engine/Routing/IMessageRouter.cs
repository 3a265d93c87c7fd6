using System;
using System.Collections.Generic;
using Chatrm.Engine.Messaging;

namespace Chatrm.Engine.Routing
{
    /// <summary>
    /// Who is online and how to reach them. The protocol code talks only to this, so a router that spans
    /// several servers can replace <see cref="LocalRouter"/> without touching it.
    /// </summary>
    internal interface IMessageRouter
    {
        /// <summary>Adds the user, or returns false when the name is held by someone else (the holder keeps it).</summary>
        bool TryRegister(IChatEndpoint endpoint);

        /// <summary>
        /// Adds the user; with <paramref name="takeOver"/> (an authenticated login) a holder of the name is
        /// displaced and returned, so the caller can end its session.
        /// </summary>
        bool TryRegister(IChatEndpoint endpoint, bool takeOver, out IChatEndpoint displaced);

        /// <summary>Removes the user, if this endpoint is the one holding the name.</summary>
        void Unregister(IChatEndpoint endpoint);

        bool TryFind(string userName, out IChatEndpoint endpoint);

        DeliveryStatus Deliver(ChatEnvelope envelope);

        IReadOnlyCollection<string> OnlineUsers { get; }

        /// <summary>Who is online, with their protocol and since when.</summary>
        IReadOnlyList<UserInfo> ListUsers();

        event EventHandler<PresenceEventArgs> PresenceChanged;
    }
}
