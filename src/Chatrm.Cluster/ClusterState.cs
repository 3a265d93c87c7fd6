namespace Chatrm.Cluster
{
    /// <summary>Whether a server reaches the cluster's NATS system now.</summary>
    public enum ClusterState
    {
        /// <summary>Connected: users on other servers are reachable.</summary>
        Connected,

        /// <summary>The connection dropped and is being made again: local users still chat; messages to others are refused.</summary>
        Reconnecting,

        /// <summary>Left the cluster, or never reached it.</summary>
        Unavailable,
    }
}
