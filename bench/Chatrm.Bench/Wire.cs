using System.Text;

namespace Chatrm.Bench;

/// <summary>
/// One server's protocol as the load generator speaks it: how a user opens, how a message is written, and how
/// what comes back is read. Every parser works on raw bytes with no per-message allocation, so the client
/// costs the same for every server.
/// </summary>
public abstract class Wire
{
    protected static readonly TimeSpan OpenTimeout = TimeSpan.FromSeconds(30);

    public abstract string Name { get; }

    /// <summary>True when the sender hears each message's fate (native Chatrm): the window counts confirmations.</summary>
    public virtual bool ConfirmsDelivery => false;

    public static Wire For(string target) => target switch
    {
        Targets.ChatrmClassic or Targets.ChatrmClassicStore or Targets.ChatrmClassicCross => new ClassicWire(),
        Targets.ChatrmNative or Targets.ChatrmNativeStore or Targets.ChatrmNativeCross or Targets.ChatrmNativeCrossKill => new NativeWire(),
        Targets.Redis => new RedisWire(),
        Targets.Nats => new NatsWire(),
        _ => throw new ArgumentException("unknown target " + target),
    };

    public abstract Task OpenReceiverAsync(Conn conn, string name);

    public abstract Task OpenSenderAsync(Conn conn, string name);

    /// <summary>An idle user: registered or subscribed, and then silent.</summary>
    public virtual Task OpenIdleAsync(Conn conn, string name) => OpenReceiverAsync(conn, name);

    public abstract void Prepare(Pair pair, int payloadBytes);

    public int MaxMessageBytes(Pair pair, int payloadBytes) =>
        pair.Prefix.Length + 20 + (pair.Middle?.Length ?? 0) + payloadBytes + pair.Suffix.Length;

    public virtual int WriteMessage(Span<byte> destination, Pair pair, long sequence, long timestamp, int payloadBytes)
    {
        pair.Prefix.CopyTo(destination);
        int at = pair.Prefix.Length;
        Payload.Write(destination.Slice(at), sequence, timestamp, payloadBytes);
        at += payloadBytes;
        pair.Suffix.CopyTo(destination.Slice(at));
        return at + pair.Suffix.Length;
    }

    /// <summary>Reads what reached a receiver; returns the bytes used (an incomplete tail stays).</summary>
    public abstract int ParseReceiver(ReadOnlySpan<byte> data, Pair pair, long now, Outbox reply);

    /// <summary>Reads what reached a sender (replies, statuses, notices); returns the bytes used.</summary>
    public abstract int ParseSender(ReadOnlySpan<byte> data, Pair pair, long now, Outbox reply);

    protected internal static byte[] Ascii(string text) => Encoding.ASCII.GetBytes(text);

    protected internal static string Text(ReadOnlySpan<byte> bytes) => Encoding.UTF8.GetString(bytes);

    /// <summary>A line ending in \n (a \r before it dropped), or -1 when no whole line is there yet.</summary>
    protected internal static int NextLine(ReadOnlySpan<byte> data, out ReadOnlySpan<byte> line)
    {
        int newline = data.IndexOf((byte)'\n');
        if (newline < 0)
        {
            line = default;
            return -1;
        }

        line = data.Slice(0, newline > 0 && data[newline - 1] == (byte)'\r' ? newline - 1 : newline);
        return newline + 1;
    }

    /// <summary>Waits for a line for which <paramref name="accept"/> is true; lines it rejects with an error end the open.</summary>
    protected internal static Task ExpectLineAsync(Conn conn, Func<string, bool?> accept, string what) =>
        conn.ReadUntilAsync(memory =>
        {
            int used = NextLine(memory.Span, out ReadOnlySpan<byte> line);
            if (used < 0) return (-1, false);
            string text = Text(line);
            bool? verdict = accept(text);
            if (verdict == null) throw new IOException($"while waiting for {what}: {text}");
            return (used, verdict.Value);
        }, OpenTimeout, what);
}

public static class Targets
{
    public const string ChatrmClassic = "chatrm-classic";
    public const string ChatrmNative = "chatrm-native";
    public const string Redis = "redis";
    public const string Nats = "nats";

    /// <summary>Chatrm with a store file and history on (issue 16): the live suite's runs beside the ones without.</summary>
    public const string ChatrmClassicStore = "chatrm-classic-store";
    public const string ChatrmNativeStore = "chatrm-native-store";

    /// <summary>nats-server -js with file storage in a temporary folder: the offline workload's comparison.</summary>
    public const string JetStream = "nats-jetstream";

    /// <summary>The same server, spoken to over its wire by this program's raw-socket client, as Chatrm is.</summary>
    public const string JetStreamWire = "nats-jetstream-wire";

    /// <summary>
    /// Two Chatrm servers of one cluster (serve --cluster) on one nats-server -js, each pair's sender and receiver on
    /// different servers (issue 19).
    /// </summary>
    public const string ChatrmNativeCross = "chatrm-native-cross";
    public const string ChatrmClassicCross = "chatrm-classic-cross";

    /// <summary>As <see cref="ChatrmNativeCross"/>, with a third server of the cluster, holding idle users, killed with SIGKILL a third of the way into the measured time.</summary>
    public const string ChatrmNativeCrossKill = "chatrm-native-cross-kill";

    public static readonly string[] All = { ChatrmClassic, ChatrmNative, Redis, Nats };

    /// <summary>What the live suite runs by default: every server, and Chatrm again with a store.</summary>
    public static readonly string[] Suite = { ChatrmClassic, ChatrmNative, Redis, Nats, ChatrmClassicStore, ChatrmNativeStore };

    public static bool IsChatrm(string target) => target.StartsWith("chatrm", StringComparison.Ordinal);

    /// <summary>A server that keeps what it is sent on disk, in a temporary folder of its own.</summary>
    public static bool Stores(string target) => target == ChatrmClassicStore || target == ChatrmNativeStore || target == JetStream || target == JetStreamWire;

    /// <summary>Pairs across the servers of a cluster.</summary>
    public static bool Crosses(string target) => target == ChatrmNativeCross || target == ChatrmClassicCross || target == ChatrmNativeCrossKill;

    /// <summary>The same protocol on one server, for the ratio.</summary>
    public static string OneServer(string target) => target switch
    {
        ChatrmNativeCross or ChatrmNativeCrossKill => ChatrmNative,
        ChatrmClassicCross => ChatrmClassic,
        _ => target,
    };

    /// <summary>The same server without a store, for the ratio.</summary>
    public static string WithoutStore(string target) => target switch
    {
        ChatrmClassicStore => ChatrmClassic,
        ChatrmNativeStore => ChatrmNative,
        _ => target,
    };
}

/// <summary>Chatrm classic: NAME_ then SOURCE_DEST_TEXT lines; DEST_SOURCE_TEXT comes back.</summary>
public sealed class ClassicWire : Wire
{
    public override string Name => Targets.ChatrmClassic;

    public override Task OpenReceiverAsync(Conn conn, string name) => OpenAsync(conn, name);

    public override Task OpenSenderAsync(Conn conn, string name) => OpenAsync(conn, name);

    public override void Prepare(Pair pair, int payloadBytes)
    {
        pair.Prefix = Ascii(pair.SenderName + "_" + pair.ReceiverName + "_");
        pair.Suffix = Ascii("\n");
    }

    public override int ParseReceiver(ReadOnlySpan<byte> data, Pair pair, long now, Outbox reply)
    {
        int used = 0;
        while (true)
        {
            int length = NextLine(data.Slice(used), out ReadOnlySpan<byte> line);
            if (length < 0) return used;
            used += length;
            int first = line.IndexOf((byte)'_');
            int second = first < 0 ? -1 : line.Slice(first + 1).IndexOf((byte)'_');
            if (second < 0)
            {
                pair.Error("receiver: a line without two fields: " + Text(line));
                continue;
            }

            ReadOnlySpan<byte> source = line.Slice(first + 1, second);
            if (source.SequenceEqual("chatrm"u8))
            {
                pair.Error("receiver: notice: " + Text(line));
                continue;
            }

            pair.OnMessage(line.Slice(first + second + 2), now);
        }
    }

    public override int ParseSender(ReadOnlySpan<byte> data, Pair pair, long now, Outbox reply)
    {
        int used = 0;
        while (true)
        {
            int length = NextLine(data.Slice(used), out ReadOnlySpan<byte> line);
            if (length < 0) return used;
            used += length;
            pair.Error("sender: notice: " + Text(line));
        }
    }

    private static async Task OpenAsync(Conn conn, string name)
    {
        await conn.SendAsync(Ascii(name + "_\n")).ConfigureAwait(false);
        await ExpectLineAsync(conn, line => line.StartsWith(name + "_chatrm_welcome:", StringComparison.Ordinal) ? true : null, "the welcome").ConfigureAwait(false);
    }
}

/// <summary>
/// Chatrm native: JSON frames; every message is confirmed to its sender. Users ask for batched confirmations, as
/// a client that sends a lot would: a receiver acks all it got in one read with one ack "through" the last, and
/// a sender hears of its delivered messages in delivered frames that list them.
/// </summary>
public sealed class NativeWire : Wire
{
    public override string Name => Targets.ChatrmNative;

    public override bool ConfirmsDelivery => true;

    public override Task OpenReceiverAsync(Conn conn, string name) => OpenAsync(conn, name);

    /// <summary>
    /// An idle native user says "presence":false, as a bot that does not care who comes and goes would: with
    /// presence, N users connecting cost the server N²/2 frames (docs/performance.md).
    /// </summary>
    public override Task OpenIdleAsync(Conn conn, string name) => OpenAsync(conn, name, presence: false);

    public override Task OpenSenderAsync(Conn conn, string name) => OpenAsync(conn, name);

    public override void Prepare(Pair pair, int payloadBytes)
    {
        pair.Prefix = Ascii("{\"type\":\"send\",\"ref\":\"");
        pair.Middle = Ascii("\",\"to\":\"" + pair.ReceiverName + "\",\"text\":\"");
        pair.Suffix = Ascii("\"}\n");
    }

    public override int WriteMessage(Span<byte> destination, Pair pair, long sequence, long timestamp, int payloadBytes)
    {
        pair.Prefix.CopyTo(destination);
        int at = pair.Prefix.Length;
        at += Payload.WriteNumber(destination.Slice(at), sequence);
        pair.Middle.CopyTo(destination.Slice(at));
        at += pair.Middle.Length;
        Payload.Write(destination.Slice(at), sequence, timestamp, payloadBytes);
        at += payloadBytes;
        pair.Suffix.CopyTo(destination.Slice(at));
        pair.RememberSendTime(sequence, timestamp);
        return at + pair.Suffix.Length;
    }

    public override int ParseReceiver(ReadOnlySpan<byte> data, Pair pair, long now, Outbox reply)
    {
        int used = 0;
        ReadOnlySpan<byte> last = default;
        while (true)
        {
            int length = NextLine(data.Slice(used), out ReadOnlySpan<byte> line);
            if (length < 0) break;
            used += length;
            if (line.StartsWith("{\"type\":\"message\""u8))
            {
                if (!TryString(line, "\"id\":\""u8, out ReadOnlySpan<byte> id) || !TryString(line, "\"text\":\""u8, out ReadOnlySpan<byte> text))
                {
                    pair.Error("receiver: a message frame without id or text: " + Text(line));
                    continue;
                }

                last = id;
                pair.OnMessage(text, now);
            }
            else
            {
                Other(line, pair, reply, "receiver");
            }
        }

        if (!last.IsEmpty)
        {
            // One ack for everything this read brought: the last message and every one before it.
            ReadOnlySpan<byte> ack = "{\"type\":\"ack\",\"through\":\""u8;
            Span<byte> span = reply.GetSpan(ack.Length + last.Length + 3);
            ack.CopyTo(span);
            last.CopyTo(span.Slice(ack.Length));
            "\"}\n"u8.CopyTo(span.Slice(ack.Length + last.Length));
            reply.Advance(ack.Length + last.Length + 3);
        }

        return used;
    }

    public override int ParseSender(ReadOnlySpan<byte> data, Pair pair, long now, Outbox reply)
    {
        int used = 0;
        while (true)
        {
            int length = NextLine(data.Slice(used), out ReadOnlySpan<byte> line);
            if (length < 0) return used;
            used += length;
            if (line.StartsWith("{\"type\":\"status\""u8))
            {
                if (!TryString(line, "\"ref\":\""u8, out ReadOnlySpan<byte> reference) || !Payload.TryDigits(reference, out long sequence))
                {
                    pair.Error("sender: a status without our ref: " + Text(line));
                    continue;
                }

                pair.OnStatus(sequence, line.IndexOf("\"status\":\"delivered\""u8) >= 0, now, line);
            }
            else if (line.StartsWith("{\"type\":\"delivered\""u8))
            {
                ReadOnlySpan<byte> rest = line;
                int count = 0;
                while (TryString(rest, "\"ref\":\""u8, out ReadOnlySpan<byte> reference, out rest))
                {
                    if (!Payload.TryDigits(reference, out long sequence))
                    {
                        pair.Error("sender: a delivered message without our ref: " + Text(line));
                        break;
                    }

                    pair.OnStatus(sequence, true, now, line);
                    count++;
                }

                if (count == 0)
                {
                    pair.Error("sender: a delivered frame without messages: " + Text(line));
                }
            }
            else
            {
                Other(line, pair, reply, "sender");
            }
        }
    }

    private static void Other(ReadOnlySpan<byte> line, Pair pair, Outbox reply, string who)
    {
        if (line.StartsWith("{\"type\":\"presence\""u8))
        {
            return;
        }

        if (line.StartsWith("{\"type\":\"ping\""u8))
        {
            reply.Write("{\"type\":\"pong\"}\n"u8);
            return;
        }

        pair.Error(who + ": " + Text(line));
    }

    internal static bool TryString(ReadOnlySpan<byte> line, ReadOnlySpan<byte> key, out ReadOnlySpan<byte> value) =>
        TryString(line, key, out value, out _);

    /// <summary>The string after the first <paramref name="key"/>, and what follows its closing quote.</summary>
    internal static bool TryString(ReadOnlySpan<byte> line, ReadOnlySpan<byte> key, out ReadOnlySpan<byte> value, out ReadOnlySpan<byte> after)
    {
        value = after = default;
        int at = line.IndexOf(key);
        if (at < 0) return false;
        ReadOnlySpan<byte> rest = line.Slice(at + key.Length);
        int end = rest.IndexOf((byte)'"');
        if (end < 0) return false;
        value = rest.Slice(0, end);
        after = rest.Slice(end + 1);
        return true;
    }

    private static async Task OpenAsync(Conn conn, string name, bool presence = true)
    {
        string quiet = presence ? string.Empty : ",\"presence\":false";
        await conn.SendAsync(Ascii("{\"type\":\"hello\",\"protocol\":\"chatrm_native\",\"version\":1,\"user\":\"" + name + "\",\"batch\":true" + quiet + "}\n")).ConfigureAwait(false);
        await ExpectLineAsync(conn, line =>
            line.StartsWith("{\"type\":\"welcome\"", StringComparison.Ordinal) && line.Contains("\"batch\":true", StringComparison.Ordinal) ? true :
            line.StartsWith("{\"type\":\"presence\"", StringComparison.Ordinal) ? false : null, "a welcome that grants batched confirmations").ConfigureAwait(false);
    }
}

/// <summary>Redis pub/sub in RESP: a receiver SUBSCRIBEs to its own channel, its sender PUBLISHes to it.</summary>
public sealed class RedisWire : Wire
{
    public override string Name => Targets.Redis;

    public override async Task OpenReceiverAsync(Conn conn, string name)
    {
        await conn.SendAsync(Ascii($"*2\r\n$9\r\nSUBSCRIBE\r\n${name.Length}\r\n{name}\r\n")).ConfigureAwait(false);
        await conn.ReadUntilAsync(memory =>
        {
            int used = TryArray(memory.Span, out ReadOnlySpan<byte> kind, out _);
            if (used == 0) return (-1, false);
            if (!kind.SequenceEqual("subscribe"u8)) throw new IOException("redis answered SUBSCRIBE with " + Text(memory.Span));
            return (used, true);
        }, OpenTimeout, "the subscription").ConfigureAwait(false);
    }

    public override async Task OpenSenderAsync(Conn conn, string name)
    {
        await conn.SendAsync("*1\r\n$4\r\nPING\r\n"u8.ToArray()).ConfigureAwait(false);
        await ExpectLineAsync(conn, line => line == "+PONG" ? true : null, "PONG").ConfigureAwait(false);
    }

    public override void Prepare(Pair pair, int payloadBytes)
    {
        string channel = pair.ReceiverName;
        pair.Prefix = Ascii($"*3\r\n$7\r\nPUBLISH\r\n${channel.Length}\r\n{channel}\r\n${payloadBytes}\r\n");
        pair.Suffix = Ascii("\r\n");
    }

    public override int ParseReceiver(ReadOnlySpan<byte> data, Pair pair, long now, Outbox reply)
    {
        int used = 0;
        while (true)
        {
            int length = TryArray(data.Slice(used), out ReadOnlySpan<byte> kind, out ReadOnlySpan<byte> last);
            if (length == 0) return used;
            used += length;
            if (length < 0)
            {
                pair.Error("receiver: unexpected " + Text(data.Slice(used)));
                return data.Length;
            }

            if (kind.SequenceEqual("message"u8)) pair.OnMessage(last, now);
            else pair.Error("receiver: unexpected push " + Text(kind));
        }
    }

    public override int ParseSender(ReadOnlySpan<byte> data, Pair pair, long now, Outbox reply)
    {
        int used = 0;
        while (true)
        {
            int length = NextLine(data.Slice(used), out ReadOnlySpan<byte> line);
            if (length < 0) return used;
            used += length;
            if (line.Length > 1 && line[0] == (byte)':')
            {
                if (line.Length == 2 && line[1] == (byte)'0') pair.Error("sender: PUBLISH reached no subscriber");
            }
            else
            {
                pair.Error("sender: " + Text(line));
            }
        }
    }

    /// <summary>
    /// One RESP array of bulk strings and integers: returns its length, 0 when it is not all there yet, or -1
    /// when it is no array. <paramref name="first"/> is its first element and <paramref name="last"/> its last.
    /// </summary>
    internal static int TryArray(ReadOnlySpan<byte> data, out ReadOnlySpan<byte> first, out ReadOnlySpan<byte> last)
    {
        first = last = default;
        if (data.IsEmpty) return 0;
        if (data[0] != (byte)'*') return -1;
        int at = NextLine(data, out ReadOnlySpan<byte> header);
        if (at < 0) return 0;
        if (!Payload.TryDigits(header.Slice(1), out long count)) return -1;
        for (long i = 0; i < count; i++)
        {
            if (at >= data.Length) return 0;
            int used = NextLine(data.Slice(at), out ReadOnlySpan<byte> line);
            if (used < 0) return 0;
            ReadOnlySpan<byte> element;
            if (line[0] == (byte)'$')
            {
                if (!Payload.TryDigits(line.Slice(1), out long size)) return -1;
                if (at + used + size + 2 > data.Length) return 0;
                element = data.Slice(at + used, (int)size);
                at += used + (int)size + 2;
            }
            else
            {
                element = line.Slice(1);
                at += used;
            }

            if (i == 0) first = element;
            last = element;
        }

        return at;
    }
}

/// <summary>NATS core: a receiver SUBs to its own subject, its sender PUBs to it.</summary>
public sealed class NatsWire : Wire
{
    public override string Name => Targets.Nats;

    public override Task OpenReceiverAsync(Conn conn, string name) => OpenAsync(conn, $"SUB {name} 1\r\n");

    public override Task OpenSenderAsync(Conn conn, string name) => OpenAsync(conn, string.Empty);

    public override void Prepare(Pair pair, int payloadBytes)
    {
        pair.Prefix = Ascii($"PUB {pair.ReceiverName} {payloadBytes}\r\n");
        pair.Suffix = Ascii("\r\n");
    }

    public override int ParseReceiver(ReadOnlySpan<byte> data, Pair pair, long now, Outbox reply)
    {
        int used = 0;
        while (true)
        {
            ReadOnlySpan<byte> rest = data.Slice(used);
            int length = NextLine(rest, out ReadOnlySpan<byte> line);
            if (length < 0) return used;
            if (line.StartsWith("MSG "u8))
            {
                int space = line.LastIndexOf((byte)' ');
                if (!Payload.TryDigits(line.Slice(space + 1), out long size))
                {
                    pair.Error("receiver: " + Text(line));
                    used += length;
                    continue;
                }

                if (length + size + 2 > rest.Length) return used;
                pair.OnMessage(rest.Slice(length, (int)size), now);
                used += length + (int)size + 2;
                continue;
            }

            used += length;
            Control(line, pair, reply, "receiver");
        }
    }

    public override int ParseSender(ReadOnlySpan<byte> data, Pair pair, long now, Outbox reply)
    {
        int used = 0;
        while (true)
        {
            int length = NextLine(data.Slice(used), out ReadOnlySpan<byte> line);
            if (length < 0) return used;
            used += length;
            Control(line, pair, reply, "sender");
        }
    }

    private static void Control(ReadOnlySpan<byte> line, Pair pair, Outbox reply, string who)
    {
        if (line.SequenceEqual("PING"u8)) reply.Write("PONG\r\n"u8);
        else if (line.SequenceEqual("PONG"u8) || line.SequenceEqual("+OK"u8) || line.StartsWith("INFO "u8)) { }
        else pair.Error(who + ": " + Text(line));
    }

    private static async Task OpenAsync(Conn conn, string subscribe)
    {
        await ExpectLineAsync(conn, line => line.StartsWith("INFO ", StringComparison.Ordinal) ? true : null, "INFO").ConfigureAwait(false);
        await conn.SendAsync(Ascii("CONNECT {\"verbose\":false,\"pedantic\":false,\"echo\":false}\r\n" + subscribe + "PING\r\n")).ConfigureAwait(false);
        await ExpectLineAsync(conn, line => line == "PONG" ? true : line == "+OK" || line.StartsWith("INFO ", StringComparison.Ordinal) ? false : null, "PONG").ConfigureAwait(false);
    }
}
