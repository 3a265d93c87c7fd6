using System;
using System.Threading.Tasks;
using Chatrm.Engine.Messaging;
using Chatrm.Engine.Protocol.Classic;
using Chatrm.Engine.Protocol.Native;
using Chatrm.Engine.Routing;

namespace Chatrm.Engine.Server
{
    /// <summary>The opening line of either protocol, login refusal and its delay, registration, the handshake timeout.</summary>
    internal sealed partial class ServerConnection
    {
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

            // Absent, the hello is taken as ours (as hellos typed by hand always were); another name is another protocol.
            if (hello.Protocol != null && hello.Protocol != NativeProtocol.ProtocolName)
            {
                string named = hello.Protocol.Length > 40 ? hello.Protocol.Substring(0, 40) + "..." : hello.Protocol;
                return RefuseHandshake(hello.User, Refusal.UnsupportedVersion,
                    $"this server speaks the protocol {NativeProtocol.ProtocolName}, not \"{named}\"");
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
