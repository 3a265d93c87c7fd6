using System;
using System.Threading;
using Chatrm.Engine.Protocol.Native;

namespace Chatrm.Engine
{
    /// <summary>Native keepalive: a ping after an interval of silence, and closing after another without an answer.</summary>
    public sealed partial class ChatClient
    {
        private void StartKeepAlive()
        {
            TimeSpan interval = _options.KeepAliveInterval;
            _keepAliveTimer = new Timer(_ => OnKeepAliveTick(), null, interval, interval);
        }

        private void OnKeepAliveTick()
        {
            if (_state == ConnectionState.Closed)
            {
                _keepAliveTimer?.Dispose();
                return;
            }

            var quiet = TimeSpan.FromTicks(DateTime.UtcNow.Ticks - Interlocked.Read(ref _lastHeardTicks));
            if (quiet < _options.KeepAliveInterval)
            {
                return;
            }

            if (Interlocked.Exchange(ref _pingOutstanding, 1) == 0)
            {
                _transport.Send(NativeProtocol.Format(new NativeFrame { Type = FrameType.Ping }));
                return;
            }

            // Pinged a whole interval ago and heard nothing since: the server is gone or stuck.
            CloseReason = CloseReason ?? "the server stopped answering (keepalive)";
            _transport.StopReading();
        }
    }
}
