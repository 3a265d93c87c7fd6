using System.Diagnostics;
using System.Net;
using System.Text.Json;

namespace Chatrm.Bench;

/// <summary>A fan-out shape: so many rooms of so many members, one sender per room with a window of posts.</summary>
public sealed class FanoutShape
{
    public string Name { get; set; }
    public int Rooms { get; set; }
    public int Members { get; set; }

    /// <summary>Posts a room's sender may have out that not every member has yet (counted in deliveries: Window × Members).</summary>
    public int Window { get; set; }

    public override string ToString() => $"{Name}: {Rooms:N0} room(s) × {Members} members, window {Window}";
}

public sealed class FanoutSettings
{
    public int PayloadBytes { get; set; } = 64;
    public double WarmupSeconds { get; set; } = 2;
    public double DurationSeconds { get; set; } = 8;
    public double DrainSeconds { get; set; } = 10;
}

/// <summary>What one fan-out run measured.</summary>
public sealed class FanoutResult
{
    public double DeliveriesPerSecond { get; set; }
    public double PostsPerSecond { get; set; }
    public double P50Ms { get; set; }
    public double P99Ms { get; set; }
    public double P999Ms { get; set; }
    public double MaxMs { get; set; }
    public long Posted { get; set; }
    public long Delivered { get; set; }
    public long Lost { get; set; }
    public long Duplicated { get; set; }
    public long Reordered { get; set; }
    public long Errors { get; set; }
    public string FirstError { get; set; }
    public double MeasuredSeconds { get; set; }
    public double ConnectSeconds { get; set; }
    public int Connections { get; set; }
    public double ServerCpuPercent { get; set; }
    public double ClientCpuPercent { get; set; }
    public double OtherCpuPercent { get; set; }
    public long ServerRssBytes { get; set; }
}

public sealed class FanoutRecord
{
    public string Target { get; set; }
    public string Shape { get; set; }
    public int Round { get; set; }
    public string ServerVersion { get; set; }
    public FanoutResult Result { get; set; }
    public string Failure { get; set; }

    /// <summary>Why the server could not take part (a Chatrm from before rooms): not measured, and no failure.</summary>
    public string Unsupported { get; set; }
}

public sealed class FanoutResults
{
    public DateTime StartedUtc { get; set; }
    public double Seconds { get; set; }
    public FanoutSettings Settings { get; set; }
    public List<FanoutShape> Shapes { get; set; } = new List<FanoutShape>();
    public int Rounds { get; set; }
    public long OpenFileLimit { get; set; }
    public List<string> Targets { get; set; } = new List<string>();
    public Dictionary<string, string> Skipped { get; set; } = new Dictionary<string, string>();
    public Dictionary<string, string> Versions { get; set; } = new Dictionary<string, string>();
    public List<FanoutRecord> Runs { get; set; } = new List<FanoutRecord>();
}

/// <summary>One room: its sender's connection, its members, and the window between them.</summary>
public sealed class FanoutRoom
{
    private readonly FanoutRun _run;
    private TaskCompletionSource _credit;
    private int _waiting;
    private long _errors;
    private string _firstError;

    public FanoutRoom(FanoutRun run, int index, string name, string user)
    {
        _run = run;
        Index = index;
        Name = name;
        User = user;
    }

    public int Index { get; }
    public string Name { get; }
    public string User { get; }
    public Conn Sender { get; set; }
    public FanoutMember[] Members { get; set; }
    public byte[] Prefix { get; set; }
    public byte[] Suffix { get; set; }

    /// <summary>Posts sent, sequence 1 on (0 is the opening post); one writer, the room's send loop.</summary>
    public long Sent;

    /// <summary>Deliveries of this room's posts to its members, summed (every member adds its own).</summary>
    public long Delivered;

    /// <summary>Set when the server showed it has no rooms.</summary>
    public string NoRooms;

    public long Errors => Interlocked.Read(ref _errors);
    public string FirstError => Volatile.Read(ref _firstError);

    /// <summary>Whole posts the window has room for: every member has had all but Window - credit of them.</summary>
    public long Credit(int window) => ((long)window * Members.Length - (Volatile.Read(ref Sent) * Members.Length - Interlocked.Read(ref Delivered))) / Members.Length;

    public void Error(string what)
    {
        Interlocked.Increment(ref _errors);
        Interlocked.CompareExchange(ref _firstError, Name + " " + what, null);
    }

    public void OnDelivered(long count)
    {
        Interlocked.Add(ref Delivered, count);
        Wake();
    }

    public void Wake()
    {
        if (Volatile.Read(ref _waiting) == 1 && Interlocked.Exchange(ref _waiting, 0) == 1) _credit.TrySetResult();
    }

    public Task WaitForCreditAsync(int window)
    {
        _credit = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _waiting, 1);
        if (Credit(window) > 0 || _run.Phase == Phase.Drain)
        {
            Interlocked.Exchange(ref _waiting, 0);
            return Task.CompletedTask;
        }

        return _credit.Task;
    }
}

/// <summary>A member of a room: what it got, in which order, how late. One reader at a time (its read loop).</summary>
public sealed class FanoutMember
{
    private readonly FanoutRun _run;

    public FanoutMember(FanoutRun run, FanoutRoom room, string user)
    {
        _run = run;
        Room = room;
        User = user;
    }

    public FanoutRoom Room { get; }
    public string User { get; }
    public Conn Conn { get; set; }

    /// <summary>
    /// The reading thread's histogram, set before every parse: one per thread rather than per member, since
    /// 11,000 members' histograms (50 KB each) would cost the client more than their reads.
    /// </summary>
    public Histogram Latency { get; set; }

    /// <summary>The next sequence expected; 0 until the opening post arrived.</summary>
    public long Next;
    public long Unique;
    public long MeasuredReceived;
    public long Duplicated;
    public long Reordered;
    public long Gaps;
    public long Pending;
    public volatile bool Opened;

    public void OnMessage(ReadOnlySpan<byte> text, long now)
    {
        if (!Payload.TryRead(text, out long sequence, out long timestamp))
        {
            Error("a message that is not ours: " + Wire.Text(text));
            return;
        }

        if (sequence == 0)
        {
            if (Opened) Duplicated++;
            Opened = true;
            if (Next == 0) Next = 1;
            return;
        }

        // In order, every one once: a post behind the next expected one fills a gap left before (reordered, and
        // counted as received) while there are gaps, and is a duplicate otherwise.
        if (sequence < Next)
        {
            if (Gaps > Reordered)
            {
                Reordered++;
                Unique++;
                Pending++;
            }
            else
            {
                Duplicated++;
            }

            return;
        }

        if (sequence > Next) Gaps += sequence - Next;
        Next = sequence + 1;
        Unique++;
        Pending++;
        if (_run.Phase == Phase.Measure)
        {
            MeasuredReceived++;
            Latency.RecordTicks(now - timestamp);
        }
    }

    public void Error(string what) => Room.Error("member " + User + ": " + what);

    /// <summary>The server has no rooms (a classic line to a room was taken as one to a user).</summary>
    public void NoRooms(string what) => Interlocked.CompareExchange(ref Room.NoRooms, what, null);
}

/// <summary>
/// The fan-out workload: R rooms of M members and one sender each (an extra connection), 64-byte posts. Each
/// sender keeps at most Window posts out that not every member has yet, counted as deliveries (Window × M),
/// so a slow member holds its room back and the same rule paces every server. Members read with one async
/// receive each on small buffers (the runtime's socket engine waits for them all on a few threads).
/// Deliveries per second are messages members received while measuring, summed; latency is from the send
/// time written into each post's text to a member reading it.
/// </summary>
public sealed class FanoutRun
{
    private readonly FanoutWire _wire;
    private readonly IPEndPoint _endPoint;
    private readonly FanoutShape _shape;
    private readonly FanoutSettings _settings;
    private readonly int _serverPid;
    private readonly List<FanoutRoom> _rooms = new List<FanoutRoom>();
    private readonly ThreadLocal<Histogram> _latency = new ThreadLocal<Histogram>(() => new Histogram(), trackAllValues: true);
    private volatile Phase _phase;

    public FanoutRun(FanoutWire wire, IPEndPoint endPoint, FanoutShape shape, FanoutSettings settings, int serverPid)
    {
        _wire = wire;
        _endPoint = endPoint;
        _shape = shape;
        _settings = settings;
        _serverPid = serverPid;
    }

    public Phase Phase => _phase;

    public async Task<FanoutResult> RunAsync()
    {
        var result = new FanoutResult { Connections = _shape.Rooms * (_shape.Members + 1) };
        for (int r = 1; r <= _shape.Rooms; r++)
        {
            var room = new FanoutRoom(this, r, _wire.RoomName("f" + r), "s" + r);
            room.Members = Enumerable.Range(1, _shape.Members).Select(m => new FanoutMember(this, room, "m" + r + "x" + m)).ToArray();
            (room.Prefix, room.Suffix) = _wire.Frame(room.User, room.Name, _settings.PayloadBytes);
            _rooms.Add(room);
        }

        var loops = new List<Task>();
        var allMembers = _rooms.SelectMany(r => r.Members).ToList();
        try
        {
            // Members first, a bounded number of handshakes at a time, then the senders.
            var connect = Stopwatch.StartNew();
            await Bounded(allMembers, 128, async m =>
            {
                m.Conn = await Conn.ConnectAsync(_endPoint, 2048, CancellationToken.None);
                await _wire.OpenMemberAsync(m.Conn, m.User, m.Room.Name);
            });
            foreach (FanoutMember m in allMembers) loops.Add(Task.Run(() => MemberLoopAsync(m)));
            await Bounded(_rooms, 128, async r =>
            {
                r.Sender = await Conn.ConnectAsync(_endPoint, 4096, CancellationToken.None);
                await _wire.OpenSenderAsync(r.Sender, r.User, r.Name);
            });
            foreach (FanoutRoom r in _rooms) loops.Add(Task.Run(() => SenderReadLoopAsync(r)));

            // The opening post (sequence 0) of every room: once every member has it, every member is in.
            await Bounded(_rooms, 128, async r =>
            {
                var buffer = new byte[r.Prefix.Length + _settings.PayloadBytes + r.Suffix.Length];
                await r.Sender.SendAsync(buffer.AsMemory(0, Write(buffer, r, 0, Stopwatch.GetTimestamp())));
            });
            var opening = Stopwatch.StartNew();
            while (allMembers.Any(m => !m.Opened))
            {
                string noRooms = _rooms.Select(r => Volatile.Read(ref r.NoRooms)).FirstOrDefault(e => e != null);
                if (noRooms != null) throw new NoRoomsException(noRooms);
                string refused = _rooms.Select(r => r.FirstError).FirstOrDefault(e => e != null);
                if (refused != null) throw new IOException("before the first post: " + refused);
                if (opening.Elapsed > TimeSpan.FromSeconds(30))
                {
                    throw new TimeoutException($"{allMembers.Count(m => !m.Opened)} of {allMembers.Count} members did not get their room's opening post within 30 s ({_rooms.Select(r => r.FirstError).FirstOrDefault(e => e != null)})");
                }

                await Task.Delay(20);
            }

            result.ConnectSeconds = connect.Elapsed.TotalSeconds;
            foreach (FanoutRoom r in _rooms) loops.Add(Task.Run(() => SendLoopAsync(r)));

            await Task.Delay(TimeSpan.FromSeconds(_settings.WarmupSeconds));
            double serverCpu0 = Proc.CpuSeconds(_serverPid);
            double clientCpu0 = Proc.CpuSeconds(Environment.ProcessId);
            double machineCpu0 = Proc.MachineBusySeconds();
            long posted0 = _rooms.Sum(r => Volatile.Read(ref r.Sent));
            var clock = Stopwatch.StartNew();
            _phase = Phase.Measure;
            await Task.Delay(TimeSpan.FromSeconds(_settings.DurationSeconds));
            _phase = Phase.Drain;
            double seconds = clock.Elapsed.TotalSeconds;
            long posted = _rooms.Sum(r => Volatile.Read(ref r.Sent)) - posted0;
            double serverCpu = Proc.CpuSeconds(_serverPid) - serverCpu0;
            double clientCpu = Proc.CpuSeconds(Environment.ProcessId) - clientCpu0;
            double otherCpu = Proc.MachineBusySeconds() - machineCpu0 - serverCpu - clientCpu;
            result.ServerRssBytes = Proc.RssBytes(_serverPid);
            foreach (FanoutRoom r in _rooms) r.Wake();

            // Let what is in flight land, so what is missing is really lost.
            var drain = Stopwatch.StartNew();
            while (drain.Elapsed.TotalSeconds < _settings.DrainSeconds && _rooms.Any(r => Interlocked.Read(ref r.Delivered) < Volatile.Read(ref r.Sent) * r.Members.Length))
            {
                await Task.Delay(20);
            }

            var latency = new Histogram();
            foreach (Histogram h in _latency.Values) latency.Add(h);
            long measured = 0;
            foreach (FanoutRoom r in _rooms)
            {
                result.Posted += r.Sent;
                result.Errors += r.Errors;
                result.FirstError ??= r.FirstError;
                foreach (FanoutMember m in r.Members)
                {
                    measured += m.MeasuredReceived;
                    result.Delivered += m.Unique;
                    result.Lost += Math.Max(0, r.Sent - m.Unique);
                    result.Duplicated += m.Duplicated;
                    result.Reordered += m.Reordered;
                }
            }

            result.MeasuredSeconds = seconds;
            result.DeliveriesPerSecond = measured / seconds;
            result.PostsPerSecond = posted / seconds;
            result.P50Ms = latency.PercentileMs(0.50);
            result.P99Ms = latency.PercentileMs(0.99);
            result.P999Ms = latency.PercentileMs(0.999);
            result.MaxMs = latency.Max / 1000.0;
            result.ServerCpuPercent = 100 * serverCpu / seconds;
            result.ClientCpuPercent = 100 * clientCpu / seconds;
            result.OtherCpuPercent = Math.Max(0, 100 * otherCpu / seconds);
            return result;
        }
        finally
        {
            _phase = Phase.Drain;
            foreach (FanoutRoom r in _rooms)
            {
                r.Wake();
                r.Sender?.Dispose();
                foreach (FanoutMember m in r.Members) m.Conn?.Dispose();
            }

            try { await Task.WhenAll(loops).WaitAsync(TimeSpan.FromSeconds(10)); }
            catch (Exception) { }
        }
    }

    private int Write(Span<byte> destination, FanoutRoom room, long sequence, long timestamp)
    {
        room.Prefix.CopyTo(destination);
        int at = room.Prefix.Length;
        Payload.Write(destination.Slice(at), sequence, timestamp, _settings.PayloadBytes);
        at += _settings.PayloadBytes;
        room.Suffix.CopyTo(destination.Slice(at));
        return at + room.Suffix.Length;
    }

    private static async Task Bounded<T>(IReadOnlyList<T> items, int concurrency, Func<T, Task> action)
    {
        int next = -1;
        async Task Worker()
        {
            while (true)
            {
                int k = Interlocked.Increment(ref next);
                if (k >= items.Count) return;
                await action(items[k]).ConfigureAwait(false);
            }
        }

        await Task.WhenAll(Enumerable.Range(0, Math.Min(concurrency, Math.Max(1, items.Count))).Select(_ => Task.Run(Worker)));
    }

    private async Task MemberLoopAsync(FanoutMember member)
    {
        Conn conn = member.Conn;
        var reply = new Outbox();
        try
        {
            while (true)
            {
                if (conn.Buffered > 0)
                {
                    reply.Clear();
                    member.Latency = _latency.Value;
                    conn.Consume(_wire.ParseMember(conn.Data, member, Stopwatch.GetTimestamp(), reply));
                    if (member.Pending > 0)
                    {
                        member.Room.OnDelivered(member.Pending);
                        member.Pending = 0;
                    }

                    if (reply.Length > 0) await conn.SendAsync(reply.Memory);
                }

                if (!await conn.FillAsync()) break;
            }
        }
        catch (Exception e) when (e is IOException || e is System.Net.Sockets.SocketException || e is ObjectDisposedException || e is OperationCanceledException)
        {
        }

        if (_phase != Phase.Drain) member.Error("the server closed the connection");
    }

    private async Task SenderReadLoopAsync(FanoutRoom room)
    {
        Conn conn = room.Sender;
        var reply = new Outbox();
        try
        {
            while (true)
            {
                if (conn.Buffered > 0)
                {
                    reply.Clear();
                    conn.Consume(_wire.ParseSender(conn.Data, room, Stopwatch.GetTimestamp(), reply));
                    if (reply.Length > 0) await conn.SendAsync(reply.Memory);
                }

                if (!await conn.FillAsync()) break;
            }
        }
        catch (Exception e) when (e is IOException || e is System.Net.Sockets.SocketException || e is ObjectDisposedException || e is OperationCanceledException)
        {
        }

        if (_phase != Phase.Drain) room.Error("sender: the server closed the connection");
    }

    /// <summary>Writes all the window allows in one write, as a buffered client does, then waits for room.</summary>
    private async Task SendLoopAsync(FanoutRoom room)
    {
        int window = _shape.Window;
        var buffer = new byte[(room.Prefix.Length + _settings.PayloadBytes + room.Suffix.Length) * window];
        try
        {
            while (_phase != Phase.Drain)
            {
                long credit = room.Credit(window);
                if (credit <= 0)
                {
                    await room.WaitForCreditAsync(window);
                    continue;
                }

                long timestamp = Stopwatch.GetTimestamp();
                long first = room.Sent + 1;
                int length = 0;
                for (long sequence = first; sequence < first + credit; sequence++)
                {
                    length += Write(buffer.AsSpan(length), room, sequence, timestamp);
                }

                Volatile.Write(ref room.Sent, room.Sent + credit);
                await room.Sender.SendAsync(buffer.AsMemory(0, length));
            }
        }
        catch (Exception e) when (e is IOException || e is System.Net.Sockets.SocketException || e is ObjectDisposedException)
        {
            if (_phase != Phase.Drain) room.Error("sender: " + e.Message);
        }
    }
}

/// <summary>
/// Chatrm.Bench fanout: interleaved rounds of the fan-out shapes against every server (each run in a fresh
/// server process), results as JSON for the report.
/// </summary>
public static class Fanout
{
    public static async Task<int> RunAsync(Options options)
    {
        bool smoke = options.Flag("smoke");
        long fileLimit = Proc.RaiseOpenFileLimit();
        string priority = Suite.RaisePriority(options.Get("priority", "normal"));
        var settings = new FanoutSettings
        {
            PayloadBytes = Math.Max(Payload.MinSize, options.Int("size", 64)),
            WarmupSeconds = options.Double("warmup", smoke ? 0.3 : 2),
            DurationSeconds = options.Double("duration", smoke ? 1 : 8),
        };
        var shapes = new List<FanoutShape>
        {
            new FanoutShape { Name = "one room", Rooms = options.Int("big-rooms", 1), Members = options.Int("big-members", smoke ? 20 : 100), Window = options.Int("big-window", 64) },
            new FanoutShape { Name = "many rooms", Rooms = options.Int("rooms", smoke ? 50 : 1000), Members = options.Int("members", 10), Window = options.Int("window", 2) },
        };
        string only = options.Get("shapes");
        if (only != null) shapes = shapes.Where(s => only.Split(',').Any(o => s.Name.Replace(" ", "-").Equals(o.Trim(), StringComparison.OrdinalIgnoreCase))).ToList();
        int rounds = options.Int("rounds", smoke ? 1 : 3);
        ServerProcess.ModulePath = options.Get("module");
        ServerProcess.PwshPath = options.Get("pwsh");
        string[] wanted = (options.Get("targets") ?? string.Join(",", Targets.All)).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        string resultsPath = options.Get("results", "out/bench/fanout.json");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(resultsPath)));
        var results = new FanoutResults { StartedUtc = DateTime.UtcNow, Settings = settings, Shapes = shapes, Rounds = rounds, OpenFileLimit = fileLimit };
        foreach (string target in wanted)
        {
            if (!Targets.All.Contains(target)) throw new ArgumentException("unknown target " + target + "; known: " + string.Join(", ", Targets.All));
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

        int biggest = shapes.Count == 0 ? 0 : shapes.Max(s => s.Rooms * (s.Members + 1));
        if (fileLimit > 0 && biggest + 100 > fileLimit) throw new InvalidOperationException($"{biggest} connections need more open files than the limit of {fileLimit}");
        Console.WriteLine($"fan-out: {string.Join("; ", shapes)}; {settings.PayloadBytes}-byte texts, {settings.WarmupSeconds} s warm-up + {settings.DurationSeconds} s; {rounds} round(s) of {string.Join(", ", results.Targets)}; priority {priority}");
        var clock = Stopwatch.StartNew();
        bool failed = false;
        for (int round = 1; round <= rounds; round++)
        {
            foreach (FanoutShape shape in shapes)
            {
                int n = results.Targets.Count;
                for (int k = 0; k < n; k++)
                {
                    string target = results.Targets[(k + round - 1) % n];
                    FanoutRecord record = await RunOneAsync(target, shape, round, settings);
                    results.Runs.Add(record);
                    if (record.ServerVersion != null) results.Versions[target] = record.ServerVersion;
                    FanoutResult r = record.Result;
                    if (record.Unsupported != null) results.Skipped[target] = record.Unsupported;
                    else failed |= record.Failure != null || r == null || r.Lost + r.Duplicated + r.Reordered + r.Errors > 0;
                    results.Seconds = clock.Elapsed.TotalSeconds;
                    await File.WriteAllTextAsync(resultsPath, JsonSerializer.Serialize(results, Suite.Json));
                }
            }
        }

        Console.WriteLine($"fan-out results in {resultsPath} after {clock.Elapsed.TotalSeconds:0} s");
        return failed ? 1 : 0;
    }

    private static async Task<FanoutRecord> RunOneAsync(string target, FanoutShape shape, int round, FanoutSettings settings)
    {
        var record = new FanoutRecord { Target = target, Shape = shape.Name, Round = round };
        Console.WriteLine($"fan-out round {round}: {target}, {shape}");
        try
        {
            using ServerProcess server = await ServerProcess.StartAsync(target, shape.Rooms * (shape.Members + 1) + 200);
            record.ServerVersion = server.Version;
            FanoutResult r = await new FanoutRun(FanoutWire.For(target), server.EndPoint, shape, settings, server.Pid).RunAsync();
            record.Result = r;
            Console.WriteLine($"  {r.DeliveriesPerSecond,10:N0} deliveries/s ({r.PostsPerSecond:N0} posts/s)  p50 {r.P50Ms:0.00} p99 {r.P99Ms:0.00} p999 {r.P999Ms:0.00} ms" +
                $"  server CPU {r.ServerCpuPercent:0}% client CPU {r.ClientCpuPercent:0}% other {r.OtherCpuPercent:0}%  {r.Connections:N0} connections in {r.ConnectSeconds:0.0} s" +
                $"  posted {r.Posted} lost {r.Lost} dup {r.Duplicated} reordered {r.Reordered} errors {r.Errors}" + (r.FirstError != null ? $" ({r.FirstError})" : string.Empty));
        }
        catch (NoRoomsException e)
        {
            record.Unsupported = "no rooms in this server: " + e.Message;
            Console.WriteLine("  not measured: " + record.Unsupported);
        }
        catch (AggregateException e) when (e.InnerExceptions.All(x => x is NoRoomsException))
        {
            record.Unsupported = "no rooms in this server: " + e.InnerExceptions[0].Message;
            Console.WriteLine("  not measured: " + record.Unsupported);
        }
        catch (Exception e)
        {
            record.Failure = e.GetType().Name + ": " + e.Message;
            Console.WriteLine("  failed: " + record.Failure);
        }

        return record;
    }
}
