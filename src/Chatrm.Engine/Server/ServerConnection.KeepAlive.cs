using System.Threading;
using Chatrm.Engine.Protocol.Native;

namespace Chatrm.Engine.Server
{
    internal sealed partial class ServerConnection
    {
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
    }
}
