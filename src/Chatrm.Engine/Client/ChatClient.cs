using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Chatrm.Engine.Client;
using Chatrm.Engine.Protocol;
using Chatrm.Engine.Protocol.Classic;
using Chatrm.Engine.Protocol.Native;
using Chatrm.Engine.Transport;

namespace Chatrm.Engine
{
    /// <summary>
    /// One user's connection to a Chatrm (or original) server, in either protocol. Incoming messages wait in
    /// a bounded inbox until taken; sending never waits for the network, and with the native protocol each
    /// message's fate arrives later as the result of <see cref="SendAsync"/>.
    /// </summary>
    public sealed partial class ChatClient : IDisposable
    {
        private readonly ClientOptions _options;
        private readonly ClientInbox _inbox;

        // The link: one TCP (or TLS) connection and its opening. A reconnect makes a new one (ChatClient.Reconnecting.cs);
        // everything else here lives as long as the client. Only the link's own reading thread and the opening swap them.
        private LineTransport _transport;
        private TaskCompletionSource<Greeting> _greeting;
        private readonly ConcurrentDictionary<string, PendingSend> _pendingSends = new ConcurrentDictionary<string, PendingSend>();
        private readonly ConcurrentDictionary<string, TaskCompletionSource<IReadOnlyList<UserInfo>>> _pendingWho = new ConcurrentDictionary<string, TaskCompletionSource<IReadOnlyList<UserInfo>>>();

        // Room requests waiting for their answer, by ref: a join, part or who with a room waits for a room frame, a
        // rooms request for a rooms frame. An error frame with the ref fails the request with its refusal.
        private readonly ConcurrentDictionary<string, TaskCompletionSource<RoomInfo>> _pendingRoom = new ConcurrentDictionary<string, TaskCompletionSource<RoomInfo>>();
        private readonly ConcurrentDictionary<string, TaskCompletionSource<IReadOnlyList<RoomInfo>>> _pendingRooms = new ConcurrentDictionary<string, TaskCompletionSource<IReadOnlyList<RoomInfo>>>();
        // A receipt for a message an earlier connection sent carries that connection's ref: each connection's refs
        // start with a prefix of its own, so such a ref never names a send of this one, in this process or another.
        private readonly string _refPrefix = Guid.NewGuid().ToString("N").Substring(0, 6) + ".";
        private long _nextRef;
        // Sent on every hello of this object: a server that still holds our old session (a half-open link) hands it
        // over to the new connection instead of refusing the name (issue 17's resume token).
        private readonly string _resumeToken = Guid.NewGuid().ToString("N");
        private ITimer _keepAliveTimer;
        // Set by every line from the server, cleared by the keepalive tick; the tick's state is the tick's alone.
        private volatile bool _heard = true;
        private KeepAliveSchedule _keepAliveSchedule;
        private KeepAlivePeer _keepAlive;
        private int _ticking;
        private volatile ConnectionState _state = ConnectionState.Open;
        private int _closing;

        // Native: the ids of the last messages taken in, so one the server sends again is shown once.
        private readonly ShownMessageIds _shownIds;

        // The sender of the last message read: a burst from one sender shares one string while it waits.
        private string _lastSender;


        private ChatClient(string host, int port, string userName, ChatProtocol protocol, ClientOptions options)
        {
            _options = options;
            _shownIds = options.ShownIds ?? new ShownMessageIds();
            _showOnce = ShowOnce;
            _inbox = new ClientInbox(options.InboxCapacity);
            IsEncrypted = options.Tls != null;
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
        public int MessagesWaiting => _inbox.MessagesWaiting;

        /// <summary>Messages dropped because the inbox was full.</summary>
        public long MessagesDropped => _inbox.MessagesDropped;

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

            var client = new ChatClient(host, port, userName, protocol, options);
            try
            {
                await client.OpenLinkAsync(cancellationToken).ConfigureAwait(false);
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
            if (RoomNames.IsRoom(to))
            {
                // A post to a room: the same send frame (or classic line), which the server answers as the room's.
                string roomProblem = RoomNames.Problem(to);
                if (roomProblem != null)
                {
                    throw new ChatException(Refusal.InvalidRoom, $"'{to}' cannot be a room name: {roomProblem}.");
                }
            }
            else
            {
                string problem = UserNames.Problem(to);
                if (problem != null)
                {
                    throw new ChatException(Refusal.InvalidName, $"'{to}' cannot be a user name: {problem}.");
                }
            }

            if (Protocol == ChatProtocol.Classic)
            {
                // A classic line cannot hold a line break: each line goes as a message of its own, in order.
                var lines = new StringBuilder();
                foreach (string line in ClassicProtocol.SplitLines(text))
                {
                    lines.Append(ClassicProtocol.FormatClientMessage(UserName, to, line));
                }

                if (_state == ConnectionState.Reconnecting)
                {
                    // Classic lines have no fate to wait for, so none is held for later.
                    throw new ChatException(Refusal.NotConnected, "Not sent: the connection dropped and is reconnecting; send again once it is back.");
                }

                SendRaw(lines.ToString());
                return Task.FromResult(new SentMessage(UserName, to, text, DateTime.UtcNow, SendStatus.Sent));
            }

            long number = Interlocked.Increment(ref _nextRef);
            string reference = RefOf(number);
            string frame = NativeProtocol.Format(new NativeFrame { Type = FrameType.Send, Ref = reference, To = to, Text = text });
            if (Encoding.UTF8.GetByteCount(frame) - 1 > MaxFrameBytes)
            {
                return Task.FromResult(new SentMessage(UserName, to, text, DateTime.UtcNow, SendStatus.Refused, Refusal.LineTooLong.ToCode(),
                    detail: $"the server takes frames of up to {MaxFrameBytes} bytes"));
            }

            var pending = new PendingSend(number, to, text, frame);
            lock (_sendGate)
            {
                _pendingSends[reference] = pending;

                // While reconnecting it waits with the rest; the new link sends them all, in ref order (ChatClient.Reconnecting.cs).
                if (_state != ConnectionState.Reconnecting)
                {
                    try
                    {
                        SendRaw(frame);
                    }
                    catch (ChatException e) when (e.Refusal == Refusal.ConnectionClosed && WillReconnect)
                    {
                        // The link is gone and its reader has not noticed yet: the send waits for the next link.
                        _transport.StopReading();
                    }
                    catch
                    {
                        _pendingSends.TryRemove(reference, out _);
                        throw;
                    }
                }
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
        /// from <paramref name="from"/>, and only those posted to <paramref name="room"/>, when given; others stay
        /// waiting), every <see cref="ServerNotice"/>, and <see cref="PresenceEvent"/>s when
        /// <paramref name="includePresence"/> (with <paramref name="room"/>, only that room's; otherwise those passed
        /// over are dropped), and <see cref="DeliveryReceipt"/>s when <paramref name="includeReceipts"/> (otherwise
        /// dropped too).
        /// </summary>
        public List<object> Take(int max, string from = null, bool includePresence = false, string room = null, bool includeReceipts = false) =>
            _inbox.Take(max, from, includePresence, room, includeReceipts);

        /// <summary>
        /// A task that completes when something arrives after this call, or the connection closes. Take it
        /// before <see cref="Take"/> so that nothing arriving in between is missed.
        /// </summary>
        public Task NextArrival() => _inbox.NextArrival();

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

            StopReconnecting();
            LineTransport transport = _transport;
            bool up = _state == ConnectionState.Open;
            if (up)
            {
                // What the reader took and has not acked yet is acked before the bye: unconfirmed, the server would
                // keep it for the next login, which would get it again.
                ReadingLink reading = _reading;
                if (Protocol == ChatProtocol.Chatrm && reading != null && reading.Transport == transport && reading.NewestShown is string through)
                {
                    AckThrough(transport, through);
                }

                transport.Send(Protocol == ChatProtocol.Chatrm
                    ? NativeProtocol.Format(new NativeFrame { Type = FrameType.Bye })
                    : ClassicProtocol.ExitLine + "\n");
            }

            MarkClosed("closed by this client");
            if (transport != null)
            {
                await transport.CloseAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
            }
        }

        public void Dispose()
        {
            Interlocked.Exchange(ref _closing, 1);
            StopReconnecting();
            MarkClosed("closed by this client");
            _transport?.Dispose();
        }

        private string NextRef() => RefOf(Interlocked.Increment(ref _nextRef));

        private string RefOf(long number) => _refPrefix + number.ToString(CultureInfo.InvariantCulture);

        /// <summary>What every ref this connection writes starts with; then 1, 2, ... (tests size frames by it).</summary>
        internal string RefPrefix => _refPrefix;

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

        private void Enqueue(object item) => _inbox.Add(item);

        private void MarkClosed(string reason)
        {
            if (!_inbox.TryClose(out TaskCompletionSource<bool> arrival))
            {
                return;
            }

            CloseReason = _linkEnd ?? reason;
            _state = ConnectionState.Closed;

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

            FailQuestions();
        }

        /// <summary>Questions (who, rooms, history) are the link's: a lost link fails them, and the caller may ask again.</summary>
        private void FailQuestions()
        {
            FailAll(_pendingWho);
            FailAll(_pendingRoom);
            FailAll(_pendingRooms);
            FailAll(_pendingHistory);
        }

        private static void FailAll<T>(ConcurrentDictionary<string, TaskCompletionSource<T>> questions)
        {
            foreach (var pair in questions)
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

            if (_state == ConnectionState.Reconnecting && !_resuming)
            {
                throw new ChatException(Refusal.NotConnected, $"The connection dropped ({_linkEnd ?? "closed"}) and is reconnecting; ask again once it is back.");
            }

            switch (_transport.Send(line))
            {
                case SendResult.Closed:
                    throw new ChatException(Refusal.ConnectionClosed, $"The connection is closed: {CloseReason ?? _linkEnd ?? "closed"}.");
                case SendResult.QueueFull:
                    throw new ChatException(Refusal.RecipientTooSlow, "The server is not reading what this client sends.");
            }
        }

        /// <summary>Refusals the server sends just before it closes the connection: they say why it closed.</summary>
        private static bool EndsSession(Refusal refusal) =>
            refusal == Refusal.Replaced || refusal == Refusal.Disconnected || refusal == Refusal.IdleTimeout ||
            refusal == Refusal.KeepaliveTimeout;

        internal static IEnumerable<string> SplitLines(string text) => ClassicProtocol.SplitLines(text);
    }
}
