using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace Chatrm.Bench;

/// <summary>
/// NATS JetStream with its own .NET client (NATS.Net): one file-storage stream "inbox" over inbox.&gt;, one subject
/// and one durable pull consumer per user, made before the run as Chatrm's users are made known. Work-queue
/// retention, so an acked message leaves the stream as a confirmed one leaves a Chatrm inbox. Each sender, a
/// connection of its own, keeps a window of acked publishes in flight; each user, a connection of its own,
/// consumes its subject and acks every message.
/// </summary>
public sealed class JetStreamOffline : OfflineClient
{
    private const string Stream = "inbox";
    private NatsConnection _admin;
    private NatsJSContext _adminJs;
    private readonly Dictionary<OfflineUser, NatsConnection> _senders = new Dictionary<OfflineUser, NatsConnection>();
    private readonly List<NatsConnection> _recipients = new List<NatsConnection>();

    private readonly bool _connectSenders;

    /// <param name="senders">False for the stream, the consumers and the admin connection only (for <see cref="JetStreamWireOffline"/>).</param>
    public JetStreamOffline(ServerProcess server, OfflineSettings settings, IReadOnlyList<OfflineUser> users, bool senders = true)
        : base(server, settings, users)
    {
        _connectSenders = senders;
    }

    private NatsOpts Opts(string name) => NatsOpts.Default with { Url = $"nats://127.0.0.1:{Server.EndPoint.Port}", Name = name };

    private static string Subject(OfflineUser user) => "inbox." + user.RecipientName;

    public override async Task PrepareAsync(CancellationToken cancellationToken)
    {
        _admin = new NatsConnection(Opts("admin"));
        await _admin.ConnectAsync();
        _adminJs = new NatsJSContext(_admin);
        await _adminJs.CreateStreamAsync(new StreamConfig(Stream, new[] { "inbox.>" })
        {
            Storage = StreamConfigStorage.File,
            Retention = StreamConfigRetention.Workqueue,
        }, cancellationToken);
        foreach (OfflineUser user in Users)
        {
            await _adminJs.CreateOrUpdateConsumerAsync(Stream, new ConsumerConfig(user.RecipientName)
            {
                FilterSubject = Subject(user),
                AckPolicy = ConsumerConfigAckPolicy.Explicit,
                DeliverPolicy = ConsumerConfigDeliverPolicy.All,
            }, cancellationToken);
        }

        foreach (OfflineUser user in Users.Where(_ => _connectSenders))
        {
            var sender = new NatsConnection(Opts(user.SenderName));
            _senders[user] = sender;
            await sender.ConnectAsync();
        }
    }

    public override Task StoreAsync(CancellationToken cancellationToken) =>
        Task.WhenAll(Users.Select(user => Task.Run(() => PublishLoopAsync(user, new NatsJSContext(_senders[user]), cancellationToken))));

    /// <summary>
    /// Publishes in order from one loop without waiting for each ack, at most a window of them unacked: the
    /// oldest ack is awaited when the window is full, as an async publisher does.
    /// </summary>
    private async Task PublishLoopAsync(OfflineUser user, NatsJSContext js, CancellationToken cancellationToken)
    {
        string subject = Subject(user);
        var pending = new Queue<(long Sequence, Task<(PubAckResponse Ack, Exception Error, long At)> Fate)>();
        for (long sequence = 1; sequence <= Settings.MessagesPerUser; sequence++)
        {
            if (pending.Count >= Settings.Window)
            {
                var (oldest, fate) = pending.Dequeue();
                Settle(user, oldest, await fate);
            }

            var payload = new byte[Settings.PayloadBytes];
            long timestamp = System.Diagnostics.Stopwatch.GetTimestamp();
            Payload.Write(payload, sequence, timestamp, payload.Length);
            user.MarkSent(sequence, timestamp);
            pending.Enqueue((sequence, Complete(js.PublishAsync(subject, payload, cancellationToken: cancellationToken))));
            Volatile.Write(ref user.Sent, sequence);
        }

        while (pending.Count > 0)
        {
            var (sequence, fate) = pending.Dequeue();
            Settle(user, sequence, await fate);
        }
    }

    /// <summary>The publish's ack or failure, and when it came (not when the loop got round to it).</summary>
    private static async Task<(PubAckResponse Ack, Exception Error, long At)> Complete(ValueTask<PubAckResponse> publish)
    {
        try
        {
            PubAckResponse ack = await publish;
            return (ack, null, System.Diagnostics.Stopwatch.GetTimestamp());
        }
        catch (Exception e) when (e is NatsException || e is TimeoutException)
        {
            return (null, e, System.Diagnostics.Stopwatch.GetTimestamp());
        }
    }

    private static void Settle(OfflineUser user, long sequence, (PubAckResponse Ack, Exception Error, long At) fate)
    {
        string why = fate.Error?.Message ?? (fate.Ack.Error != null ? fate.Ack.Error.Description : fate.Ack.Duplicate ? "a duplicate" : null);
        if (why != null) user.Error("publish: " + why);
        user.OnFate(stored: why == null, sequence, fate.At);
    }

    public override async Task DrainAsync(CancellationToken cancellationToken)
    {
        foreach (OfflineUser user in Users) user.BeginDrain();
        await Task.WhenAll(Users.Select(user => Task.Run(async () =>
        {
            var conn = new NatsConnection(Opts(user.RecipientName));
            lock (_recipients) _recipients.Add(conn);
            await conn.ConnectAsync();
            var js = new NatsJSContext(conn);
            INatsJSConsumer consumer = await js.GetConsumerAsync(Stream, user.RecipientName, cancellationToken);
            if (user.Unique >= user.Stored) return;
            await foreach (NatsJSMsg<byte[]> msg in consumer.ConsumeAsync<byte[]>(cancellationToken: cancellationToken))
            {
                user.OnMessage(msg.Data, Settings.PayloadBytes);
                await msg.AckAsync(cancellationToken: cancellationToken);
                if (user.Unique >= user.Stored) break;
            }
        })));
    }

    /// <summary>The server has every ack when no consumer has a message pending or unacked and the stream is empty.</summary>
    public override async Task ConfirmAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            long confirmed = 0;
            foreach (OfflineUser user in Users)
            {
                INatsJSConsumer consumer = await _adminJs.GetConsumerAsync(Stream, user.RecipientName, cancellationToken);
                ConsumerInfo info = consumer.Info;
                long done = info.NumPending == 0 ? Math.Max(0, Volatile.Read(ref user.Stored) - info.NumAckPending) : 0;
                Interlocked.Exchange(ref user.Confirmed, done);
                confirmed += done;
            }

            INatsJSStream stream = await _adminJs.GetStreamAsync(Stream, cancellationToken: cancellationToken);
            if (confirmed >= Users.Sum(u => u.Stored) && stream.Info.State.Messages == 0) return;
            await Task.Delay(10, cancellationToken);
        }
    }

    public override async ValueTask DisposeAsync()
    {
        foreach (NatsConnection conn in _senders.Values) await conn.DisposeAsync();
        List<NatsConnection> recipients;
        lock (_recipients) recipients = _recipients.ToList();
        foreach (NatsConnection conn in recipients) await conn.DisposeAsync();
        if (_admin != null) await _admin.DisposeAsync();
    }
}
