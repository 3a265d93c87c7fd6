using System;
using System.Collections.Generic;

namespace Chatrm.Engine.Storage
{
    /// <summary>The one rule for which lines of history a read returns, shared by both stores.</summary>
    internal static class HistoryRange
    {
        /// <summary>Whether a Seq is inside the bounds (0: no bound).</summary>
        public static bool Holds(long seq, long before, long after) =>
            (before <= 0 || seq < before) && (after <= 0 || seq > after);

        /// <summary>From messages ascending by Seq: the last <paramref name="last"/> inside the bounds and not older than <paramref name="notBefore"/>.</summary>
        public static List<StoredMessage> Select(IReadOnlyList<StoredMessage> ascending, int last, long before, long after, DateTime notBefore)
        {
            var picked = new List<StoredMessage>(Math.Min(Math.Max(last, 0), 1024));
            for (int i = ascending.Count - 1; i >= 0 && picked.Count < last; i--)
            {
                StoredMessage message = ascending[i];
                if (after > 0 && message.Seq <= after)
                {
                    break;
                }

                if (HistoryRange.Holds(message.Seq, before, after) && message.SentAt >= notBefore)
                {
                    picked.Add(message);
                }
            }

            picked.Reverse();
            return picked;
        }
    }
}
