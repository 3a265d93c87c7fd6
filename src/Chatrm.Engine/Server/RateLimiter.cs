using System;
using System.Runtime.CompilerServices;

namespace Chatrm.Engine.Server
{
    /// <summary>
    /// A token bucket: refilled at the rate, holding at most a second's worth, full at first. A field of its one
    /// user (a struct, no lock): only that connection's reader takes from it, one line at a time.
    /// </summary>
    internal struct RateLimiter
    {
        private double _tokens;
        private long _refilledAt;
        private bool _started;

        /// <summary>Takes a token at <paramref name="now"/> (ticks); false when none is left. A rate of 0 or less is no limit.</summary>
        // Inlined into its one caller, as the code was before it had a type of its own.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public bool TryTake(int perSecond, long now)
        {
            if (perSecond <= 0)
            {
                return true;
            }

            double refill = (now - _refilledAt) / (double)TimeSpan.TicksPerSecond * perSecond;
            _tokens = Math.Min(perSecond, _started ? _tokens + refill : perSecond);
            _started = true;
            _refilledAt = now;
            if (_tokens < 1)
            {
                return false;
            }

            _tokens -= 1;
            return true;
        }
    }
}
