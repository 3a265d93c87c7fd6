using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;

namespace Chatrm.Engine.Tests.Cluster
{
    /// <summary>
    /// Three (or more) nats-servers routed into one NATS cluster with JetStream, each on 127.0.0.1: client ports they
    /// pick, route ports found free just before. All are killed at the end.
    /// </summary>
    internal sealed class NatsCluster : IAsyncDisposable
    {
        private NatsCluster(List<NatsServer> servers) => Servers = servers;

        public List<NatsServer> Servers { get; }

        /// <summary>Every server's client URL, as a Chatrm server that may use any of them is given them.</summary>
        public IEnumerable<string> Urls => Servers.Select(s => s.Url);

        public static async Task<NatsCluster> StartAsync(int count)
        {
            var servers = new List<NatsServer>();
            var cluster = new NatsCluster(servers);
            try
            {
                // JetStream in a cluster wants its routes given from the start, so the route ports are found free first.
                int[] routePorts = Enumerable.Range(0, count).Select(_ => FreePort()).ToArray();
                string routes = string.Join(",", routePorts.Select(p => "nats://127.0.0.1:" + p));
                for (int n = 0; n < count; n++)
                {
                    servers.Add(await NatsServer.StartAsync(0, null, "--name", "n" + (n + 1), "--cluster_name", "chatrm-test",
                        "--cluster", "nats://127.0.0.1:" + routePorts[n], "--routes", routes));
                }
            }
            catch
            {
                await cluster.DisposeAsync();
                throw;
            }

            return cluster;
        }

        private static int FreePort()
        {
            using var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
            probe.Start();
            return ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        }

        public async ValueTask DisposeAsync()
        {
            foreach (NatsServer server in Servers)
            {
                await server.DisposeAsync();
            }
        }
    }
}
