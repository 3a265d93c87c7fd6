using System;

namespace Chatrm.Cluster
{
    /// <summary>A server could not join its cluster: NATS could not be reached, or has no JetStream.</summary>
    public sealed class ClusterJoinException : Exception
    {
        public ClusterJoinException(string message, Exception inner)
            : base(message, inner)
        {
        }
    }
}
