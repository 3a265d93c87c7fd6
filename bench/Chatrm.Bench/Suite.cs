using System.Diagnostics;
using System.Text.Json;

namespace Chatrm.Bench;

/// <summary>Everything measured against one server in one round.</summary>
public sealed class RunRecord
{
    public string Target { get; set; }
    public int Round { get; set; }
    public string ServerVersion { get; set; }
    public LoadResult Load { get; set; }
    public int IdleUsersAsked { get; set; }
    public int IdleUsers { get; set; }
    public int IdleFailed { get; set; }
    public string IdleFailure { get; set; }
    public double IdleConnectSeconds { get; set; }
    public long RssBeforeIdle { get; set; }
    public long RssWithIdle { get; set; }
    public long? ManagedBeforeIdle { get; set; }
    public long? ManagedWithIdle { get; set; }
    public double? BytesPerIdleUser { get; set; }
    public double? ManagedBytesPerIdleUser { get; set; }
    public LoadResult LoadWithIdle { get; set; }
    public string Failure { get; set; }

    /// <summary>A core-to-core round trip just before and just after the load, in ns (see <see cref="CoreHop"/>).</summary>
    public double? CoreHopNsBefore { get; set; }
    public double? CoreHopNsAfter { get; set; }

    /// <summary>The same around the load with idle users: which minutes that load met.</summary>
    public double? CoreHopNsBeforeIdleLoad { get; set; }
    public double? CoreHopNsAfterIdleLoad { get; set; }
}

/// <summary>
/// A cold start: a fresh server, its first messages timed from the first one sent, then the same server once
/// warm. Chatrm's server is the one users start (a fresh pwsh, the module, Start-ChatrmServer) when the suite
/// was given the module.
/// </summary>
public sealed class ColdRecord
{
    public string Target { get; set; }
    public int Round { get; set; }
    public string Host { get; set; }

    /// <summary>Milliseconds from starting the server's process until it accepted a connection.</summary>
    public double StartMs { get; set; }
    public LoadResult Cold { get; set; }
    public LoadResult Warm { get; set; }
    public string Failure { get; set; }
}

public sealed class SuiteResults
{
    public DateTime StartedUtc { get; set; }
    public double Seconds { get; set; }
    public LoadSettings Settings { get; set; }
    public LoadSettings IdleLoadSettings { get; set; }
    public int Rounds { get; set; }
    public long OpenFileLimit { get; set; }
    public string Priority { get; set; }
    public List<string> Targets { get; set; } = new List<string>();
    public Dictionary<string, string> Skipped { get; set; } = new Dictionary<string, string>();
    public Dictionary<string, string> Versions { get; set; } = new Dictionary<string, string>();
    public List<RunRecord> Runs { get; set; } = new List<RunRecord>();

    /// <summary>The cold runs' workload: <see cref="LoadSettings.FirstMessages"/> timed, then a warm load.</summary>
    public LoadSettings ColdSettings { get; set; }
    public LoadSettings ColdWarmSettings { get; set; }
    public List<ColdRecord> ColdRuns { get; set; } = new List<ColdRecord>();
}

/// <summary>
/// Interleaved rounds: each round runs every server once, in an order rotated per round, each in a fresh
/// process on loopback: the load, then idle users (memory, and the load again while they stay).
/// </summary>
public static class Suite
{
    public static readonly JsonSerializerOptions Json = new JsonSerializerOptions { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    private static TimeSpan QuietWait = TimeSpan.Zero;
    private static TimeSpan HoldIdle = TimeSpan.Zero;

    public static async Task<int> RunAsync(Options options)
    {
        QuietWait = TimeSpan.FromSeconds(options.Double("wait-quiet", 0));
        HoldIdle = TimeSpan.FromSeconds(options.Double("hold-idle", 0));
        bool smoke = options.Flag("smoke");
        long fileLimit = Proc.RaiseOpenFileLimit();
        string priority = RaisePriority(options.Get("priority", "normal"));
        var settings = new LoadSettings
        {
            Pairs = options.Int("pairs", smoke ? 4 : 50),
            PayloadBytes = Math.Max(Payload.MinSize, options.Int("size", 64)),
            Window = options.Int("window", 64),
            WarmupSeconds = options.Double("warmup", smoke ? 0.5 : 2),
            DurationSeconds = options.Double("duration", smoke ? 1.5 : 10),
        };
        var idleLoad = new LoadSettings
        {
            Pairs = settings.Pairs,
            PayloadBytes = settings.PayloadBytes,
            Window = settings.Window,
            WarmupSeconds = options.Double("idle-warmup", smoke ? 0.3 : 1),
            DurationSeconds = options.Double("idle-duration", smoke ? 1 : 5),
        };

        // As many idle users as the open-file limit leaves room for, beside two loads' sockets, capped.
        int room = fileLimit > 0 ? (int)Math.Min(int.MaxValue, fileLimit) - 4 * settings.Pairs - 400 : 1000;
        int idleAsked = Math.Max(0, Math.Min(options.Int("idle-users", smoke ? 50 : 20_000), room));
        int idleNative = Math.Max(0, Math.Min(options.Int("idle-native-users", idleAsked), room));
        int rounds = options.Int("rounds", smoke ? 1 : 5);
        (LoadSettings cold, LoadSettings coldWarm) = ColdSettings(options, settings, smoke);
        int coldRounds = options.Int("cold-rounds", rounds);
        bool viaModule = UseModule(options);
        string[] wanted = (options.Get("targets") ?? (smoke ? string.Join(",", Targets.ChatrmClassic, Targets.ChatrmNative, Targets.ChatrmClassicStore, Targets.ChatrmNativeStore) : string.Join(",", Targets.Suite))).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        string resultsPath = options.Get("results", "out/bench/results.json");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(resultsPath)));

        var results = new SuiteResults
        {
            StartedUtc = DateTime.UtcNow, Settings = settings, IdleLoadSettings = idleLoad, Rounds = rounds, OpenFileLimit = fileLimit, Priority = priority,
            ColdSettings = cold, ColdWarmSettings = coldWarm,
        };
        foreach (string target in wanted)
        {
            if (!Targets.Suite.Contains(target)) throw new ArgumentException("unknown target " + target + "; known: " + string.Join(", ", Targets.Suite));
            string why = ServerProcess.Unavailable(target);
            if (why != null)
            {
                results.Skipped[target] = why;
                Console.WriteLine($"skipping {target}: {why}");
            }
            else
            {
                results.Targets.Add(target);
            }
        }

        Console.WriteLine($"{settings.Pairs} pairs, {settings.PayloadBytes}-byte messages, {settings.Window} in flight, {settings.WarmupSeconds} s warm-up + {settings.DurationSeconds} s; " +
            $"{rounds} round(s) of {string.Join(", ", results.Targets)}; open-file limit {fileLimit}, idle users {idleAsked} ({idleNative} native)");
        var clock = Stopwatch.StartNew();
        bool failed = false;
        for (int round = 1; round <= rounds; round++)
        {
            int n = results.Targets.Count;
            for (int k = 0; k < n; k++)
            {
                string target = results.Targets[(k + round - 1) % n];
                // With a store only the load is measured: what a store costs live routing (the 0.8x goal of issue 16).
                int idle = Targets.Stores(target) ? 0 : target == Targets.ChatrmNative ? idleNative : idleAsked;
                RunRecord record = await RunOneAsync(target, round, settings, idleLoad, idle);
                results.Runs.Add(record);
                if (record.ServerVersion != null) results.Versions[target] = record.ServerVersion;
                failed |= record.Failure != null || record.Load == null || record.Load.Lost + record.Load.Duplicated + record.Load.Reordered + record.Load.Errors > 0;
                results.Seconds = clock.Elapsed.TotalSeconds;
                await File.WriteAllTextAsync(resultsPath, JsonSerializer.Serialize(results, Json));
            }

            // The cold starts of this round, each server in a fresh process again, in the same rotated order
            // (without a store: users start that one through the module, which the bench does not give a store).
            for (int k = 0; round <= coldRounds && k < n; k++)
            {
                string target = results.Targets[(k + round - 1) % n];
                if (Targets.Stores(target)) continue;
                ColdRecord record = await ColdOneAsync(target, round, cold, coldWarm, viaModule && Targets.IsChatrm(target));
                results.ColdRuns.Add(record);
                failed |= record.Failure != null || Broken(record.Cold) || Broken(record.Warm);
                results.Seconds = clock.Elapsed.TotalSeconds;
                await File.WriteAllTextAsync(resultsPath, JsonSerializer.Serialize(results, Json));
            }
        }

        Console.WriteLine($"results in {resultsPath} after {clock.Elapsed.TotalSeconds:0} s");
        return failed ? 1 : 0;
    }

    /// <summary>One load run against a server someone else started: for profiling it while it runs.</summary>
    public static async Task<int> LoadAsync(Options options)
    {
        var settings = new LoadSettings
        {
            Pairs = options.Int("pairs", 50),
            PayloadBytes = Math.Max(Payload.MinSize, options.Int("size", 64)),
            Window = options.Int("window", 64),
            WarmupSeconds = options.Double("warmup", 2),
            DurationSeconds = options.Double("duration", 10),
        };
        var endPoint = new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, options.Int("port", 0));
        LoadResult result = await new LoadRun(Wire.For(options.Get("target", Targets.ChatrmClassic)), endPoint, settings, options.Get("prefix", string.Empty), options.Int("pid", Environment.ProcessId)).RunAsync();
        Print("load", result);
        return result.Lost + result.Duplicated + result.Reordered + result.Errors == 0 ? 0 : 1;
    }

    /// <summary>
    /// Cold starts only, for comparing builds: --target, --rounds, --module and --pwsh (or --host serve), --messages,
    /// --server-env NAME=VALUE,... for the servers alone, --priority high as the suite's.
    /// Prints one line per run.
    /// </summary>
    public static async Task<int> ColdAsync(Options options)
    {
        var settings = new LoadSettings
        {
            Pairs = options.Int("pairs", 50),
            PayloadBytes = Math.Max(Payload.MinSize, options.Int("size", 64)),
            Window = options.Int("window", 64),
        };
        (LoadSettings cold, LoadSettings warm) = ColdSettings(options, settings, smoke: false);
        string target = options.Get("target", Targets.ChatrmClassic);
        bool viaModule = UseModule(options) && Targets.IsChatrm(target);
        bool broken = false;
        Console.WriteLine("priority: " + RaisePriority(options.Get("priority", "normal")));

        // This program's own code is cold too at first, and shares the machine's cores with the server: one
        // untimed run against a server of this program first, so that only the server under test is cold.
        Console.WriteLine("warming up the load generator (not a figure)");
        var knobs = ServerProcess.ServerEnvironment.ToList();
        ServerProcess.ServerEnvironment.Clear();
        await ColdOneAsync(target, 0, cold, warm, viaModule: false, quiet: true);
        ServerProcess.ServerEnvironment.AddRange(knobs);
        for (int round = 1; round <= options.Int("rounds", 1); round++)
        {
            ColdRecord r = await ColdOneAsync(target, round, cold, warm, viaModule);
            broken |= r.Failure != null || Broken(r.Cold) || Broken(r.Warm);
        }

        return broken ? 1 : 0;
    }

    private static (LoadSettings Cold, LoadSettings Warm) ColdSettings(Options options, LoadSettings settings, bool smoke)
    {
        var cold = new LoadSettings
        {
            Pairs = settings.Pairs,
            PayloadBytes = settings.PayloadBytes,
            Window = settings.Window,
            FirstMessages = options.Int("cold-messages", options.Int("messages", smoke ? 20_000 : 1_000_000)),
            DurationSeconds = options.Double("cold-limit", 30),
        };
        var warm = new LoadSettings
        {
            Pairs = settings.Pairs,
            PayloadBytes = settings.PayloadBytes,
            Window = settings.Window,
            WarmupSeconds = options.Double("cold-warmup", smoke ? 0.3 : 1),
            DurationSeconds = options.Double("cold-duration", smoke ? 0.5 : 4),
        };
        ServerProcess.ModulePath = options.Get("module");
        ServerProcess.PwshPath = options.Get("pwsh");
        foreach (string setting in (options.Get("server-env") ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] kv = setting.Split('=', 2);
            ServerProcess.ServerEnvironment.Add(new KeyValuePair<string, string>(kv[0], kv.Length > 1 ? kv[1] : string.Empty));
        }

        return (cold, warm);
    }

    private static bool UseModule(Options options) =>
        options.Get("host", "module") == "module" && options.Get("module") != null && options.Get("pwsh") != null;

    private static bool Broken(LoadResult r) => r != null && r.Lost + r.Duplicated + r.Reordered + r.Errors > 0;

    /// <summary>A fresh server, its first messages from the first one on, then the same server warm.</summary>
    private static async Task<ColdRecord> ColdOneAsync(string target, int round, LoadSettings cold, LoadSettings warm, bool viaModule, bool quiet = false)
    {
        var record = new ColdRecord { Target = target, Round = round, Host = Targets.IsChatrm(target) ? ServerProcess.HostName(viaModule) : "a fresh process" };
        Wire wire = Wire.For(target);
        try
        {
            var started = Stopwatch.StartNew();
            using ServerProcess server = await ServerProcess.StartAsync(target, 4 * cold.Pairs + 200, viaModule);
            record.StartMs = started.Elapsed.TotalMilliseconds;
            record.Cold = await new LoadRun(wire, server.EndPoint, cold, "c", server.Pid).RunAsync();
            record.Warm = await new LoadRun(wire, server.EndPoint, warm, "h", server.Pid).RunAsync();
            if (quiet) return record;
            Console.WriteLine($"cold {round}: {target}, {record.Host}, accepting after {record.StartMs:0} ms");
            Print($"first {cold.FirstMessages:N0} in {record.Cold.MeasuredSeconds:0.000} s", record.Cold);
            Print("then warm", record.Warm);
            Console.WriteLine($"  cold / warm: {record.Cold.MessagesPerSecond / record.Warm.MessagesPerSecond:0.00}");
        }
        catch (Exception e)
        {
            record.Failure = e.GetType().Name + ": " + e.Message;
            Console.WriteLine($"cold {round}: {target} failed: " + record.Failure);
        }

        return record;
    }

    private static async Task<RunRecord> RunOneAsync(string target, int round, LoadSettings settings, LoadSettings idleLoad, int idleCount)
    {
        var record = new RunRecord { Target = target, Round = round, IdleUsersAsked = idleCount };
        Wire wire = Wire.For(target);
        Console.WriteLine($"round {round}: {target}");
        try
        {
            using ServerProcess server = await ServerProcess.StartAsync(target, idleCount + 4 * settings.Pairs + 200);
            record.ServerVersion = server.Version;
            if (QuietWait > TimeSpan.Zero)
            {
                double other = await Proc.WaitForQuietMachineAsync(15, QuietWait, Environment.ProcessId, server.Pid);
                if (other > 15)
                {
                    // Busy for good, it seems: the report's "other CPU" column says how busy; stop waiting.
                    Console.WriteLine($"  the machine is busy with other work ({other:0}% of a core); measuring anyway, and waiting no more");
                    QuietWait = TimeSpan.Zero;
                }
            }

            record.CoreHopNsBefore = CoreHop.MeasureNs();
            record.Load = await new LoadRun(wire, server.EndPoint, settings, string.Empty, server.Pid).RunAsync();
            record.CoreHopNsAfter = CoreHop.MeasureNs();
            Print("load", record.Load);
            Console.WriteLine($"  core hop: {record.CoreHopNsBefore:0} ns before, {record.CoreHopNsAfter:0} ns after");

            if (idleCount > 0)
            {
                await WaitQuietAsync(server.Pid);
                MemorySample before = await server.SampleMemoryAsync();
                using IdleUsers idle = await IdleUsers.ConnectAsync(wire, server.EndPoint, idleCount);

                // Native Chatrm tells every user of every join: wait until that is over, as for every server.
                await WaitQuietAsync(server.Pid);
                MemorySample with = await server.SampleMemoryAsync();
                record.IdleUsers = idle.Connected;
                record.IdleFailed = idle.Failed;
                record.IdleFailure = idle.FirstFailure;
                record.IdleConnectSeconds = idle.Seconds;
                record.RssBeforeIdle = before.RssBytes;
                record.RssWithIdle = with.RssBytes;
                record.ManagedBeforeIdle = before.ManagedBytes;
                record.ManagedWithIdle = with.ManagedBytes;
                if (idle.Connected > 0)
                {
                    record.BytesPerIdleUser = (with.RssBytes - before.RssBytes) / (double)idle.Connected;
                    if (with.ManagedBytes.HasValue && before.ManagedBytes.HasValue)
                    {
                        record.ManagedBytesPerIdleUser = (with.ManagedBytes.Value - before.ManagedBytes.Value) / (double)idle.Connected;
                    }
                }

                Console.WriteLine($"  idle: {idle.Connected} users in {idle.Seconds:0.0} s ({idle.Failed} failed{(idle.FirstFailure != null ? ": " + idle.FirstFailure : string.Empty)}), " +
                    $"{record.BytesPerIdleUser:0} bytes each (RSS {before.RssBytes / 1048576.0:0.0} -> {with.RssBytes / 1048576.0:0.0} MiB)" +
                    (record.ManagedBytesPerIdleUser.HasValue ? $", managed heap {record.ManagedBytesPerIdleUser:0} bytes each" : string.Empty));

                if (HoldIdle > TimeSpan.Zero)
                {
                    // For a look from outside (dotnet-gcdump, dotnet-counters) while the idle users are there.
                    Console.WriteLine($"  holding {idle.Connected} idle users on server pid {server.Pid} for {HoldIdle.TotalSeconds:0} s");
                    await Task.Delay(HoldIdle);
                }

                record.CoreHopNsBeforeIdleLoad = CoreHop.MeasureNs();
                record.LoadWithIdle = await new LoadRun(wire, server.EndPoint, idleLoad, "w", server.Pid).RunAsync();
                record.CoreHopNsAfterIdleLoad = CoreHop.MeasureNs();
                Print("load with idle users", record.LoadWithIdle);
                Console.WriteLine($"  core hop: {record.CoreHopNsBeforeIdleLoad:0} ns before, {record.CoreHopNsAfterIdleLoad:0} ns after");
            }
        }
        catch (Exception e)
        {
            record.Failure = e.GetType().Name + ": " + e.Message;
            Console.WriteLine("  failed: " + record.Failure);
        }

        return record;
    }

    /// <summary>
    /// On a machine shared with other work, --priority high runs the client and (inheriting it) every server
    /// ahead of it, so what it measures is the servers and not the neighbours. Says what it got.
    /// </summary>
    internal static string RaisePriority(string wanted)
    {
        if (!string.Equals(wanted, "high", StringComparison.OrdinalIgnoreCase)) return "normal";
        try
        {
            Process.GetCurrentProcess().PriorityClass = ProcessPriorityClass.High;
            return "high (every server inherits it)";
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception || e is PlatformNotSupportedException || e is UnauthorizedAccessException)
        {
            Console.WriteLine("could not raise the priority: " + e.Message);
            return "normal (raising it was refused)";
        }
    }

    /// <summary>Waits (up to a minute) until the server uses under 2 % of a core for a quarter of a second.</summary>
    private static async Task WaitQuietAsync(int pid)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            double cpu = Proc.CpuSeconds(pid);
            await Task.Delay(250);
            if (Proc.CpuSeconds(pid) - cpu < 0.005) return;
        }
    }

    internal static void Print(string what, LoadResult r) =>
        Console.WriteLine($"  {what}: {r.MessagesPerSecond,10:N0} msg/s  p50 {r.P50Ms:0.00} p99 {r.P99Ms:0.00} p999 {r.P999Ms:0.00} ms" +
            (r.DeliveredP99Ms.HasValue ? $"  delivered p50 {r.DeliveredP50Ms:0.00} p99 {r.DeliveredP99Ms:0.00} ms" : string.Empty) +
            $"  server CPU {r.ServerCpuPercent:0}% client CPU {r.ClientCpuPercent:0}% other {r.OtherCpuPercent:0}%  sent {r.Sent} lost {r.Lost} dup {r.Duplicated} reordered {r.Reordered} errors {r.Errors}" +
            (r.FirstError != null ? $" ({r.FirstError})" : string.Empty));
}
