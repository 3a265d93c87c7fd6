using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using Chatrm.Engine.Protocol;
using Chatrm.Engine.Protocol.Classic;
using Chatrm.Engine.Routing;
using Chatrm.Engine.Server;
using Chatrm.Engine.Transport;

namespace Chatrm.Engine
{
    /// <summary>
    /// A Chatrm hub: accepts connections without ever waiting on one client, and routes each user's lines
    /// through an <see cref="IMessageRouter"/>. Nothing one client does stops it.
    /// </summary>
    public sealed partial class ChatServer : IDisposable
    {
        private readonly ConcurrentDictionary<long, ServerConnection> _connections = new ConcurrentDictionary<long, ServerConnection>();

        // The native users who hear presence: a join or leave walks these, not every connection.
        private readonly ConcurrentDictionary<long, ServerConnection> _presenceListeners = new ConcurrentDictionary<long, ServerConnection>();
        private readonly CancellationTokenSource _stopping = new CancellationTokenSource();
        private readonly TaskCompletionSource<bool> _stopped = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        private Socket _listener;
        private Socket _classicListener;
        private Task _acceptLoop;
        private Task _classicAcceptLoop;
        private readonly ConcurrentDictionary<IPAddress, int> _loginFailures = new ConcurrentDictionary<IPAddress, int>();
        private long _nextConnectionId;
        private long _nextMessageId;
        private readonly ConcurrentDictionary<IPAddress, int> _perAddress = new ConcurrentDictionary<IPAddress, int>();
        private ITimer _idleSweep;
        private ITimer _keepAliveSweep;
        private KeepAliveSchedule _keepAliveSchedule;
        private int _sweepingKeepAlive;
        private int _stopRequested;

        public ChatServer(ServerOptions options)
            : this(options, null)
        {
        }

        /// <summary>A server whose users are found through <paramref name="router"/> (a local table when null).</summary>
        /// <param name="clock">The time for the idle limit, the rate limit and the sweeps; the system's when null.</param>
        internal ChatServer(ServerOptions options, IMessageRouter router, TimeProvider clock = null)
            : this(options, router == null ? (Func<ChatServer, IMessageRouter>)null : _ => router, clock)
        {
        }

        /// <summary>
        /// A server of a cluster: its own users are in a local table numbered <paramref name="serverId"/>, which
        /// <paramref name="spanServers"/> wraps in a router that reaches the other servers.
        /// </summary>
        internal ChatServer(ServerOptions options, int serverId, Func<LocalRouter, IMessageRouter> spanServers)
            : this(options, server => spanServers(server.NewLocalRouter(serverId)), null)
        {
        }

        private ChatServer(ServerOptions options, Func<ChatServer, IMessageRouter> makeRouter, TimeProvider clock)
        {
            Clock = clock ?? TimeProvider.System;
            options = options ?? new ServerOptions();
            options.Validate();
            Options = options;
            Router = makeRouter?.Invoke(this) ?? NewLocalRouter(0);
            // Ids carry the server's identity, so two servers never hand out the same; a lone server's are 1, 2, ...
            _nextMessageId = Messaging.MessageIds.Compose(Router.ServerId, 0);
            Router.PresenceChanged += OnPresenceChanged;
            ResumeStates = new Server.Resume.ResumeTable(this);
        }

        public ServerOptions Options { get; }

        private LocalRouter NewLocalRouter(int serverId) =>
            new LocalRouter(serverId, Routing.Rooms.RoomLimits.From(Options), new RoomHistory(this));

        /// <summary>The server's clock, for whatever limit reads the time: a test can drive it.</summary>
        internal TimeProvider Clock { get; }

        internal IMessageRouter Router { get; }

        /// <summary>What the server remembers of each resume token's sends, across its connections (see docs/protocol.md).</summary>
        internal Server.Resume.ResumeTable ResumeStates { get; }

        /// <summary>A number no connection and no resume state of this run has had: where reports to it go.</summary>
        internal long NewConnectionId() => Interlocked.Increment(ref _nextConnectionId);

        /// <summary>The names of the users online, in no particular order.</summary>
        public IReadOnlyCollection<string> OnlineUsers => Router.OnlineUsers;

        /// <summary>Who is online, with their protocol and since when, in no particular order.</summary>
        public IReadOnlyList<UserInfo> ListUsers() => Router.ListUsers();

        /// <summary>Every room, by name, with its members: the server's own view (it is a member of none).</summary>
        public IReadOnlyList<RoomInfo> ListRooms() => Router.ListRooms(null);

        /// <summary>Where the server really listens (the port is chosen here when 0 was asked for).</summary>
        public IPEndPoint LocalEndPoint { get; private set; }

        public int ConnectionCount => _connections.Count;

        /// <summary>The second, plain port for original clients, when <see cref="ServerOptions.ClassicPort"/> asked for one.</summary>
        public IPEndPoint ClassicEndPoint { get; private set; }

        public bool IsRunning => _acceptLoop != null && !_stopping.IsCancellationRequested;

        /// <summary>Completes when the server has stopped and every connection is closed.</summary>
        public Task Stopped => _stopped.Task;

        /// <summary>Raised on the thread where the thing happened; handlers must be quick and must not throw.</summary>
        public event EventHandler<ServerEvent> EventRaised;

        /// <summary>
        /// Opens the store, binds and starts accepting. Throws a <see cref="StoreOpenException"/> when the store file
        /// cannot be had, a <see cref="SocketException"/> when the address cannot.
        /// </summary>
        public void Start()
        {
            if (_listener != null || _store != null)
            {
                throw new InvalidOperationException("The server has already been started.");
            }

            // First, so a store that cannot be opened leaves no port bound.
            OpenStore();
            try
            {
                _listener = Listen(Options.Port);
            }
            catch
            {
                CloseStore();
                throw;
            }

            if (Options.ClassicPort.HasValue)
            {
                try
                {
                    _classicListener = Listen(Options.ClassicPort.Value);
                }
                catch
                {
                    _listener.Dispose();
                    CloseStore();
                    throw;
                }

                ClassicEndPoint = (IPEndPoint)_classicListener.LocalEndPoint;
            }

            try
            {
                ListenForWeb();
            }
            catch
            {
                _listener.Dispose();
                _classicListener?.Dispose();
                CloseStore();
                throw;
            }

            LocalEndPoint = (IPEndPoint)_listener.LocalEndPoint;
            bool tls = Options.Certificate != null;
            Raise(ServerEventKind.ServerStarted, null, "listening on " + LocalEndPoint + (tls ? " (TLS)" : string.Empty) +
                (ClassicEndPoint != null ? ", classic on " + ClassicEndPoint : string.Empty) +
                (WebEndPoint != null ? ", web on " + WebEndPoint : string.Empty));
            _acceptLoop = Task.Run(() => AcceptLoopAsync(_listener, "accept", socket => Accept(socket, tls, classicOnly: false)));
            if (_classicListener != null)
            {
                _classicAcceptLoop = Task.Run(() => AcceptLoopAsync(_classicListener, "accept", socket => Accept(socket, tls: false, classicOnly: true)));
            }

            StartWebAcceptLoop();
            _keepAliveSchedule = new KeepAliveSchedule(Options.KeepAliveInterval, KeepAliveSchedule.Now(Clock));
            _keepAliveSweep = Clock.CreateTimer(_ => SweepKeepAlive(), null, _keepAliveSchedule.Period, _keepAliveSchedule.Period);
            if (Options.IdleTimeout > TimeSpan.Zero)
            {
                // One timer for every connection; a user is dropped within a quarter of the limit of it passing.
                TimeSpan every = TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerMillisecond * 10, Math.Min(TimeSpan.TicksPerSecond, Options.IdleTimeout.Ticks / 4)));
                _idleSweep = Clock.CreateTimer(_ => SweepIdle(), null, every, every);
            }
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
            _idleSweep?.Dispose();
            _keepAliveSweep?.Dispose();
            try { _listener?.Dispose(); _classicListener?.Dispose(); }
            catch (SocketException) { }

            if (_acceptLoop != null)
            {
                await _acceptLoop.ConfigureAwait(false);
            }

            if (_classicAcceptLoop != null)
            {
                await _classicAcceptLoop.ConfigureAwait(false);
            }

            await StopWebAcceptLoopAsync().ConfigureAwait(false);

            // Every connection stops reading; one that joins the table after this sees the token and stops itself.
            foreach (KeyValuePair<long, ServerConnection> pair in _connections)
            {
                pair.Value.StopReading();
            }

            // No connection starts now the accept loops have ended; the last one to close completes this.
            if (Volatile.Read(ref _openConnections) == 0)
            {
                _allClosed.TrySetResult(true);
            }

            await _allClosed.Task.ConfigureAwait(false);

            // Every connection is closed: nothing more is queued, so what is queued is all there is to commit.
            CloseStore();
            Raise(ServerEventKind.ServerStopped, null, null);
            _stopped.TrySetResult(true);
        }

        public void Dispose()
        {
            StopAsync().GetAwaiter().GetResult();
            Router.PresenceChanged -= OnPresenceChanged;
            _stopping.Dispose();
        }

        /// <summary>Disconnects a user from the server side, telling them why; false when no such user is connected here.</summary>
        public bool DisconnectUser(string userName, string reason)
        {
            // The router's: a cluster router finds the user on whichever server holds it.
            return Router.Disconnect(userName, Refusal.Disconnected, reason ?? "disconnected by the server's operator");
        }

        /// <summary>Reserves <paramref name="count"/> message ids, unique among servers for this server's run; returns the last.</summary>
        internal long ReserveMessageIds(int count)
        {
            long end = Interlocked.Add(ref _nextMessageId, count);
            long blockEnd = Volatile.Read(ref _idBlockEnd);
            if (end > blockEnd - (IdBlockSize / 2))
            {
                ReserveAhead(blockEnd);
            }

            if (end > blockEnd)
            {
                EnsureIdsReserved(end);
            }

            return end;
        }

        private void OnPresenceChanged(object sender, PresenceEventArgs e)
        {
            DateTime now = DateTime.UtcNow;
            foreach (KeyValuePair<long, ServerConnection> listener in _presenceListeners)
            {
                listener.Value.SendPresence(e.Change, e.UserName, now);
            }
        }

        /// <summary>A native user who asked for presence, once welcomed; it stays a listener until its connection ends.</summary>
        internal void ListenForPresence(ServerConnection connection) => _presenceListeners[connection.Id] = connection;

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

        // Connections accepted and not yet closed, TLS handshakes included: a count, not a table of tasks,
        // so an idle user costs no entry for it.
        private int _openConnections;
        private readonly TaskCompletionSource<bool> _allClosed = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);

        private Socket Listen(int port)
        {
            var listener = new Socket(Options.Address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                if (Options.Address.Equals(IPAddress.IPv6Any))
                {
                    listener.DualMode = true;
                }

                listener.Bind(new IPEndPoint(Options.Address, port));
                listener.Listen(512);
                return listener;
            }
            catch
            {
                listener.Dispose();
                throw;
            }
        }

        /// <summary>Counts a failed login from an address; returns how long to wait before saying so.</summary>
        internal TimeSpan RecordLoginFailure(IPAddress address)
        {
            int failures = _loginFailures.AddOrUpdate(address, 1, (_, n) => Math.Min(n + 1, 30));
            double milliseconds = Math.Min(3000, 100 * Math.Pow(2, failures - 1));
            return TimeSpan.FromMilliseconds(milliseconds);
        }

        internal void ForgetLoginFailures(IPAddress address) => _loginFailures.TryRemove(address, out _);

        /// <summary>Takes each connection to <paramref name="listener"/> until the server stops; <paramref name="what"/> names it in an error.</summary>
        private async Task AcceptLoopAsync(Socket listener, string what, Action<Socket> accept)
        {
            while (!_stopping.IsCancellationRequested)
            {
                Socket socket;
                try
                {
                    socket = await listener.AcceptAsync().ConfigureAwait(false);
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
                    Raise(ServerEventKind.ServerError, null, what + " failed: " + e.SocketErrorCode);
                    await Task.Delay(100).ConfigureAwait(false);
                    continue;
                }

                accept(socket);
            }
        }

        private void Accept(Socket socket, bool tls, bool classicOnly)
        {
            if (Admit(socket, Refuse, out long id, out IPAddress address))
            {
                // The connection runs on its own (TLS handshake included); the accept loop never waits for it.
                _ = RunConnectionAsync(socket, id, address, tls, classicOnly);
            }
        }

        /// <summary>
        /// Counts an accepted socket as an open connection, or refuses it (with <paramref name="refuse"/>) when the
        /// server or its address is full. Once admitted, <see cref="Release"/> must follow when it ends.
        /// </summary>
        private bool Admit(Socket socket, Action<Socket, string> refuse, out long id, out IPAddress address)
        {
            id = 0;
            address = (socket.RemoteEndPoint as IPEndPoint)?.Address ?? IPAddress.None;
            string full = FullFor(address);
            if (full != null)
            {
                refuse(socket, full);
                return false;
            }

            id = NewConnectionId();
            try
            {
                SocketTuning.Apply(socket, Options.TcpKeepAliveTime);
            }
            catch (Exception e) when (e is SocketException || e is ObjectDisposedException)
            {
                socket.Dispose();
                return false;
            }

            _perAddress.AddOrUpdate(address, 1, (_, n) => n + 1);
            Interlocked.Increment(ref _openConnections);
            return true;
        }

        /// <summary>Why one more connection from this address is too many, or null when it is welcome.</summary>
        private string FullFor(IPAddress address)
        {
            if (Volatile.Read(ref _openConnections) >= Options.MaxConnections)
            {
                return $"the server holds its limit of {Options.MaxConnections} connections; try again later";
            }

            if (Options.MaxConnectionsPerAddress > 0 &&
                _perAddress.TryGetValue(address, out int fromHere) && fromHere >= Options.MaxConnectionsPerAddress)
            {
                return $"at most {Options.MaxConnectionsPerAddress} connections from one address";
            }

            return null;
        }

        /// <summary>Says why in a line both protocols' clients read, then closes; the accept loop does not wait.</summary>
        private void Refuse(Socket socket, string why)
        {
            Raise(ServerEventKind.HandshakeRefused, null, Refusal.ServerFull.ToCode() + ": " + why);
            byte[] notice = System.Text.Encoding.UTF8.GetBytes(ClassicProtocol.FormatNotice("unnamed", Refusal.ServerFull.ToCode(), why));
            try
            {
                socket.Blocking = false;
                socket.Send(notice);
                socket.Shutdown(SocketShutdown.Send);
            }
            catch (SocketException)
            {
                // Its buffer is full or it is gone: closing says enough.
            }
            finally
            {
                socket.Dispose();
            }
        }

        private async Task RunConnectionAsync(Socket socket, long id, IPAddress address, bool tls, bool classicOnly)
        {
            await Task.Yield();
            try
            {
                System.IO.Stream secure = null;
                if (tls)
                {
                    secure = await Tls.AuthenticateAsServerAsync(socket, Options.Certificate, Options.TlsHandshakeTimeout, _stopping.Token).ConfigureAwait(false);
                    if (secure == null)
                    {
                        Raise(ServerEventKind.HandshakeRefused, null, "TLS handshake failed from " + address);
                        socket.Dispose();
                        return;
                    }
                }

                await ServeAsync(new ServerConnection(this, socket, id, secure, classicOnly)).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                // Nobody awaits this task: a failure is reported, and costs this connection only.
                Raise(ServerEventKind.ServerError, null, "connection from " + address + " failed: " + e.GetType().Name + ": " + e.Message);
                socket.Dispose();
            }
            finally
            {
                Release(id, address);
            }
        }

        /// <summary>Forgets a connection <see cref="Admit"/> counted: the last one to close a stopping server completes its stop.</summary>
        private void Release(long id, IPAddress address)
        {
            _connections.TryRemove(id, out _);
            _presenceListeners.TryRemove(id, out _);
            if (_perAddress.AddOrUpdate(address, 0, (_, n) => n - 1) <= 0)
            {
                ((ICollection<KeyValuePair<IPAddress, int>>)_perAddress).Remove(new KeyValuePair<IPAddress, int>(address, 0));
            }

            if (Interlocked.Decrement(ref _openConnections) == 0 && _stopping.IsCancellationRequested)
            {
                _allClosed.TrySetResult(true);
            }
        }

        /// <summary>Serves one connection, TCP's or the web port's, in the table until it ends.</summary>
        private async Task ServeAsync(ServerConnection connection)
        {
            _connections[connection.Id] = connection;
            if (_stopping.IsCancellationRequested)
            {
                connection.StopReading();
            }

            await connection.RunAsync(_stopping.Token).ConfigureAwait(false);
        }

        /// <summary>One keepalive sweep over every connection; internal so a test can run sweeps back to back, as a stalled timer does.</summary>
        internal void SweepKeepAlive()
        {
            // A sweep that outlasts the period (a huge server on a starved machine) is not run twice at once.
            if (Interlocked.Exchange(ref _sweepingKeepAlive, 1) != 0)
            {
                return;
            }

            try
            {
                long now = KeepAliveSchedule.Now(Clock);
                bool onTime = _keepAliveSchedule.Check(now);
                foreach (KeyValuePair<long, ServerConnection> pair in _connections)
                {
                    pair.Value.SweepKeepAlive(_keepAliveSchedule, now, onTime);
                }

                // A quiet server forgets the tokens nobody came back for, too.
                ResumeStates.ForgetExpired(Clock.GetUtcNow().UtcTicks);
            }
            finally
            {
                Volatile.Write(ref _sweepingKeepAlive, 0);
            }
        }

        private void SweepIdle()
        {
            long now = Clock.GetUtcNow().UtcTicks;
            foreach (ServerConnection connection in _connections.Values)
            {
                connection.CheckIdle(now, Options.IdleTimeout);
            }
        }
    }
}
