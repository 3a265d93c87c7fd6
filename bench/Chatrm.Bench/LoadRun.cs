using System.Diagnostics;
using System.Net;

namespace Chatrm.Bench;

public sealed class LoadSettings
{
    public int Pairs { get; set; } = 50;
    public int PayloadBytes { get; set; } = 64;
    public int Window { get; set; } = 64;
    public double WarmupSeconds { get; set; } = 2;
    public double DurationSeconds { get; set; } = 10;
    public double DrainSeconds { get; set; } = 10;

    /// <summary>
    /// A cold run when above 0: no warm-up, the clock starts as the senders start and stops when this many
    /// messages have arrived (or, at the latest, after <see cref="DurationSeconds"/>).
    /// </summary>
    public long FirstMessages { get; set; }
}

/// <summary>What one timed load run measured.</summary>
public sealed class LoadResult
{
    public double MessagesPerSecond { get; set; }
    public double P50Ms { get; set; }
    public double P99Ms { get; set; }
    public double P999Ms { get; set; }
    public double MaxMs { get; set; }

    /// <summary>Native Chatrm: from send to the sender hearing "delivered".</summary>
    public double? DeliveredP50Ms { get; set; }
    public double? DeliveredP99Ms { get; set; }
    public double? DeliveredP999Ms { get; set; }
    public double? DeliveredPerSecond { get; set; }

    public long Sent { get; set; }
    public long Received { get; set; }
    public long Lost { get; set; }
    public long Duplicated { get; set; }
    public long Reordered { get; set; }
    public long Errors { get; set; }
    public string FirstError { get; set; }
    public double MeasuredSeconds { get; set; }

    /// <summary>Server CPU in the measured window, in percent of one core (200 is both cores of this machine).</summary>
    public double ServerCpuPercent { get; set; }
    public double ClientCpuPercent { get; set; }

    /// <summary>CPU used on the machine by everything but this server and this client, in percent of one core.</summary>
    public double OtherCpuPercent { get; set; }
    public long ServerRssBytes { get; set; }

    /// <summary>
    /// CPU of the processes the servers lean on (a cluster's nats-server), in the same window and unit, apart from
    /// <see cref="ServerCpuPercent"/>; null when there are none.
    /// </summary>
    public double? BackendCpuPercent { get; set; }
}

/// <summary>
/// The workload: N sender→receiver pairs, each sender keeping at most Window messages in flight (sent and not yet
/// received, or for native Chatrm not yet confirmed delivered), for a warm-up and then a measured time.
/// A sender whose window has room writes everything it may send in one write, as a buffered client does.
/// </summary>
public sealed class LoadRun
{
    private readonly Wire _wire;
    private readonly IPEndPoint _endPoint;
    private readonly LoadSettings _settings;
    private readonly string _prefix;
    private readonly int _serverPid;
    private readonly List<Pair> _pairs = new List<Pair>();
    private volatile Phase _phase;

    public LoadRun(Wire wire, IPEndPoint endPoint, LoadSettings settings, string prefix, int serverPid)
    {
        _wire = wire;
        _endPoint = endPoint;
        _settings = settings;
        _prefix = prefix;
        _serverPid = serverPid;
    }

    /// <summary>
    /// Where a pair's sender and its receiver connect, when not both to the one endpoint: servers of a cluster,
    /// with the two on different ones.
    /// </summary>
    public Func<Pair, (IPEndPoint Sender, IPEndPoint Receiver)> Placement { get; init; }

    /// <summary>
    /// Awaited once every user is connected and before the first message: a cluster's servers must all see every
    /// user first, or a message to a user on another server is refused as unknown.
    /// </summary>
    public Func<IReadOnlyList<Pair>, Task> BeforeSending { get; init; }

    /// <summary>More server processes whose CPU and memory count as the server's: a cluster's other members.</summary>
    public int[] MoreServerPids { get; init; } = Array.Empty<int>();

    /// <summary>Processes the servers lean on, measured apart (<see cref="LoadResult.BackendCpuPercent"/>): a cluster's NATS.</summary>
    public int[] BackendPids { get; init; } = Array.Empty<int>();

    public Phase Phase => _phase;

    public int Window => _settings.Window;

    public int PayloadBytes => _settings.PayloadBytes;

    public async Task<LoadResult> RunAsync()
    {
        for (int i = 1; i <= _settings.Pairs; i++)
        {
            var pair = new Pair(this, i, _prefix);
            _wire.Prepare(pair, _settings.PayloadBytes);
            _pairs.Add(pair);
        }

        var loops = new List<Task>();
        try
        {
            // Receivers first, so no message goes to someone not there yet.
            await Task.WhenAll(_pairs.Select(async p =>
            {
                p.Receiver = await Conn.ConnectAsync(Placement?.Invoke(p).Receiver ?? _endPoint, 64 * 1024, CancellationToken.None);
                await _wire.OpenReceiverAsync(p.Receiver, p.ReceiverName);
            }));
            await Task.WhenAll(_pairs.Select(async p =>
            {
                p.Sender = await Conn.ConnectAsync(Placement?.Invoke(p).Sender ?? _endPoint, 64 * 1024, CancellationToken.None);
                await _wire.OpenSenderAsync(p.Sender, p.SenderName);
            }));
            if (BeforeSending != null) await BeforeSending(_pairs);

            bool cold = _settings.FirstMessages > 0;
            double serverCpu0 = 0, clientCpu0 = 0, machineCpu0 = 0, backendCpu0 = 0;
            Stopwatch clock = null;
            if (cold)
            {
                // From the first message on: what a server does before it is warm is what this measures.
                serverCpu0 = ServerCpuSeconds();
                backendCpu0 = BackendPids.Sum(Proc.CpuSeconds);
                clientCpu0 = Proc.CpuSeconds(Environment.ProcessId);
                machineCpu0 = Proc.MachineBusySeconds();
                clock = Stopwatch.StartNew();
                _phase = Phase.Measure;
            }

            foreach (Pair pair in _pairs)
            {
                loops.Add(Task.Run(() => ReadLoopAsync(pair, receiver: true)));
                loops.Add(Task.Run(() => ReadLoopAsync(pair, receiver: false)));
                loops.Add(Task.Run(() => SendLoopAsync(pair)));
            }

            double seconds;
            if (cold)
            {
                // Polled every millisecond or so: at a million messages a second, a thousandth of the figure.
                var limit = TimeSpan.FromSeconds(_settings.DurationSeconds);
                while (Arrived() < _settings.FirstMessages && clock.Elapsed < limit && !loops.Any(t => t.IsCompleted))
                {
                    await Task.Delay(1);
                }

                seconds = clock.Elapsed.TotalSeconds;
                _phase = Phase.Drain;
            }
            else
            {
                await Task.Delay(TimeSpan.FromSeconds(_settings.WarmupSeconds));
                serverCpu0 = ServerCpuSeconds();
                backendCpu0 = BackendPids.Sum(Proc.CpuSeconds);
                clientCpu0 = Proc.CpuSeconds(Environment.ProcessId);
                machineCpu0 = Proc.MachineBusySeconds();
                clock = Stopwatch.StartNew();
                _phase = Phase.Measure;
                await Task.Delay(TimeSpan.FromSeconds(_settings.DurationSeconds));
                _phase = Phase.Drain;
                seconds = clock.Elapsed.TotalSeconds;
            }

            double serverCpu = ServerCpuSeconds() - serverCpu0;
            double backendCpu = BackendPids.Sum(Proc.CpuSeconds) - backendCpu0;
            double clientCpu = Proc.CpuSeconds(Environment.ProcessId) - clientCpu0;
            double otherCpu = Proc.MachineBusySeconds() - machineCpu0 - serverCpu - backendCpu - clientCpu;
            long serverRss = Proc.RssBytes(_serverPid) + MoreServerPids.Sum(Proc.RssBytes);
            foreach (Pair pair in _pairs) pair.Wake();

            // Let every message in flight land, so what is missing is really lost.
            var drain = Stopwatch.StartNew();
            while (drain.Elapsed.TotalSeconds < _settings.DrainSeconds && !Drained())
            {
                await Task.Delay(20);
            }

            LoadResult result = Summarise(seconds, serverCpu, clientCpu, serverRss);
            result.OtherCpuPercent = Math.Max(0, 100 * otherCpu / seconds);
            if (BackendPids.Length > 0) result.BackendCpuPercent = 100 * backendCpu / seconds;
            return result;
        }
        finally
        {
            _phase = Phase.Drain;
            foreach (Pair pair in _pairs)
            {
                pair.Wake();
                pair.Sender?.Dispose();
                pair.Receiver?.Dispose();
            }

            try { await Task.WhenAll(loops).WaitAsync(TimeSpan.FromSeconds(10)); }
            catch (Exception) { }
        }
    }

    private double ServerCpuSeconds() => Proc.CpuSeconds(_serverPid) + MoreServerPids.Sum(Proc.CpuSeconds);

    /// <summary>Messages that arrived while measuring, over every pair (each count has one writer).</summary>
    private long Arrived()
    {
        long sum = 0;
        foreach (Pair pair in _pairs) sum += Volatile.Read(ref pair.MeasuredReceived);
        return sum;
    }

    private bool Drained()
    {
        foreach (Pair pair in _pairs)
        {
            long sent = Volatile.Read(ref pair.Sent);
            if (Interlocked.Read(ref pair.Completed) < sent) return false;
            if (_wire.ConfirmsDelivery && Volatile.Read(ref pair.Unique) < sent) return false;
        }

        return true;
    }

    private LoadResult Summarise(double seconds, double serverCpu, double clientCpu, long serverRss)
    {
        var latency = new Histogram();
        var delivered = new Histogram();
        var result = new LoadResult { MeasuredSeconds = seconds, ServerRssBytes = serverRss };
        long measured = 0;
        long confirmedInWindow = 0;
        foreach (Pair pair in _pairs)
        {
            latency.Add(pair.Latency);
            delivered.Add(pair.DeliveredLatency);
            measured += pair.MeasuredReceived;
            confirmedInWindow += pair.DeliveredLatency.Count;
            result.Sent += pair.Sent;
            result.Received += pair.Unique;
            result.Lost += Math.Max(0, pair.Sent - pair.Unique);
            result.Duplicated += pair.Duplicates;
            result.Reordered += pair.Reordered;
            result.Errors += pair.Errors;
            result.FirstError ??= pair.FirstError;
        }

        result.MessagesPerSecond = measured / seconds;
        result.P50Ms = latency.PercentileMs(0.50);
        result.P99Ms = latency.PercentileMs(0.99);
        result.P999Ms = latency.PercentileMs(0.999);
        result.MaxMs = latency.Max / 1000.0;
        if (_wire.ConfirmsDelivery)
        {
            result.DeliveredP50Ms = delivered.PercentileMs(0.50);
            result.DeliveredP99Ms = delivered.PercentileMs(0.99);
            result.DeliveredP999Ms = delivered.PercentileMs(0.999);
            result.DeliveredPerSecond = confirmedInWindow / seconds;
        }

        result.ServerCpuPercent = 100 * serverCpu / seconds;
        result.ClientCpuPercent = 100 * clientCpu / seconds;
        return result;
    }

    /// <summary>
    /// Reads what the server sends to one side of a pair: the receiver's messages, or the sender's replies. The
    /// window counts what the receiver got, or, where the server confirms delivery, what the sender heard confirmed.
    /// </summary>
    private async Task ReadLoopAsync(Pair pair, bool receiver)
    {
        Conn conn = receiver ? pair.Receiver : pair.Sender;
        bool countsForWindow = receiver != _wire.ConfirmsDelivery;
        var reply = new Outbox();
        try
        {
            while (true)
            {
                if (conn.Buffered > 0)
                {
                    long now = Stopwatch.GetTimestamp();
                    reply.Clear();
                    conn.Consume(receiver ? _wire.ParseReceiver(conn.Data, pair, now, reply) : _wire.ParseSender(conn.Data, pair, now, reply));
                    if (countsForWindow) pair.Publish(receiver ? pair.Received : pair.Confirmed);
                    if (reply.Length > 0) await conn.SendAsync(reply.Memory);
                }

                if (!await conn.FillAsync()) break;
            }
        }
        catch (Exception e) when (e is IOException || e is System.Net.Sockets.SocketException || e is ObjectDisposedException || e is OperationCanceledException)
        {
        }

        if (_phase != Phase.Drain) pair.Error((receiver ? "receiver" : "sender") + ": the server closed the connection");
    }

    private async Task SendLoopAsync(Pair pair)
    {
        int payload = _settings.PayloadBytes;
        int window = _settings.Window;
        var buffer = new byte[_wire.MaxMessageBytes(pair, payload) * window];
        try
        {
            while (_phase != Phase.Drain)
            {
                long credit = window - (pair.Sent - Interlocked.Read(ref pair.Completed));
                if (credit <= 0)
                {
                    await pair.WaitForCreditAsync();
                    continue;
                }

                long timestamp = Stopwatch.GetTimestamp();
                long first = pair.Sent + 1;
                int length = 0;
                for (long sequence = first; sequence < first + credit; sequence++)
                {
                    length += _wire.WriteMessage(buffer.AsSpan(length), pair, sequence, timestamp, payload);
                }

                Volatile.Write(ref pair.Sent, pair.Sent + credit);
                await pair.Sender.SendAsync(buffer.AsMemory(0, length));
            }
        }
        catch (Exception e) when (e is IOException || e is System.Net.Sockets.SocketException || e is ObjectDisposedException)
        {
            if (_phase != Phase.Drain) pair.Error("sender: " + e.Message);
        }
    }
}
