using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace Chatrm.Engine
{
    public enum ChatProtocol
    {
        /// <summary>Chatrm's native protocol: JSON frames, confirmed delivery, who is online, any text.</summary>
        Chatrm,
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
        /// <summary>Items kept for the user between reads; past this the oldest is dropped (and counted when a message).</summary>
        public int InboxCapacity { get; set; } = 10_000;

        /// <summary>
        /// Classic: how long to wait for a Chatrm server's welcome after the handshake. An original server
        /// sends none, so when this passes the connection is taken as open.
        /// </summary>
        public TimeSpan GreetingTimeout { get; set; } = TimeSpan.FromSeconds(2);

        /// <summary>Native: how long the server has to answer the opening frame before it is taken for a classic server.</summary>
        public TimeSpan NativeOpeningTimeout { get; set; } = TimeSpan.FromSeconds(5);

        public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

        /// <summary>Native: after this long without a frame from the server, ping it; as long again without one, give up.</summary>
        public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(60);

        /// <summary>Longest line accepted from the server.</summary>
        public int MaxLineBytes { get; set; } = 1024 * 1024;

        public long MaxQueuedBytes { get; set; } = 4 * 1024 * 1024;

        /// <summary>Native protocol: the password, for a server that asks for one.</summary>
        public string Password { get; set; }

        /// <summary>
        /// Native protocol: hear who joins and leaves. False tells the server not to send presence frames at all,
        /// which on a server with many users saves both ends a frame per join and leave.
        /// </summary>
        public bool ReceivePresence { get; set; } = true;

        /// <summary>
        /// Native protocol: ask for batched confirmations. Messages that arrive in one read are acked with one frame,
        /// and this client's delivered messages are told in frames that list them. Off: one frame each way per message.
        /// </summary>
        public bool BatchConfirmations { get; set; } = true;

        /// <summary>Speak TLS, checking the server's certificate as these say; null for plain TCP.</summary>
        public TlsClientOptions Tls { get; set; }

        public void Validate()
        {
            if (InboxCapacity < 1) throw new ArgumentOutOfRangeException(nameof(InboxCapacity), InboxCapacity, "The inbox holds at least one message.");
            if (KeepAliveInterval < TimeSpan.FromMilliseconds(10)) throw new ArgumentOutOfRangeException(nameof(KeepAliveInterval), KeepAliveInterval, "The keepalive interval is at least 10 ms.");
            if (MaxLineBytes < 64) throw new ArgumentOutOfRangeException(nameof(MaxLineBytes), MaxLineBytes, "The longest line is at least 64 bytes.");
        }
    }

    /// <summary>
    /// One user's connection to a Chatrm (or original) server, in either protocol. Incoming messages wait in
    /// a bounded inbox until taken; sending never waits for the network, and with the native protocol each
    /// message's fate arrives later as the result of <see cref="SendAsync"/>.
    /// </summary>
    public sealed class ChatClient : IDisposable
    {
        private readonly LineTransport _transport;
        private readonly ClientOptions _options;
        private readonly object _inboxLock = new object();
        // A ring buffer: taking reads one array in order, where a linked list's nodes would each be another
        // cache miss. Its array grows with a burst and is given back once a take empties it (see InboxTrimAbove).
        private readonly Queue<object> _inbox = new Queue<object>();

        // The most items the inbox held since it was last trimmed.
        private int _inboxPeak;

        // An empty inbox that held more than this gives its array back; a smaller one keeps it, so a bot taking
        // one message at a time does not make a new array for each.
        private const int InboxTrimAbove = 1024;
        private readonly TaskCompletionSource<Greeting> _greeting = new TaskCompletionSource<Greeting>(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly ConcurrentDictionary<string, PendingSend> _pendingSends = new ConcurrentDictionary<string, PendingSend>();
        private readonly ConcurrentDictionary<string, TaskCompletionSource<IReadOnlyList<UserInfo>>> _pendingWho = new ConcurrentDictionary<string, TaskCompletionSource<IReadOnlyList<UserInfo>>>();
        private TaskCompletionSource<bool> _arrival;
        private int _messagesWaiting;
        private long _dropped;
        private long _nextRef;
        private Timer _keepAliveTimer;
        private long _lastHeardTicks = DateTime.UtcNow.Ticks;
        private int _pingOutstanding;
        private volatile ConnectionState _state = ConnectionState.Open;
        private int _closing;

        // Native, once the welcome granted batched confirmations: the newest message id not yet acked. Only the
        // reading thread touches it.
        private bool _batchGranted;
        private string _ackThrough;

        // The sender of the last message read: a burst from one sender shares one string while it waits.
        private string _lastSender;

        // Native: every frame is read into this one, on the reading thread, which keeps texts as they came.
        private readonly NativeFrame _frame = new NativeFrame { KeepsWireBytes = true };

        private ChatClient(Socket socket, System.IO.Stream secure, string host, int port, string userName, ChatProtocol protocol, ClientOptions options)
        {
            _options = options;
            _transport = new LineTransport(socket, options.MaxLineBytes, options.MaxQueuedBytes, secure);
            IsEncrypted = secure != null;
            ComputerName = host;
            Port = port;
            UserName = userName;
            Protocol = protocol;
        }

        public string ComputerName { get; }
        public int Port { get; }
        public string UserName { get; }
        public ChatProtocol Protocol { get; }
        public DateTime ConnectedAt { get; } = DateTime.UtcNow;

        /// <summary>True when the server greeted us as a Chatrm server does; false for an original server.</summary>
        public bool ServerIsChatrm { get; private set; }

        /// <summary>Native: the server's frame limit, from its welcome.</summary>
        public int MaxFrameBytes { get; private set; } = ServerOptions.DefaultMaxLineBytes;

        public ConnectionState State => _state;

        /// <summary>True when the connection speaks TLS.</summary>
        public bool IsEncrypted { get; }

        /// <summary>Why the connection closed, once it has.</summary>
        public string CloseReason { get; private set; }

        /// <summary>Messages waiting to be taken (not counting notices and presence).</summary>
        public int MessagesWaiting => Volatile.Read(ref _messagesWaiting);

        /// <summary>Messages dropped because the inbox was full.</summary>
        public long MessagesDropped => Interlocked.Read(ref _dropped);

        /// <summary>Raised once, on the thread that noticed, when the connection closes.</summary>
        public event EventHandler Closed;

        /// <summary>
        /// Connects and names the user. Throws <see cref="ChatException"/> when the server refuses the name or
        /// does not speak the protocol, and <see cref="SocketException"/> when no connection can be made.
        /// </summary>
        public static async Task<ChatClient> ConnectAsync(string host, int port, string userName, ChatProtocol protocol = ChatProtocol.Chatrm, ClientOptions options = null, CancellationToken cancellationToken = default)
        {
            options = options ?? new ClientOptions();
            options.Validate();
            string problem = UserNames.Problem(userName);
            if (problem != null)
            {
                throw new ChatException(Refusal.InvalidName, $"'{userName}' cannot be a user name: {problem}.");
            }

            if (options.Password != null && protocol == ChatProtocol.Classic)
            {
                throw new ChatException(Refusal.AuthRequired, "A password needs Chatrm's native protocol; the classic protocol cannot carry one.");
            }

            Socket socket = await ConnectSocketAsync(host, port, options.ConnectTimeout, cancellationToken).ConfigureAwait(false);
            System.IO.Stream secure = null;
            if (options.Tls != null)
            {
                try
                {
                    secure = await Engine.Tls.AuthenticateAsClientAsync(socket, host, options.Tls, options.ConnectTimeout).ConfigureAwait(false);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            }

            var client = new ChatClient(socket, secure, host, port, userName, protocol, options);
            try
            {
                if (protocol == ChatProtocol.Chatrm)
                {
                    await client.OpenNativeAsync(cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await client.OpenClassicAsync(cancellationToken).ConfigureAwait(false);
                }

                return client;
            }
            catch
            {
                client.Dispose();
                throw;
            }
        }

        /// <summary>Sends without waiting for the message's fate.</summary>
        public void Send(string to, string text) => _ = SendAsync(to, text);

        /// <summary>
        /// Sends text to a user. Throws <see cref="ChatException"/> at once when it cannot be sent at all (a
        /// bad name, a closed connection); otherwise the task completes with the message's fate: Delivered,
        /// Forwarded or Refused (native), or Sent (classic, which says nothing more). It never faults.
        /// </summary>
        public Task<SentMessage> SendAsync(string to, string text)
        {
            text = text ?? string.Empty;
            string problem = UserNames.Problem(to);
            if (problem != null)
            {
                throw new ChatException(Refusal.InvalidName, $"'{to}' cannot be a user name: {problem}.");
            }

            if (Protocol == ChatProtocol.Classic)
            {
                // A classic line cannot hold a line break: each line goes as a message of its own, in order.
                var lines = new StringBuilder();
                foreach (string line in ClassicProtocol.SplitLines(text))
                {
                    lines.Append(ClassicProtocol.FormatClientMessage(UserName, to, line));
                }

                SendRaw(lines.ToString());
                return Task.FromResult(new SentMessage(UserName, to, text, DateTime.UtcNow, SendStatus.Sent));
            }

            string reference = NextRef();
            string frame = NativeProtocol.Format(new NativeFrame { Type = FrameType.Send, Ref = reference, To = to, Text = text });
            if (Encoding.UTF8.GetByteCount(frame) - 1 > MaxFrameBytes)
            {
                return Task.FromResult(new SentMessage(UserName, to, text, DateTime.UtcNow, SendStatus.Refused, Refusal.LineTooLong.ToCode(),
                    detail: $"the server takes frames of up to {MaxFrameBytes} bytes"));
            }

            var pending = new PendingSend(to, text);
            _pendingSends[reference] = pending;
            try
            {
                SendRaw(frame);
            }
            catch
            {
                _pendingSends.TryRemove(reference, out _);
                throw;
            }

            if (_state == ConnectionState.Closed)
            {
                FailPending();
            }

            return pending.Fate.Task;
        }

        /// <summary>Who is online (native protocol only).</summary>
        public async Task<IReadOnlyList<UserInfo>> GetUsersAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
        {
            if (Protocol != ChatProtocol.Chatrm)
            {
                throw new ChatException(Refusal.ProtocolMismatch, "Listing who is online needs the native protocol; this connection is classic.");
            }

            string reference = NextRef();
            var answer = new TaskCompletionSource<IReadOnlyList<UserInfo>>(TaskCreationOptions.RunContinuationsAsynchronously);
            _pendingWho[reference] = answer;
            try
            {
                SendRaw(NativeProtocol.Format(new NativeFrame { Type = FrameType.Who, Ref = reference }));
                Task finished = await Task.WhenAny(answer.Task, Task.Delay(timeout, cancellationToken)).ConfigureAwait(false);
                if (finished != answer.Task)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    throw new ChatException(Refusal.NoAnswer, $"The server did not list its users within {timeout.TotalSeconds:0.#} seconds.");
                }

                return await answer.Task.ConfigureAwait(false);
            }
            finally
            {
                _pendingWho.TryRemove(reference, out _);
            }
        }

        /// <summary>
        /// Takes up to <paramref name="max"/> waiting items, oldest first: <see cref="ChatMessage"/>s (only those
        /// from <paramref name="from"/> when given; others stay waiting), every <see cref="ServerNotice"/>, and
        /// <see cref="PresenceEvent"/>s when <paramref name="includePresence"/> (otherwise those passed over are dropped).
        /// </summary>
        public List<object> Take(int max, string from = null, bool includePresence = false)
        {
            lock (_inboxLock)
            {
                var taken = new List<object>(Math.Min(max, _inbox.Count));
                int unexamined = _inbox.Count;
                int passedOver = 0;
                while (unexamined > 0 && taken.Count < max)
                {
                    object item = _inbox.Dequeue();
                    unexamined--;
                    if (item is ChatMessage message)
                    {
                        if (from == null || UserNames.AreSame(message.From, from))
                        {
                            taken.Add(item);
                            _messagesWaiting--;
                        }
                        else
                        {
                            _inbox.Enqueue(item);
                            passedOver++;
                        }
                    }
                    else if (includePresence || !(item is PresenceEvent))
                    {
                        taken.Add(item);
                    }
                }

                // Messages passed over went to the back; move what was not examined behind them again, so the
                // inbox keeps its order.
                if (passedOver > 0)
                {
                    for (int i = 0; i < unexamined; i++)
                    {
                        _inbox.Enqueue(_inbox.Dequeue());
                    }
                }

                if (_inbox.Count == 0 && _inboxPeak > InboxTrimAbove)
                {
                    _inbox.TrimExcess();
                    _inboxPeak = 0;
                }

                return taken;
            }
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

        /// <summary>
        /// Says goodbye (bye in the native protocol; EXIT in the classic one, which leaves an original server
        /// running), then closes.
        /// </summary>
        public async Task CloseAsync()
        {
            if (Interlocked.Exchange(ref _closing, 1) != 0)
            {
                return;
            }

            _transport.Send(Protocol == ChatProtocol.Chatrm
                ? NativeProtocol.Format(new NativeFrame { Type = FrameType.Bye })
                : ClassicProtocol.ExitLine + "\n");
            MarkClosed("closed by this client");
            await _transport.CloseAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        }

        public void Dispose()
        {
            Interlocked.Exchange(ref _closing, 1);
            MarkClosed("closed by this client");
            _transport.Dispose();
        }

        private string NextRef() => Interlocked.Increment(ref _nextRef).ToString(CultureInfo.InvariantCulture);

        private static async Task<Socket> ConnectSocketAsync(string host, int port, TimeSpan timeout, CancellationToken cancellationToken)
        {
            var tcp = new TcpClient(AddressFamily.InterNetworkV6);
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

        // ---- Opening ----

        private async Task OpenClassicAsync(CancellationToken cancellationToken)
        {
            // The opening is queued before reading starts: a server that answers and closes at once (a full one)
            // must not close us before our own opening is sent, or the failure reads as a closed connection.
            SendRaw(ClassicProtocol.FormatHandshake(UserName));
            _ = Task.Run(ReadLoopAsync);

            Task delay = Task.Delay(_options.GreetingTimeout, cancellationToken);
            if (await Task.WhenAny(_greeting.Task, delay).ConfigureAwait(false) != _greeting.Task)
            {
                cancellationToken.ThrowIfCancellationRequested();

                // Silence is what an original server says to a good handshake.
                _greeting.TrySetResult(Greeting.Silence);
            }

            Greeting greeting = await _greeting.Task.ConfigureAwait(false);
            if (greeting.Refusal != Refusal.None)
            {
                throw new ChatException(greeting.Refusal, $"The server refused {UserName}: {greeting.Text}.");
            }

            if (_state == ConnectionState.Closed)
            {
                throw new ChatException(Refusal.ConnectionClosed, $"The server closed the connection: {CloseReason}.");
            }

            ServerIsChatrm |= greeting.Welcomed;
        }

        private async Task OpenNativeAsync(CancellationToken cancellationToken)
        {
            // "chatrm_native" holds a '_', so an original server takes this line for a handshake instead of crashing.
            // Queued before reading starts, as the classic opening is.
            SendRaw(NativeProtocol.Format(new NativeFrame { Type = FrameType.Hello, Protocol = NativeProtocol.ProtocolName, Version = NativeProtocol.Version, User = UserName, Password = _options.Password,
                Presence = _options.ReceivePresence ? (bool?)null : false, Batch = _options.BatchConfirmations ? true : (bool?)null }));
            _ = Task.Run(ReadLoopAsync);

            Task delay = Task.Delay(_options.NativeOpeningTimeout, cancellationToken);
            if (await Task.WhenAny(_greeting.Task, delay).ConfigureAwait(false) != _greeting.Task)
            {
                cancellationToken.ThrowIfCancellationRequested();

                // An original server reads EXIT as the end of this connection, so closing it does not crash it.
                _transport.Send(ClassicProtocol.ExitLine + "\n");
                await _transport.CloseAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
                throw new ChatException(Refusal.ProtocolMismatch,
                    $"{ComputerName}:{Port} did not answer Chatrm's native protocol within {_options.NativeOpeningTimeout.TotalSeconds:0.#} seconds. If it is an original Chatrm server, connect with -Protocol Classic.");
            }

            Greeting greeting = await _greeting.Task.ConfigureAwait(false);
            if (greeting.Refusal != Refusal.None)
            {
                throw new ChatException(greeting.Refusal, $"The server refused {UserName}: {greeting.Text}.");
            }

            if (!greeting.Welcomed)
            {
                // Let EXIT reach the server before the close, as above: disposing at once could drop it.
                _transport.Send(ClassicProtocol.ExitLine + "\n");
                await _transport.CloseAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
                throw new ChatException(Refusal.ProtocolMismatch,
                    $"{ComputerName}:{Port} answered in the classic protocol. Connect with -Protocol Classic.");
            }

            ServerIsChatrm = true;
            StartKeepAlive();
        }

        // ---- Reading ----

        private async Task ReadLoopAsync()
        {
            ReadEnd end = await _transport.ReadLinesAsync(OnLine, () => { }, AckReceived, CancellationToken.None).ConfigureAwait(false);
            MarkClosed(end == ReadEnd.Failed ? "the connection failed" : "the server closed the connection");
            _greeting.TrySetException(new ChatException(Refusal.ConnectionClosed, "The server closed the connection before greeting " + UserName + "."));

            // Our side closes too, so the socket is not held until the user disposes of us.
            _transport.Dispose();
        }

        private bool OnLine(ReadOnlySpan<byte> line)
        {
            Interlocked.Exchange(ref _lastHeardTicks, DateTime.UtcNow.Ticks);
            Interlocked.Exchange(ref _pingOutstanding, 0);
            if (Protocol == ChatProtocol.Chatrm && NativeProtocol.IsNativeOpening(line))
            {
                return OnFrame(line);
            }

            return OnClassicLine(LineTransport.Decode(line));
        }

        private bool OnClassicLine(string line)
        {
            if (!ClassicProtocol.TryParseDelivery(line, out string to, out string from, out string text))
            {
                // Not a DEST_SOURCE_TEXT line: nothing a Chatrm or original server sends. Ignore it.
                return true;
            }

            // A classic line, even a notice, in answer to the native hello: the server read the hello as a
            // classic handshake (an original server, or a Chatrm server without the native protocol, which
            // refuses the "name" {"type":"hello",... as invalid). That is a protocol mismatch, not a bad name.
            // Except "server full", which a Chatrm server says before it knows the protocol.
            if (Protocol == ChatProtocol.Chatrm && !_greeting.Task.IsCompleted)
            {
                bool full = ClassicProtocol.TryParseNotice(text, out string fullCode, out string fullText) && fullCode == Refusal.ServerFull.ToCode();
                if (_greeting.TrySetResult(full ? new Greeting(Refusal.ServerFull, fullText) : Greeting.ClassicAnswer))
                {
                    return true;
                }
            }

            DateTime now = DateTime.UtcNow;
            if (UserNames.AreSame(from, UserNames.Server) && ClassicProtocol.TryParseNotice(text, out string code, out string noticeText))
            {
                var notice = new ServerNotice(code, noticeText, now);
                if (code == ClassicProtocol.WelcomeCode)
                {
                    // A welcome that comes after the greeting wait still tells us what the server is.
                    ServerIsChatrm = true;
                    _greeting.TrySetResult(Greeting.Welcome);
                    return true;
                }

                if (_greeting.TrySetResult(new Greeting(notice.Refusal == Refusal.None ? Refusal.InvalidName : notice.Refusal, noticeText)))
                {
                    return true;
                }

                if (notice.Refusal == Refusal.ServerStopping)
                {
                    CloseReason = "the server is stopping";
                    return true;
                }

                if (EndsSession(notice.Refusal))
                {
                    CloseReason = CloseReason ?? noticeText;
                }

                Enqueue(notice);
                return true;
            }

            // A classic line to a native client is from an original server: it did not speak our protocol.
            if (!_greeting.TrySetResult(Protocol == ChatProtocol.Chatrm ? Greeting.ClassicAnswer : Greeting.Silence) || Protocol != ChatProtocol.Chatrm)
            {
                Enqueue(new ChatMessage(SameSender(from), ToMe(to), text, now));
            }

            return true;
        }

        private string SameSender(string from) => from == _lastSender ? _lastSender : _lastSender = from;

        // A message's recipient: this user's own name string when it names this user (or nobody), so waiting
        // messages share it.
        private string ToMe(string to) => to == null || to == UserName ? UserName : to;

        private bool OnFrame(ReadOnlySpan<byte> line)
        {
            NativeFrame frame = _frame;
            if (!NativeProtocol.TryParse(line, frame, out _))
            {
                // A server that sends what we cannot read is not worth dying over: skip the frame.
                return true;
            }

            switch (frame.Type)
            {
                case FrameType.Welcome:
                    if (frame.MaxFrameBytes.HasValue && frame.MaxFrameBytes.Value > 0)
                    {
                        MaxFrameBytes = frame.MaxFrameBytes.Value;
                    }

                    _batchGranted = frame.Batch == true;
                    _greeting.TrySetResult(Greeting.Welcome);
                    break;
                case FrameType.Message:
                    // The text stays as it came when it can (asking frame.Text would make the string now).
                    byte[] textJson = frame.TextJson;
                    Enqueue(new ChatMessage(
                        SameSender(frame.From), ToMe(frame.To),
                        textJson == null ? frame.Text ?? string.Empty : null, textJson, DateTime.UtcNow, frame.Id, frame.SentAt));
                    if (frame.Id != null)
                    {
                        // The confirmation that makes the sender's status Delivered: now, or for the whole read.
                        if (_batchGranted)
                        {
                            _ackThrough = frame.Id;
                        }
                        else
                        {
                            _transport.Send(NativeProtocol.FormatUtf8(new NativeFrame { Type = FrameType.Ack, Id = frame.Id }));
                        }
                    }

                    break;
                case FrameType.Status:
                    OnStatus(frame);
                    break;
                case FrameType.Delivered:
                    OnDelivered(frame);
                    break;
                case FrameType.Users:
                    if (frame.Ref != null && _pendingWho.TryGetValue(frame.Ref, out var who))
                    {
                        who.TrySetResult(frame.Users ?? new List<UserInfo>());
                    }

                    break;
                case FrameType.Presence:
                    if (frame.User != null)
                    {
                        PresenceChange change = frame.Event == "left" ? PresenceChange.Left : PresenceChange.Joined;
                        Enqueue(new PresenceEvent(change, frame.User, frame.Time ?? DateTime.UtcNow));
                    }

                    break;
                case FrameType.Ping:
                    _transport.Send(NativeProtocol.Format(new NativeFrame { Type = FrameType.Pong, Ref = frame.Ref }));
                    break;
                case FrameType.Bye:
                    CloseReason = frame.Reason == Refusal.ServerStopping.ToCode() ? "the server is stopping" : (frame.Message ?? "the server said goodbye");
                    break;
                case FrameType.Error:
                    OnError(frame);
                    break;
            }

            return true;
        }

        /// <summary>After each read: one ack for every message it brought, through the newest.</summary>
        private void AckReceived()
        {
            if (_ackThrough != null)
            {
                _transport.Send(NativeProtocol.FormatUtf8(new NativeFrame { Type = FrameType.Ack, Through = _ackThrough }));
                _ackThrough = null;
            }
        }

        private void OnDelivered(NativeFrame frame)
        {
            foreach (DeliveredMessage delivered in frame.Messages ?? new List<DeliveredMessage>())
            {
                if (delivered.Ref != null && _pendingSends.TryRemove(delivered.Ref, out PendingSend pending))
                {
                    pending.Fate.TrySetResult(new SentMessage(UserName, pending.To, pending.Text, delivered.SentAt ?? DateTime.UtcNow,
                        SendStatus.Delivered, id: delivered.Id));
                }
            }
        }

        private void OnStatus(NativeFrame frame)
        {
            if (frame.Ref == null || !_pendingSends.TryRemove(frame.Ref, out PendingSend pending))
            {
                return;
            }

            SendStatus status;
            switch (frame.Status)
            {
                case "delivered": status = SendStatus.Delivered; break;
                case "forwarded": status = SendStatus.Forwarded; break;
                default: status = SendStatus.Refused; break;
            }

            pending.Fate.TrySetResult(new SentMessage(UserName, pending.To, pending.Text, frame.SentAt ?? DateTime.UtcNow, status,
                status == SendStatus.Refused ? (frame.Reason ?? "refused") : null, frame.Id, frame.Message));
        }

        private void OnError(NativeFrame frame)
        {
            var notice = new ServerNotice(frame.Code ?? "error", frame.Message ?? string.Empty, DateTime.UtcNow);
            if (_greeting.TrySetResult(new Greeting(notice.Refusal == Refusal.None ? Refusal.MalformedFrame : notice.Refusal, notice.Text)))
            {
                return;
            }

            if (EndsSession(notice.Refusal))
            {
                CloseReason = CloseReason ?? notice.Text;
            }

            if (frame.Ref != null && _pendingSends.TryRemove(frame.Ref, out PendingSend pending))
            {
                pending.Fate.TrySetResult(new SentMessage(UserName, pending.To, pending.Text, DateTime.UtcNow, SendStatus.Refused, notice.Code, detail: notice.Text));
                return;
            }

            Enqueue(notice);
        }

        private void Enqueue(object item)
        {
            TaskCompletionSource<bool> arrival;
            lock (_inboxLock)
            {
                if (_inbox.Count >= _options.InboxCapacity)
                {
                    object oldest = _inbox.Dequeue();
                    if (oldest is ChatMessage)
                    {
                        _messagesWaiting--;
                        Interlocked.Increment(ref _dropped);
                    }
                }

                _inbox.Enqueue(item);
                _inboxPeak = Math.Max(_inboxPeak, _inbox.Count);
                if (item is ChatMessage)
                {
                    _messagesWaiting++;
                }

                arrival = _arrival;
                _arrival = null;
            }

            arrival?.TrySetResult(true);
        }

        // ---- Keepalive ----

        private void StartKeepAlive()
        {
            TimeSpan interval = _options.KeepAliveInterval;
            _keepAliveTimer = new Timer(_ => OnKeepAliveTick(), null, interval, interval);
        }

        private void OnKeepAliveTick()
        {
            if (_state == ConnectionState.Closed)
            {
                _keepAliveTimer?.Dispose();
                return;
            }

            var quiet = TimeSpan.FromTicks(DateTime.UtcNow.Ticks - Interlocked.Read(ref _lastHeardTicks));
            if (quiet < _options.KeepAliveInterval)
            {
                return;
            }

            if (Interlocked.Exchange(ref _pingOutstanding, 1) == 0)
            {
                _transport.Send(NativeProtocol.Format(new NativeFrame { Type = FrameType.Ping }));
                return;
            }

            // Pinged a whole interval ago and heard nothing since: the server is gone or stuck.
            CloseReason = CloseReason ?? "the server stopped answering (keepalive)";
            _transport.StopReading();
        }

        // ---- Closing ----

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

            _keepAliveTimer?.Dispose();
            arrival?.TrySetResult(true);
            FailPending();
            Closed?.Invoke(this, EventArgs.Empty);
        }

        private void FailPending()
        {
            foreach (var pair in _pendingSends)
            {
                if (_pendingSends.TryRemove(pair.Key, out PendingSend pending))
                {
                    pending.Fate.TrySetResult(new SentMessage(UserName, pending.To, pending.Text, DateTime.UtcNow, SendStatus.Refused,
                        Refusal.ConnectionClosed.ToCode(), detail: "the connection closed before the server said what became of it"));
                }
            }

            foreach (var pair in _pendingWho)
            {
                pair.Value.TrySetException(new ChatException(Refusal.ConnectionClosed, "The connection closed."));
            }
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

        /// <summary>Refusals the server sends just before it closes the connection: they say why it closed.</summary>
        private static bool EndsSession(Refusal refusal) =>
            refusal == Refusal.Replaced || refusal == Refusal.Disconnected || refusal == Refusal.IdleTimeout ||
            refusal == Refusal.KeepaliveTimeout;

        internal static IEnumerable<string> SplitLines(string text) => ClassicProtocol.SplitLines(text);

        private sealed class PendingSend
        {
            public PendingSend(string to, string text)
            {
                To = to;
                Text = text;
            }

            public string To { get; }
            public string Text { get; }
            public TaskCompletionSource<SentMessage> Fate { get; } = new TaskCompletionSource<SentMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        /// <summary>What the server said (or did not say) to our opening.</summary>
        private sealed class Greeting
        {
            public static readonly Greeting Welcome = new Greeting(Refusal.None, null) { Welcomed = true };
            public static readonly Greeting Silence = new Greeting(Refusal.None, null);

            // A classic line in answer to the native hello: not welcomed, which makes it a protocol mismatch.
            public static readonly Greeting ClassicAnswer = new Greeting(Refusal.None, null);

            public Greeting(Refusal refusal, string text)
            {
                Refusal = refusal;
                Text = text;
            }

            public Refusal Refusal { get; }
            public string Text { get; }
            public bool Welcomed { get; private set; }
        }
    }
}
