using System;
using System.Collections.Generic;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;

namespace Chatrm.Engine
{
    public enum ChatProtocol
    {
        /// <summary>The original Chatrm's bytes: NAME_ then SOURCE_DEST_TEXT lines.</summary>
        Classic,
    }

    public enum ConnectionState
    {
        Open,
        Closed,
    }

    public sealed class ClientOptions
    {
        /// <summary>Messages kept for the user between reads; past this the oldest is dropped and counted.</summary>
        public int InboxCapacity { get; set; } = 10_000;

        /// <summary>
        /// How long to wait for a Chatrm server's welcome after the handshake. An original server sends
        /// none, so when this passes the connection is taken as open.
        /// </summary>
        public TimeSpan GreetingTimeout { get; set; } = TimeSpan.FromSeconds(2);

        public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

        /// <summary>Longest line accepted from the server.</summary>
        public int MaxLineBytes { get; set; } = 1024 * 1024;

        public long MaxQueuedBytes { get; set; } = 4 * 1024 * 1024;
    }

    /// <summary>
    /// One user's connection to a Chatrm (or original) server. Incoming messages wait in a bounded inbox
    /// until taken; sending never waits for the network.
    /// </summary>
    public sealed class ChatClient : IDisposable
    {
        private readonly LineTransport _transport;
        private readonly ClientOptions _options;
        private readonly object _inboxLock = new object();
        private readonly LinkedList<object> _inbox = new LinkedList<object>();
        private readonly TaskCompletionSource<ServerNotice> _greeting = new TaskCompletionSource<ServerNotice>(TaskCreationOptions.RunContinuationsAsynchronously);
        private TaskCompletionSource<bool> _arrival;
        private long _dropped;
        private Task _readLoop;
        private volatile ConnectionState _state = ConnectionState.Open;
        private int _closing;

        private ChatClient(Socket socket, string host, int port, string userName, ChatProtocol protocol, ClientOptions options)
        {
            _options = options;
            _transport = new LineTransport(socket, options.MaxLineBytes, options.MaxQueuedBytes);
            ComputerName = host;
            Port = port;
            UserName = userName;
            Protocol = protocol;
        }

        public string ComputerName { get; }
        public int Port { get; }
        public string UserName { get; }
        public ChatProtocol Protocol { get; }
        public DateTime ConnectedAt { get; } = DateTime.Now;

        /// <summary>True when the server greeted us as a Chatrm server does; false for an original server.</summary>
        public bool ServerIsChatrm { get; private set; }

        public ConnectionState State => _state;

        /// <summary>Why the connection closed, once it has.</summary>
        public string CloseReason { get; private set; }

        public int MessagesWaiting
        {
            get { lock (_inboxLock) { return _inbox.Count; } }
        }

        /// <summary>Messages dropped because the inbox was full.</summary>
        public long MessagesDropped => Interlocked.Read(ref _dropped);

        /// <summary>Raised once, on the thread that noticed, when the connection closes.</summary>
        public event EventHandler Closed;

        /// <summary>
        /// Connects and names the user. Throws <see cref="ChatException"/> when the server refuses the name,
        /// and <see cref="SocketException"/> when no connection can be made.
        /// </summary>
        public static async Task<ChatClient> ConnectAsync(string host, int port, string userName, ChatProtocol protocol = ChatProtocol.Classic, ClientOptions options = null, CancellationToken cancellationToken = default)
        {
            options = options ?? new ClientOptions();
            string problem = UserNames.Problem(userName);
            if (problem != null)
            {
                throw new ChatException(Refusal.InvalidName, $"'{userName}' cannot be a user name: {problem}.");
            }

            Socket socket = await ConnectSocketAsync(host, port, options.ConnectTimeout, cancellationToken).ConfigureAwait(false);
            var client = new ChatClient(socket, host, port, userName, protocol, options);
            try
            {
                await client.HandshakeAsync(cancellationToken).ConfigureAwait(false);
                return client;
            }
            catch
            {
                client.Dispose();
                throw;
            }
        }

        /// <summary>Sends text to a user. Text with line breaks goes as one line per line, in order.</summary>
        public void Send(string to, string text)
        {
            string problem = UserNames.Problem(to);
            if (problem != null)
            {
                throw new ChatException(Refusal.InvalidName, $"'{to}' cannot be a user name: {problem}.");
            }

            foreach (string line in SplitLines(text ?? string.Empty))
            {
                SendRaw(ClassicProtocol.FormatClientMessage(UserName, to, line));
            }
        }

        /// <summary>
        /// Takes up to <paramref name="max"/> waiting items, oldest first: <see cref="ChatMessage"/>s (only
        /// those from <paramref name="from"/> when given; others stay waiting) and every <see cref="ServerNotice"/>.
        /// </summary>
        public List<object> Take(int max, string from = null)
        {
            var taken = new List<object>();
            lock (_inboxLock)
            {
                LinkedListNode<object> node = _inbox.First;
                while (node != null && taken.Count < max)
                {
                    LinkedListNode<object> next = node.Next;
                    if (from == null || !(node.Value is ChatMessage m) || UserNames.AreSame(m.From, from))
                    {
                        taken.Add(node.Value);
                        _inbox.Remove(node);
                    }

                    node = next;
                }
            }

            return taken;
        }

        /// <summary>
        /// A task that completes when something arrives after this call, or the connection closes. Take it
        /// before <see cref="Take"/> so that nothing arriving in between is missed.
        /// </summary>
        public Task NextArrival()
        {
            lock (_inboxLock)
            {
                if (_state == ConnectionState.Closed)
                {
                    return Task.CompletedTask;
                }

                if (_arrival == null)
                {
                    _arrival = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
                }

                return _arrival.Task;
            }
        }

        /// <summary>Says EXIT (which leaves an original server running), then closes.</summary>
        public async Task CloseAsync()
        {
            if (Interlocked.Exchange(ref _closing, 1) != 0)
            {
                return;
            }

            _transport.Send(ClassicProtocol.ExitLine + "\n");
            MarkClosed("closed by this client");
            await _transport.CloseAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        }

        public void Dispose()
        {
            Interlocked.Exchange(ref _closing, 1);
            MarkClosed("closed by this client");
            _transport.Dispose();
        }

        private static async Task<Socket> ConnectSocketAsync(string host, int port, TimeSpan timeout, CancellationToken cancellationToken)
        {
            var tcp = new TcpClient(System.Net.Sockets.AddressFamily.InterNetworkV6);
            tcp.Client.DualMode = true;
            Task connect = tcp.ConnectAsync(host, port);
            Task finished = await Task.WhenAny(connect, Task.Delay(timeout, cancellationToken)).ConfigureAwait(false);
            if (finished != connect)
            {
                tcp.Dispose();
                _ = connect.ContinueWith(t => _ = t.Exception, TaskScheduler.Default);
                cancellationToken.ThrowIfCancellationRequested();
                throw new TimeoutException($"No connection to {host}:{port} within {timeout.TotalSeconds:0} seconds.");
            }

            try
            {
                await connect.ConfigureAwait(false);
            }
            catch
            {
                tcp.Dispose();
                throw;
            }

            Socket socket = tcp.Client;
            SocketTuning.Apply(socket, TimeSpan.FromMinutes(2));
            return socket;
        }

        private async Task HandshakeAsync(CancellationToken cancellationToken)
        {
            _readLoop = Task.Run(ReadLoopAsync);
            SendRaw(ClassicProtocol.FormatHandshake(UserName));

            Task delay = Task.Delay(_options.GreetingTimeout, cancellationToken);
            if (await Task.WhenAny(_greeting.Task, delay).ConfigureAwait(false) != _greeting.Task)
            {
                cancellationToken.ThrowIfCancellationRequested();

                // Silence is what an original server says to a good handshake.
                _greeting.TrySetResult(null);
            }

            ServerNotice greeting = await _greeting.Task.ConfigureAwait(false);
            if (greeting != null && greeting.Code != ClassicProtocol.WelcomeCode)
            {
                throw new ChatException(greeting.Refusal, $"The server refused {UserName}: {greeting.Text}.");
            }

            if (_state == ConnectionState.Closed)
            {
                throw new ChatException(Refusal.ConnectionClosed, $"The server closed the connection: {CloseReason}.");
            }

            ServerIsChatrm |= greeting != null;
        }

        private async Task ReadLoopAsync()
        {
            ReadEnd end = await _transport.ReadLinesAsync(OnLine, () => { }, CancellationToken.None).ConfigureAwait(false);
            MarkClosed(end == ReadEnd.Failed ? "the connection failed" : "the server closed the connection");
            _greeting.TrySetException(new ChatException(Refusal.ConnectionClosed, "The server closed the connection before greeting " + UserName + "."));
        }

        private bool OnLine(string line)
        {
            if (!ClassicProtocol.TryParseDelivery(line, out string to, out string from, out string text))
            {
                // Not a DEST_SOURCE_TEXT line: nothing a Chatrm or original server sends. Ignore it.
                return true;
            }

            DateTime now = DateTime.Now;
            object item;
            if (UserNames.AreSame(from, UserNames.Server) && ClassicProtocol.TryParseNotice(text, out string code, out string noticeText))
            {
                var notice = new ServerNotice(code, noticeText, now);
                if (code == ClassicProtocol.WelcomeCode)
                {
                    // A welcome that comes after the greeting wait still tells us what the server is.
                    ServerIsChatrm = true;
                    _greeting.TrySetResult(notice);
                    return true;
                }

                if (_greeting.TrySetResult(notice))
                {
                    return true;
                }

                if (notice.Refusal == Refusal.ServerStopping)
                {
                    CloseReason = "the server is stopping";
                    return true;
                }

                item = notice;
            }
            else
            {
                _greeting.TrySetResult(null);
                item = new ChatMessage(from, to, text, now);
            }

            Enqueue(item);
            return true;
        }

        private void Enqueue(object item)
        {
            TaskCompletionSource<bool> arrival;
            lock (_inboxLock)
            {
                if (_inbox.Count >= _options.InboxCapacity)
                {
                    _inbox.RemoveFirst();
                    Interlocked.Increment(ref _dropped);
                }

                _inbox.AddLast(item);
                arrival = _arrival;
                _arrival = null;
            }

            arrival?.TrySetResult(true);
        }

        private void MarkClosed(string reason)
        {
            TaskCompletionSource<bool> arrival;
            lock (_inboxLock)
            {
                if (_state == ConnectionState.Closed)
                {
                    return;
                }

                CloseReason = CloseReason ?? reason;
                _state = ConnectionState.Closed;
                arrival = _arrival;
                _arrival = null;
            }

            arrival?.TrySetResult(true);
            Closed?.Invoke(this, EventArgs.Empty);
        }

        private void SendRaw(string line)
        {
            // When the server has closed, the socket may still take bytes, but nobody will read them.
            if (_state == ConnectionState.Closed)
            {
                throw new ChatException(Refusal.ConnectionClosed, $"The connection is closed: {CloseReason ?? "closed"}.");
            }

            switch (_transport.Send(line))
            {
                case SendResult.Closed:
                    throw new ChatException(Refusal.ConnectionClosed, $"The connection is closed: {CloseReason ?? "closed"}.");
                case SendResult.QueueFull:
                    throw new ChatException(Refusal.RecipientTooSlow, "The server is not reading what this client sends.");
            }
        }

        internal static IEnumerable<string> SplitLines(string text)
        {
            int start = 0;
            for (int i = 0; i < text.Length; i++)
            {
                char c = text[i];
                if (c == '\r' || c == '\n')
                {
                    yield return text.Substring(start, i - start);
                    if (c == '\r' && i + 1 < text.Length && text[i + 1] == '\n')
                    {
                        i++;
                    }

                    start = i + 1;
                }
            }

            // A final line break ends the last line; it does not start an empty one.
            if (start < text.Length || start == 0)
            {
                yield return text.Substring(start);
            }
        }
    }
}
