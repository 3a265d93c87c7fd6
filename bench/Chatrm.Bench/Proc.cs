using System.Runtime.InteropServices;

namespace Chatrm.Bench;

/// <summary>What /proc says about a process: CPU time and resident memory.</summary>
public static class Proc
{
    private const int ClockTicksName = 2; // _SC_CLK_TCK
    private const int NoFile = 7; // RLIMIT_NOFILE on Linux

    private static readonly long TicksPerSecond = Sysconf(ClockTicksName) is long t && t > 0 ? t : 100;

    /// <summary>User plus system CPU seconds the process has used.</summary>
    public static double CpuSeconds(int pid)
    {
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        string[] fields = stat.Substring(stat.LastIndexOf(')') + 2).Split(' ');
        // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12 here.
        return (long.Parse(fields[11]) + long.Parse(fields[12])) / (double)TicksPerSecond;
    }

    /// <summary>CPU seconds all cores of the machine spent on anything but idling (and waiting for disks).</summary>
    public static double MachineBusySeconds()
    {
        string[] cpu = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        long busy = 0;
        for (int i = 1; i < cpu.Length && i <= 8; i++)
        {
            // user nice system idle iowait irq softirq steal
            if (i != 4 && i != 5) busy += long.Parse(cpu[i]);
        }

        return busy / (double)TicksPerSecond;
    }

    /// <summary>
    /// Waits until processes other than ours use under <paramref name="percent"/> % of one core for a second, at most
    /// <paramref name="timeout"/>; returns the last reading. A benchmark on a shared machine says how shared it was.
    /// </summary>
    public static async Task<double> WaitForQuietMachineAsync(double percent, TimeSpan timeout, params int[] ours)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        double other;
        do
        {
            double machine = MachineBusySeconds();
            double own = ours.Sum(CpuSeconds);
            await Task.Delay(1000);
            other = 100 * (MachineBusySeconds() - machine - (ours.Sum(CpuSeconds) - own));
        }
        while (other > percent && clock.Elapsed < timeout);
        return other;
    }

    /// <summary>Resident set size in bytes.</summary>
    public static long RssBytes(int pid)
    {
        foreach (string line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.Substring(6).Trim().Split(' ')[0]) * 1024;
            }
        }

        return 0;
    }

    /// <summary>Raises this process's open-file soft limit to its hard limit (children inherit it); returns the limit.</summary>
    public static long RaiseOpenFileLimit()
    {
        try
        {
            if (getrlimit(NoFile, out RLimit limit) != 0) return -1;
            if (limit.Current < limit.Maximum)
            {
                limit.Current = limit.Maximum;
                setrlimit(NoFile, ref limit);
                getrlimit(NoFile, out limit);
            }

            return (long)Math.Min(limit.Current, long.MaxValue);
        }
        catch (Exception e) when (e is DllNotFoundException || e is EntryPointNotFoundException)
        {
            return -1;
        }
    }

    private static long? Sysconf(int name)
    {
        try { return sysconf(name); }
        catch (Exception e) when (e is DllNotFoundException || e is EntryPointNotFoundException) { return null; }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int getrlimit(int resource, out RLimit limit);

    [DllImport("libc", SetLastError = true)]
    private static extern int setrlimit(int resource, ref RLimit limit);

    [DllImport("libc")]
    private static extern long sysconf(int name);
}
