using System;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;

namespace Chatrm.Engine
{
    /// <summary>
    /// One client of a <see cref="ChatServer"/>, speaking the classic protocol: a handshake naming the
    /// user, then one message per line. Everything it does wrong is answered with a notice to it alone.
    /// </summary>
    internal sealed class ServerConnection : IChatEndpoint
    {
        private readonly ChatServer _server;
        private readonly LineTransport _transport;
        private readonly Timer _handshakeTimer;
        private readonly object _handshakeLock = new object();
        private string _leaveReason = "disconnected";
        private volatile bool _registered;
        private bool _handshakeTimedOut;

        public ServerConnection(ChatServer server, Socket socket, long id)
        {
            _server = server;
            Id = id;
            ServerOptions options = server.Options;
            _transport = new LineTransport(socket, options.MaxLineBytes, options.MaxQueuedBytesPerConnection);
            _handshakeTimer = new Timer(_ => OnHandshakeTimeout(), null, options.HandshakeTimeout, Timeout.InfiniteTimeSpan);
        }

        public long Id { get; }

        public string UserName { get; private set; }

        public DateTime ConnectedAt { get; } = DateTime.UtcNow;

        public async Task RunAsync(CancellationToken stopping)
        {
            ReadEnd end;
            try
            {
                end = await _transport.ReadLinesAsync(OnLine, OnLineTooLong, stopping).ConfigureAwait(false);
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
                _handshakeTimer.Dispose();
            }

            if (stopping.IsCancellationRequested)
            {
                _leaveReason = "server stopping";
                SendNotice(Refusal.ServerStopping, "the server is stopping");
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

            await _transport.CloseAsync(_server.Options.CloseGrace).ConfigureAwait(false);
        }

        public DeliveryStatus Deliver(string from, string text)
        {
            switch (_transport.Send(ClassicProtocol.FormatDelivery(UserName, from, text)))
            {
                case SendResult.Queued:
                    return DeliveryStatus.Forwarded;
                case SendResult.QueueFull:
                    // It has stopped reading; holding more for it would let one client eat the server's memory.
                    _leaveReason = "too slow: its send queue was full";
                    _transport.StopReading();
                    return DeliveryStatus.RecipientTooSlow;
                default:
                    return DeliveryStatus.UserOffline;
            }
        }

        /// <summary>Ends the session from the server side.</summary>
        public void Disconnect(string reason)
        {
            _leaveReason = reason;
            _transport.StopReading();
        }

        private bool OnLine(string line)
        {
            return _registered ? OnMessageLine(line) : OnHandshake(line);
        }

        private bool OnHandshake(string line)
        {
            lock (_handshakeLock)
            {
                return !_handshakeTimedOut && Register(line);
            }
        }

        private bool Register(string line)
        {
            string name = ClassicProtocol.ParseHandshake(line);
            string problem = UserNames.Problem(name);
            if (problem != null)
            {
                return RefuseHandshake(name, Refusal.InvalidName, problem);
            }

            UserName = name;
            if (!_server.Router.TryRegister(this))
            {
                UserName = null;
                return RefuseHandshake(name, Refusal.NameTaken, "the name " + name + " is in use; choose another");
            }

            _registered = true;
            _handshakeTimer.Change(Timeout.Infinite, Timeout.Infinite);
            _server.Raise(ServerEventKind.UserJoined, name, _transport.RemoteEndPoint?.ToString());
            SendNotice(ClassicProtocol.WelcomeCode, "you are " + name + " on this Chatrm server");
            return true;
        }

        private bool RefuseHandshake(string name, Refusal refusal, string text)
        {
            string to = UserNames.IsValid(name) ? name : "unnamed";
            _transport.Send(ClassicProtocol.FormatNotice(to, refusal.ToCode(), text));
            _server.Raise(ServerEventKind.HandshakeRefused, to, refusal.ToCode() + ": " + text);
            return false;
        }

        private bool OnMessageLine(string line)
        {
            ClassicLine parsed = ClassicProtocol.ParseClientLine(line, UserName);
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

            string to = parsed.To;
            DeliveryStatus status = UserNames.IsValid(to) && !UserNames.IsReserved(to)
                ? _server.Router.Deliver(UserName, to, parsed.Text)
                : DeliveryStatus.UnknownUser;
            switch (status)
            {
                case DeliveryStatus.UnknownUser:
                    Refuse(Refusal.UnknownUser, "no user named " + Printable(to) + " is known here");
                    break;
                case DeliveryStatus.UserOffline:
                    Refuse(Refusal.UserOffline, to + " is offline");
                    break;
                case DeliveryStatus.RecipientTooSlow:
                    Refuse(Refusal.RecipientTooSlow, to + " is not reading and was disconnected");
                    break;
            }

            return true;
        }

        private void OnLineTooLong()
        {
            string text = "lines are limited to " + _server.Options.MaxLineBytes + " bytes";
            if (UserName == null)
            {
                RefuseHandshake(null, Refusal.LineTooLong, text);
                _transport.StopReading();
                return;
            }

            Refuse(Refusal.LineTooLong, text + "; that one was not delivered");
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

        private void Refuse(Refusal refusal, string text)
        {
            SendNotice(refusal, text);
            _server.Raise(ServerEventKind.LineRefused, UserName, refusal.ToCode() + ": " + text);
        }

        private void SendNotice(Refusal refusal, string text) => SendNotice(refusal.ToCode(), text);

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
}
