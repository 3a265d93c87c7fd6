using System;
using System.Collections.Generic;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;

namespace Chatrm.Engine
{
    /// <summary>
    /// One client of a <see cref="ChatServer"/>. Its first line picks the protocol: a JSON object opens the
    /// native protocol, anything else is a classic handshake. Everything a client does wrong is answered to
    /// it alone (a classic notice or a native error frame); nothing it does reaches another user unasked.
    /// </summary>
    internal sealed class ServerConnection : IChatEndpoint, IDeliveryReceipt
    {
        private readonly ChatServer _server;
        private readonly LineTransport _transport;
        private Timer _handshakeTimer;
        private readonly object _handshakeLock = new object();

        // Held while registering and queueing the welcome, so no message overtakes the welcome.
        private readonly object _welcomeGate = new object();

        // Native messages handed to this user and not yet confirmed. Made on the first one, so an idle or classic
        // user holds none.
        private UnconfirmedMessages _unconfirmed;

        private UnconfirmedMessages Unconfirmed => Volatile.Read(ref _unconfirmed) ?? CreateUnconfirmed();

        // What one ack "through" confirmed, reused by this connection's reader.
        private ChatEnvelope[] _acked = Array.Empty<ChatEnvelope>();
        private List<ChatEnvelope> _ackedOthers;

        // The hello asked for batched confirmations: this user's delivered messages are told in delivered frames.
        private bool _batch;

        // The frame every incoming native line is parsed into (only this connection's reader uses it).
        private NativeFrame _frame;

        private string _leaveReason = "disconnected";
        private volatile bool _registered;
        private volatile bool _welcomed;
        private volatile bool _native;
        private bool _handshakeTimedOut;
        // Set by every line a native user sends, cleared by the keepalive sweep: cheaper than reading the clock per line.
        private volatile bool _heard;
        private int _quietSweeps;
        private volatile bool _tooSlow;

        // A refused login is answered after a delay that grows with the address's failures; lines meanwhile are ignored.
        private volatile bool _refusing;
        private readonly bool _classicOnly;
        private readonly System.Net.IPAddress _address;

        // Rate limit: a token bucket refilled at MaxMessagesPerSecond, holding at most a second's worth.
        private double _tokens = double.MaxValue;
        private long _tokensRefilledAt;

        // For the idle limit: when this user last sent a message.
        private long _lastMessageTicks = DateTime.UtcNow.Ticks;

        private const int MessageIdBlock = 64;
        private long _nextMessageId;
        private long _messageIdBlockEnd;

        public ServerConnection(ChatServer server, Socket socket, long id, System.IO.Stream secure = null, bool classicOnly = false)
        {
            _server = server;
            Id = id;
            _classicOnly = classicOnly;
            ServerOptions options = server.Options;
            _transport = new LineTransport(socket, options.MaxLineBytes, options.MaxQueuedBytesPerConnection, secure, stopsAfterReadBatch: true);
            _address = (socket.RemoteEndPoint as System.Net.IPEndPoint)?.Address ?? System.Net.IPAddress.None;
            _handshakeTimer = new Timer(_ => OnHandshakeTimeout(), null, options.HandshakeTimeout, Timeout.InfiniteTimeSpan);
        }

        public long Id { get; }

        public string UserName { get; private set; }

        // A native user's name as frames write it: encoded once, when it registers, before the welcome lets
        // deliveries in (see Register), and never written again. Only a registered native user's is read.
        private JsonEncodedText _encodedName;

        public string Protocol => _native ? ProtocolNames.Chatrm : ProtocolNames.Classic;

        public DateTime ConnectedAt { get; } = DateTime.UtcNow;

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
                _leaveReason = "server stopping";
                if (_native)
                {
                    SendFrame(new NativeFrame { Type = FrameType.Bye, Reason = Refusal.ServerStopping.ToCode(), Message = "the server is stopping" });
                }
                else
                {
                    SendNotice(Refusal.ServerStopping.ToCode(), "the server is stopping");
                }
            }
            else if (end == ReadEnd.Failed)
            {
                _leaveReason = "connection failed";
            }

            if (_registered)
            {
                _server.Router.Unregister(this);
                _server.Raise(ServerEventKind.UserLeft, UserName, _leaveReason);
            }

            // Whatever this user never confirmed, its senders learn it was not delivered. (Made here if need be, so a
            // sender who found this user a moment ago hears "offline" instead of waiting for an ack forever.)
            foreach (ChatEnvelope envelope in Unconfirmed.TakeAll())
            {
                envelope.Receipt?.Failed(envelope, Refusal.RecipientLeft, UserName + " left before confirming");
            }

            await _transport.CloseAsync(_server.Options.CloseGrace).ConfigureAwait(false);
        }

        public DeliveryStatus Deliver(ChatEnvelope envelope)
        {
            if (!_welcomed)
            {
                // Registered a moment ago: wait for the welcome to be queued first.
                lock (_welcomeGate)
                {
                }
            }

            if (_native)
            {
                return DeliverNative(envelope);
            }

            // A classic client reads one line per message: text with line breaks goes as a line per line,
            // queued at once so no other sender's line comes between them.
            SendResult sent;
            if (envelope.Text.IndexOf('\n') < 0 && envelope.Text.IndexOf('\r') < 0)
            {
                // The usual case, written as ClassicProtocol.FormatDelivery would write it, without making the string.
                sent = _transport.SendJoined(ClassicProtocol.Separator, UserName, envelope.From, envelope.Text);
            }
            else
            {
                var lines = new StringBuilder();
                foreach (string line in ClassicProtocol.SplitLines(envelope.Text))
                {
                    lines.Append(ClassicProtocol.FormatDelivery(UserName, envelope.From, line));
                }

                sent = _transport.Send(lines.ToString());
            }

            return Queued(sent) ? DeliveryStatus.Forwarded : TooSlowOrGone();
        }

        /// <summary>Stops reading, as the server does to every connection when it stops.</summary>
        internal void StopReading() => _transport.StopReading();

        private UnconfirmedMessages CreateUnconfirmed()
        {
            Interlocked.CompareExchange(ref _unconfirmed, new UnconfirmedMessages(_transport), null);
            return _unconfirmed;
        }

        /// <summary>Ends the session from the server side.</summary>
        public void Disconnect(string reason)
        {
            _leaveReason = reason;
            _transport.StopReading();
        }

        /// <summary>Ends the session from the server side, telling the user why first.</summary>
        public void Disconnect(Refusal why, string text)
        {
            Refuse(why, text);
            Disconnect(why.ToCode() + ": " + text);
        }

        /// <summary>Disconnects a registered user who has sent no message for the idle time.</summary>
        public void CheckIdle(long nowTicks, TimeSpan idleTimeout)
        {
            if (_registered && nowTicks - Interlocked.Read(ref _lastMessageTicks) > idleTimeout.Ticks)
            {
                Disconnect(Refusal.IdleTimeout, "no message sent within " + idleTimeout);
            }
        }

        /// <summary>
        /// The id of the next message this user sends. Ids come from the server's counter in blocks: bumping one
        /// counter per message took a locked instruction on a cache line both cores fought over. They stay unique,
        /// and one sender's ids still rise. Only this connection's reader calls this.
        /// </summary>
        private long NextMessageId()
        {
            if (_nextMessageId == _messageIdBlockEnd)
            {
                _messageIdBlockEnd = _server.ReserveMessageIds(MessageIdBlock);
                _nextMessageId = _messageIdBlockEnd - MessageIdBlock;
            }

            return ++_nextMessageId;
        }

        /// <summary>Takes a token for one message; false (and the user is told) when over the rate limit.</summary>
        private bool WithinRate(long now)
        {
            // The idle check needs this to a tenth of a second, not a locked write per message.
            if (now - Volatile.Read(ref _lastMessageTicks) > TimeSpan.TicksPerSecond / 10)
            {
                Interlocked.Exchange(ref _lastMessageTicks, now);
            }

            int rate = _server.Options.MaxMessagesPerSecond;
            if (rate <= 0)
            {
                return true;
            }

            // Only this connection's reader calls this, one line at a time: no lock needed.
            double refill = (now - _tokensRefilledAt) / (double)TimeSpan.TicksPerSecond * rate;
            _tokens = Math.Min(rate, _tokens == double.MaxValue ? rate : _tokens + refill);
            _tokensRefilledAt = now;
            if (_tokens < 1)
            {
                return false;
            }

            _tokens -= 1;
            return true;
        }

        /// <summary>Tells a native user that someone joined or left.</summary>
        public void SendPresence(PresenceChange change, string userName, DateTime time)
        {
            if (_native && _welcomed && !UserNames.AreSame(userName, UserName))
            {
                SendFrame(new NativeFrame
                {
                    Type = FrameType.Presence,
                    Event = change == PresenceChange.Joined ? "joined" : "left",
                    User = userName,
                    Time = time,
                });
            }
        }

        void IDeliveryReceipt.Delivered(ChatEnvelope envelope) =>
            Queued(_transport.Send(NativeProtocol.FormatDelivered(envelope)));

        void IDeliveryReceipt.Delivered(ReadOnlySpan<ChatEnvelope> envelopes)
        {
            if (!_batch)
            {
                foreach (ChatEnvelope envelope in envelopes)
                {
                    ((IDeliveryReceipt)this).Delivered(envelope);
                }

                return;
            }

            while (envelopes.Length > 0)
            {
                int taken = NativeProtocol.FormatDelivered(envelopes, out ReadOnlySpan<byte> frame);
                if (!Queued(_transport.Send(frame)))
                {
                    return;
                }

                envelopes = envelopes.Slice(taken);
            }
        }

        void IDeliveryReceipt.Failed(ChatEnvelope envelope, Refusal reason, string message) =>
            SendStatus(envelope, "refused", reason, message);

        private DeliveryStatus DeliverNative(ChatEnvelope envelope)
        {
            JsonEncodedText from = !envelope.EncodedFrom.EncodedUtf8Bytes.IsEmpty ? envelope.EncodedFrom : NativeProtocol.EncodeName(envelope.From);
            ReadOnlySpan<byte> frame = NativeProtocol.FormatMessage(envelope, from, _encodedName);
            int limit = _server.Options.MaxUnconfirmedPerConnection;
            if (!Unconfirmed.TryAddAndSend(envelope, frame, limit, out SendResult sent))
            {
                // It reads but does not confirm: keeping everything sent to it would let one client eat the server's memory.
                DropAsTooSlow("it did not confirm the messages sent to it", $"you did not confirm the messages sent to you; {limit} waited for your ack");
                return DeliveryStatus.RecipientTooSlow;
            }

            return Queued(sent) ? DeliveryStatus.Pending : TooSlowOrGone();
        }

        /// <summary>Whether a send was queued; a full queue drops this user as too slow.</summary>
        private bool Queued(SendResult result)
        {
            switch (result)
            {
                case SendResult.Queued:
                    return true;
                case SendResult.QueueFull:
                    // It has stopped reading; holding more for it would let one client eat the server's memory.
                    DropAsTooSlow("its send queue was full", $"you did not read what was sent to you; more than {_server.Options.MaxQueuedBytesPerConnection} bytes waited");
                    return false;
                default:
                    return false;
            }
        }

        /// <summary>Drops this user as too slow, once, telling it why.</summary>
        private void DropAsTooSlow(string why, string told)
        {
            if (!_tooSlow)
            {
                _tooSlow = true;
                _leaveReason = "too slow: " + why;
                Tell(Refusal.RecipientTooSlow, told, evenIfFull: true);
                _transport.StopReading();
            }
        }

        private DeliveryStatus TooSlowOrGone() => _tooSlow ? DeliveryStatus.RecipientTooSlow : DeliveryStatus.UserOffline;

        private bool OnLine(ReadOnlySpan<byte> line)
        {
            if (_native && !_heard)
            {
                _heard = true;
            }

            if (_refusing)
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

                    string opening = LineTransport.Decode(line);
                    if (NativeProtocol.IsNativeOpening(opening) && !_classicOnly)
                    {
                        _native = true;
                        return OpenNative(opening);
                    }

                    return OpenClassic(opening);
                }
            }

            if (_native)
            {
                // A person pressing Enter in nc sends a blank line: nothing to answer, as in the classic protocol.
                return NativeProtocol.IsBlank(line) || OnFrame(line);
            }

            return OnClassicLine(LineTransport.Decode(line));
        }

        // ---- Handshakes ----

        private bool OpenClassic(string line)
        {
            string name = ClassicProtocol.ParseHandshake(line);
            string problem = UserNames.Problem(name);
            if (problem != null)
            {
                return RefuseHandshake(name, Refusal.InvalidName, problem);
            }

            CredentialStore credentials = _server.Options.Credentials;
            if (credentials != null && !_server.Options.AllowClassic)
            {
                return RefuseHandshake(name, Refusal.AuthRequired, "this server needs a password, which the classic protocol cannot give; use Chatrm's native protocol");
            }

            if (credentials != null && credentials.Contains(name))
            {
                // A classic user cannot prove who they are, so cannot take a name that has a password.
                return RefuseHandshake(name, Refusal.AuthRequired, "the name " + name + " needs a password; log in with Chatrm's native protocol");
            }

            return Register(name) || RefuseHandshake(name, Refusal.NameTaken, "the name " + name + " is in use; choose another");
        }

        private bool OpenNative(string line)
        {
            if (!NativeProtocol.TryParse(line, out NativeFrame hello, out string problem))
            {
                return RefuseHandshake(null, Refusal.MalformedFrame, problem);
            }

            if (hello.Type != FrameType.Hello)
            {
                return RefuseHandshake(null, Refusal.MalformedFrame, "the first frame must be a hello");
            }

            if (hello.Version != NativeProtocol.Version)
            {
                return RefuseHandshake(hello.User, Refusal.UnsupportedVersion,
                    $"this server speaks version {NativeProtocol.Version} of the native protocol, not {(hello.Version?.ToString() ?? "none")}");
            }

            string problemWithName = UserNames.Problem(hello.User);
            if (problemWithName != null)
            {
                return RefuseHandshake(hello.User, Refusal.InvalidName, problemWithName);
            }

            bool authenticated = false;
            CredentialStore credentials = _server.Options.Credentials;
            if (credentials != null)
            {
                if (!credentials.Verify(hello.User, hello.Password))
                {
                    RefuseLoginLater(hello.User);
                    return true;
                }

                _server.ForgetLoginFailures(_address);
                authenticated = true;
            }

            _batch = hello.Batch == true;
            if (!Register(hello.User, takeOver: authenticated, hearsPresence: hello.Presence != false))
            {
                return RefuseHandshake(hello.User, Refusal.NameTaken, "the name " + hello.User + " is in use; choose another");
            }

            // The hello counts as heard: the first ping comes a whole interval after it at the earliest.
            _heard = true;
            return true;
        }

        /// <summary>
        /// Answers a failed login only after a delay that doubles with each failure from the address, so guessing
        /// is slow; wrong password and unknown name get the same words.
        /// </summary>
        private void RefuseLoginLater(string name)
        {
            _refusing = true;
            TimeSpan delay = _server.RecordLoginFailure(_address);
            Task.Delay(delay).ContinueWith(_ =>
            {
                RefuseHandshake(name, Refusal.AuthFailed, "wrong name or password");
                _transport.StopReading();
            }, TaskScheduler.Default);
        }

        private bool Register(string name, bool takeOver = false, bool hearsPresence = false)
        {
            IChatEndpoint displaced;
            lock (_welcomeGate)
            {
                UserName = name;
                if (!_server.Router.TryRegister(this, takeOver, out displaced))
                {
                    UserName = null;
                    return false;
                }

                if (_native)
                {
                    _encodedName = NativeProtocol.EncodeName(name);
                }

                if (hearsPresence)
                {
                    // Before the welcome goes, so every join after it is heard.
                    _server.ListenForPresence(this);
                }

                _registered = true;
                // Registered: the timer has done its work, and an idle user should not carry it.
                _handshakeTimer.Dispose();
                _handshakeTimer = null;
                if (_native)
                {
                    SendFrame(new NativeFrame
                    {
                        Type = FrameType.Welcome,
                        Protocol = NativeProtocol.ProtocolName,
                        Version = NativeProtocol.Version,
                        User = name,
                        KeepAlive = _server.Options.KeepAliveInterval.TotalSeconds,
                        MaxFrameBytes = _server.Options.MaxLineBytes,
                        Batch = _batch ? true : (bool?)null,
                    });
                }
                else
                {
                    SendNotice(ClassicProtocol.WelcomeCode, "you are " + name + " on this Chatrm server");
                }

                _welcomed = true;
            }

            // An authenticated login replaces an older session, so a stale one cannot lock its owner out.
            displaced?.Disconnect(Refusal.Replaced, name + " logged in again from elsewhere");
            _server.Raise(ServerEventKind.UserJoined, name, _transport.RemoteEndPoint?.ToString());
            return true;
        }

        private bool RefuseHandshake(string name, Refusal refusal, string text)
        {
            string to = UserNames.IsValid(name) ? name : "unnamed";
            if (_native)
            {
                SendError(refusal, text);
            }
            else
            {
                _transport.Send(ClassicProtocol.FormatNotice(to, refusal.ToCode(), text));
            }

            _server.Raise(ServerEventKind.HandshakeRefused, to, refusal.ToCode() + ": " + text);
            return false;
        }

        private void OnHandshakeTimeout()
        {
            lock (_handshakeLock)
            {
                if (_registered || _handshakeTimedOut)
                {
                    return;
                }

                _handshakeTimedOut = true;
                RefuseHandshake(null, Refusal.HandshakeTimeout, "no name was given within " + _server.Options.HandshakeTimeout);
                _transport.StopReading();
            }
        }

        // ---- Classic lines ----

        // The recipient of this user's last classic line: a sender mostly writes to one user.
        private string _lastClassicRecipient;

        private bool OnClassicLine(string line)
        {
            ClassicLine parsed = ClassicProtocol.ParseClientLine(line, UserName, _lastClassicRecipient);
            switch (parsed.Kind)
            {
                case ClassicLineKind.Blank:
                    return true;
                case ClassicLineKind.Exit:
                    _leaveReason = "exit";
                    return false;
                case ClassicLineKind.Malformed:
                    Refuse(Refusal.MalformedLine, "send your name, the recipient and the text, separated by underscores");
                    return true;
                case ClassicLineKind.Forged:
                    Refuse(Refusal.ForgedSender, "you are " + UserName + "; a line must name you as its sender");
                    return true;
            }

            _lastClassicRecipient = parsed.To;
            long now = _transport.ReadTicks;
            if (!WithinRate(now))
            {
                Refuse(Refusal.RateLimited, $"at most {_server.Options.MaxMessagesPerSecond} messages a second; that one was not delivered");
                return true;
            }

            // A classic sender cannot hear confirmations: no receipt.
            var envelope = new ChatEnvelope(NextMessageId(), UserName, parsed.To, parsed.Text, null, new DateTime(now, DateTimeKind.Utc));
            DeliveryStatus status = Route(envelope);
            if (status != DeliveryStatus.Forwarded && status != DeliveryStatus.Pending)
            {
                Refuse(RefusalOf(status), RefusalText(status, parsed.To));
            }

            return true;
        }

        // ---- Native frames ----

        private bool OnFrame(ReadOnlySpan<byte> line)
        {
            // One frame at a time, on this connection's reader: every frame is parsed into the same instance.
            NativeFrame frame = _frame ?? (_frame = new NativeFrame { KeepsWireBytes = true });
            if (!NativeProtocol.TryParse(line, frame, out string problem))
            {
                Refuse(Refusal.MalformedFrame, problem);
                return true;
            }

            switch (frame.Type)
            {
                case FrameType.Send:
                    OnSend(frame);
                    return true;
                case FrameType.Ack:
                    OnAck(frame);
                    return true;
                case FrameType.Who:
                    SendFrame(new NativeFrame { Type = FrameType.Users, Ref = frame.Ref, Users = new List<UserInfo>(_server.Router.ListUsers()) });
                    return true;
                case FrameType.Ping:
                    SendFrame(new NativeFrame { Type = FrameType.Pong, Ref = frame.Ref });
                    return true;
                case FrameType.Pong:
                    return true;
                case FrameType.Bye:
                    _leaveReason = "bye";
                    return false;
                case FrameType.Hello:
                    SendError(Refusal.MalformedFrame, "already greeted as " + UserName, frame.Ref);
                    return true;
                default:
                    SendError(Refusal.MalformedFrame, "unknown frame type \"" + frame.Type + "\"", frame.Ref);
                    return true;
            }
        }

        /// <summary>An ack of one message (id), or of one and every message sent to this user before it (through).</summary>
        private void OnAck(NativeFrame frame)
        {
            UnconfirmedMessages unconfirmed = Volatile.Read(ref _unconfirmed);
            if (unconfirmed == null)
            {
                return;
            }

            if (frame.Through != null)
            {
                int count = NativeProtocol.TryParseMessageId(frame.Through, out long through) ? unconfirmed.TakeThrough(through, ref _acked) : 0;

                // Each sender hears of all its own messages at once, in the order sent: in one delivered frame when
                // it asked for batches. Senders are taken in turn; each turn moves the next sender's to the front.
                int start = 0;
                while (start < count)
                {
                    IDeliveryReceipt receipt = _acked[start].Receipt;
                    int end = start + 1;
                    int others = 0;
                    for (int i = start + 1; i < count; i++)
                    {
                        if (_acked[i].Receipt == receipt)
                        {
                            _acked[end++] = _acked[i];
                        }
                        else
                        {
                            (_ackedOthers ?? (_ackedOthers = new List<ChatEnvelope>())).Add(_acked[i]);
                            others++;
                        }
                    }

                    if (others > 0)
                    {
                        _ackedOthers.CopyTo(0, _acked, end, others);
                        _ackedOthers.Clear();
                    }

                    receipt?.Delivered(new ReadOnlySpan<ChatEnvelope>(_acked, start, end - start));
                    start = end;
                }

                Array.Clear(_acked, 0, count);
            }
            else if (NativeProtocol.TryParseMessageId(frame.Id, out long id) && unconfirmed.TryTake(id, out ChatEnvelope envelope))
            {
                envelope.Receipt?.Delivered(envelope);
            }
        }

        private void OnSend(NativeFrame frame)
        {
            if (frame.To == null || !frame.HasText)
            {
                var missing = new ChatEnvelope(null, UserName, frame.To, frame.Text, DateTime.UtcNow, frame.Ref);
                SendStatus(missing, "refused", Refusal.MalformedFrame, "a send needs \"to\" and \"text\"");
                return;
            }

            long now = _transport.ReadTicks;
            if (!WithinRate(now))
            {
                var limited = new ChatEnvelope(null, UserName, frame.To, frame.Text, DateTime.UtcNow, frame.Ref);
                string text = $"at most {_server.Options.MaxMessagesPerSecond} messages a second";
                SendStatus(limited, "refused", Refusal.RateLimited, text);
                _server.Raise(ServerEventKind.LineRefused, UserName, Refusal.RateLimited.ToCode() + ": " + text);
                return;
            }

            ChatEnvelope envelope = ChatEnvelope.FromSend(frame, NextMessageId(), UserName, new DateTime(now, DateTimeKind.Utc), this);
            envelope.EncodedFrom = _encodedName;
            DeliveryStatus status = Route(envelope);
            switch (status)
            {
                case DeliveryStatus.Pending:
                    // The recipient's confirmation sends the status.
                    break;
                case DeliveryStatus.Forwarded:
                    SendStatus(envelope, "forwarded");
                    break;
                default:
                    Refusal refusal = RefusalOf(status);
                    string text = RefusalText(status, frame.To);
                    SendStatus(envelope, "refused", refusal, text);
                    _server.Raise(ServerEventKind.LineRefused, UserName, refusal.ToCode() + ": " + text);
                    break;
            }
        }

        private void SendStatus(ChatEnvelope envelope, string status, Refusal reason = Refusal.None, string message = null)
        {
            SendFrame(new NativeFrame
            {
                Type = FrameType.Status,
                Ref = envelope.SenderRef,
                Id = envelope.Id,
                To = envelope.To,
                SentAt = envelope.Id == null ? (DateTime?)null : envelope.SentAt,
                Status = status,
                Reason = reason == Refusal.None ? null : reason.ToCode(),
                Message = message,
            });
        }

        private void SendError(Refusal refusal, string message, string reference = null) =>
            SendFrame(new NativeFrame { Type = FrameType.Error, Ref = reference, Code = refusal.ToCode(), Message = message });

        // Through Queued, as deliveries go: a native client whose queue is full is dropped as too slow. Dropping
        // the frame alone would lose a status silently, and its sender would wait for that fate forever.
        private void SendFrame(NativeFrame frame) => Queued(_transport.Send(NativeProtocol.FormatUtf8(frame)));

        /// <summary>
        /// The server's keepalive sweep, every half interval (one timer for all users, none per user). Two quiet
        /// sweeps in a row, an interval of silence, bring a ping; two more, an interval without an answer, drop the user.
        /// </summary>
        internal void SweepKeepAlive()
        {
            if (!_native || !_registered)
            {
                return;
            }

            if (_heard)
            {
                _heard = false;
                Interlocked.Exchange(ref _quietSweeps, 0);
                return;
            }

            switch (Interlocked.Increment(ref _quietSweeps))
            {
                case 2:
                    SendFrame(new NativeFrame { Type = FrameType.Ping });
                    break;
                case 4:
                    // Pinged a whole interval ago and nothing since: the peer is gone or stuck.
                    SendError(Refusal.KeepaliveTimeout, "no answer to a ping within " + _server.Options.KeepAliveInterval);
                    Disconnect("keepalive: no answer to a ping");
                    break;
            }
        }

        // ---- Shared ----

        private DeliveryStatus Route(ChatEnvelope envelope) =>
            UserNames.IsValid(envelope.To) && !UserNames.IsReserved(envelope.To)
                ? _server.Router.Deliver(envelope)
                : DeliveryStatus.UnknownUser;

        private static Refusal RefusalOf(DeliveryStatus status)
        {
            switch (status)
            {
                case DeliveryStatus.UserOffline: return Refusal.UserOffline;
                case DeliveryStatus.RecipientTooSlow: return Refusal.RecipientTooSlow;
                default: return Refusal.UnknownUser;
            }
        }

        private static string RefusalText(DeliveryStatus status, string to)
        {
            switch (status)
            {
                case DeliveryStatus.UserOffline: return to + " is offline";
                case DeliveryStatus.RecipientTooSlow: return to + " is not reading and was disconnected";
                default: return "no user named " + Printable(to) + " is known here";
            }
        }

        private void OnLineTooLong()
        {
            string text = "lines are limited to " + _server.Options.MaxLineBytes + " bytes";
            if (!_registered)
            {
                RefuseHandshake(null, Refusal.LineTooLong, text);
                _transport.StopReading();
                return;
            }

            Refuse(Refusal.LineTooLong, _native
                ? "frames are limited to " + _server.Options.MaxLineBytes + " bytes; that one was skipped"
                : text + "; that one was not delivered");
        }

        /// <summary>Tells this user why something was refused, in its protocol, and the operator too.</summary>
        private void Refuse(Refusal refusal, string text)
        {
            Tell(refusal, text);
            _server.Raise(ServerEventKind.LineRefused, UserName, refusal.ToCode() + ": " + text);
        }

        /// <summary>
        /// Tells this user something in its protocol: a native error frame or a classic notice. A native frame
        /// goes through <see cref="Queued"/>, as every native frame does; <paramref name="evenIfFull"/> lets the
        /// last word to a user being dropped pass a full queue.
        /// </summary>
        private void Tell(Refusal refusal, string text, bool evenIfFull = false)
        {
            if (!_native)
            {
                _transport.Send(ClassicProtocol.FormatNotice(UserName ?? "unnamed", refusal.ToCode(), text), evenIfFull);
                return;
            }

            ReadOnlySpan<byte> frame = NativeProtocol.FormatUtf8(new NativeFrame { Type = FrameType.Error, Code = refusal.ToCode(), Message = text });
            if (evenIfFull)
            {
                _transport.Send(frame, evenIfFull: true);
            }
            else
            {
                Queued(_transport.Send(frame));
            }
        }

        private void SendNotice(string code, string text) =>
            _transport.Send(ClassicProtocol.FormatNotice(UserName ?? "unnamed", code, text));

        private static string Printable(string name)
        {
            if (string.IsNullOrEmpty(name))
            {
                return "(empty)";
            }

            return name.Length > UserNames.MaxLength ? name.Substring(0, UserNames.MaxLength) + "..." : name;
        }
    }

    /// <summary>The protocol names users are listed with.</summary>
    public static class ProtocolNames
    {
        public const string Chatrm = "chatrm";
        public const string Classic = "classic";
    }
}
