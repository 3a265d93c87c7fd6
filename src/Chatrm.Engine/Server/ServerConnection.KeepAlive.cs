using Chatrm.Engine.Messaging;
using Chatrm.Engine.Protocol;

namespace Chatrm.Engine.Server
{
    internal sealed partial class ServerConnection
    {
        /// <summary>
        /// The server's keepalive sweep, every half interval (one timer for all users, none per user): an interval
        /// of silence brings a ping, an interval more without an answer drops the user (see <see cref="KeepAlivePeer"/>;
        /// <paramref name="onTime"/> says whether this sweep came on time, which a drop needs).
        /// </summary>
        internal void SweepKeepAlive(KeepAliveSchedule schedule, long now, bool onTime)
        {
            if (!_registered || !_session.KeepsAlive)
            {
                return;
            }

            bool heard = _heard;
            if (heard)
            {
                _heard = false;
            }

            switch (_keepAlive.Check(schedule, now, heard, onTime))
            {
                case KeepAliveStep.Ping:
                    _session.Ping();
                    break;
                case KeepAliveStep.GiveUp:
                    // Pinged a whole interval ago and nothing since: the peer is gone or stuck.
                    Tell(Refusal.KeepaliveTimeout, "no answer to a ping within " + Durations.Describe(_server.Options.KeepAliveInterval));
                    Disconnect("keepalive: no answer to a ping");
                    break;
            }
        }
    }
}
