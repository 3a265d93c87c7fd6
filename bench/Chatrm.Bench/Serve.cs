using System.Diagnostics;
using System.Net;
using System.Runtime;
using Chatrm.Engine;

namespace Chatrm.Bench;

/// <summary>The Chatrm server under test, and the producer that fills a PowerShell user's inbox.</summary>
public static class Serve
{
    /// <summary>
    /// Hosts a ChatServer with the defaults Start-ChatrmServer uses (a store in memory, history on); --store PATH
    /// keeps messages in that file instead, and --no-history keeps no history. --cluster nats://host:port (with
    /// --node-name NAME) makes it a server of a cluster that shares that NATS system (Chatrm.Cluster): its users
    /// reach the users of the other servers. Stdin takes commands: "gc" collects fully and answers "MEM rss managed";
    /// "quit" or the end of stdin (the parent is gone) stops the server.
    /// </summary>
    public static async Task<int> RunAsync(Options options)
    {
        string store = options.Get("store");
        var serverOptions = new ServerOptions
        {
            Address = IPAddress.Loopback,
            Port = options.Int("port", 0),
            StorePath = store == null ? null : Path.GetFullPath(store),
            KeepHistory = !options.Flag("no-history"),
        };
        string cluster = options.Get("cluster");
        Chatrm.Cluster.ClusterNode node = null;
        if (cluster != null)
        {
            var join = new Chatrm.Cluster.ClusterOptions { NodeName = options.Get("node-name") };
            foreach (string url in cluster.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)) join.Urls.Add(url);
            node = await Chatrm.Cluster.ClusterNode.JoinAsync(join);
        }

        ChatServer server = node != null ? node.CreateServer(serverOptions) : new ChatServer(serverOptions);
        server.Start();
        Console.WriteLine("LISTENING " + server.LocalEndPoint.Port);
        Console.Out.Flush();
        while (true)
        {
            string command = await Console.In.ReadLineAsync();
            if (command == null || command == "quit") break;
            if (command == "gc")
            {
                GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
                GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
                GC.WaitForPendingFinalizers();
                GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
                long managed = GC.GetTotalMemory(forceFullCollection: false);
                Console.WriteLine($"MEM {Proc.RssBytes(Environment.ProcessId)} {managed}");
                Console.Out.Flush();
            }
        }

        await server.StopAsync().WaitAsync(TimeSpan.FromSeconds(10));
        if (node != null) await node.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        return 0;
    }

    /// <summary>
    /// Sends --count messages to --to over the native protocol, at most --window unconfirmed at a time (so the
    /// recipient's inbox fills as fast as its client takes them, and no queue overflows), then exits.
    /// </summary>
    public static async Task<int> ProduceAsync(Options options)
    {
        var endPoint = new IPEndPoint(IPAddress.Loopback, options.Int("port", 0));
        long count = options.Int("count", 100_000);
        var settings = new LoadSettings { Window = options.Int("window", 256), PayloadBytes = options.Int("size", 64) };
        var wire = new NativeWire();
        var run = new LoadRun(wire, endPoint, settings, "p", 0);
        var pair = new Pair(run, 1, options.Get("from", "producer"), options.Get("to", "psuser"));
        wire.Prepare(pair, settings.PayloadBytes);
        using Conn conn = await Conn.ConnectAsync(endPoint, 64 * 1024, CancellationToken.None);
        pair.Sender = conn;
        await wire.OpenSenderAsync(conn, pair.SenderName);
        var clock = Stopwatch.StartNew();
        var reader = Task.Run(async () =>
        {
            var reply = new Outbox();
            while (Interlocked.Read(ref pair.Completed) < count)
            {
                if (conn.Buffered > 0)
                {
                    reply.Clear();
                    conn.Consume(wire.ParseSender(conn.Data, pair, Stopwatch.GetTimestamp(), reply));
                    pair.Publish(pair.Confirmed);
                    if (reply.Length > 0) await conn.SendAsync(reply.Memory);
                    continue;
                }

                if (!await conn.FillAsync()) break;
            }

            pair.Wake();
        });

        var buffer = new byte[wire.MaxMessageBytes(pair, settings.PayloadBytes) * settings.Window];
        while (pair.Sent < count && !reader.IsCompleted)
        {
            long credit = Math.Min(count - pair.Sent, settings.Window - (pair.Sent - Interlocked.Read(ref pair.Completed)));
            if (credit <= 0)
            {
                await pair.WaitForCreditAsync().WaitAsync(TimeSpan.FromSeconds(30));
                continue;
            }

            int length = 0;
            long timestamp = Stopwatch.GetTimestamp();
            for (long s = pair.Sent + 1; s <= pair.Sent + credit; s++) length += wire.WriteMessage(buffer.AsSpan(length), pair, s, timestamp, settings.PayloadBytes);
            pair.Sent += credit;
            await conn.SendAsync(buffer.AsMemory(0, length));
        }

        await reader.WaitAsync(TimeSpan.FromSeconds(60));
        Console.WriteLine($"produced {pair.Completed} confirmed of {count} in {clock.Elapsed.TotalSeconds:0.000} s; errors {pair.Errors} {pair.FirstError}");
        return pair.Errors == 0 && pair.Completed == count ? 0 : 1;
    }
}
