using System;
using System.Net;
using System.Threading;
using System.Threading.Tasks;

namespace Chatrm.Engine.Tests
{
    /// <summary>
    /// One server connection over an in-memory stream pair, its server never started: a session's protocol and
    /// routing logic, tested without sockets. The test is the client, through <see cref="Client"/>.
    /// </summary>
    internal sealed class InMemorySession : IAsyncDisposable
    {
        private static long s_nextId;
        private readonly Task _running;

        public InMemorySession(IMessageRouter router, Action<ServerOptions> configure = null)
        {
            var options = new ServerOptions { Address = IPAddress.Loopback, Port = 0 };
            configure?.Invoke(options);
            Server = new ChatServer(options, router);
            (System.IO.Stream near, System.IO.Stream far) = InMemoryDuplex.CreatePair();
            var transport = new LineTransport(near, options.MaxOpeningBytes, options.MaxQueuedBytesPerConnection, stopsAfterReadBatch: true);
            Connection = new ServerConnection(Server, transport, IPAddress.Loopback, Interlocked.Increment(ref s_nextId));
            Client = new InMemoryPeer(far);
            _running = Connection.RunAsync(CancellationToken.None);
        }

        public ChatServer Server { get; }

        public ServerConnection Connection { get; }

        public InMemoryPeer Client { get; }

        /// <summary>Completes when the connection has ended.</summary>
        public Task Ended => _running;

        public async ValueTask DisposeAsync()
        {
            Connection.StopReading();
            await _running.WaitAsync(TimeSpan.FromSeconds(10));
            Client.Dispose();
            Server.Dispose();
        }
    }
}
