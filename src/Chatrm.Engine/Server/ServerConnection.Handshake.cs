using System;
using System.Threading.Tasks;
using Chatrm.Engine.Messaging;
using Chatrm.Engine.Routing;

namespace Chatrm.Engine.Server
{
    /// <summary>
    /// What both openings share: login refusal and its delay, registration with the router, refusing a handshake,
    /// the handshake timeout. Each protocol's opening itself is its session's <c>Open</c> (see Sessions/).
    /// </summary>
    internal sealed partial class ServerConnection
    {
        /// <summary>
        /// Answers a failed login only after a delay that doubles with each failure from the address, so guessing
        /// is slow; wrong password and unknown name get the same words.
        /// </summary>
        internal void RefuseLoginLater(string name)
        {
            _refusing = true;
            TimeSpan delay = _server.RecordLoginFailure(_address);
            Task.Delay(delay).ContinueWith(_ =>
            {
                RefuseHandshake(name, Refusal.AuthFailed, "wrong name or password");
                _transport.StopReading();
            }, TaskScheduler.Default);
        }

        /// <summary>A login succeeded: the address's failures are forgotten.</summary>
        internal void ForgetLoginFailures() => _server.ForgetLoginFailures(_address);

        /// <summary>
        /// Registers the user as <paramref name="name"/> and welcomes it in its protocol; false when the name is
        /// taken. <paramref name="takeOver"/> (an authenticated login) displaces an older session of the name.
        /// </summary>
        internal bool Register(string name, bool takeOver = false)
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

                if (_session.HearsPresence)
                {
                    // Before the welcome goes, so every join after it is heard.
                    _server.ListenForPresence(this);
                }

                _registered = true;
                // Registered: the timer has done its work, and an idle user should not carry it.
                _handshakeTimer.Dispose();
                _handshakeTimer = null;
                _session.Welcome(name);
                _server.Store?.RememberUser(name);

                // What waited while this user was away comes first: direct messages from now on wait for it.
                HoldDeliveriesForInbox();
                _welcomed = true;
            }

            CatchUp(displaced);

            // An authenticated login replaces an older session, so a stale one cannot lock its owner out.
            displaced?.Disconnect(Refusal.Replaced, name + " logged in again from elsewhere");
            _server.Raise(ServerEventKind.UserJoined, name, _transport.RemoteEndPoint?.ToString());
            return true;
        }

        /// <summary>Tells an opening why it was refused, in its protocol, and the operator too; always false.</summary>
        internal bool RefuseHandshake(string name, Refusal refusal, string text)
        {
            _session.TellHandshakeRefused(UserNames.IsValid(name) ? name : "unnamed", refusal, text);

            // The operator sees the name as it was given (José, bad name), with nothing in it that works a terminal.
            _server.Raise(ServerEventKind.HandshakeRefused, UserNames.IsValid(name) ? name : Loggable(name), refusal.ToCode() + ": " + text);
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
                RefuseHandshake(null, Refusal.HandshakeTimeout, "no name was given within " + Durations.Describe(_server.Options.HandshakeTimeout));
                _transport.StopReading();
            }
        }
    }
}
