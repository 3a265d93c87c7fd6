using System.Text;

namespace Chatrm.Bench;

/// <summary>
/// NATS JetStream over its wire, with the same raw-socket client as Chatrm's side (no per-message allocation), so
/// that what is compared is the servers and not the clients: the stream and durable consumers as
/// <see cref="JetStreamOffline"/> makes them (with NATS.Net, not timed). A sender PUBs each message with a reply
/// subject of its own and reads the publish acks; a user pulls from its consumer with MSG.NEXT requests of a
/// batch at a time (a new one when half of what it asked for has come, as NATS.Net's consume does) and acks every
/// message on its ack subject, all of a read's acks in one write: a work-queue stream takes explicit acks only
/// (it refuses AckPolicy All, the form of Chatrm's one ack "through" the last).
/// </summary>
public sealed class JetStreamWireOffline : OfflineClient
{
    private const int PullBatch = 500;
    private const int PullAhead = 1000;
    private readonly JetStreamOffline _setup;
    private readonly Dictionary<OfflineUser, Conn> _senders = new Dictionary<OfflineUser, Conn>();
    private readonly List<Conn> _recipients = new List<Conn>();
    private readonly List<Task> _reads = new List<Task>();
    private volatile bool _closing;

    public JetStreamWireOffline(ServerProcess server, OfflineSettings settings, IReadOnlyList<OfflineUser> users)
        : base(server, settings, users)
    {
        _setup = new JetStreamOffline(server, settings, users, senders: false);
    }

    public override async Task PrepareAsync(CancellationToken cancellationToken)
    {
        await _setup.PrepareAsync(cancellationToken);
        foreach (OfflineUser user in Users)
        {
            Conn conn = await Conn.ConnectAsync(Server.EndPoint, 64 * 1024, cancellationToken);
            _senders[user] = conn;
            await OpenAsync(conn, $"SUB _INBOX.{user.SenderName}.* 1\r\n");
        }

        foreach (OfflineUser user in Users) _reads.Add(Task.Run(() => ReadLoopAsync(user, _senders[user], sender: true, null)));
    }

    public override Task StoreAsync(CancellationToken cancellationToken) =>
        Task.WhenAll(Users.Select(user => Task.Run(() => PublishLoopAsync(user, _senders[user], cancellationToken))));

    public override async Task DrainAsync(CancellationToken cancellationToken)
    {
        foreach (OfflineUser user in Users) user.BeginDrain();
        await Task.WhenAll(Users.Select(async user =>
        {
            Conn conn = await Conn.ConnectAsync(Server.EndPoint, 64 * 1024, cancellationToken);
            lock (_recipients) _recipients.Add(conn);
            await OpenAsync(conn, $"SUB _INBOX.{user.RecipientName}.pull 1\r\n");
            var pull = new Puller(user, Volatile.Read(ref user.Stored));
            var first = new Outbox();
            pull.Request(first);
            Task read = Task.Run(() => ReadLoopAsync(user, conn, sender: false, pull));
            lock (_reads) _reads.Add(read);
            if (first.Length > 0) await conn.SendAsync(first.Memory, cancellationToken);
            await user.AllReceived.Task.WaitAsync(cancellationToken);
        }));
    }

    public override Task ConfirmAsync(CancellationToken cancellationToken) => _setup.ConfirmAsync(cancellationToken);

    public override async ValueTask DisposeAsync()
    {
        _closing = true;
        foreach (Conn conn in _senders.Values) conn.Dispose();
        lock (_recipients) foreach (Conn conn in _recipients) conn.Dispose();
        Task[] reads;
        lock (_reads) reads = _reads.ToArray();
        try { await Task.WhenAll(reads).WaitAsync(TimeSpan.FromSeconds(10)); }
        catch (Exception) { }
        await _setup.DisposeAsync();
    }

    private static async Task OpenAsync(Conn conn, string subscribe)
    {
        await Wire.ExpectLineAsync(conn, line => line.StartsWith("INFO ", StringComparison.Ordinal) ? true : null, "INFO");
        await conn.SendAsync(Wire.Ascii("CONNECT {\"verbose\":false,\"pedantic\":false,\"echo\":false,\"headers\":true,\"no_responders\":true}\r\n" + subscribe + "PING\r\n"));
        await Wire.ExpectLineAsync(conn, line => line == "PONG" ? true : line == "+OK" || line.StartsWith("INFO ", StringComparison.Ordinal) ? false : null, "PONG");
    }

    private async Task PublishLoopAsync(OfflineUser user, Conn conn, CancellationToken cancellationToken)
    {
        byte[] subject = Wire.Ascii($"PUB inbox.{user.RecipientName} _INBOX.{user.SenderName}.");
        byte[] size = Wire.Ascii($" {Settings.PayloadBytes}\r\n");
        int payload = Settings.PayloadBytes;
        long count = Settings.MessagesPerUser;
        var buffer = new byte[(subject.Length + 20 + size.Length + payload + 2) * Settings.Window];
        while (user.Sent < count)
        {
            long credit = Math.Min(count - user.Sent, Settings.Window - (user.Sent - user.Heard));
            if (credit <= 0)
            {
                await user.WaitForCreditAsync(Settings.Window).WaitAsync(cancellationToken);
                continue;
            }

            int at = 0;
            long timestamp = System.Diagnostics.Stopwatch.GetTimestamp();
            for (long sequence = user.Sent + 1; sequence <= user.Sent + credit; sequence++)
            {
                subject.CopyTo(buffer.AsSpan(at));
                at += subject.Length;
                at += Payload.WriteNumber(buffer.AsSpan(at), sequence);
                size.CopyTo(buffer.AsSpan(at));
                at += size.Length;
                Payload.Write(buffer.AsSpan(at), sequence, timestamp, payload);
                user.MarkSent(sequence, timestamp);
                at += payload;
                buffer[at++] = (byte)'\r';
                buffer[at++] = (byte)'\n';
            }

            Volatile.Write(ref user.Sent, user.Sent + credit);
            await conn.SendAsync(buffer.AsMemory(0, at), cancellationToken);
        }

        while (user.Heard < count) await user.WaitForCreditAsync(1).WaitAsync(cancellationToken);
    }

    private async Task ReadLoopAsync(OfflineUser user, Conn conn, bool sender, Puller pull)
    {
        var reply = new Outbox();
        try
        {
            while (true)
            {
                if (conn.Buffered > 0)
                {
                    reply.Clear();
                    conn.Consume(Parse(conn.Data, user, sender, pull, reply));
                    if (reply.Length > 0) await conn.SendAsync(reply.Memory);
                }

                if (!await conn.FillAsync()) break;
            }
        }
        catch (Exception e) when (e is IOException || e is System.Net.Sockets.SocketException || e is ObjectDisposedException)
        {
        }

        if (!_closing) user.Error((sender ? "sender" : "recipient") + ": the server closed the connection");
    }

    /// <summary>
    /// MSG SUBJECT SID [REPLY] SIZE, then the payload: to a sender a publish ack (JSON), to a user a stored
    /// message whose reply subject is its ack subject. HMSG (a pull request's status, with headers) is read past.
    /// </summary>
    private int Parse(ReadOnlySpan<byte> data, OfflineUser user, bool sender, Puller pull, Outbox reply)
    {
        int used = 0;
        long now = System.Diagnostics.Stopwatch.GetTimestamp();
        while (true)
        {
            ReadOnlySpan<byte> rest = data.Slice(used);
            int length = Wire.NextLine(rest, out ReadOnlySpan<byte> line);
            if (length < 0) break;
            bool headers = line.StartsWith("HMSG "u8);
            if (headers || line.StartsWith("MSG "u8))
            {
                int space = line.LastIndexOf((byte)' ');
                if (!Payload.TryDigits(line.Slice(space + 1), out long size))
                {
                    user.Error("a frame that is not NATS's: " + Wire.Text(line));
                    used += length;
                    continue;
                }

                if (length + size + 2 > rest.Length) break;
                ReadOnlySpan<byte> body = rest.Slice(length, (int)size);
                used += length + (int)size + 2;
                if (headers)
                {
                    // 408 (the request expired) or 409: ask again for what has not come; anything else is an error.
                    if (body.IndexOf(" 408"u8) < 0 && body.IndexOf(" 409"u8) < 0 && body.IndexOf(" 404"u8) < 0) user.Error("a status: " + Wire.Text(body));
                    pull?.Expired();
                    continue;
                }

                if (sender)
                {
                    bool stored = body.IndexOf("\"error\""u8) < 0 && body.IndexOf("\"duplicate\":true"u8) < 0;
                    if (!stored) user.Error("publish: " + Wire.Text(body));

                    // MSG _INBOX.sender.SEQUENCE 1 SIZE: the reply subject names the message.
                    ReadOnlySpan<byte> subject = line.Slice(4);
                    subject = subject.Slice(0, Math.Max(0, subject.IndexOf((byte)' ')));
                    long sequence = Payload.TryDigits(subject.Slice(subject.LastIndexOf((byte)'.') + 1), out long s) ? s : 0;
                    user.OnFate(stored, sequence, now);
                    continue;
                }

                // MSG _INBOX.user.pull 1 $JS.ACK.inbox.user.... SIZE: ack on the reply subject.
                ReadOnlySpan<byte> head = line.Slice(0, space);
                ReadOnlySpan<byte> ackSubject = head.Slice(head.LastIndexOf((byte)' ') + 1);
                if (!ackSubject.StartsWith("$JS.ACK."u8))
                {
                    user.Error("a message without an ack subject: " + Wire.Text(line));
                    continue;
                }

                user.OnMessage(body, Settings.PayloadBytes);
                reply.Write("PUB "u8);
                reply.Write(ackSubject);
                reply.Write(" 0\r\n\r\n"u8);
                pull.Received++;
                continue;
            }

            used += length;
            if (line.SequenceEqual("PING"u8)) reply.Write("PONG\r\n"u8);
            else if (!(line.SequenceEqual("PONG"u8) || line.SequenceEqual("+OK"u8) || line.StartsWith("INFO "u8))) user.Error(Wire.Text(line));
        }

        pull?.Request(reply);
        return used;
    }

    /// <summary>A user's pull requests: batches of <see cref="PullBatch"/>, up to <see cref="PullAhead"/> asked for and not come.</summary>
    private sealed class Puller
    {
        private readonly byte[] _request;
        private readonly long _total;
        private long _requested;

        public Puller(OfflineUser user, long total)
        {
            _total = total;
            string body = "{\"batch\":" + PullBatch + ",\"expires\":" + TimeSpan.FromSeconds(30).Ticks * 100 + "}";
            _request = Encoding.ASCII.GetBytes($"PUB $JS.API.CONSUMER.MSG.NEXT.inbox.{user.RecipientName} _INBOX.{user.RecipientName}.pull {body.Length}\r\n{body}\r\n");
        }

        public long Received;

        /// <summary>A request ended before its batch was full: what it did not bring may be asked for again.</summary>
        public void Expired() => _requested = Received;

        public void Request(Outbox reply)
        {
            while (_requested < _total && _requested - Received <= PullAhead - PullBatch)
            {
                reply.Write(_request);
                _requested += PullBatch;
            }
        }
    }
}
