namespace Chatrm.Bench;

/// <summary>
/// One server's protocol for the fan-out workload: how a member joins a room (or subscribes to its subject or
/// channel), how the room's sender posts, and how what comes back is read, on raw bytes with no per-message
/// allocation. The sender is an extra connection, not one of the members counted: on NATS and Redis it only
/// publishes; on Chatrm it has to be in the room to post, and the server sends it nothing of its own posts.
/// </summary>
public abstract class FanoutWire
{
    protected static readonly TimeSpan OpenTimeout = TimeSpan.FromSeconds(30);

    public static FanoutWire For(string target) => target switch
    {
        Targets.ChatrmClassic => new ClassicFanout(),
        Targets.ChatrmNative => new NativeFanout(),
        Targets.Redis => new RedisFanout(),
        Targets.Nats => new NatsFanout(),
        _ => throw new ArgumentException("unknown target " + target),
    };

    /// <summary>The room's name on this server: #name on Chatrm, the bare name as a NATS subject or Redis channel.</summary>
    public virtual string RoomName(string name) => name;

    public abstract Task OpenMemberAsync(Conn conn, string user, string room);

    public abstract Task OpenSenderAsync(Conn conn, string user, string room);

    /// <summary>The bytes before and after the 64-byte text of every post of one room.</summary>
    public abstract (byte[] Prefix, byte[] Suffix) Frame(string user, string room, int payloadBytes);

    /// <summary>Reads what reached a member; returns the bytes used (an incomplete tail stays).</summary>
    public abstract int ParseMember(ReadOnlySpan<byte> data, FanoutMember member, long now, Outbox reply);

    /// <summary>Reads what reached the sender (statuses, replies, pings); returns the bytes used.</summary>
    public abstract int ParseSender(ReadOnlySpan<byte> data, FanoutRoom room, long now, Outbox reply);

    protected static byte[] Ascii(string text) => Wire.Ascii(text);

    protected static string Text(ReadOnlySpan<byte> bytes) => Wire.Text(bytes);

    protected static int NextLine(ReadOnlySpan<byte> data, out ReadOnlySpan<byte> line) => Wire.NextLine(data, out line);
}

/// <summary>
/// Chatrm native (docs: the rooms design): hello with batched confirmations and no presence, then a join frame,
/// answered by a room frame. Posts are send frames to the room. Members send no acks: room messages need none
/// (docs/protocol.md), so a member acks only a read that brought a direct message, and these bring none.
/// </summary>
public sealed class NativeFanout : FanoutWire
{
    public override string RoomName(string name) => "#" + name;

    public override Task OpenMemberAsync(Conn conn, string user, string room) => OpenAsync(conn, user, room);

    public override Task OpenSenderAsync(Conn conn, string user, string room) => OpenAsync(conn, user, room);

    public override (byte[] Prefix, byte[] Suffix) Frame(string user, string room, int payloadBytes) =>
        (Ascii("{\"type\":\"send\",\"ref\":\"p\",\"to\":\"" + room + "\",\"text\":\""), Ascii("\"}\n"));

    public override int ParseMember(ReadOnlySpan<byte> data, FanoutMember member, long now, Outbox reply)
    {
        int used = 0;
        while (true)
        {
            int length = NextLine(data.Slice(used), out ReadOnlySpan<byte> line);
            if (length < 0) break;
            used += length;
            if (line.StartsWith("{\"type\":\"message\""u8))
            {
                if (!NativeWire.TryString(line, "\"id\":\""u8, out _) || !NativeWire.TryString(line, "\"text\":\""u8, out ReadOnlySpan<byte> text))
                {
                    member.Error("a message frame without id or text: " + Text(line));
                    continue;
                }

                member.OnMessage(text, now);
            }
            else if (line.StartsWith("{\"type\":\"ping\""u8))
            {
                reply.Write("{\"type\":\"pong\"}\n"u8);
            }
            else if (!line.StartsWith("{\"type\":\"presence\""u8))
            {
                member.Error(Text(line));
            }
        }

        return used;
    }

    public override int ParseSender(ReadOnlySpan<byte> data, FanoutRoom room, long now, Outbox reply)
    {
        int used = 0;
        while (true)
        {
            int length = NextLine(data.Slice(used), out ReadOnlySpan<byte> line);
            if (length < 0) return used;
            used += length;
            if (line.StartsWith("{\"type\":\"status\""u8))
            {
                if (line.IndexOf("\"status\":\"posted\""u8) < 0) room.Error("sender: " + Text(line));
            }
            else if (line.StartsWith("{\"type\":\"ping\""u8))
            {
                reply.Write("{\"type\":\"pong\"}\n"u8);
            }
            else if (!line.StartsWith("{\"type\":\"presence\""u8) && !line.StartsWith("{\"type\":\"delivered\""u8))
            {
                room.Error("sender: " + Text(line));
            }
        }
    }

    private static async Task OpenAsync(Conn conn, string user, string room)
    {
        await conn.SendAsync(Ascii("{\"type\":\"hello\",\"protocol\":\"chatrm_native\",\"version\":1,\"user\":\"" + user + "\",\"batch\":true,\"presence\":false}\n" +
            "{\"type\":\"join\",\"ref\":\"j\",\"room\":\"" + room + "\"}\n")).ConfigureAwait(false);
        await Wire.ExpectLineAsync(conn, line =>
            line.Contains("unknown frame type \\\"join\\\"", StringComparison.Ordinal) ? throw new NoRoomsException("the server does not know the join frame: " + line) :
            line.StartsWith("{\"type\":\"welcome\"", StringComparison.Ordinal) || line.StartsWith("{\"type\":\"presence\"", StringComparison.Ordinal) ? false :
            line.StartsWith("{\"type\":\"room\",\"ref\":\"j\"", StringComparison.Ordinal) && line.Contains("\"joined\":true", StringComparison.Ordinal) ? true : null,
            "the answer to joining " + room).ConfigureAwait(false);
    }
}

/// <summary>
/// Chatrm classic (the original client's bytes): NAME_, then a first line to the room joins it
/// (NAME_#room_TEXT); room messages come as DEST_#room_FROM: TEXT. Joining is silent, so members join with a
/// line every member ignores, and the run's opening post (sequence 0) proves every member is in.
/// </summary>
public sealed class ClassicFanout : FanoutWire
{
    public override string RoomName(string name) => "#" + name;

    public override Task OpenMemberAsync(Conn conn, string user, string room) => OpenAsync(conn, user, room);

    public override Task OpenSenderAsync(Conn conn, string user, string room) => OpenAsync(conn, user, room);

    public override (byte[] Prefix, byte[] Suffix) Frame(string user, string room, int payloadBytes) =>
        (Ascii(user + "_" + room + "_"), Ascii("\n"));

    public override int ParseMember(ReadOnlySpan<byte> data, FanoutMember member, long now, Outbox reply)
    {
        int used = 0;
        while (true)
        {
            int length = NextLine(data.Slice(used), out ReadOnlySpan<byte> line);
            if (length < 0) return used;
            used += length;

            // DEST_#room_FROM: TEXT, or DEST_chatrm_... for a notice.
            int first = line.IndexOf((byte)'_');
            ReadOnlySpan<byte> rest = first < 0 ? default : line.Slice(first + 1);
            if (rest.IsEmpty || rest[0] != (byte)'#')
            {
                if (rest.StartsWith("chatrm_unknown-user: no user named #"u8)) member.NoRooms("the server takes a room for a user: " + Text(line));
                member.Error("not a room line: " + Text(line));
                continue;
            }

            int colon = rest.IndexOf(": "u8);
            if (colon < 0)
            {
                member.Error("a room line without a sender: " + Text(line));
                continue;
            }

            ReadOnlySpan<byte> text = rest.Slice(colon + 2);
            if (text.SequenceEqual("join"u8)) continue;
            member.OnMessage(text, now);
        }
    }

    public override int ParseSender(ReadOnlySpan<byte> data, FanoutRoom room, long now, Outbox reply)
    {
        int used = 0;
        while (true)
        {
            int length = NextLine(data.Slice(used), out ReadOnlySpan<byte> line);
            if (length < 0) return used;
            used += length;
            ReadOnlySpan<byte> rest = line.Slice(line.IndexOf((byte)'_') + 1);
            if (rest.Length > 0 && rest[0] == (byte)'#' && rest.Slice(rest.IndexOf(": "u8) + 2).SequenceEqual("join"u8)) continue;
            room.Error("sender: " + Text(line));
        }
    }

    private static async Task OpenAsync(Conn conn, string user, string room)
    {
        await conn.SendAsync(Ascii(user + "_\n")).ConfigureAwait(false);
        await Wire.ExpectLineAsync(conn, line => line.StartsWith(user + "_chatrm_welcome:", StringComparison.Ordinal) ? true : null, "the welcome").ConfigureAwait(false);
        await conn.SendAsync(Ascii(user + "_" + room + "_join\n")).ConfigureAwait(false);
    }
}

/// <summary>NATS core: members SUB to the room's subject, the sender PUBs to it.</summary>
public sealed class NatsFanout : FanoutWire
{
    public override Task OpenMemberAsync(Conn conn, string user, string room) => OpenAsync(conn, $"SUB {room} 1\r\n");

    public override Task OpenSenderAsync(Conn conn, string user, string room) => OpenAsync(conn, string.Empty);

    public override (byte[] Prefix, byte[] Suffix) Frame(string user, string room, int payloadBytes) =>
        (Ascii($"PUB {room} {payloadBytes}\r\n"), Ascii("\r\n"));

    public override int ParseMember(ReadOnlySpan<byte> data, FanoutMember member, long now, Outbox reply)
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
                    member.Error(Text(line));
                    used += length;
                    continue;
                }

                if (length + size + 2 > rest.Length) return used;
                member.OnMessage(rest.Slice(length, (int)size), now);
                used += length + (int)size + 2;
                continue;
            }

            used += length;
            if (!Control(line, reply)) member.Error(Text(line));
        }
    }

    public override int ParseSender(ReadOnlySpan<byte> data, FanoutRoom room, long now, Outbox reply)
    {
        int used = 0;
        while (true)
        {
            int length = NextLine(data.Slice(used), out ReadOnlySpan<byte> line);
            if (length < 0) return used;
            used += length;
            if (!Control(line, reply)) room.Error("sender: " + Text(line));
        }
    }

    private static bool Control(ReadOnlySpan<byte> line, Outbox reply)
    {
        if (line.SequenceEqual("PING"u8)) reply.Write("PONG\r\n"u8);
        else if (!line.SequenceEqual("PONG"u8) && !line.SequenceEqual("+OK"u8) && !line.StartsWith("INFO "u8)) return false;
        return true;
    }

    private static async Task OpenAsync(Conn conn, string subscribe)
    {
        await Wire.ExpectLineAsync(conn, line => line.StartsWith("INFO ", StringComparison.Ordinal) ? true : null, "INFO").ConfigureAwait(false);
        await conn.SendAsync(Ascii("CONNECT {\"verbose\":false,\"pedantic\":false,\"echo\":false}\r\n" + subscribe + "PING\r\n")).ConfigureAwait(false);
        await Wire.ExpectLineAsync(conn, line => line == "PONG" ? true : line == "+OK" || line.StartsWith("INFO ", StringComparison.Ordinal) ? false : null, "PONG").ConfigureAwait(false);
    }
}

/// <summary>Redis pub/sub: members SUBSCRIBE to the room's channel, the sender PUBLISHes to it.</summary>
public sealed class RedisFanout : FanoutWire
{
    public override async Task OpenMemberAsync(Conn conn, string user, string room)
    {
        await conn.SendAsync(Ascii($"*2\r\n$9\r\nSUBSCRIBE\r\n${room.Length}\r\n{room}\r\n")).ConfigureAwait(false);
        await conn.ReadUntilAsync(memory =>
        {
            int used = RedisWire.TryArray(memory.Span, out ReadOnlySpan<byte> kind, out _);
            if (used == 0) return (-1, false);
            if (!kind.SequenceEqual("subscribe"u8)) throw new IOException("redis answered SUBSCRIBE with " + Text(memory.Span));
            return (used, true);
        }, OpenTimeout, "the subscription").ConfigureAwait(false);
    }

    public override async Task OpenSenderAsync(Conn conn, string user, string room)
    {
        await conn.SendAsync("*1\r\n$4\r\nPING\r\n"u8.ToArray()).ConfigureAwait(false);
        await Wire.ExpectLineAsync(conn, line => line == "+PONG" ? true : null, "PONG").ConfigureAwait(false);
    }

    public override (byte[] Prefix, byte[] Suffix) Frame(string user, string room, int payloadBytes) =>
        (Ascii($"*3\r\n$7\r\nPUBLISH\r\n${room.Length}\r\n{room}\r\n${payloadBytes}\r\n"), Ascii("\r\n"));

    public override int ParseMember(ReadOnlySpan<byte> data, FanoutMember member, long now, Outbox reply)
    {
        int used = 0;
        while (true)
        {
            int length = RedisWire.TryArray(data.Slice(used), out ReadOnlySpan<byte> kind, out ReadOnlySpan<byte> last);
            if (length == 0) return used;
            if (length < 0)
            {
                member.Error("unexpected " + Text(data.Slice(used)));
                return data.Length;
            }

            used += length;
            if (kind.SequenceEqual("message"u8)) member.OnMessage(last, now);
            else member.Error("unexpected push " + Text(kind));
        }
    }

    public override int ParseSender(ReadOnlySpan<byte> data, FanoutRoom room, long now, Outbox reply)
    {
        int used = 0;
        while (true)
        {
            int length = NextLine(data.Slice(used), out ReadOnlySpan<byte> line);
            if (length < 0) return used;
            used += length;
            if (line.Length < 2 || line[0] != (byte)':') room.Error("sender: " + Text(line));
            else if (line.Length == 2 && line[1] == (byte)'0') room.Error("sender: PUBLISH reached no subscriber");
        }
    }
}

/// <summary>A Chatrm server from before rooms: it is named in the report as not measured, not counted as a failure.</summary>
public sealed class NoRoomsException : Exception
{
    public NoRoomsException(string message)
        : base(message)
    {
    }
}
