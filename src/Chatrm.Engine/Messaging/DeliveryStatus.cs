namespace Chatrm.Engine.Messaging
{
    /// <summary>
    /// What the router answers when handed a message: accepted, or refused with the reason. Every later fate
    /// (forwarded, delivered, too slow, recipient left) reaches the sender as a delivery report.
    /// </summary>
    internal enum DeliveryStatus
    {
        /// <summary>Handed on to the recipient.</summary>
        Accepted,
        /// <summary>No such user has been seen.</summary>
        UnknownUser,
        /// <summary>The user was here, and is gone.</summary>
        UserOffline,
        /// <summary>The user is on another server, which cannot be reached: the cluster is unavailable.</summary>
        ClusterUnavailable,
    }
}
