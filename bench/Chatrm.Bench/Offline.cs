using System.Diagnostics;
using System.Text.Json;

namespace Chatrm.Bench;

public sealed class OfflineSettings
{
    /// <summary>Users that are sent messages while away; each has a sender of its own.</summary>
    public int Users { get; set; } = 50;
    public int MessagesPerUser { get; set; } = 2000;
    public int PayloadBytes { get; set; } = 64;

    /// <summary>Messages a sender may have out whose storing it has not heard of yet.</summary>
    public int Window { get; set; } = 256;

    /// <summary>How long a phase may take before the run fails: the load stays bounded in time too.</summary>
    public double LimitSeconds { get; set; } = 60;
}

/// <summary>What one offline run measured: storing every user's messages, then the users draining them.</summary>
public sealed class OfflineResult
{
    public long Sent { get; set; }
    public long Stored { get; set; }
    public long Refused { get; set; }
    public double StoreSeconds { get; set; }
    public double StoredPerSecond { get; set; }

    /// <summary>From a send until its sender heard it stored.</summary>
    public double StoredP50Ms { get; set; }
    public double StoredP99Ms { get; set; }
    public double StoreServerCpuPercent { get; set; }
    public double StoreClientCpuPercent { get; set; }
    public double StoreOtherCpuPercent { get; set; }

    /// <summary>The store's folder after storing, in bytes: what the messages took on disk.</summary>
    public long StoreBytesOnDisk { get; set; }

    public long Drained { get; set; }
    public double DrainSeconds { get; set; }
    public double DrainedPerSecond { get; set; }
    public double DrainServerCpuPercent { get; set; }
    public double DrainClientCpuPercent { get; set; }
    public double DrainOtherCpuPercent { get; set; }

    /// <summary>
    /// From the drain's start until the server showed it had every ack (Chatrm: each sender's receipt;
    /// JetStream: every consumer with nothing pending or unacked); null when it never did within the limit.
    /// </summary>
    public double? ConfirmedSeconds { get; set; }
    public long Confirmed { get; set; }

    public long Lost { get; set; }
    public long Duplicated { get; set; }
    public long Reordered { get; set; }
    public long Errors { get; set; }
    public string FirstError { get; set; }
}

public sealed class OfflineRecord
{
    public string Target { get; set; }
    public int Round { get; set; }
    public string ServerVersion { get; set; }
    public OfflineResult Result { get; set; }
    public string Failure { get; set; }
}

public sealed class OfflineResults
{
    public DateTime StartedUtc { get; set; }
    public double Seconds { get; set; }
    public OfflineSettings Settings { get; set; }
    public int Rounds { get; set; }
    public List<string> Targets { get; set; } = new List<string>();
    public Dictionary<string, string> Skipped { get; set; } = new Dictionary<string, string>();
    public Dictionary<string, string> Versions { get; set; } = new Dictionary<string, string>();
    public List<OfflineRecord> Runs { get; set; } = new List<OfflineRecord>();
}

/// <summary>One away user and its sender: what was sent, stored, drained, in which order. Counters have one writer each.</summary>
public sealed class OfflineUser
{
    private readonly bool[] _seen;
    private readonly long[] _sentAt;
    private TaskCompletionSource _credit;
    private int _waiting;
    private long _errors;
    private string _firstError;

    public OfflineUser(int index, string prefix, int messages)
    {
        Index = index;
        SenderName = "so" + prefix + index;
        RecipientName = "ro" + prefix + index;
        _seen = new bool[messages + 1];
        _sentAt = new long[messages + 1];
    }

    public int Index { get; }
    public string SenderName { get; }
    public string RecipientName { get; }

    /// <summary>Sender's side: sent; stored or refused (each counts against the window once its fate is heard).</summary>
    public long Sent;
    public long Stored;
    public long Refused;

    /// <summary>Acks the server showed it has (receipts, or a consumer's state).</summary>
    public long Confirmed;

    /// <summary>Recipient's side, while draining.</summary>
    public long Received;
    public long Unique;
    public long Duplicates;
    public long Reordered;
    public long MaxSequence;
    public readonly TaskCompletionSource AllReceived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>From a message's send until its sender heard it stored; one writer, the sender's reader.</summary>
    public readonly Histogram StoredLatency = new Histogram();

    public long Errors => Interlocked.Read(ref _errors);
    public string FirstError => Volatile.Read(ref _firstError);
    public long Heard => Interlocked.Read(ref Stored) + Interlocked.Read(ref Refused);

    public void Error(string what)
    {
        Interlocked.Increment(ref _errors);
        Interlocked.CompareExchange(ref _firstError, RecipientName + ": " + what, null);
    }

    /// <summary>A stored message reached the recipient: in order, once, undamaged.</summary>
    public void OnMessage(ReadOnlySpan<byte> payload, int payloadBytes)
    {
        Received++;
        if (payload.Length != payloadBytes || !Payload.TryRead(payload, out long sequence, out _) || sequence <= 0 || sequence >= _seen.Length)
        {
            Error("a message arrived damaged: " + Wire.Text(payload));
            return;
        }

        if (_seen[sequence])
        {
            Duplicates++;
            return;
        }

        _seen[sequence] = true;
        Unique++;
        if (sequence < MaxSequence) Reordered++;
        else MaxSequence = sequence;
        if (Unique == Volatile.Read(ref Stored)) AllReceived.TrySetResult();
    }

    /// <summary>Before the drain: a user none of whose messages were stored has nothing to wait for.</summary>
    public void BeginDrain()
    {
        if (Volatile.Read(ref Stored) == 0) AllReceived.TrySetResult();
    }

    public void MarkSent(long sequence, long timestamp)
    {
        if (sequence > 0 && sequence < _sentAt.Length) _sentAt[sequence] = timestamp;
    }

    /// <summary>A message's fate heard at <paramref name="now"/>; its sequence, when the answer names it, times it.</summary>
    public void OnFate(bool stored, long sequence = 0, long now = 0)
    {
        if (stored && sequence > 0 && sequence < _sentAt.Length && _sentAt[sequence] != 0) StoredLatency.RecordTicks(now - _sentAt[sequence]);
        if (stored) Interlocked.Increment(ref Stored);
        else Interlocked.Increment(ref Refused);
        Wake();
    }

    public void Wake()
    {
        if (Volatile.Read(ref _waiting) == 1 && Interlocked.Exchange(ref _waiting, 0) == 1) _credit.TrySetResult();
    }

    /// <summary>The sender waits until fewer than <paramref name="window"/> of its messages have no fate yet.</summary>
    public Task WaitForCreditAsync(int window)
    {
        _credit = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _waiting, 1);
        if (Volatile.Read(ref Sent) - Heard < window)
        {
            Interlocked.Exchange(ref _waiting, 0);
            return Task.CompletedTask;
        }

        return _credit.Task;
    }
}

/// <summary>
/// One server's side of the offline workload: make the users known, store their messages while they are away,
/// let them connect and drain with acks, then see the server has every ack.
/// </summary>
public abstract class OfflineClient : IAsyncDisposable
{
    protected OfflineClient(ServerProcess server, OfflineSettings settings, IReadOnlyList<OfflineUser> users)
    {
        Server = server;
        Settings = settings;
        Users = users;
    }

    protected ServerProcess Server { get; }
    protected OfflineSettings Settings { get; }
    protected IReadOnlyList<OfflineUser> Users { get; }

    /// <summary>Every user known to the server and away, every sender connected: not timed.</summary>
    public abstract Task PrepareAsync(CancellationToken cancellationToken);

    /// <summary>Every sender sends its messages, a window at a time; returns when each has heard every fate.</summary>
    public abstract Task StoreAsync(CancellationToken cancellationToken);

    /// <summary>Every user connects and takes its messages, acking them; returns when all arrived.</summary>
    public abstract Task DrainAsync(CancellationToken cancellationToken);

    /// <summary>Returns when the server shows it has every ack.</summary>
    public abstract Task ConfirmAsync(CancellationToken cancellationToken);

    public abstract ValueTask DisposeAsync();
}

/// <summary>
/// The offline workload of issue 16: messages to users that are away, stored; then the users connect and drain
/// them. Chatrm native with a store file against NATS JetStream with file storage, in interleaved rounds, one
/// fresh server each run.
/// </summary>
public static class Offline
{
    /// <summary>What runs by default: Chatrm with a store file, and JetStream.</summary>
    public static readonly string[] DefaultTargets = { Targets.ChatrmNativeStore, Targets.JetStream, Targets.JetStreamWire };

    /// <summary>Also Chatrm's default server, whose store is in memory: what the file costs.</summary>
    public static readonly string[] AllTargets = { Targets.ChatrmNativeStore, Targets.ChatrmNative, Targets.JetStream, Targets.JetStreamWire };

    public static async Task<int> RunAsync(Options options)
    {
        bool smoke = options.Flag("smoke");
        Proc.RaiseOpenFileLimit();
        string priority = Suite.RaisePriority(options.Get("priority", "normal"));
        var settings = new OfflineSettings
        {
            Users = options.Int("users", smoke ? 4 : 50),
            MessagesPerUser = options.Int("messages", smoke ? 500 : 2000),
            PayloadBytes = Math.Max(Payload.MinSize, options.Int("size", 64)),
            Window = options.Int("window", 256),
            LimitSeconds = options.Double("limit", smoke ? 20 : 60),
        };
        int rounds = options.Int("rounds", smoke ? 1 : 3);
        string[] wanted = (options.Get("targets") ?? string.Join(",", DefaultTargets)).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        string resultsPath = options.Get("results", "out/bench/offline.json");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(resultsPath)));
        var results = new OfflineResults { StartedUtc = DateTime.UtcNow, Settings = settings, Rounds = rounds };
        foreach (string target in wanted)
        {
            if (!AllTargets.Contains(target)) throw new ArgumentException("unknown target " + target + "; known: " + string.Join(", ", AllTargets));
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

        Console.WriteLine($"offline: {settings.Users} away users, {settings.MessagesPerUser:N0} messages each ({settings.PayloadBytes} bytes), " +
            $"{settings.Window} unconfirmed per sender; {rounds} round(s) of {string.Join(", ", results.Targets)}; priority {priority}");
        var clock = Stopwatch.StartNew();
        bool failed = false;
        for (int round = 1; round <= rounds; round++)
        {
            int n = results.Targets.Count;
            for (int k = 0; k < n; k++)
            {
                string target = results.Targets[(k + round - 1) % n];
                OfflineRecord record = await RunOneAsync(target, round, settings);
                results.Runs.Add(record);
                if (record.ServerVersion != null) results.Versions[target] = record.ServerVersion;
                OfflineResult r = record.Result;
                failed |= record.Failure != null || r == null || r.Lost + r.Duplicated + r.Reordered + r.Errors > 0;
                results.Seconds = clock.Elapsed.TotalSeconds;
                await File.WriteAllTextAsync(resultsPath, JsonSerializer.Serialize(results, Suite.Json));
            }
        }

        Console.WriteLine($"results in {resultsPath} after {clock.Elapsed.TotalSeconds:0} s");
        return failed ? 1 : 0;
    }

    private static async Task<OfflineRecord> RunOneAsync(string target, int round, OfflineSettings settings)
    {
        var record = new OfflineRecord { Target = target, Round = round };
        Console.WriteLine($"round {round}: {target}");
        try
        {
            using ServerProcess server = await ServerProcess.StartAsync(target, 2 * settings.Users + 200);
            record.ServerVersion = server.Version;
            var users = Enumerable.Range(1, settings.Users).Select(i => new OfflineUser(i, "r" + round, settings.MessagesPerUser)).ToList();
            await using OfflineClient client = target switch
            {
                Targets.JetStream => new JetStreamOffline(server, settings, users),
                Targets.JetStreamWire => new JetStreamWireOffline(server, settings, users),
                _ => new ChatrmOffline(server, settings, users),
            };
            record.Result = await MeasureAsync(client, server, settings, users);
            Print(record.Result);
        }
        catch (Exception e)
        {
            record.Failure = e.GetType().Name + ": " + e.Message;
            Console.WriteLine("  failed: " + record.Failure);
        }

        return record;
    }

    private static async Task<OfflineResult> MeasureAsync(OfflineClient client, ServerProcess server, OfflineSettings settings, List<OfflineUser> users)
    {
        var limit = TimeSpan.FromSeconds(settings.LimitSeconds);
        var result = new OfflineResult();
        using (var cts = new CancellationTokenSource(limit)) await Phase("preparing", client.PrepareAsync(cts.Token), limit);

        var store = await Timed(server.Pid, () => Phase("storing", client.StoreAsync(CancellationToken.None), limit));
        result.StoreSeconds = store.Seconds;
        result.StoreServerCpuPercent = store.ServerCpu;
        result.StoreClientCpuPercent = store.ClientCpu;
        result.StoreOtherCpuPercent = store.OtherCpu;
        result.Sent = users.Sum(u => u.Sent);
        result.Stored = users.Sum(u => u.Stored);
        result.Refused = users.Sum(u => u.Refused);
        result.StoredPerSecond = result.Stored / store.Seconds;
        var latency = new Histogram();
        foreach (OfflineUser user in users) latency.Add(user.StoredLatency);
        result.StoredP50Ms = latency.PercentileMs(0.50);
        result.StoredP99Ms = latency.PercentileMs(0.99);
        result.StoreBytesOnDisk = server.StoreBytesOnDisk();

        var drainClock = Stopwatch.StartNew();
        using var drainCts = new CancellationTokenSource(limit);
        var drain = await Timed(server.Pid, () => Phase("draining", client.DrainAsync(drainCts.Token), limit));
        result.DrainSeconds = drain.Seconds;
        result.DrainServerCpuPercent = drain.ServerCpu;
        result.DrainClientCpuPercent = drain.ClientCpu;
        result.DrainOtherCpuPercent = drain.OtherCpu;
        result.Drained = users.Sum(u => u.Unique);
        result.DrainedPerSecond = result.Drained / drain.Seconds;

        using (var confirmCts = new CancellationTokenSource(limit))
        {
            try
            {
                await client.ConfirmAsync(confirmCts.Token);
                result.ConfirmedSeconds = drainClock.Elapsed.TotalSeconds;
            }
            catch (OperationCanceledException)
            {
                users[0].Error($"the server did not show every ack within {limit.TotalSeconds:0} s");
            }
        }

        result.Confirmed = users.Sum(u => Interlocked.Read(ref u.Confirmed));
        result.Lost = users.Sum(u => Math.Max(0, u.Stored - u.Unique));
        result.Duplicated = users.Sum(u => u.Duplicates);
        result.Reordered = users.Sum(u => u.Reordered);
        result.Errors = users.Sum(u => u.Errors);
        result.FirstError = users.Select(u => u.FirstError).FirstOrDefault(e => e != null);
        return result;
    }

    /// <summary>A phase that must end within the limit; a run that hangs fails rather than waits.</summary>
    private static async Task Phase(string what, Task phase, TimeSpan limit)
    {
        try
        {
            await phase.WaitAsync(limit);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"{what} took longer than {limit.TotalSeconds:0} s");
        }
    }

    private static async Task<(double Seconds, double ServerCpu, double ClientCpu, double OtherCpu)> Timed(int serverPid, Func<Task> phase)
    {
        double server0 = Proc.CpuSeconds(serverPid), client0 = Proc.CpuSeconds(Environment.ProcessId), machine0 = Proc.MachineBusySeconds();
        var clock = Stopwatch.StartNew();
        await phase();
        double seconds = clock.Elapsed.TotalSeconds;
        double server = Proc.CpuSeconds(serverPid) - server0, client = Proc.CpuSeconds(Environment.ProcessId) - client0;
        double other = Proc.MachineBusySeconds() - machine0 - server - client;
        return (seconds, 100 * server / seconds, 100 * client / seconds, Math.Max(0, 100 * other / seconds));
    }

    private static void Print(OfflineResult r) =>
        Console.WriteLine($"  stored {r.StoredPerSecond,10:N0} msg/s ({r.Stored:N0} in {r.StoreSeconds:0.000} s, p50 {r.StoredP50Ms:0.00} p99 {r.StoredP99Ms:0.00} ms, server CPU {r.StoreServerCpuPercent:0}% client {r.StoreClientCpuPercent:0}% other {r.StoreOtherCpuPercent:0}%, {r.StoreBytesOnDisk / 1048576.0:0.0} MiB on disk)" +
            $"  drained {r.DrainedPerSecond,10:N0} msg/s ({r.Drained:N0} in {r.DrainSeconds:0.000} s, server CPU {r.DrainServerCpuPercent:0}% client {r.DrainClientCpuPercent:0}% other {r.DrainOtherCpuPercent:0}%)" +
            $"  every ack shown after {(r.ConfirmedSeconds.HasValue ? r.ConfirmedSeconds.Value.ToString("0.000") + " s" : "never")} ({r.Confirmed:N0})" +
            $"  sent {r.Sent} refused {r.Refused} lost {r.Lost} dup {r.Duplicated} reordered {r.Reordered} errors {r.Errors}" +
            (r.FirstError != null ? $" ({r.FirstError})" : string.Empty));
}
