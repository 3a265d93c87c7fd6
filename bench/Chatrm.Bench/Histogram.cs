using System.Diagnostics;
using System.Numerics;

namespace Chatrm.Bench;

/// <summary>
/// Latencies in microseconds, log-linear buckets: exact below 128 µs, then 128 buckets per power of two
/// (under 1 % error). Not thread-safe: one per connection, merged at the end.
/// </summary>
public sealed class Histogram
{
    private const int SubBits = 7;
    private const int Sub = 1 << SubBits;
    private readonly long[] _counts = new long[Sub * 50];

    public long Count { get; private set; }

    public long Max { get; private set; }

    public static long TicksToMicros(long ticks) => ticks * 1_000_000 / Stopwatch.Frequency;

    public void RecordTicks(long ticks, long times = 1) => Record(TicksToMicros(Math.Max(0, ticks)), times);

    public void Record(long micros, long times = 1)
    {
        _counts[Index(micros)] += times;
        Count += times;
        if (micros > Max) Max = micros;
    }

    public void Add(Histogram other)
    {
        for (int i = 0; i < _counts.Length; i++) _counts[i] += other._counts[i];
        Count += other.Count;
        Max = Math.Max(Max, other.Max);
    }

    /// <summary>The value at quantile q (0..1), in milliseconds; NaN when empty.</summary>
    public double PercentileMs(double q)
    {
        if (Count == 0) return double.NaN;
        long rank = Math.Max(1, (long)Math.Ceiling(q * Count));
        long seen = 0;
        for (int i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen >= rank)
            {
                return Math.Min(Middle(i), Max) / 1000.0;
            }
        }

        return Max / 1000.0;
    }

    private static int Index(long v)
    {
        if (v < Sub) return (int)v;
        int msb = 63 - BitOperations.LeadingZeroCount((ulong)v);
        int group = msb - SubBits + 1;
        int mantissa = (int)((v >> (msb - SubBits)) - Sub);
        return Math.Min(group * Sub + mantissa, Sub * 50 - 1);
    }

    private static double Middle(int index)
    {
        if (index < Sub) return index;
        int group = index / Sub;
        int mantissa = index % Sub;
        double low = (double)(Sub + mantissa) * Math.Pow(2, group - 1);
        double width = Math.Pow(2, group - 1);
        return low + width / 2;
    }
}
