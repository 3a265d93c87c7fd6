using System.Threading;
using Chatrm.Engine.Protocol;
using Chatrm.Engine.Protocol.Native;

namespace Chatrm.Engine
{
    /// <summary>Native keepalive: a ping after an interval of silence, and closing after another without an answer.</summary>
    public sealed partial class ChatClient
    {
        private void StartKeepAlive()
        {
            // Checked every half interval: after an interval without a frame from the server, ping it; after an
            // interval more without one, give up (see KeepAlivePeer, and KeepAliveSchedule for late ticks).
            _keepAliveTimer?.Dispose();
            _keepAlive = default;
            _heard = true;
            _keepAliveSchedule = new KeepAliveSchedule(_options.KeepAliveInterval, KeepAliveSchedule.Now(_options.Clock));
            _keepAliveTimer = _options.Clock.CreateTimer(_ => OnKeepAliveTick(), null, _keepAliveSchedule.Period, _keepAliveSchedule.Period);
        }

        private void OnKeepAliveTick()
        {
            if (_state != ConnectionState.Open)
            {
                return;
            }

            // Late ticks can run at once; one at a time keeps the keepalive's state whole.
            if (Interlocked.Exchange(ref _ticking, 1) != 0)
            {
                return;
            }

            try
            {
                long now = KeepAliveSchedule.Now(_options.Clock);
                bool onTime = _keepAliveSchedule.Check(now);
                bool heard = _heard;
                if (heard)
                {
                    _heard = false;
                }

                switch (_keepAlive.Check(_keepAliveSchedule, now, heard, onTime))
                {
                    case KeepAliveStep.Ping:
                        _transport.Send(NativeProtocol.Format(new NativeFrame { Type = FrameType.Ping }));
                        break;
                    case KeepAliveStep.GiveUp:
                        // Pinged a whole interval ago and heard nothing since: the server is gone or stuck.
                        EndingBecause(null, Refusal.KeepaliveTimeout, "the server stopped answering (keepalive)");
                        _transport.StopReading();
                        break;
                }
            }
            finally
            {
                Volatile.Write(ref _ticking, 0);
            }
        }
    }
}
