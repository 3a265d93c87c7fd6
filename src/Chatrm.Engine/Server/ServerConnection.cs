using System;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using Chatrm.Engine.Messaging;
using Chatrm.Engine.Protocol;
using Chatrm.Engine.Protocol.Native;
using Chatrm.Engine.Routing;
using Chatrm.Engine.Server.Sessions;
using Chatrm.Engine.Transport;

namespace Chatrm.Engine.Server
{
    /// <summary>
    /// One client of a <see cref="ChatServer"/>. Its first line picks the protocol: a JSON object opens the
    /// native protocol, anything else is a classic handshake. Everything a client does wrong is answered to
    /// it alone (a classic notice or a native error frame); nothing it does reaches another user unasked.
    /// </summary>
    internal sealed partial class ServerConnection : IChatEndpoint
    {
        private readonly ChatServer _server;
        private readonly LineTransport _transport;
        private ITimer _handshakeTimer;
        private readonly object _handshakeLock = new object();

        // Held while registering and queueing the welcome, so no message overtakes the welcome.
        private readonly object _welcomeGate = new object();

        // What the user's protocol does: classic until the opening line is a native hello, which sets it once, under
        // the handshake lock and before registering. Threads other than the reader read it only once registered
        // (after reading the volatile _registered, or when the router hands them this endpoint).
        private ProtocolSession _session;

        private volatile bool _registered;
        private volatile bool _welcomed;
        private bool _handshakeTimedOut;
        // Set by every line the user sends, cleared by the keepalive sweep: cheaper than reading the clock per line.
        private volatile bool _heard;
        // Only the keepalive sweep touches it, one sweep at a time.
        private KeepAlivePeer _keepAlive;
        private volatile bool _tooSlow;

        // A refused login is answered after a delay that grows with the address's failures; lines meanwhile are ignored.
        private volatile bool _refusing;

        // Made at the first wait for another server's answer (see AfterAnswer); null on a lone server.
        private volatile HeldLines _heldLines;
        private readonly bool _classicOnly;
        private readonly System.Net.IPAddress _address;

        // Rate limit: refilled at MaxMessagesPerSecond (a mutable struct: never copy it, never make it readonly).
        private RateLimiter _rate;

        // For the idle limit: when this user last sent a message.
        private long _lastMessageTicks;

        // This user's message ids (a mutable struct: never copy it, never make it readonly).
        private MessageIdBlock _messageIds;

        public ServerConnection(ChatServer server, Socket socket, long id, System.IO.Stream secure = null, bool classicOnly = false)
            : this(
                server,
                // The opening line may be longer than the lines after it (see ServerOptions.OpeningLineBytes).
                new LineTransport(socket, server.Options.MaxOpeningBytes, server.Options.MaxQueuedBytesPerConnection, secure, stopsAfterReadBatch: true),
                (socket.RemoteEndPoint as System.Net.IPEndPoint)?.Address ?? System.Net.IPAddress.None,
                id,
                classicOnly)
        {
        }

        /// <summary>A connection over a transport made elsewhere: an in-memory one, in tests of sessions without sockets.</summary>
        internal ServerConnection(ChatServer server, LineTransport transport, System.Net.IPAddress address, long id, bool classicOnly = false)
        {
            _server = server;
            Id = id;
            Address = new SenderAddress(server.Router.ServerId, id);
            _classicOnly = classicOnly;
            ServerOptions options = server.Options;
            _transport = transport;
            _transport.Clock = server.Clock;
            ConnectedAt = server.Clock.GetUtcNow().UtcDateTime;
            _lastMessageTicks = ConnectedAt.Ticks;
            _address = address;
            _session = new ClassicSession(this, server, transport);
            _handshakeTimer = server.Clock.CreateTimer(_ => OnHandshakeTimeout(), null, options.HandshakeTimeout, Timeout.InfiniteTimeSpan);
        }

        public long Id { get; }

        public SenderAddress Address { get; }

        public string UserName { get; private set; }

        public string Protocol => _session.Protocol;

        /// <summary>Why the user left, as the UserLeft event says it; a session sets it when its user says goodbye.</summary>
        internal string LeaveReason { get; set; } = "disconnected";

        public DateTime ConnectedAt { get; }

        /// <summary>The native hello's resume token, set before the name is registered; classic has none.</summary>
        public string ResumeToken { get; internal set; }

        /// <summary>
        /// Serves the user until the connection ends. The server stops the reading when it stops (see
        /// <see cref="StopReading"/>); <paramref name="stopping"/> only tells this why reading ended.
        /// </summary>
        public async Task RunAsync(CancellationToken stopping)
        {
            ReadEnd end;
            try
            {
                // No token for the read: a registration on it would cost every idle connection one.
                end = await _transport.ReadLinesAsync(OnLine, OnLineTooLong, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                // A bug in our own line handling must cost this connection only, never the server.
                _server.Raise(ServerEventKind.ServerError, UserName, e.GetType().Name + ": " + e.Message);
                end = ReadEnd.Failed;
            }

            lock (_handshakeLock)
            {
                _handshakeTimedOut = !_registered;
                _handshakeTimer?.Dispose();
            }

            if (stopping.IsCancellationRequested)
            {
                LeaveReason = "server stopping";
                _session.SayGoodbye(Refusal.ServerStopping, "the server is stopping");
            }
            else if (end == ReadEnd.Failed)
            {
                LeaveReason = "connection failed";
            }

            // Whatever waits on this user is settled (a native user's unconfirmed messages go to its inbox, or are
            // reported failed): before the name is free, so a message sent after the user left is kept after those.
            try
            {
                _session.Ended();
            }
            finally
            {
                LetGoOfHeld();
            }

            if (_registered)
            {
                _server.Router.Unregister(this);
                _server.Raise(ServerEventKind.UserLeft, UserName, LeaveReason);
            }

            // Fates of the token's sends are recorded from now on, for the client to hear when it comes back and resends.
            LetGoOfResumeState();

            await _transport.CloseAsync(_server.Options.CloseGrace).ConfigureAwait(false);
            _server.Router.Detach(this);
        }

        /// <summary>Stops reading, as the server does to every connection when it stops.</summary>
        internal void StopReading() => _transport.StopReading();

        /// <summary>Ends the session from the server side.</summary>
        public void Disconnect(string reason)
        {
            LeaveReason = reason;
            _transport.StopReading();
        }

        /// <summary>Ends the session from the server side, telling the user why first.</summary>
        public void Disconnect(Refusal why, string text)
        {
            // A kick, not a refused line: the operator hears of it once, in the UserLeft event's reason.
            Tell(why, text);
            Disconnect(why.ToCode() + ": " + text);
        }

        /// <summary>Disconnects a registered user who has sent no message for the idle time.</summary>
        public void CheckIdle(long nowTicks, TimeSpan idleTimeout)
        {
            if (_registered && nowTicks - Interlocked.Read(ref _lastMessageTicks) > idleTimeout.Ticks)
            {
                Disconnect(Refusal.IdleTimeout, "no message sent within " + Durations.Describe(idleTimeout));
            }
        }

        /// <summary>The id of the next message this user sends. Only this connection's reader calls this.</summary>
        internal long NextMessageId() => _messageIds.Next(_server);

        /// <summary>Takes a token for one message; false (and the user is told) when over the rate limit.</summary>
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        private bool WithinRate(long now)
        {
            // The idle check needs this to a tenth of a second, not a locked write per message.
            if (now - Volatile.Read(ref _lastMessageTicks) > TimeSpan.TicksPerSecond / 10)
            {
                Interlocked.Exchange(ref _lastMessageTicks, now);
            }

            // Only this connection's reader calls this, one line at a time: no lock needed.
            return _rate.TryTake(_server.Options.MaxMessagesPerSecond, now);
        }

        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        private bool OnLine(ReadOnlySpan<byte> line)
        {
            // The opening counts, so the first ping comes a whole interval after the hello at the earliest. Only a
            // native user is swept for keepalive; a classic one sets this once and nothing reads it.
            if (!_heard)
            {
                _heard = true;
            }

            if (_refusing)
            {
                return true;
            }

            // The cluster has not yet said whether the opening's name is free: the line waits, in order.
            HeldLines held = _heldLines;
            if (held != null && held.IsActive && held.TryHold(line))
            {
                return true;
            }

            if (!_registered)
            {
                lock (_handshakeLock)
                {
                    if (_handshakeTimedOut)
                    {
                        return false;
                    }

                    // Every line after the opening is held to the line limit.
                    _transport.MaxLineBytes = _server.Options.MaxLineBytes;
                    string opening = LineTransport.Decode(line);
                    if (NativeProtocol.IsNativeOpening(opening) && !_classicOnly)
                    {
                        _session = new NativeSession(this, _server, _transport);
                    }

                    return _session.Open(opening);
                }
            }

            return _session.OnLine(line);
        }
    }
}
