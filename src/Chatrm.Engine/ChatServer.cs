using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;

namespace Chatrm.Engine
{
    /// <summary>
    /// A Chatrm hub: accepts connections without ever waiting on one client, and routes each user's lines
    /// through an <see cref="IMessageRouter"/>. Nothing one client does stops it.
    /// </summary>
    public sealed class ChatServer : IDisposable
    {
        private readonly ConcurrentDictionary<long, ServerConnection> _connections = new ConcurrentDictionary<long, ServerConnection>();
        private readonly CancellationTokenSource _stopping = new CancellationTokenSource();
        private readonly TaskCompletionSource<bool> _stopped = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        private Socket _listener;
        private Task _acceptLoop;
        private long _nextConnectionId;
        private long _nextMessageId;
        private int _stopRequested;

        public ChatServer(ServerOptions options, IMessageRouter router = null)
        {
            options = options ?? new ServerOptions();
            options.Validate();
            Options = options;
            Router = router ?? new LocalRouter();
            Router.PresenceChanged += OnPresenceChanged;
        }

        public ServerOptions Options { get; }

        public IMessageRouter Router { get; }

        /// <summary>Where the server really listens (the port is chosen here when 0 was asked for).</summary>
        public IPEndPoint LocalEndPoint { get; private set; }

        public int ConnectionCount => _connections.Count;

        public bool IsRunning => _acceptLoop != null && !_stopping.IsCancellationRequested;

        /// <summary>Completes when the server has stopped and every connection is closed.</summary>
        public Task Stopped => _stopped.Task;

        /// <summary>Raised on the thread where the thing happened; handlers must be quick and must not throw.</summary>
        public event EventHandler<ServerEvent> EventRaised;

        /// <summary>Binds and starts accepting. Throws a <see cref="SocketException"/> when the address cannot be had.</summary>
        public void Start()
        {
            if (_listener != null)
            {
                throw new InvalidOperationException("The server has already been started.");
            }

            var listener = new Socket(Options.Address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                if (Options.Address.Equals(IPAddress.IPv6Any))
                {
                    listener.DualMode = true;
                }

                listener.Bind(new IPEndPoint(Options.Address, Options.Port));
                listener.Listen(512);
            }
            catch
            {
                listener.Dispose();
                throw;
            }

            _listener = listener;
            LocalEndPoint = (IPEndPoint)listener.LocalEndPoint;
            Raise(ServerEventKind.ServerStarted, null, "listening on " + LocalEndPoint);
            _acceptLoop = Task.Run(AcceptLoopAsync);
        }

        /// <summary>Stops accepting, tells every user, and closes every connection.</summary>
        public async Task StopAsync()
        {
            if (Interlocked.Exchange(ref _stopRequested, 1) != 0)
            {
                await _stopped.Task.ConfigureAwait(false);
                return;
            }

            _stopping.Cancel();
            try { _listener?.Dispose(); }
            catch (SocketException) { }

            if (_acceptLoop != null)
            {
                await _acceptLoop.ConfigureAwait(false);
            }

            await Task.WhenAll(_connectionTasks.Values).ConfigureAwait(false);
            Raise(ServerEventKind.ServerStopped, null, null);
            _stopped.TrySetResult(true);
        }

        public void Dispose()
        {
            StopAsync().GetAwaiter().GetResult();
            Router.PresenceChanged -= OnPresenceChanged;
            _stopping.Dispose();
        }

        /// <summary>Disconnects a user from the server side; false when no such user is connected here.</summary>
        public bool DisconnectUser(string userName, string reason)
        {
            foreach (ServerConnection connection in _connections.Values)
            {
                if (connection.UserName != null && UserNames.AreSame(connection.UserName, userName))
                {
                    connection.Disconnect(reason);
                    return true;
                }
            }

            return false;
        }

        /// <summary>A message id unique for this server's run.</summary>
        internal string NextMessageId() =>
            Interlocked.Increment(ref _nextMessageId).ToString(System.Globalization.CultureInfo.InvariantCulture);

        private void OnPresenceChanged(object sender, PresenceEventArgs e)
        {
            DateTime now = DateTime.UtcNow;
            foreach (ServerConnection connection in _connections.Values)
            {
                connection.SendPresence(e.Change, e.UserName, now);
            }
        }

        internal void Raise(ServerEventKind kind, string userName, string detail)
        {
            EventHandler<ServerEvent> handler = EventRaised;
            if (handler == null)
            {
                return;
            }

            try
            {
                handler(this, new ServerEvent(kind, userName, detail));
            }
            catch (Exception)
            {
                // An observer's failure is not the server's.
            }
        }

        private readonly ConcurrentDictionary<long, Task> _connectionTasks = new ConcurrentDictionary<long, Task>();

        private async Task AcceptLoopAsync()
        {
            while (!_stopping.IsCancellationRequested)
            {
                Socket socket;
                try
                {
                    socket = await _listener.AcceptAsync().ConfigureAwait(false);
                }
                catch (ObjectDisposedException)
                {
                    break;
                }
                catch (SocketException e)
                {
                    if (_stopping.IsCancellationRequested)
                    {
                        break;
                    }

                    // Out of file handles and the like: say so, breathe, keep serving who is here.
                    Raise(ServerEventKind.ServerError, null, "accept failed: " + e.SocketErrorCode);
                    await Task.Delay(100).ConfigureAwait(false);
                    continue;
                }

                Accept(socket);
            }
        }

        private void Accept(Socket socket)
        {
            long id = Interlocked.Increment(ref _nextConnectionId);
            ServerConnection connection;
            try
            {
                SocketTuning.Apply(socket, Options.TcpKeepAliveTime);
                connection = new ServerConnection(this, socket, id);
            }
            catch (Exception e) when (e is SocketException || e is ObjectDisposedException)
            {
                socket.Dispose();
                return;
            }

            _connections[id] = connection;

            // The connection runs on its own; the accept loop never waits for it.
            _connectionTasks[id] = RunConnectionAsync(connection);
        }

        private async Task RunConnectionAsync(ServerConnection connection)
        {
            await Task.Yield();
            try
            {
                await connection.RunAsync(_stopping.Token).ConfigureAwait(false);
            }
            finally
            {
                _connections.TryRemove(connection.Id, out _);
                _connectionTasks.TryRemove(connection.Id, out _);
            }
        }
    }
}
