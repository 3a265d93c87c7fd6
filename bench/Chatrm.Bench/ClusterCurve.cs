using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;

namespace Chatrm.Bench;

/// <summary>One point of the curve: N Chatrm servers of one cluster on one nats-server, one load spread over them.</summary>
public sealed class CurvePoint
{
    public int Nodes { get; set; }
    public int Round { get; set; }
    public LoadResult Load { get; set; }

    /// <summary>Each server's resident memory after the run, bytes.</summary>
    public List<long> ServerRssBytes { get; set; } = new List<long>();
    public long NatsRssBytes { get; set; }
    public string Failure { get; set; }
}

public sealed class CurveResults
{
    public DateTime StartedUtc { get; set; }
    public LoadSettings Settings { get; set; }
    public List<CurvePoint> Points { get; set; } = new List<CurvePoint>();
}

/// <summary>
/// The scale-out curve of docs/scale-out.md (issue 19): the same native pairs over 1, 2, 3, … servers of one cluster on
/// this machine (loopback, one nats-server -js), each pair's receiver on the server after its sender's, so with N
/// servers every message crosses; messages per second, CPU per message (Chatrm and NATS) and memory per server, for
/// each N. On one machine the servers share its cores: the curve shows what a message costs as the cluster grows,
/// from which the figures for more machines are predicted, not a speed-up.
/// </summary>
public static class ClusterCurve
{
    public static async Task<int> RunAsync(Options options)
    {
        Proc.RaiseOpenFileLimit();
        string priority = Suite.RaisePriority(options.Get("priority", "normal"));
        var settings = new LoadSettings
        {
            Pairs = options.Int("pairs", 48),
            PayloadBytes = Math.Max(Payload.MinSize, options.Int("size", 64)),
            Window = options.Int("window", 64),
            WarmupSeconds = options.Double("warmup", 2),
            DurationSeconds = options.Double("duration", 10),
        };
        int[] nodes = options.Get("nodes", "1,2,3,4").Split(',').Select(n => int.Parse(n, CultureInfo.InvariantCulture)).ToArray();
        int rounds = options.Int("rounds", 1);
        string resultsPath = options.Get("results", "out/bench/cluster-curve.json");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(resultsPath)));
        var results = new CurveResults { StartedUtc = DateTime.UtcNow, Settings = settings };
        Console.WriteLine($"cluster-curve: {settings.Pairs} native pairs, {settings.PayloadBytes}-byte messages, {settings.Window} in flight, over {string.Join(", ", nodes)} servers, {rounds} round(s); priority {priority}");
        for (int round = 1; round <= rounds; round++)
        {
            foreach (int n in nodes)
            {
                CurvePoint point = await RunOneAsync(n, round, settings);
                results.Points.Add(point);
                await File.WriteAllTextAsync(resultsPath, JsonSerializer.Serialize(results, Suite.Json));
            }
        }

        Console.WriteLine();
        Console.Write(Table(results));
        Console.WriteLine($"results in {resultsPath}");
        return results.Points.Any(p => p.Failure != null || p.Load == null || p.Load.Lost + p.Load.Duplicated + p.Load.Errors > 0) ? 1 : 0;
    }

    private static async Task<CurvePoint> RunOneAsync(int n, int round, LoadSettings settings)
    {
        var point = new CurvePoint { Nodes = n, Round = round };
        Console.WriteLine($"round {round}: {n} server(s)");
        var started = new List<ServerProcess>();
        try
        {
            int maxClients = 4 * settings.Pairs + 200;
            ServerProcess nats = await ServerProcess.StartAsync(Targets.JetStream, maxClients);
            started.Add(nats);
            string url = "nats://127.0.0.1:" + nats.EndPoint.Port;
            var servers = new List<ServerProcess>();
            for (int i = 0; i < n; i++)
            {
                ServerProcess server = await ServerProcess.StartAsync(Targets.ChatrmNativeCross, maxClients, serveArguments: new[] { "--cluster", url, "--node-name", "s" + (i + 1) });
                started.Add(server);
                servers.Add(server);
            }

            var run = new LoadRun(Wire.For(Targets.ChatrmNative), servers[0].EndPoint, settings, string.Empty, servers[0].Pid)
            {
                Placement = p => (servers[p.Index % n].EndPoint, servers[(p.Index + 1) % n].EndPoint),
                BeforeSending = async pairs =>
                {
                    string[] names = pairs.SelectMany(p => new[] { p.SenderName, p.ReceiverName }).ToArray();
                    await Task.WhenAll(servers.Select((s, i) => CrossServers.WaitUntilListedAsync(s.EndPoint, "watch-" + i, names)));
                },
                MoreServerPids = servers.Skip(1).Select(s => s.Pid).ToArray(),
                BackendPids = new[] { nats.Pid },
            };
            point.Load = await run.RunAsync();
            point.ServerRssBytes = servers.Select(s => Proc.RssBytes(s.Pid)).ToList();
            point.NatsRssBytes = Proc.RssBytes(nats.Pid);
            Suite.Print("load", point.Load);
        }
        catch (Exception e)
        {
            point.Failure = e.GetType().Name + ": " + e.Message;
            Console.WriteLine("  failed: " + point.Failure);
        }
        finally
        {
            for (int i = started.Count - 1; i >= 0; i--) started[i].Dispose();
        }

        return point;
    }

    /// <summary>Per point: the rate, CPU per message in microseconds (Chatrm's servers summed, and NATS's), memory.</summary>
    public static string Table(CurveResults results)
    {
        var text = new StringBuilder();
        text.AppendLine("| servers | messages/s | p99 ms | Chatrm CPU µs/msg | NATS CPU µs/msg | Chatrm RSS per server MB | NATS RSS MB | lost/dup/reord |");
        text.AppendLine("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var group in results.Points.Where(p => p.Load != null).GroupBy(p => p.Nodes).OrderBy(g => g.Key))
        {
            var loads = group.Select(p => p.Load).ToList();
            double rate = Median(loads.Select(l => l.MessagesPerSecond));
            double chatrm = Median(loads.Select(l => l.MessagesPerSecond > 0 ? l.ServerCpuPercent / 100 / l.MessagesPerSecond * 1e6 : double.NaN));
            double nats = Median(loads.Select(l => l.MessagesPerSecond > 0 && l.BackendCpuPercent.HasValue ? l.BackendCpuPercent.Value / 100 / l.MessagesPerSecond * 1e6 : double.NaN));
            double rss = Median(group.SelectMany(p => p.ServerRssBytes).Select(b => b / 1048576.0));
            double natsRss = Median(group.Select(p => p.NatsRssBytes / 1048576.0));
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {group.Key} | {rate:N0} | {Median(loads.Select(l => l.P99Ms)):0.00} | {chatrm:0.00} | {nats:0.00} | {rss:0} | {natsRss:0} | {loads.Sum(l => l.Lost)}/{loads.Sum(l => l.Duplicated)}/{loads.Sum(l => l.Reordered)} |"));
        }

        return text.ToString();
    }

    private static double Median(IEnumerable<double> values)
    {
        double[] sorted = values.Where(v => !double.IsNaN(v)).OrderBy(v => v).ToArray();
        return sorted.Length == 0 ? double.NaN : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
