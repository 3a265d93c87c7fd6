namespace Chatrm.Engine.Messaging
{
    /// <summary>The fate of one message at the router.</summary>
    internal enum DeliveryStatus
    {
        /// <summary>Queued for a classic recipient, which cannot confirm.</summary>
        Forwarded,
        /// <summary>Queued for a native recipient; its confirmation goes to the envelope's receipt.</summary>
        Pending,
        /// <summary>No such user has been seen by this server.</summary>
        UnknownUser,
        /// <summary>The user was here, and is gone.</summary>
        UserOffline,
        /// <summary>The recipient's send queue is full: it stopped reading.</summary>
        RecipientTooSlow,
    }
}
