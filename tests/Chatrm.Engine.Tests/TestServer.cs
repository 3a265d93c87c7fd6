using System;
using System.Collections.Concurrent;
using System.Linq;
using System.Net;
using System.Threading.Tasks;

namespace Chatrm.Engine.Tests
{
    /// <summary>A server on 127.0.0.1 and an ephemeral port, stopped when the test ends.</summary>
    internal sealed class TestServer : IAsyncDisposable
    {
        /// <param name="router">The server's router; its own local one when null.</param>
        /// <param name="clock">The server's clock; the system's when null.</param>
        /// <param name="store">Opens the server's store instead of its options (a <see cref="HeldStore"/>, say).</param>
        /// <param name="prepare">Sets what a server takes before it starts (internal knobs such as its id block).</param>
        public TestServer(Action<ServerOptions> configure = null, IMessageRouter router = null, TimeProvider clock = null, Func<Chatrm.Engine.Storage.StoreLimits, Chatrm.Engine.Storage.IMessageStore> store = null, Action<ChatServer> prepare = null)
        {
            var options = new ServerOptions { Address = IPAddress.Loopback, Port = 0 };
            configure?.Invoke(options);
            Server = new ChatServer(options, router, clock) { StoreOpener = store };
            prepare?.Invoke(Server);
            Server.EventRaised += (_, e) => Events.Enqueue(e);
            Server.Start();
        }

        public ChatServer Server { get; }

        public ConcurrentQueue<ServerEvent> Events { get; } = new ConcurrentQueue<ServerEvent>();

        public IPEndPoint EndPoint => Server.LocalEndPoint;

        public Task<RawClient> JoinAsync(string name) => RawClient.JoinAsync(EndPoint, name);

        public Task<RawClient> ConnectRawAsync() => RawClient.ConnectAsync(EndPoint);

        public Task<ChatClient> ConnectAsync(string name, ClientOptions options = null) =>
            ChatClient.ConnectAsync("127.0.0.1", EndPoint.Port, name, ChatProtocol.Classic, options);

        public bool IsOnline(string name) => Server.Router.OnlineUsers.Contains(name, UserNames.Comparer);

        /// <summary>The first event matching, waiting for it against a deadline.</summary>
        public async Task<ServerEvent> WaitForEventAsync(ServerEventKind kind, string userName = null)
        {
            ServerEvent found = null;
            await Eventually.TrueAsync(
                () => (found = Events.FirstOrDefault(e => e.Kind == kind && (userName == null || UserNames.AreSame(e.UserName, userName)))) != null,
                $"a {kind} event for {userName ?? "anyone"}");
            return found;
        }

        public async ValueTask DisposeAsync() => await Server.StopAsync();
    }
}
