using System;
using NATS.Client.Core;

namespace Chatrm.Cluster
{
    /// <summary>How many copies JetStream keeps of what the cluster writes: one per NATS server, three at most.</summary>
    internal static class Replicas
    {
        /// <summary>
        /// Read from the servers NATS says its clients may connect to, so a three-node NATS cluster keeps every bucket
        /// and stream on all three and loses nothing when one stops; a lone nats-server keeps one.
        /// </summary>
        public static int Of(INatsConnection nats) => Math.Clamp(nats.ServerInfo?.ClientConnectUrls?.Length ?? 1, 1, 3);
    }
}
