#if NET
using System.Management.Automation;
using System.Threading;
using Chatrm.Cluster;
using Chatrm.Engine;

namespace Chatrm.PowerShell
{
    /// <summary>A server job's place in a cluster of Chatrm servers on NATS (src/Chatrm.Cluster).</summary>
    internal sealed class NatsServerCluster : ServerCluster
    {
        private readonly ClusterNode _node;

        private NatsServerCluster(ClusterNode node) => _node = node;

        public override string NodeName => _node.NodeName;

        public override string State => _node.State.ToString();

        /// <summary>Joins through <paramref name="urls"/>; throws ClusterJoinException when NATS cannot be had, ArgumentException for bad input.</summary>
        public static NatsServerCluster Join(string[] urls, string nodeName, PSCredential credential, CancellationToken cancellationToken)
        {
            var options = new ClusterOptions { NodeName = nodeName };
            foreach (string url in urls)
            {
                options.Urls.Add(url);
            }

            if (credential != null)
            {
                options.UserName = credential.UserName;
                options.Password = credential.GetNetworkCredential().Password;
            }

            // The cmdlet's own thread waits, never the thread pool's: NATS's client runs on that.
            return new NatsServerCluster(ClusterNode.JoinAsync(options, cancellationToken).GetAwaiter().GetResult());
        }

        public override ChatServer CreateServer(ServerOptions options) => _node.CreateServer(options);

        public override void Dispose() => _node.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}
#endif
