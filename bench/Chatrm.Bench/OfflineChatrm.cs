using System.Net;

namespace Chatrm.Bench;

/// <summary>
/// Chatrm native over its wire (docs/protocol.md, issue 16): each user logs in once and says bye, so the server
/// knows it and it is away; its sender's messages to it come back "stored"; it connects, its stored messages
/// arrive as message frames after the welcome, and it acks each read's with one ack "through" the last, as
/// the live workload's receivers do. Each sender stays connected and hears a "delivered" receipt per ack.
/// </summary>
public sealed class ChatrmOffline : OfflineClient
{
    private readonly Dictionary<OfflineUser, Conn> _senders = new Dictionary<OfflineUser, Conn>();
    private readonly List<Conn> _recipients = new List<Conn>();
    private readonly List<Task> _senderReads = new List<Task>();
    private readonly TaskCompletionSource _allConfirmed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _confirmedTotal;
    private volatile bool _closing;

    public ChatrmOffline(ServerProcess server, OfflineSettings settings, IReadOnlyList<OfflineUser> users)
        : base(server, settings, users)
    {
    }

    public override async Task PrepareAsync(CancellationToken cancellationToken)
    {
        await Task.WhenAll(Users.Select(async user =>
        {
            // Known, then away: the server closes only after it has taken the user off its router.
            using Conn once = await Conn.ConnectAsync(Server.EndPoint, 4096, cancellationToken);
            await OpenAsync(once, user.RecipientName);
            await once.SendAsync("{\"type\":\"bye\"}\n"u8.ToArray(), cancellationToken);
            while (await once.FillAsync(cancellationToken)) once.Consume(once.Buffered);
        }));

        foreach (OfflineUser user in Users)
        {
            Conn sender = await Conn.ConnectAsync(Server.EndPoint, 64 * 1024, cancellationToken);
            _senders[user] = sender;
            await OpenAsync(sender, user.SenderName);
        }

        foreach (OfflineUser user in Users) _senderReads.Add(Task.Run(() => SenderReadLoopAsync(user, _senders[user])));
    }

    public override Task StoreAsync(CancellationToken cancellationToken) =>
        Task.WhenAll(Users.Select(user => Task.Run(() => SendLoopAsync(user, _senders[user], cancellationToken))));

    public override async Task DrainAsync(CancellationToken cancellationToken)
    {
        foreach (OfflineUser user in Users) user.BeginDrain();
        await Task.WhenAll(Users.Select(async user =>
        {
            Conn conn = await Conn.ConnectAsync(Server.EndPoint, 64 * 1024, cancellationToken);
            lock (_recipients) _recipients.Add(conn);
            await OpenAsync(conn, user.RecipientName);
            _ = Task.Run(() => RecipientReadLoopAsync(user, conn));
            await user.AllReceived.Task.WaitAsync(cancellationToken);
        }));
    }

    public override Task ConfirmAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Read(ref _confirmedTotal) >= Users.Sum(u => u.Stored)) _allConfirmed.TrySetResult();
        return _allConfirmed.Task.WaitAsync(cancellationToken);
    }

    public override async ValueTask DisposeAsync()
    {
        _closing = true;
        foreach (Conn conn in _senders.Values) conn.Dispose();
        lock (_recipients) foreach (Conn conn in _recipients) conn.Dispose();
        try { await Task.WhenAll(_senderReads).WaitAsync(TimeSpan.FromSeconds(10)); }
        catch (Exception) { }
    }

    private static async Task OpenAsync(Conn conn, string name)
    {
        await conn.SendAsync(Wire.Ascii("{\"type\":\"hello\",\"protocol\":\"chatrm_native\",\"version\":1,\"user\":\"" + name + "\",\"batch\":true,\"presence\":false}\n"));
        await Wire.ExpectLineAsync(conn, line => line.StartsWith("{\"type\":\"welcome\"", StringComparison.Ordinal) ? true : null, "the welcome");
    }

    private async Task SendLoopAsync(OfflineUser user, Conn conn, CancellationToken cancellationToken)
    {
        byte[] prefix = "{\"type\":\"send\",\"ref\":\""u8.ToArray();
        byte[] middle = Wire.Ascii("\",\"to\":\"" + user.RecipientName + "\",\"text\":\"");
        byte[] suffix = "\"}\n"u8.ToArray();
        int payload = Settings.PayloadBytes;
        long count = Settings.MessagesPerUser;
        var buffer = new byte[(prefix.Length + 20 + middle.Length + payload + suffix.Length) * Settings.Window];
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
                prefix.CopyTo(buffer.AsSpan(at));
                at += prefix.Length;
                at += Payload.WriteNumber(buffer.AsSpan(at), sequence);
                middle.CopyTo(buffer.AsSpan(at));
                at += middle.Length;
                Payload.Write(buffer.AsSpan(at), sequence, timestamp, payload);
                user.MarkSent(sequence, timestamp);
                at += payload;
                suffix.CopyTo(buffer.AsSpan(at));
                at += suffix.Length;
            }

            Volatile.Write(ref user.Sent, user.Sent + credit);
            await conn.SendAsync(buffer.AsMemory(0, at), cancellationToken);
        }

        while (user.Heard < count) await user.WaitForCreditAsync(1).WaitAsync(cancellationToken);
    }

    /// <summary>
    /// A sender hears "stored" for each message while the user is away, and later a "delivered" receipt for
    /// each the user acked (a status frame, or entries of a delivered frame).
    /// </summary>
    private async Task SenderReadLoopAsync(OfflineUser user, Conn conn)
    {
        var reply = new Outbox();
        try
        {
            while (await conn.FillAsync())
            {
                reply.Clear();
                conn.Consume(ParseSender(conn.Data, user, reply));
                if (reply.Length > 0) await conn.SendAsync(reply.Memory);
            }
        }
        catch (Exception e) when (e is IOException || e is System.Net.Sockets.SocketException || e is ObjectDisposedException)
        {
        }

        if (!_closing) user.Error("sender: the server closed the connection");
    }

    private int ParseSender(ReadOnlySpan<byte> data, OfflineUser user, Outbox reply)
    {
        int used = 0;
        long receipts = 0;
        long now = System.Diagnostics.Stopwatch.GetTimestamp();
        while (true)
        {
            int length = Wire.NextLine(data.Slice(used), out ReadOnlySpan<byte> line);
            if (length < 0) break;
            used += length;
            if (line.StartsWith("{\"type\":\"status\""u8))
            {
                if (line.IndexOf("\"status\":\"stored\""u8) >= 0)
                {
                    long sequence = NativeWire.TryString(line, "\"ref\":\""u8, out ReadOnlySpan<byte> reference) && Payload.TryDigits(reference, out long s) ? s : 0;
                    user.OnFate(stored: true, sequence, now);
                }
                else if (line.IndexOf("\"status\":\"delivered\""u8) >= 0) receipts++;
                else
                {
                    user.Error("sender: " + Wire.Text(line));
                    user.OnFate(stored: false);
                }
            }
            else if (line.StartsWith("{\"type\":\"delivered\""u8))
            {
                ReadOnlySpan<byte> rest = line;
                while (NativeWire.TryString(rest, "\"id\":\""u8, out _, out rest)) receipts++;
            }
            else if (line.StartsWith("{\"type\":\"ping\""u8))
            {
                reply.Write("{\"type\":\"pong\"}\n"u8);
            }
            else if (!line.StartsWith("{\"type\":\"presence\""u8))
            {
                user.Error("sender: " + Wire.Text(line));
            }
        }

        if (receipts > 0)
        {
            Interlocked.Add(ref user.Confirmed, receipts);
            long total = Interlocked.Add(ref _confirmedTotal, receipts);
            if (total >= Users.Sum(u => Volatile.Read(ref u.Stored))) _allConfirmed.TrySetResult();
        }

        return used;
    }

    private async Task RecipientReadLoopAsync(OfflineUser user, Conn conn)
    {
        var reply = new Outbox();
        try
        {
            while (true)
            {
                if (conn.Buffered > 0)
                {
                    reply.Clear();
                    conn.Consume(ParseRecipient(conn.Data, user, reply));
                    if (reply.Length > 0) await conn.SendAsync(reply.Memory);
                }

                if (!await conn.FillAsync()) break;
            }
        }
        catch (Exception e) when (e is IOException || e is System.Net.Sockets.SocketException || e is ObjectDisposedException)
        {
        }

        if (!_closing) user.Error("recipient: the server closed the connection");
    }

    private int ParseRecipient(ReadOnlySpan<byte> data, OfflineUser user, Outbox reply)
    {
        int used = 0;
        ReadOnlySpan<byte> last = default;
        while (true)
        {
            int length = Wire.NextLine(data.Slice(used), out ReadOnlySpan<byte> line);
            if (length < 0) break;
            used += length;
            if (line.StartsWith("{\"type\":\"message\""u8))
            {
                if (!NativeWire.TryString(line, "\"id\":\""u8, out ReadOnlySpan<byte> id) || !NativeWire.TryString(line, "\"text\":\""u8, out ReadOnlySpan<byte> text))
                {
                    user.Error("recipient: a message frame without id or text: " + Wire.Text(line));
                    continue;
                }

                last = id;
                user.OnMessage(text, Settings.PayloadBytes);
            }
            else if (line.StartsWith("{\"type\":\"ping\""u8))
            {
                reply.Write("{\"type\":\"pong\"}\n"u8);
            }
            else if (!line.StartsWith("{\"type\":\"presence\""u8))
            {
                user.Error("recipient: " + Wire.Text(line));
            }
        }

        if (!last.IsEmpty)
        {
            reply.Write("{\"type\":\"ack\",\"through\":\""u8);
            reply.Write(last);
            reply.Write("\"}\n"u8);
        }

        return used;
    }
}
