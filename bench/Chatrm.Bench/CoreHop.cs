using System.Diagnostics;

namespace Chatrm.Bench;

/// <summary>
/// What handing work from one core to another costs at this moment: nanoseconds for a value to go to another
/// thread and back while both spin. On the 2-core VM the figures come from, its two cores sometimes sit close
/// together (about 110 ns) and sometimes far apart (about 400 ns), and move between the two over minutes. A
/// server that hands work between threads feels that far more than a single-threaded one, so every run
/// records it (docs/performance.md).
/// </summary>
public static class CoreHop
{
    public static double MeasureNs(int trips = 200_000)
    {
        // The flag alone on its cache line; the stop flag (on another) ends the helper if time runs out.
        var flags = new long[32];
        const int Flag = 8, Stop = 24;
        var other = new Thread(() =>
        {
            for (long i = 0; i < trips; i++)
            {
                while (Volatile.Read(ref flags[Flag]) != 2 * i + 1)
                {
                    if (Volatile.Read(ref flags[Stop]) != 0) return;
                }

                Volatile.Write(ref flags[Flag], 2 * i + 2);
            }
        }) { IsBackground = true, Name = "core hop" };
        other.Start();

        // Should both threads share one core (a busy machine), every trip waits for a time slice: give up at a second.
        var clock = Stopwatch.StartNew();
        long done = 0;
        for (long i = 0; i < trips; i++)
        {
            Volatile.Write(ref flags[Flag], 2 * i + 1);
            while (Volatile.Read(ref flags[Flag]) != 2 * i + 2)
            {
                if ((i & 1023) == 0 && clock.ElapsedMilliseconds > 1000) goto stopped;
            }

            done++;
        }

    stopped:
        clock.Stop();
        Volatile.Write(ref flags[Stop], 1);
        other.Join();
        return done == 0 ? double.NaN : clock.Elapsed.TotalNanoseconds / done;
    }
}
