using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Chatrm.Engine;

namespace Chatrm.Soak
{
    public sealed class SoakOptions
    {
        public int Users { get; set; } = 300;

        /// <summary>Messages to send in all; sending stops at this count or at 80% of the time, whichever comes first.</summary>
        public int Messages { get; set; } = 60_000;

        public TimeSpan Duration { get; set; } = TimeSpan.FromSeconds(60);

        /// <summary>Disconnections and reconnections per second, over all users.</summary>
        public double ReconnectsPerSecond { get; set; } = 5;

        /// <summary>Messages a user may have in flight (sent, fate not yet known).</summary>
        public int Window { get; set; } = 16;

        public int Seed { get; set; } = Environment.TickCount;

        /// <summary>Host the server in this process (CI) rather than a child process (memory figures of its own).</summary>
        public bool InProcess { get; set; }

        /// <summary>How far the server's live managed heap may end above its starting level.</summary>
        public long ManagedToleranceBytes { get; set; } = 4L << 20;

        /// <summary>How far the server's working set may end above its starting level.</summary>
        public long WorkingSetToleranceBytes { get; set; } = 32L << 20;

        public void Validate()
        {
            if (Users < 2 || Users > 5000) throw new ArgumentOutOfRangeException(nameof(Users), Users, "2 to 5,000 users.");
            if (Messages < 1) throw new ArgumentOutOfRangeException(nameof(Messages), Messages, "At least one message.");
            if (Duration < TimeSpan.FromSeconds(1) || Duration > TimeSpan.FromHours(2)) throw new ArgumentOutOfRangeException(nameof(Duration), Duration, "1 s to 2 h.");
            if (ReconnectsPerSecond < 0) throw new ArgumentOutOfRangeException(nameof(ReconnectsPerSecond), ReconnectsPerSecond, "Not negative.");
            if (Window < 1) throw new ArgumentOutOfRangeException(nameof(Window), Window, "At least one.");
        }
    }

    public sealed class SoakResult
    {
        public int Users { get; set; }
        public int Seed { get; set; }
        public string Server { get; set; }
        public double Seconds { get; set; }
        public double SendingSeconds { get; set; }
        public long Sent { get; set; }
        public long Delivered { get; set; }
        public long Received { get; set; }
        public Dictionary<string, long> Refused { get; set; } = new Dictionary<string, long>();

        /// <summary>Messages kept for a recipient that was between connections (Stored): not confirmed, so not checked.</summary>
        public long Stored { get; set; }

        /// <summary>Stored messages that came twice with the same id: taken on a connection that ended before it confirmed them, then again from the inbox.</summary>
        public long Redelivered { get; set; }
        public long Reconnects { get; set; }
        public Dictionary<string, long> ReconnectsBy { get; set; } = new Dictionary<string, long>();
        public long NameTakenRetries { get; set; }
        public long Violations { get; set; }
        public List<string> FirstViolations { get; set; } = new List<string>();
        public ServerStats Cold { get; set; }
        public ServerStats Baseline { get; set; }
        public ServerStats Peak { get; set; }
        public ServerStats After { get; set; }
        public long ManagedToleranceBytes { get; set; }
        public long WorkingSetToleranceBytes { get; set; }
        public bool ConnectionsBack { get; set; }
        public bool MemoryBack { get; set; }

        public bool Passed => Violations == 0 && Delivered > 0 && ConnectionsBack && MemoryBack;

        public string Summary()
        {
            var s = new StringBuilder();
            s.AppendLine($"users {Users}, seed {Seed}, server in a {Server}");
            s.AppendLine($"ran {Seconds:0.0} s (sending {SendingSeconds:0.0} s): sent {Sent}, delivered {Delivered}, stored {Stored} (again from the inbox {Redelivered}), received {Received} ({Sent / Math.Max(0.001, SendingSeconds):0} messages/s)");
            s.AppendLine("refused: " + (Refused.Count == 0 ? "none" : string.Join(", ", Refused.OrderBy(p => p.Key).Select(p => $"{p.Key} {p.Value}"))));
            s.AppendLine($"reconnects {Reconnects} (" + string.Join(", ", ReconnectsBy.OrderBy(p => p.Key).Select(p => $"{p.Key} {p.Value}")) + $"), name-taken retries {NameTakenRetries}");
            s.AppendLine($"server, cold:      {Cold}");
            s.AppendLine($"server, baseline:  {Baseline}");
            s.AppendLine($"server, mid-run:   {Peak}");
            s.AppendLine($"server, after:     {After}");
            s.AppendLine($"memory back: {(MemoryBack ? "yes" : "NO")} (managed {Delta(After.ManagedBytes - Baseline.ManagedBytes)}, tolerance {ServerStats.Mib(ManagedToleranceBytes)}; working set {Delta(After.WorkingSetBytes - Baseline.WorkingSetBytes)}, tolerance {ServerStats.Mib(WorkingSetToleranceBytes)})");
            s.AppendLine($"connections back: {(ConnectionsBack ? "yes" : "NO")}");
            s.AppendLine($"violations: {Violations}");
            foreach (string v in FirstViolations) s.AppendLine("  " + v);
            s.Append(Passed ? "PASSED" : "FAILED");
            return s.ToString();
        }

        private static string Delta(long bytes) => (bytes >= 0 ? "+" : "-") + ServerStats.Mib(Math.Abs(bytes));
    }

    /// <summary>
    /// The soak: every user is a native ChatClient on loopback that sends to random others at a steady pace, with
    /// a few messages in flight, while users disconnect (gracefully, abruptly with bye, or dropping the socket) and
    /// reconnect at random. Every message carries its sender's sequence number to that recipient. Checked:
    /// every message whose fate was Delivered reached its recipient exactly once, intact, before the sender heard
    /// Delivered; no recipient got any message twice or out of order; the server's connections and memory come back.
    /// </summary>
    public sealed class SoakRunner
    {
        private const int MaxListedViolations = 20;

        // Enough calls for the runtime to have compiled the hot paths fully before the baseline is taken.
        private const int WarmUpMessages = 10;

        private readonly SoakOptions _options;
        private readonly Action<string> _log;
        private readonly ConcurrentQueue<string> _violations = new ConcurrentQueue<string>();
        private readonly ConcurrentDictionary<string, long> _refused = new ConcurrentDictionary<string, long>();
        private readonly ConcurrentDictionary<string, long> _reconnectsBy = new ConcurrentDictionary<string, long>();
        private long _violationCount;
        private long _tickets;
        private long _sent;
        private long _stored;
        private long _redelivered;
        private long _delivered;
        private long _received;
        private long _reconnects;
        private long _nameTakenRetries;
        private int _port;

        public SoakRunner(SoakOptions options, Action<string> log = null)
        {
            options.Validate();
            _options = options;
            _log = log ?? (_ => { });
        }

        public static Task<SoakResult> RunAsync(SoakOptions options, Action<string> log = null) => new SoakRunner(options, log).RunAsync();

        private async Task<SoakResult> RunAsync()
        {
            var result = new SoakResult
            {
                Users = _options.Users,
                Seed = _options.Seed,
                ManagedToleranceBytes = _options.ManagedToleranceBytes,
                WorkingSetToleranceBytes = _options.WorkingSetToleranceBytes,
            };
            var clock = Stopwatch.StartNew();

            // Bounded: whatever happens, the run gives up a minute after its time.
            using var abort = new CancellationTokenSource(_options.Duration + TimeSpan.FromSeconds(60));
            IServerHost host = _options.InProcess ? new InProcessHost() : await ChildProcessHost.StartAsync(TimeSpan.FromSeconds(30));
            try
            {
                _port = host.Port;
                result.Server = host.Kind;
                _log($"server on 127.0.0.1:{_port} ({host.Kind}); {_options.Users} users, up to {_options.Messages} messages in {_options.Duration.TotalSeconds:0} s, seed {_options.Seed}");
                result.Cold = await host.MeasureAsync();

                // Warm up (every user connects, sends a few messages, leaves) so the baseline holds what any server
                // that has served this many users holds: compiled code, pooled buffers, grown thread pool.
                await WarmUpAsync(abort.Token);
                await WaitForNoConnectionsAsync(host, abort.Token);
                result.Baseline = await host.MeasureAsync();
                _log("baseline: " + result.Baseline);

                // The load runs in a method of its own, so that nothing of it is still referenced when the server is
                // measured afterwards (in process, its records would count in the server's heap).
                await RunLoadAsync(host, result, abort.Token);

                await WaitForNoConnectionsAsync(host, abort.Token);
                result.After = await host.MeasureAsync();
                result.ConnectionsBack = result.After.Connections == result.Baseline.Connections && result.After.Online == result.Baseline.Online;
                long managedAllowed = Math.Max(_options.ManagedToleranceBytes, result.Baseline.ManagedBytes / 10);
                result.MemoryBack = result.After.ManagedBytes <= result.Baseline.ManagedBytes + managedAllowed &&
                    result.After.WorkingSetBytes <= result.Baseline.WorkingSetBytes + _options.WorkingSetToleranceBytes;
                result.ManagedToleranceBytes = managedAllowed;
            }
            catch (OperationCanceledException) when (abort.IsCancellationRequested)
            {
                Violation($"the run did not finish within {(_options.Duration + TimeSpan.FromSeconds(60)).TotalSeconds:0} s");
            }
            finally
            {
                await host.DisposeAsync();
            }

            result.Seconds = clock.Elapsed.TotalSeconds;
            result.Violations = Interlocked.Read(ref _violationCount);
            result.FirstViolations = _violations.Take(MaxListedViolations).ToList();
            result.Cold ??= new ServerStats();
            result.Baseline ??= new ServerStats();
            result.Peak ??= new ServerStats();
            result.After ??= new ServerStats();
            return result;
        }

        // ---- Phases ----

        private async Task RunLoadAsync(IServerHost host, SoakResult result, CancellationToken cancel)
        {
            SoakUser[] users = Enumerable.Range(0, _options.Users).Select(i => new SoakUser(this, i)).ToArray();
            try
            {
                await ForEachLimitedAsync(users, 32, u => u.ConnectAsync(cancel));
                foreach (SoakUser user in users) user.StartReceiving();

                TimeSpan sendingTime = TimeSpan.FromTicks(_options.Duration.Ticks * 8 / 10);
                double rate = _options.Messages / sendingTime.TotalSeconds;
                var sendingClock = Stopwatch.StartNew();
                var sendDeadline = DateTime.UtcNow + sendingTime;
                Task[] senders = users.Select(u => Task.Run(() => Guard(u.Name, () => u.SendLoopAsync(rate, sendDeadline, users, cancel)))).ToArray();
                Task peak = MeasureMidwayAsync(host, sendingTime, result, cancel);
                Task progress = ReportProgressAsync(senders, sendingClock);
                await Task.WhenAll(senders);
                result.SendingSeconds = sendingClock.Elapsed.TotalSeconds;
                await peak;
                await progress;

                // Every fate known, every user gone, every arrival recorded.
                await Task.WhenAll(users.Select(u => Guard(u.Name, () => u.FinishAsync(cancel))));
                Verify(users);

                result.Sent = Interlocked.Read(ref _sent);
                result.Delivered = Interlocked.Read(ref _delivered);
                result.Stored = Interlocked.Read(ref _stored);
                result.Redelivered = _redelivered;
                result.Received = Interlocked.Read(ref _received);
                result.Reconnects = Interlocked.Read(ref _reconnects);
                result.NameTakenRetries = Interlocked.Read(ref _nameTakenRetries);
                result.Refused = new Dictionary<string, long>(_refused);
                result.ReconnectsBy = new Dictionary<string, long>(_reconnectsBy);
            }
            finally
            {
                foreach (SoakUser user in users) user.Dispose();
            }
        }

        /// <summary>A user that fails (a refused reconnection, say) is a violation, not the end of the run.</summary>
        private async Task Guard(string user, Func<Task> action)
        {
            try
            {
                await action();
            }
            catch (Exception e) when (!(e is OperationCanceledException))
            {
                Violation($"{user} failed: {e.GetType().Name}: {e.Message}");
            }
        }

        private async Task WarmUpAsync(CancellationToken cancel)
        {
            var clients = new ChatClient[_options.Users];
            try
            {
                await ForEachLimitedAsync(Enumerable.Range(0, _options.Users), 32, async i => clients[i] = await ConnectAsync(NameOf(i), cancel));
                await ForEachLimitedAsync(Enumerable.Range(0, _options.Users), 64, async i =>
                {
                    for (int k = 1; k <= WarmUpMessages; k++)
                    {
                        SentMessage fate = await clients[i].SendAsync(NameOf((i + k) % _options.Users), "warm-up");
                        if (fate.Status != SendStatus.Delivered)
                        {
                            Violation($"warm-up message from {NameOf(i)} was {fate.Status} {fate.Reason}");
                        }
                    }
                });
            }
            finally
            {
                await Task.WhenAll(clients.Where(c => c != null).Select(c => c.CloseAsync()));
                foreach (ChatClient c in clients) c?.Dispose();
            }
        }

        private async Task MeasureMidwayAsync(IServerHost host, TimeSpan sendingTime, SoakResult result, CancellationToken cancel)
        {
            // Pacing, not synchronisation: the figure is taken half way through the sending, whatever happens then.
            await Task.Delay(TimeSpan.FromTicks(sendingTime.Ticks / 2), cancel);
            result.Peak = await host.MeasureAsync();
            _log("mid-run: " + result.Peak);
        }

        private async Task ReportProgressAsync(Task[] senders, Stopwatch clock)
        {
            Task all = Task.WhenAll(senders);
            while (await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(10))) != all)
            {
                _log($"{clock.Elapsed.TotalSeconds,5:0} s: sent {Interlocked.Read(ref _sent)}, delivered {Interlocked.Read(ref _delivered)}, " +
                     $"reconnects {Interlocked.Read(ref _reconnects)}, violations {Interlocked.Read(ref _violationCount)}");
            }
        }

        private static async Task WaitForNoConnectionsAsync(IServerHost host, CancellationToken cancel)
        {
            // Polled against a deadline: a server closes a connection a moment after its client has gone.
            var deadline = Stopwatch.StartNew();
            while (true)
            {
                ServerStats now = await host.MeasureAsync();
                if ((now.Connections == 0 && now.Online == 0) || deadline.Elapsed > TimeSpan.FromSeconds(30))
                {
                    return;
                }

                await Task.Delay(100, cancel);
            }
        }

        private void Verify(SoakUser[] users)
        {
            var byName = users.ToDictionary(u => u.Name, UserNames.Comparer);
            foreach (SoakUser sender in users)
            {
                foreach (Confirmed c in sender.Confirmed)
                {
                    SoakUser recipient = byName[c.To];
                    if (!recipient.Arrivals.TryGetValue((sender.Name, c.Seq), out Arrival arrival))
                    {
                        Violation($"{sender.Name}>{c.To} #{c.Seq} was Delivered but never received");
                    }
                    else if (arrival.At > c.ConfirmedAt)
                    {
                        Violation($"{sender.Name}>{c.To} #{c.Seq} was received at {arrival.At:HH:mm:ss.ffffff}, after its Delivered status at {c.ConfirmedAt:HH:mm:ss.ffffff}");
                    }
                }
            }

            // A message taken twice is a duplicate, unless the server never said it was delivered: one its recipient
            // took on a connection that ended before confirming it was kept (Stored) and comes again, with its id, so a
            // client that remembers ids can tell. Checked at the end: the sender may hear Stored after the second copy came.
            foreach (SoakUser recipient in users)
            {
                foreach ((string from, long seq, string firstId, string id) in recipient.Repeats)
                {
                    if (id != null && id == firstId && byName[from].WasStored(recipient.Name, seq))
                    {
                        _redelivered++;
                    }
                    else
                    {
                        Violation($"{from}>{recipient.Name} #{seq} was received twice (ids {firstId} and {id})");
                    }
                }
            }
        }

        // ---- Shared by the users ----

        internal int Port => _port;

        internal SoakOptions Options => _options;

        internal static string NameOf(int i) => "u" + i.ToString("D4", CultureInfo.InvariantCulture);

        internal bool TakeTicket() => Interlocked.Increment(ref _tickets) <= _options.Messages;

        internal void CountSent() => Interlocked.Increment(ref _sent);

        internal void CountDelivered() => Interlocked.Increment(ref _delivered);

        internal void CountReceived() => Interlocked.Increment(ref _received);

        internal void CountStored() => Interlocked.Increment(ref _stored);

        internal void CountRefused(string reason) => _refused.AddOrUpdate(reason ?? "refused", 1, (_, n) => n + 1);

        internal void CountReconnect(string how)
        {
            Interlocked.Increment(ref _reconnects);
            _reconnectsBy.AddOrUpdate(how, 1, (_, n) => n + 1);
        }

        internal void Violation(string what)
        {
            if (Interlocked.Increment(ref _violationCount) <= MaxListedViolations)
            {
                _violations.Enqueue(what);
                _log("VIOLATION " + what);
            }
        }

        /// <summary>Connects, retrying while the server still holds the name for a connection that is closing.</summary>
        internal async Task<ChatClient> ConnectAsync(string name, CancellationToken cancel)
        {
            var deadline = Stopwatch.StartNew();
            while (true)
            {
                try
                {
                    return await ChatClient.ConnectAsync("127.0.0.1", _port, name, ChatProtocol.Chatrm, new ClientOptions(), cancel);
                }
                catch (ChatException e) when (e.Refusal == Refusal.NameTaken && deadline.Elapsed < TimeSpan.FromSeconds(20))
                {
                    Interlocked.Increment(ref _nameTakenRetries);
                    await Task.Delay(20, cancel);
                }
            }
        }

        /// <summary>The text of message <paramref name="seq"/> from one user to another: it names both, and its body follows from seq.</summary>
        internal static string TextOf(string from, string to, long seq)
        {
            var s = new StringBuilder();
            s.Append(from).Append('>').Append(to).Append(" #").Append(seq.ToString(CultureInfo.InvariantCulture)).Append(' ');
            int length = (int)(seq * 37 % 300);
            const string pattern = "under_scores, caf\u00e9, \u00fcber, \u4e16\u754c; ";
            for (int i = 0; i < length; i++) s.Append(pattern[(int)((seq + i) % pattern.Length)]);
            if (seq % 50 == 0) s.Append("\nsecond line\r\nthird");
            return s.ToString();
        }

        private static async Task ForEachLimitedAsync<T>(IEnumerable<T> items, int parallel, Func<T, Task> action)
        {
            using var gate = new SemaphoreSlim(parallel);
            await Task.WhenAll(items.Select(async item =>
            {
                await gate.WaitAsync();
                try { await action(item); }
                finally { gate.Release(); }
            }));
        }
    }

    /// <summary>When a message arrived, and the id the server gave it.</summary>
    internal readonly record struct Arrival(DateTime At, string Id);

    internal readonly struct Confirmed
    {
        public Confirmed(string to, long seq, DateTime confirmedAt)
        {
            To = to;
            Seq = seq;
            ConfirmedAt = confirmedAt;
        }

        public string To { get; }
        public long Seq { get; }
        public DateTime ConfirmedAt { get; }
    }

    /// <summary>One user: a send loop, a receive loop per connection, and what it sent and received.</summary>
    internal sealed class SoakUser : IDisposable
    {
        private static readonly string[] ReconnectKinds = { "graceful", "bye", "drop" };

        private readonly SoakRunner _runner;
        private readonly int _index;
        private readonly Dictionary<string, long> _nextSeq = new Dictionary<string, long>(UserNames.Comparer);
        private readonly Dictionary<string, long> _lastSeqFrom = new Dictionary<string, long>(UserNames.Comparer);
        private readonly List<Task> _inFlight = new List<Task>();

        // Guards what the fates recorded: Confirmed and the Stored ones (fates complete on pool threads).
        private readonly object _fatesLock = new object();
        private ChatClient _client;
        private Task _receiving;

        public SoakUser(SoakRunner runner, int index)
        {
            _runner = runner;
            _index = index;
            Name = SoakRunner.NameOf(index);
        }

        public string Name { get; }

        /// <summary>Messages this user sent whose fate was Delivered.</summary>
        public List<Confirmed> Confirmed { get; } = new List<Confirmed>();

        /// <summary>Every message this user received, by sender and sequence number, with when it arrived and its id.</summary>
        public Dictionary<(string From, long Seq), Arrival> Arrivals { get; } = new Dictionary<(string, long), Arrival>();

        /// <summary>Messages this user received again, with the first copy's id and this one's; judged at the end (see SoakRunner.Verify).</summary>
        public List<(string From, long Seq, string FirstId, string Id)> Repeats { get; } = new List<(string, long, string, string)>();

        // Messages this user sent whose fate was Stored.
        private readonly HashSet<(string To, long Seq)> _stored = new HashSet<(string, long)>();

        public bool WasStored(string to, long seq)
        {
            lock (_fatesLock)
            {
                return _stored.Contains((to, seq));
            }
        }

        public async Task ConnectAsync(CancellationToken cancel) => _client = await _runner.ConnectAsync(Name, cancel);

        public void StartReceiving() => _receiving = Task.Run(() => ReceiveLoopAsync(_client));

        public async Task SendLoopAsync(double rate, DateTime deadline, SoakUser[] everyone, CancellationToken cancel)
        {
            var random = new Random(_runner.Options.Seed * 7919 + _index);
            SoakOptions options = _runner.Options;
            TimeSpan interval = TimeSpan.FromSeconds(everyone.Length / rate);
            DateTime due = DateTime.UtcNow + TimeSpan.FromTicks((long)(interval.Ticks * random.NextDouble()));
            double reconnectMean = options.ReconnectsPerSecond > 0 ? everyone.Length / options.ReconnectsPerSecond : double.PositiveInfinity;
            DateTime reconnectAt = NextReconnect(random, reconnectMean);

            while (DateTime.UtcNow < deadline && _runner.TakeTicket())
            {
                // Pacing: a steady rate over the run, not a burst.
                TimeSpan wait = due - DateTime.UtcNow;
                if (wait > TimeSpan.Zero) await Task.Delay(wait, cancel);
                due += interval;

                if (DateTime.UtcNow >= reconnectAt)
                {
                    await ReconnectAsync(ReconnectKinds[random.Next(ReconnectKinds.Length)], cancel);
                    reconnectAt = NextReconnect(random, reconnectMean);
                }

                string to = everyone[(_index + 1 + random.Next(everyone.Length - 1)) % everyone.Length].Name;
                long seq = _nextSeq.TryGetValue(to, out long last) ? last + 1 : 1;
                _nextSeq[to] = seq;
                Task<SentMessage> fate;
                try
                {
                    fate = _client.SendAsync(to, SoakRunner.TextOf(Name, to, seq));
                }
                catch (ChatException e)
                {
                    // The server never drops a user who keeps up; only this user's own reconnects close its connection.
                    _runner.Violation($"{Name} could not send: {e.Message} ({_client.CloseReason})");
                    await ReconnectAsync("after-failure", cancel);
                    continue;
                }

                _runner.CountSent();
                _inFlight.Add(TrackAsync(fate, to, seq));
                if (_inFlight.Count >= options.Window)
                {
                    await Task.WhenAny(_inFlight);
                    _inFlight.RemoveAll(t => t.IsCompleted);
                }
            }
        }

        /// <summary>Waits for every fate, leaves, and records what is still waiting in the inbox.</summary>
        public async Task FinishAsync(CancellationToken cancel)
        {
            await AwaitFatesAsync(cancel);
            await CloseAsync("graceful", cancel);
        }

        private static DateTime NextReconnect(Random random, double meanSeconds) =>
            double.IsInfinity(meanSeconds) ? DateTime.MaxValue : DateTime.UtcNow + TimeSpan.FromSeconds(-Math.Log(1 - random.NextDouble()) * meanSeconds);

        private async Task TrackAsync(Task<SentMessage> fate, string to, long seq)
        {
            SentMessage message = await fate.ConfigureAwait(false);
            DateTime at = DateTime.UtcNow;
            switch (message.Status)
            {
                case SendStatus.Delivered:
                    _runner.CountDelivered();
                    lock (_fatesLock)
                    {
                        Confirmed.Add(new Confirmed(to, seq, at));
                    }

                    break;
                case SendStatus.Refused:
                    _runner.CountRefused(message.Reason);
                    break;
                case SendStatus.Stored:
                    // Its recipient was between connections, or left before confirming it: the server keeps it for
                    // them. Not confirmed, so not checked, and it may come twice (see SoakRunner.Verify).
                    _runner.CountStored();
                    lock (_fatesLock)
                    {
                        _stored.Add((to, seq));
                    }

                    break;
                default:
                    _runner.Violation($"{Name}>{to} #{seq} came back {message.Status}: every user here is native");
                    break;
            }
        }

        private async Task AwaitFatesAsync(CancellationToken cancel)
        {
            Task all = Task.WhenAll(_inFlight);
            if (await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(30), cancel)) != all)
            {
                _runner.Violation($"{Name}: {_inFlight.Count(t => !t.IsCompleted)} messages had no fate within 30 s");
            }

            _inFlight.RemoveAll(t => t.IsCompleted);
        }

        private async Task ReconnectAsync(string how, CancellationToken cancel)
        {
            await CloseAsync(how, cancel);
            _client = await _runner.ConnectAsync(Name, cancel);
            StartReceiving();
            _runner.CountReconnect(how);
        }

        private async Task CloseAsync(string how, CancellationToken cancel)
        {
            ChatClient old = _client;
            switch (how)
            {
                case "graceful":
                    // Every fate first: nothing in flight when it says bye.
                    await AwaitFatesAsync(cancel);
                    await old.CloseAsync();
                    break;
                case "bye":
                    // At once, with messages in flight: their fates are connection-closed, or Delivered if the ack won.
                    await old.CloseAsync();
                    break;
                default:
                    // The socket just goes: no bye, as when a process dies.
                    old.Dispose();
                    break;
            }

            if (await Task.WhenAny(_receiving, Task.Delay(TimeSpan.FromSeconds(30), cancel)) != _receiving)
            {
                _runner.Violation($"{Name}: the receive loop did not end within 30 s of closing");
            }

            Record(old.Take(int.MaxValue));
            if (old.MessagesDropped > 0)
            {
                _runner.Violation($"{Name}: the inbox dropped {old.MessagesDropped} messages");
            }

            old.Dispose();
        }

        private async Task ReceiveLoopAsync(ChatClient client)
        {
            while (true)
            {
                Task arrival = client.NextArrival();
                List<object> items = client.Take(1024);
                Record(items);
                if (items.Count == 0)
                {
                    if (client.State == ConnectionState.Closed)
                    {
                        return;
                    }

                    await arrival.ConfigureAwait(false);
                }
            }
        }

        // One receive loop at a time per user (the next starts after the last ended), so no lock.
        private void Record(List<object> items)
        {
            foreach (object item in items)
            {
                if (item is ServerNotice notice)
                {
                    _runner.Violation($"{Name} was told {notice.Code}: {notice.Text}");
                    continue;
                }

                if (!(item is ChatMessage message))
                {
                    continue;
                }

                _runner.CountReceived();
                string text = message.Text;
                int hash = text.IndexOf(" #", StringComparison.Ordinal);
                int space = hash < 0 ? -1 : text.IndexOf(' ', hash + 2);
                int arrow = text.IndexOf('>');
                if (hash < 0 || space < 0 || arrow < 0 || !long.TryParse(text.AsSpan(hash + 2, space - hash - 2), NumberStyles.None, CultureInfo.InvariantCulture, out long seq))
                {
                    _runner.Violation($"{Name} received a message it cannot read: {Shorten(text)}");
                    continue;
                }

                string from = text.Substring(0, arrow);
                if (!UserNames.AreSame(from, message.From) || !UserNames.AreSame(message.To, Name) || text != SoakRunner.TextOf(from, Name, seq))
                {
                    _runner.Violation($"{Name} received a damaged or misaddressed message from {message.From}: {Shorten(text)}");
                    continue;
                }

                if (Arrivals.TryGetValue((from, seq), out Arrival first))
                {
                    Repeats.Add((from, seq, first.Id, message.Id));
                    continue;
                }

                Arrivals.Add((from, seq), new Arrival(message.ReceivedAt, message.Id));

                if (_lastSeqFrom.TryGetValue(from, out long last) && seq <= last)
                {
                    _runner.Violation($"{from}>{Name} #{seq} arrived after #{last}: out of order");
                }

                _lastSeqFrom[from] = Math.Max(seq, last);
            }
        }

        private static string Shorten(string text) => text.Length > 60 ? text.Substring(0, 60) + "..." : text;

        public void Dispose() => _client?.Dispose();
    }
}
