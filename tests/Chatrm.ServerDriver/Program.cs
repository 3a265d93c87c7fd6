using System;
using System.Net;
using System.Threading.Tasks;
using Chatrm.Engine;

namespace Chatrm.ServerDriver
{
    /// <summary>
    /// <c>serve PATH</c>: a server on 127.0.0.1 and a free port with its store in PATH; <c>cluster URL NODE</c>: a server
    /// of the cluster on that NATS, named NODE. Prints "port N" once it listens, and stops when its standard input
    /// closes (or after a minute, should the test that started it be gone).
    /// </summary>
    internal static class Program
    {
        private static async Task<int> Main(string[] args)
        {
            Chatrm.Cluster.ClusterNode node = null;
            ChatServer server;
            if (args.Length == 2 && args[0] == "serve")
            {
                server = new ChatServer(new ServerOptions { Address = IPAddress.Loopback, Port = 0, StorePath = args[1] });
            }
            else if (args.Length == 3 && args[0] == "cluster")
            {
                var options = new Chatrm.Cluster.ClusterOptions { NodeName = args[2], Lease = TimeSpan.FromSeconds(2) };
                options.Urls.Add(args[1]);
                node = await Chatrm.Cluster.ClusterNode.JoinAsync(options);
                server = node.CreateServer(new ServerOptions { Address = IPAddress.Loopback, Port = 0 });
            }
            else
            {
                Console.Error.WriteLine("usage: Chatrm.ServerDriver serve PATH | cluster NATS-URL NODE-NAME");
                return 2;
            }

            using var running = server;
            server.Start();
            Console.Out.WriteLine("port " + server.LocalEndPoint.Port);
            Console.Out.Flush();

            Task closed = Task.Run(() => Console.In.ReadToEnd());
            await Task.WhenAny(closed, Task.Delay(TimeSpan.FromMinutes(1)));
            await server.StopAsync();
            if (node != null)
            {
                await node.DisposeAsync();
            }

            return 0;
        }
    }
}
