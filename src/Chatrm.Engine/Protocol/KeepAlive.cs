using System;

namespace Chatrm.Engine.Protocol
{
    /// <summary>What a keepalive check decided for one peer.</summary>
    internal enum KeepAliveStep
    {
        None,
        Ping,
        GiveUp,
    }

    /// <summary>
    /// The timing of keepalive checks, which run every half interval on a timer (the server's sweep, the client's
    /// tick). Time is measured, not ticks counted: on a machine short of CPU, or with its thread pool blocked,
    /// timer callbacks run late and then in a burst, and the frames that answered a ping wait in the same queue
    /// behind them. A check that ran late, or right after another, says only that time passed while this process
    /// could not look, so it may ping but never gives up on a peer: only a check that came on time after the one
    /// before it (the process was running normally for that half interval, the answer had its turn) may.
    /// </summary>
    internal sealed class KeepAliveSchedule
    {
        private readonly long _period;
        private long _lastCheck;

        public KeepAliveSchedule(TimeSpan interval, long now)
        {
            Interval = interval.Ticks;
            _period = interval.Ticks / 2;
            _lastCheck = now;
        }

        /// <summary>How often the checks run: half the interval.</summary>
        public TimeSpan Period => TimeSpan.FromTicks(_period);

        /// <summary>The keepalive interval, in ticks.</summary>
        public long Interval { get; }

        /// <summary>Now on a monotonic clock, in ticks: <paramref name="clock"/>'s timestamp (the system's, or one a test drives).</summary>
        public static long Now(TimeProvider clock) => (long)(clock.GetTimestamp() * ((double)TimeSpan.TicksPerSecond / clock.TimestampFrequency));

        /// <summary>Records a check at <paramref name="now"/>; true when it came on time, a period (give or take a quarter) after the last.</summary>
        public bool Check(long now)
        {
            long since = now - _lastCheck;
            _lastCheck = now;
            return since >= _period - _period / 4 && since <= _period + _period / 4;
        }
    }

    /// <summary>
    /// One peer's keepalive: ping after an interval without hearing from it, give up after an interval more
    /// without an answer. Both are measured between checks, which come every half interval, so each is allowed
    /// an eighth of an interval for the timer's own jitter. Not thread-safe: one check at a time.
    /// </summary>
    internal struct KeepAlivePeer
    {
        private long _quietSince;
        private long _pingSentAt;
        private bool _pinged;
        private bool _started;

        /// <param name="schedule">The checks' timing, for the interval.</param>
        /// <param name="now">When this check runs (<see cref="KeepAliveSchedule.Now"/>).</param>
        /// <param name="heard">Whether anything came from the peer since the last check.</param>
        /// <param name="onTime">What <see cref="KeepAliveSchedule.Check"/> said of this check.</param>
        public KeepAliveStep Check(KeepAliveSchedule schedule, long now, bool heard, bool onTime)
        {
            long due = schedule.Interval - schedule.Interval / 8;
            if (heard || !_started)
            {
                _started = true;
                _quietSince = now;
                _pinged = false;
                return KeepAliveStep.None;
            }

            if (!_pinged)
            {
                if (now - _quietSince < due)
                {
                    return KeepAliveStep.None;
                }

                _pinged = true;
                _pingSentAt = now;
                return KeepAliveStep.Ping;
            }

            return onTime && now - _pingSentAt >= due ? KeepAliveStep.GiveUp : KeepAliveStep.None;
        }
    }
}
