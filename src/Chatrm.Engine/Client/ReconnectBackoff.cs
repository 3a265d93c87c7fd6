using System;

namespace Chatrm.Engine.Client
{
    /// <summary>
    /// How long a reconnecting client waits before attempt n: full jitter, a random wait from 0 to
    /// min(5 s, 100 ms * 2^n), so clients dropped together by one server restart do not come back together.
    /// </summary>
    internal static class ReconnectBackoff
    {
        public static readonly TimeSpan Base = TimeSpan.FromMilliseconds(100);
        public static readonly TimeSpan Cap = TimeSpan.FromSeconds(5);

        /// <summary>The ceiling of attempt n's wait (n from 0); past 2^6 the cap holds, so no overflow.</summary>
        public static TimeSpan Ceiling(int attempt)
        {
            if (attempt < 0) throw new ArgumentOutOfRangeException(nameof(attempt), attempt, "Attempts count from 0.");
            double ms = Base.TotalMilliseconds * Math.Pow(2, Math.Min(attempt, 30));
            return ms >= Cap.TotalMilliseconds ? Cap : TimeSpan.FromMilliseconds(ms);
        }

        /// <summary>Attempt n's wait: <paramref name="unit"/> (0 to 1, from a Random) of its ceiling.</summary>
        public static TimeSpan Wait(int attempt, double unit)
        {
            if (unit < 0 || unit > 1) throw new ArgumentOutOfRangeException(nameof(unit), unit, "A fraction from 0 to 1.");
            return TimeSpan.FromTicks((long)(Ceiling(attempt).Ticks * unit));
        }
    }
}
