using Chatrm.Bench;

// Chatrm.Bench MODE [--option value ...]
//   suite    the interleaved benchmark of docs/performance.md (--smoke: a few seconds, Chatrm only)
//   report   docs/performance.md and its plot from the suite's and the PowerShell measurements' results
//   serve    a Chatrm server under test (stdin: gc, quit; --store FILE, --cluster nats://host:port --node-name NAME)
//   cold     cold starts only: a fresh server, its first --messages timed, then warm (--target, --rounds,
//            --module out/Chatrm --pwsh .../pwsh.dll for the server users start; --host serve for this program's)
//   fanout   the fan-out workload of docs/performance.md: rooms of members and one sender each, against every
//            server (--targets, --rounds, --shapes one-room,many-rooms, --smoke: a second a run)
//   offline  the offline workload of docs/performance.md: messages stored for users that are away, then drained
//            as they connect, Chatrm native with a store against NATS JetStream (--users, --messages, --rounds,
//            --targets, --smoke: a few thousand messages)
//   cluster  the cluster workload of docs/performance.md (issue 19): the suite's pairs with sender and receiver on two
//            servers of a cluster (serve --cluster on one nats-server -js), beside one server and NATS pub/sub
//            (--targets, --rounds, --direction both-ways|a-to-b, --warmup, --duration, --smoke: a few seconds)
//   cluster-curve  the scale-out curve of docs/scale-out.md: the same native pairs over 1, 2, 3, 4 servers of one
//            cluster, every message crossing (--nodes 1,2,3,4, --pairs, --rounds, --duration)
//   cluster-report  writes the cluster section of docs/performance.md from its results (--results, --out, --command)
//   load     one load run against a server already running (--target, --port, --pid), for profiling
//   produce  fills a user's inbox over the native protocol (for the PowerShell pipeline measurement)
if (args.Length == 0)
{
    Console.Error.WriteLine("usage: Chatrm.Bench suite|fanout|offline|cluster|cluster-curve|report|cluster-report|serve|load|cold|produce [--option value ...]");
    return 2;
}

var options = new Options(args.Skip(1));
return args[0] switch
{
    "suite" => await Suite.RunAsync(options),
    "report" => Report.Write(options),
    "serve" => await Serve.RunAsync(options),
    "fanout" => await Fanout.RunAsync(options),
    "offline" => await Offline.RunAsync(options),
    "cluster" => await CrossServers.RunAsync(options),
    "cluster-curve" => await ClusterCurve.RunAsync(options),
    "cluster-report" => Report.WriteCluster(options),
    "load" => await Suite.LoadAsync(options),
    "cold" => await Suite.ColdAsync(options),
    "produce" => await Serve.ProduceAsync(options),
    _ => Usage(args[0]),
};

static int Usage(string mode)
{
    Console.Error.WriteLine("unknown mode " + mode + "; use suite, fanout, offline, cluster, cluster-curve, report, cluster-report, serve, load, cold or produce");
    return 2;
}
