using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Threading.Tasks;
using Chatrm.Cluster;

namespace Chatrm.Engine.Tests.Cluster
{
    /// <summary>A nats-server and Chatrm servers joined to it, each on 127.0.0.1 and a port of its own; all stopped at the end.</summary>
    internal sealed class TestCluster : IAsyncDisposable
    {
        private TestCluster(NatsServer nats) => Nats = nats;

        public NatsServer Nats { get; private set; }

        public List<Member> Members { get; } = new List<Member>();

        public Member this[int index] => Members[index];

        /// <summary>The lease the tests' nodes take: short, so a killed node's users are freed within the test's patience.</summary>
        public static readonly TimeSpan Lease = TimeSpan.FromSeconds(2);

        public static async Task<TestCluster> StartAsync(int nodes, Action<ServerOptions> configure = null)
        {
            var cluster = new TestCluster(await NatsServer.StartAsync());
            try
            {
                for (int i = 0; i < nodes; i++)
                {
                    await cluster.AddAsync("node-" + (i + 1), configure);
                }
            }
            catch
            {
                await cluster.DisposeAsync();
                throw;
            }

            return cluster;
        }

        public async Task<Member> AddAsync(string nodeName, Action<ServerOptions> configure = null)
        {
            var options = new ClusterOptions { NodeName = nodeName, Lease = Lease };
            options.Urls.Add(Nats.Url);
            ClusterNode node = await ClusterNode.JoinAsync(options);
            var serverOptions = new ServerOptions { Address = IPAddress.Loopback, Port = 0 };
            configure?.Invoke(serverOptions);
            ChatServer server = node.CreateServer(serverOptions);
            server.Start();
            var member = new Member(node, server);
            Members.Add(member);
            return member;
        }

        /// <summary>Kills NATS, as kill -9 would; <see cref="RestartNatsAsync"/> brings it back on its port.</summary>
        public Task KillNatsAsync() => Nats.KillAsync();

        public async Task RestartNatsAsync() => Nats = await Nats.RestartAsync();

        public async ValueTask DisposeAsync()
        {
            foreach (Member member in Members.AsEnumerable().Reverse())
            {
                await member.DisposeAsync();
            }

            await Nats.DisposeAsync();
        }

        internal sealed class Member : IAsyncDisposable
        {
            private bool _disposed;

            public Member(ClusterNode node, ChatServer server)
            {
                Node = node;
                Server = server;
            }

            public ClusterNode Node { get; }

            public ChatServer Server { get; }

            public int Port => Server.LocalEndPoint.Port;

            public Task<ChatClient> ConnectAsync(string name, ChatProtocol protocol = ChatProtocol.Chatrm, ClientOptions options = null) =>
                ChatClient.ConnectAsync("127.0.0.1", Port, name, protocol, options);

            public Task<RawClient> JoinRawAsync(string name) => RawClient.JoinAsync(Server.LocalEndPoint, name);

            public async ValueTask DisposeAsync()
            {
                if (_disposed)
                {
                    return;
                }

                _disposed = true;
                await Server.StopAsync();
                await Node.DisposeAsync();
            }
        }
    }
}
