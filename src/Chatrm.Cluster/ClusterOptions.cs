using System;
using System.Collections.Generic;

namespace Chatrm.Cluster
{
    /// <summary>How a Chatrm server joins a cluster: the NATS system the servers share, and this server's name in it.</summary>
    public sealed class ClusterOptions
    {
        /// <summary>The NATS servers to connect to (nats://host:port), any of which will do.</summary>
        public IList<string> Urls { get; } = new List<string>();

        /// <summary>This server's name among the others, shown beside each of its users; the host name and port when null.</summary>
        public string NodeName { get; set; }

        /// <summary>The user and password NATS asks of this server, when it asks.</summary>
        public string UserName { get; set; }

        public string Password { get; set; }

        /// <summary>
        /// How long a server that stops answering still holds its users' names: the others free them after this. The
        /// server says it is alive three times a lease.
        /// </summary>
        public TimeSpan Lease { get; set; } = TimeSpan.FromSeconds(10);

        /// <summary>How long joining waits for NATS (trying again while it is not up yet) before it fails.</summary>
        public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

        internal void Validate()
        {
            if (Urls.Count == 0)
            {
                throw new ArgumentException("Name at least one NATS server to join the cluster through (nats://host:port).");
            }

            foreach (string url in Urls)
            {
                if (!Uri.TryCreate(url, UriKind.Absolute, out Uri parsed) || (parsed.Scheme != "nats" && parsed.Scheme != "tls"))
                {
                    throw new ArgumentException($"'{url}' is not a NATS server's address; give it as nats://host:port.");
                }
            }

            if (NodeName != null && !Chatrm.Engine.UserNames.IsValid(NodeName))
            {
                throw new ArgumentException($"A node name follows the rules of a user name: {Chatrm.Engine.UserNames.Problem(NodeName)}.");
            }

            if (Lease < TimeSpan.FromSeconds(1) || Lease > TimeSpan.FromMinutes(10))
            {
                throw new ArgumentException("The lease is between 1 second and 10 minutes.");
            }
        }
    }
}
