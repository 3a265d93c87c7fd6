using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;

namespace Chatrm.Bench;

/// <summary>One run of the cluster workload: one server (or a cluster of two and its NATS), one load.</summary>
public sealed class ClusterRecord
{
    public string Target { get; set; }
    public int Round { get; set; }
    public string ServerVersion { get; set; }
    public LoadResult Load { get; set; }

    /// <summary>Across servers: from the last user connected until both servers listed every user.</summary>
    public double? ReadySeconds { get; set; }

    /// <summary>The kill run: seconds into the measured time when the third server was killed.</summary>
    public double? KilledAtSeconds { get; set; }

    public double? CoreHopNsBefore { get; set; }
    public double? CoreHopNsAfter { get; set; }
    public string Failure { get; set; }
}

public sealed class ClusterResults
{
    public DateTime StartedUtc { get; set; }
    public double Seconds { get; set; }
    public LoadSettings Settings { get; set; }
    public int Rounds { get; set; }
    public string Priority { get; set; }

    /// <summary>"both-ways": odd pairs' senders on server A and receivers on B, even pairs the other way; "a-to-b": every sender on A.</summary>
    public string Direction { get; set; }
    public List<string> Targets { get; set; } = new List<string>();
    public Dictionary<string, string> Skipped { get; set; } = new Dictionary<string, string>();
    public Dictionary<string, string> Versions { get; set; } = new Dictionary<string, string>();
    public List<ClusterRecord> Runs { get; set; } = new List<ClusterRecord>();
}

/// <summary>
/// The cluster workload of issue 19: the suite's pairs with sender and receiver on different Chatrm servers of one
/// cluster (two serve --cluster processes on one nats-server -js), against the same pairs on one server and against
/// NATS pub/sub directly, in interleaved rounds, every run in fresh processes.
/// </summary>
public static class CrossServers
{
    public static readonly string[] DefaultTargets = { Targets.ChatrmNative, Targets.ChatrmNativeCross, Targets.ChatrmNativeCrossKill, Targets.ChatrmClassic, Targets.ChatrmClassicCross, Targets.Nats };

    /// <summary>Idle users the third server holds in the kill run, so its death frees names and ends sessions.</summary>
    internal const int DoomedUsers = 50;

    private static readonly TimeSpan ReadyLimit = TimeSpan.FromSeconds(30);

    public static async Task<int> RunAsync(Options options)
    {
        bool smoke = options.Flag("smoke");
        long fileLimit = Proc.RaiseOpenFileLimit();
        string priority = Suite.RaisePriority(options.Get("priority", "normal"));
        var settings = new LoadSettings
        {
            Pairs = options.Int("pairs", smoke ? 4 : 50),
            PayloadBytes = Math.Max(Payload.MinSize, options.Int("size", 64)),
            Window = options.Int("window", 64),
            WarmupSeconds = options.Double("warmup", smoke ? 0.5 : 2),
            DurationSeconds = options.Double("duration", smoke ? 1.5 : 10),
        };
        string direction = options.Get("direction", "both-ways");
        if (direction != "both-ways" && direction != "a-to-b") throw new ArgumentException("--direction is both-ways or a-to-b");
        int rounds = options.Int("rounds", smoke ? 1 : 3);
        var quietWait = TimeSpan.FromSeconds(options.Double("wait-quiet", 0));
        string[] wanted = (options.Get("targets") ?? string.Join(",", DefaultTargets)).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        string resultsPath = options.Get("results", "out/bench/cluster.json");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(resultsPath)));
        var results = new ClusterResults { StartedUtc = DateTime.UtcNow, Settings = settings, Rounds = rounds, Priority = priority, Direction = direction };
        foreach (string target in wanted)
        {
            if (!DefaultTargets.Contains(target)) throw new ArgumentException("unknown target " + target + "; known: " + string.Join(", ", DefaultTargets));
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

        Console.WriteLine($"cluster: {settings.Pairs} pairs, {settings.PayloadBytes}-byte messages, {settings.Window} in flight, {settings.WarmupSeconds} s warm-up + {settings.DurationSeconds} s; " +
            $"across servers {direction}; {rounds} round(s) of {string.Join(", ", results.Targets)}; open-file limit {fileLimit}; priority {priority}");
        var clock = Stopwatch.StartNew();
        bool failed = false;
        for (int round = 1; round <= rounds; round++)
        {
            int n = results.Targets.Count;
            for (int k = 0; k < n; k++)
            {
                string target = results.Targets[(k + round - 1) % n];
                (ClusterRecord record, bool busy) = await RunOneAsync(target, round, settings, direction, quietWait);
                if (busy) quietWait = TimeSpan.Zero;
                results.Runs.Add(record);
                if (record.ServerVersion != null) results.Versions[target] = record.ServerVersion;
                LoadResult l = record.Load;
                failed |= record.Failure != null || l == null || l.Lost + l.Duplicated + l.Reordered + l.Errors > 0;
                results.Seconds = clock.Elapsed.TotalSeconds;
                await File.WriteAllTextAsync(resultsPath, JsonSerializer.Serialize(results, Suite.Json));
            }
        }

        Console.WriteLine();
        Console.Write(Table(results));
        Console.WriteLine($"results in {resultsPath} after {clock.Elapsed.TotalSeconds:0} s");
        return failed ? 1 : 0;
    }

    private static async Task<(ClusterRecord Record, bool QuietGaveUp)> RunOneAsync(string target, int round, LoadSettings settings, string direction, TimeSpan quietWait)
    {
        var record = new ClusterRecord { Target = target, Round = round };
        bool gaveUp = false;
        Console.WriteLine($"round {round}: {target}");
        var started = new List<ServerProcess>();
        try
        {
            int maxClients = 4 * settings.Pairs + 200;
            LoadRun run;
            if (Targets.Crosses(target))
            {
                // NATS with JetStream (the cluster keeps its names in a key-value bucket), its store in a fresh folder
                // deleted with it; then the two servers, each a node of its own.
                ServerProcess nats = await ServerProcess.StartAsync(Targets.JetStream, maxClients);
                started.Add(nats);
                string url = "nats://127.0.0.1:" + nats.EndPoint.Port;
                ServerProcess a = await ServerProcess.StartAsync(target, maxClients, serveArguments: new[] { "--cluster", url, "--node-name", "a" });
                started.Add(a);
                ServerProcess b = await ServerProcess.StartAsync(target, maxClients, serveArguments: new[] { "--cluster", url, "--node-name", "b" });
                started.Add(b);
                record.ServerVersion = $"{a.Version}, two servers of a cluster (Chatrm.Cluster) on {nats.Version.Split('\n')[0]}";
                bool bothWays = direction == "both-ways";
                ServerProcess doomed = null;
                var doomedUsers = new List<Conn>();
                if (target == Targets.ChatrmNativeCrossKill)
                {
                    doomed = await ServerProcess.StartAsync(target, maxClients, serveArguments: new[] { "--cluster", url, "--node-name", "c" });
                    started.Add(doomed);
                    for (int i = 0; i < DoomedUsers; i++)
                    {
                        Conn idle = await Conn.ConnectAsync(doomed.EndPoint, 64 * 1024, CancellationToken.None);
                        await new NativeWire().OpenIdleAsync(idle, "doomed" + i);
                        doomedUsers.Add(idle);
                    }
                }

                run = new LoadRun(Wire.For(target), a.EndPoint, settings, string.Empty, a.Pid)
                {
                    Placement = p => bothWays && p.Index % 2 == 0 ? (b.EndPoint, a.EndPoint) : (a.EndPoint, b.EndPoint),
                    BeforeSending = async pairs =>
                    {
                        var ready = Stopwatch.StartNew();
                        string[] names = pairs.SelectMany(p => new[] { p.SenderName, p.ReceiverName }).ToArray();
                        await Task.WhenAll(WaitUntilListedAsync(a.EndPoint, "watch-a", names), WaitUntilListedAsync(b.EndPoint, "watch-b", names));
                        record.ReadySeconds = ready.Elapsed.TotalSeconds;
                        if (doomed != null)
                        {
                            // A third of the way into the measured time, as a crash: the lease then runs out mid-run too.
                            double at = settings.DurationSeconds / 3;
                            record.KilledAtSeconds = at;
                            _ = Task.Delay(TimeSpan.FromSeconds(settings.WarmupSeconds + at)).ContinueWith(_ =>
                            {
                                doomed.KillNow();
                                foreach (Conn idle in doomedUsers) idle.Dispose();
                            }, TaskScheduler.Default);
                        }
                    },
                    MoreServerPids = new[] { b.Pid },
                    BackendPids = new[] { nats.Pid },
                };
            }
            else
            {
                ServerProcess server = await ServerProcess.StartAsync(target, maxClients);
                started.Add(server);
                record.ServerVersion = server.Version;
                run = new LoadRun(Wire.For(target), server.EndPoint, settings, string.Empty, server.Pid);
            }

            if (quietWait > TimeSpan.Zero)
            {
                double other = await Proc.WaitForQuietMachineAsync(15, quietWait, started.Select(s => s.Pid).Append(Environment.ProcessId).ToArray());
                if (other > 15)
                {
                    Console.WriteLine($"  the machine is busy with other work ({other:0}% of a core); measuring anyway, and waiting no more");
                    gaveUp = true;
                }
            }

            record.CoreHopNsBefore = CoreHop.MeasureNs();
            record.Load = await run.RunAsync();
            record.CoreHopNsAfter = CoreHop.MeasureNs();
            Suite.Print("load", record.Load);
            Console.WriteLine($"  core hop: {record.CoreHopNsBefore:0} ns before, {record.CoreHopNsAfter:0} ns after" +
                (record.ReadySeconds.HasValue ? $"; every user seen by both servers {record.ReadySeconds:0.000} s after the last connected" : string.Empty) +
                (record.Load.BackendCpuPercent.HasValue ? $"; nats-server CPU {record.Load.BackendCpuPercent:0}% (server CPU is both Chatrm servers)" : string.Empty));
        }
        catch (Exception e)
        {
            record.Failure = e.GetType().Name + ": " + e.Message;
            Console.WriteLine("  failed: " + record.Failure);
        }
        finally
        {
            // The servers before their NATS, so neither sees NATS go first.
            for (int i = started.Count - 1; i >= 0; i--) started[i].Dispose();
        }

        return (record, gaveUp);
    }

    /// <summary>
    /// Asks a server who is online (native who) until it lists every one of <paramref name="names"/>: a user of
    /// another server is reachable once its server's claim reached this one. Fails after <see cref="ReadyLimit"/>.
    /// </summary>
    internal static async Task WaitUntilListedAsync(IPEndPoint server, string watcher, IReadOnlyCollection<string> names)
    {
        using Conn conn = await Conn.ConnectAsync(server, 64 * 1024, CancellationToken.None);
        await new NativeWire().OpenIdleAsync(conn, watcher);
        var clock = Stopwatch.StartNew();
        int missing = names.Count;
        string firstMissing = null;
        for (int ask = 1; ; ask++)
        {
            string reference = ask.ToString(System.Globalization.CultureInfo.InvariantCulture);
            await conn.SendAsync(Encoding.ASCII.GetBytes("{\"type\":\"who\",\"ref\":\"" + reference + "\"}\n"));
            TimeSpan left = ReadyLimit - clock.Elapsed;
            if (left <= TimeSpan.Zero) break;
            await conn.ReadUntilAsync(memory =>
            {
                int used = Wire.NextLine(memory.Span, out ReadOnlySpan<byte> line);
                if (used < 0) return (-1, false);
                if (!line.StartsWith("{\"type\":\"users\""u8)) return (used, false);
                string text = Wire.Text(line);
                string[] absent = names.Where(name => !text.Contains("\"name\":\"" + name + "\"", StringComparison.OrdinalIgnoreCase)).ToArray();
                missing = absent.Length;
                firstMissing = absent.FirstOrDefault();
                return (used, true);
            }, left, "the list of users");
            if (missing == 0) return;
            if (clock.Elapsed >= ReadyLimit) break;
            await Task.Delay(20);
        }

        throw new TimeoutException($"{server} still did not list {missing} of the {names.Count} users (such as {firstMissing}) after {ReadyLimit.TotalSeconds:0} s");
    }

    /// <summary>The runs side by side, medians over the rounds, as plain text for the console.</summary>
    private static string Table(ClusterResults results)
    {
        var text = new StringBuilder();
        text.AppendLine($"{"server",-22} {"messages/s",12} {"vs one server",14} {"vs NATS",8} {"p50 ms",8} {"p99 ms",8} {"delivered p99",14} {"Chatrm CPU",11} {"NATS CPU",9} {"client",7} {"other",6}  lost/dup/reord errors");
        foreach (ClusterSummary s in ClusterSummary.Of(results))
        {
            text.AppendLine($"{s.Target,-22} {s.Rate,12:N0} {(double.IsNaN(s.PerOneServer) ? "" : s.PerOneServer.ToString("0.00") + "x"),14} {(double.IsNaN(s.PerNats) ? "" : s.PerNats.ToString("0.00") + "x"),8} " +
                $"{s.P50,8:0.00} {s.P99,8:0.00} {(double.IsNaN(s.DeliveredP99) ? "" : s.DeliveredP99.ToString("0.00")),14} {(double.IsNaN(s.ChatrmCpu) ? "" : s.ChatrmCpu.ToString("0") + "%"),11} " +
                $"{(double.IsNaN(s.NatsCpu) ? "" : s.NatsCpu.ToString("0") + "%"),9} {s.ClientCpu,6:0}% {s.OtherCpu,5:0}%  {s.Lost}/{s.Duplicated}/{s.Reordered} {s.Errors}");
        }

        ClusterSummary native = ClusterSummary.Of(results).FirstOrDefault(s => s.Target == Targets.ChatrmNativeCross);
        if (native != null && !double.IsNaN(native.PerOneServer))
        {
            text.AppendLine($"goal (issue 19): native across servers at least 0.5x one server's messages/s: {native.PerOneServer:0.00}x, {(native.PerOneServer >= 0.5 ? "met" : "NOT met")}");
        }

        return text.ToString();
    }
}

/// <summary>One target's runs of the cluster workload: medians over the rounds, and its ratios round by round.</summary>
public sealed class ClusterSummary
{
    public string Target;
    public List<ClusterRecord> Runs;
    public double Rate, P50, P99, DeliveredP50, DeliveredP99, ChatrmCpu, NatsCpu, ClientCpu, OtherCpu, ReadySeconds;

    /// <summary>Across servers: the median over rounds of the round's rate over the same round's one-server rate.</summary>
    public double PerOneServer = double.NaN;
    public List<double> PerOneServerByRound = new List<double>();

    /// <summary>The median rate over NATS's median rate.</summary>
    public double PerNats = double.NaN;
    public long Lost, Duplicated, Reordered, Errors, Sent;

    public static List<ClusterSummary> Of(ClusterResults results)
    {
        var rows = new List<ClusterSummary>();
        foreach (string target in CrossServers.DefaultTargets)
        {
            var runs = results.Runs.Where(r => r.Target == target).ToList();
            if (runs.Count == 0) continue;
            var loads = runs.Where(r => r.Load != null).Select(r => r.Load).ToList();
            bool isNats = target == Targets.Nats;
            var row = new ClusterSummary
            {
                Target = target,
                Runs = runs,
                Rate = Median(loads.Select(l => l.MessagesPerSecond)),
                P50 = Median(loads.Select(l => l.P50Ms)),
                P99 = Median(loads.Select(l => l.P99Ms)),
                DeliveredP50 = Median(loads.Where(l => l.DeliveredP50Ms.HasValue).Select(l => l.DeliveredP50Ms.Value)),
                DeliveredP99 = Median(loads.Where(l => l.DeliveredP99Ms.HasValue).Select(l => l.DeliveredP99Ms.Value)),
                // NATS alone: its server is the NATS column; a cluster: both Chatrm servers, and their NATS apart.
                ChatrmCpu = isNats ? double.NaN : Median(loads.Select(l => l.ServerCpuPercent)),
                NatsCpu = isNats ? Median(loads.Select(l => l.ServerCpuPercent)) : Median(loads.Where(l => l.BackendCpuPercent.HasValue).Select(l => l.BackendCpuPercent.Value)),
                ClientCpu = Median(loads.Select(l => l.ClientCpuPercent)),
                OtherCpu = Median(loads.Select(l => l.OtherCpuPercent)),
                ReadySeconds = Median(runs.Where(r => r.ReadySeconds.HasValue).Select(r => r.ReadySeconds.Value)),
                Lost = loads.Sum(l => l.Lost),
                Duplicated = loads.Sum(l => l.Duplicated),
                Reordered = loads.Sum(l => l.Reordered),
                Errors = loads.Sum(l => l.Errors) + runs.Count(r => r.Failure != null),
                Sent = loads.Sum(l => l.Sent),
            };
            if (Targets.Crosses(target))
            {
                string one = Targets.OneServer(target);
                row.PerOneServerByRound = runs.Where(r => r.Load != null)
                    .Select(r => (r, o: results.Runs.FirstOrDefault(x => x.Target == one && x.Round == r.Round && x.Load != null)))
                    .Where(x => x.o != null && x.o.Load.MessagesPerSecond > 0)
                    .Select(x => x.r.Load.MessagesPerSecond / x.o.Load.MessagesPerSecond).ToList();
                row.PerOneServer = Median(row.PerOneServerByRound);
            }

            rows.Add(row);
        }

        ClusterSummary nats = rows.FirstOrDefault(r => r.Target == Targets.Nats);
        if (nats != null && nats.Rate > 0)
        {
            foreach (ClusterSummary row in rows.Where(r => r != nats)) row.PerNats = row.Rate / nats.Rate;
        }

        return rows;
    }

    internal static double Median(IEnumerable<double> values)
    {
        double[] sorted = values.Where(v => !double.IsNaN(v)).OrderBy(v => v).ToArray();
        if (sorted.Length == 0) return double.NaN;
        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
