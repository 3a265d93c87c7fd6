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
        /// Registers the user as <paramref name="name"/> and welcomes it in its protocol, or refuses the opening
        /// name-taken (false). <paramref name="takeOver"/> (an authenticated login) displaces an older session of the name.
        /// A router that spans servers may first have to ask them whose the name is: then this returns true at once, the
        /// lines read meanwhile wait (see <see cref="HeldLines"/>), and the answer registers or refuses.
        /// </summary>
        internal bool Register(string name, bool takeOver = false)
        {
            UserName = name;
            Task<bool> claim = _server.Router.ClaimName(this, takeOver);
            if (claim == null)
            {
                return RegisterClaimed(name, takeOver);
            }

            if (claim.IsCompleted)
            {
                return ClaimAnswered(claim, name, takeOver);
            }

            HoldLines().Wait();
            claim.ContinueWith(answered => OnClaimAnswered(answered, name, takeOver), TaskScheduler.Default);
            return true;
        }

        private void OnClaimAnswered(Task<bool> claim, string name, bool takeOver)
        {
            lock (_handshakeLock)
            {
                if (_handshakeTimedOut)
                {
                    // Timed out, or the connection ended, while the cluster answered: the name is not this session's.
                    if (claim.Status == TaskStatus.RanToCompletion && claim.Result)
                    {
                        _server.Router.AbandonClaim(this);
                    }

                    _heldLines.Drop();
                    return;
                }

                if (!ClaimAnswered(claim, name, takeOver))
                {
                    _heldLines.Drop();
                    _transport.StopReading();
                    return;
                }

                // What the client sent after its opening, in order, before anything read from now on.
                if (!_heldLines.Release(_session.OnLine))
                {
                    _transport.StopReading();
                }
            }
        }

        private bool ClaimAnswered(Task<bool> claim, string name, bool takeOver)
        {
            if (claim.Status != TaskStatus.RanToCompletion)
            {
                UserName = null;
                return RefuseHandshake(name, Refusal.ClusterUnavailable, "the cluster did not say whether the name " + name + " is free; try again");
            }

            return claim.Result ? RegisterClaimed(name, takeOver) : RefuseTaken(name);
        }

        private bool RegisterClaimed(string name, bool takeOver)
        {
            IChatEndpoint displaced;
            lock (_welcomeGate)
            {
                UserName = name;
                if (!_server.Router.TryRegister(this, takeOver, out displaced))
                {
                    UserName = null;
                    return RefuseTaken(name);
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

            // Before any send of this connection is read: resends of the token's refs are known from the first.
            if (ResumeToken != null)
            {
                HoldResumeState(ResumeToken);
            }

            return true;
        }

        private bool RefuseTaken(string name) => RefuseHandshake(name, Refusal.NameTaken, "the name " + name + " is in use; choose another");

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
