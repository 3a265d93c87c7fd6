using System;
using System.Globalization;

namespace Chatrm.Engine.Messaging
{
    /// <summary>Durations in the words a user or operator is told: "1.5 s", "5 min", "1 h 30 min", not "00:00:01.5000000".</summary>
    internal static class Durations
    {
        public static string Describe(TimeSpan duration)
        {
            if (duration < TimeSpan.FromMinutes(1))
            {
                return Math.Round(duration.TotalSeconds, 3).ToString("0.###", CultureInfo.InvariantCulture) + " s";
            }

            if (duration < TimeSpan.FromHours(1))
            {
                long seconds = (long)Math.Round(duration.TotalSeconds);
                return Join(seconds / 60, "min", seconds % 60, "s");
            }

            long minutes = (long)Math.Round(duration.TotalMinutes);
            return Join(minutes / 60, "h", minutes % 60, "min");
        }

        private static string Join(long whole, string unit, long rest, string restUnit) =>
            rest == 0
                ? whole.ToString(CultureInfo.InvariantCulture) + " " + unit
                : whole.ToString(CultureInfo.InvariantCulture) + " " + unit + " " + rest.ToString(CultureInfo.InvariantCulture) + " " + restUnit;
    }
}
