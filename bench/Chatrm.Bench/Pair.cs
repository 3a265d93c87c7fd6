using System.Diagnostics;

namespace Chatrm.Bench;

/// <summary>The text of every message: sequence number, send time, padding. Fixed offsets, so reading it is cheap.</summary>
public static class Payload
{
    public const int MinSize = 34;

    // 12 digits of sequence, ':', 19 digits of Stopwatch ticks, ':', then 'x' up to the size.
    public static void Write(Span<byte> destination, long sequence, long timestamp, int size)
    {
        WriteDigits(destination.Slice(0, 12), sequence);
        destination[12] = (byte)':';
        WriteDigits(destination.Slice(13, 19), timestamp);
        destination[32] = (byte)':';
        destination.Slice(33, size - 33).Fill((byte)'x');
    }

    public static bool TryRead(ReadOnlySpan<byte> payload, out long sequence, out long timestamp)
    {
        sequence = timestamp = 0;
        if (payload.Length < MinSize || payload[12] != (byte)':' || payload[32] != (byte)':') return false;
        return TryDigits(payload.Slice(0, 12), out sequence) && TryDigits(payload.Slice(13, 19), out timestamp);
    }

    public static void WriteDigits(Span<byte> destination, long value)
    {
        for (int i = destination.Length - 1; i >= 0; i--)
        {
            destination[i] = (byte)('0' + (int)(value % 10));
            value /= 10;
        }
    }

    public static bool TryDigits(ReadOnlySpan<byte> digits, out long value)
    {
        value = 0;
        if (digits.IsEmpty) return false;
        foreach (byte b in digits)
        {
            uint d = (uint)(b - '0');
            if (d > 9) return false;
            value = value * 10 + d;
        }

        return true;
    }

    /// <summary>Writes a number in as few digits as it takes; returns how many.</summary>
    public static int WriteNumber(Span<byte> destination, long value)
    {
        int length = 1;
        for (long v = value; v >= 10; v /= 10) length++;
        WriteDigits(destination.Slice(0, length), value);
        return length;
    }
}

/// <summary>Where a run is: messages received in Measure count; in Drain senders stop and in-flight ones land.</summary>
public enum Phase
{
    Warmup,
    Measure,
    Drain,
}

/// <summary>A sender, its receiver, and everything counted about the messages between them.</summary>
public sealed class Pair
{
    private readonly LoadRun _run;
    private readonly long[] _sentAt;
    private ulong[] _seen = new ulong[1024];
    private int _waiting;
    private TaskCompletionSource _credit;

    public Pair(LoadRun run, int index, string prefix)
        : this(run, index, "s" + prefix + index, "r" + prefix + index)
    {
    }

    public Pair(LoadRun run, int index, string senderName, string receiverName)
    {
        _run = run;
        Index = index;
        SenderName = senderName;
        ReceiverName = receiverName;
        _sentAt = new long[Math.Max(2, (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)run.Window * 2))];
    }

    public int Index { get; }
    public string SenderName { get; }
    public string ReceiverName { get; }
    public Conn Sender { get; set; }
    public Conn Receiver { get; set; }

    // What the wire puts before and after the varying part of every message, made once per pair.
    public byte[] Prefix { get; set; }
    public byte[] Middle { get; set; }
    public byte[] Suffix { get; set; }

    // Written by the sender only.
    public long Sent;

    // Received by the receiver (or, natively, confirmed to the sender): what the window counts.
    public long Completed;

    // Receiver's side.
    public long Received;
    public long Unique;
    public long Duplicates;
    public long Reordered;
    public long MaxSequence;
    public long MeasuredReceived;
    public readonly Histogram Latency = new Histogram();

    // Sender's side, native: send to "delivered" status.
    public long Confirmed;
    public readonly Histogram DeliveredLatency = new Histogram();

    public long Errors;
    public string FirstError;

    public void RememberSendTime(long sequence, long timestamp) => _sentAt[sequence & (_sentAt.Length - 1)] = timestamp;

    /// <summary>One message arrived at the receiver, whose recv() returned at <paramref name="now"/>.</summary>
    public void OnMessage(ReadOnlySpan<byte> payload, long now)
    {
        Received++;
        if (payload.Length != _run.PayloadBytes || !Payload.TryRead(payload, out long sequence, out long sentAt) || sequence <= 0)
        {
            Error("a message arrived damaged: " + System.Text.Encoding.UTF8.GetString(payload));
            return;
        }

        if (!MarkSeen(sequence))
        {
            Duplicates++;
        }
        else
        {
            Unique++;
            if (sequence < MaxSequence) Reordered++;
            else MaxSequence = sequence;
        }

        if (_run.Phase == Phase.Measure)
        {
            MeasuredReceived++;
            Latency.RecordTicks(now - sentAt);
        }
    }

    /// <summary>The sender heard a message's fate (native protocol).</summary>
    public void OnStatus(long sequence, bool delivered, long now, ReadOnlySpan<byte> frame)
    {
        if (!delivered)
        {
            Error("a message was not delivered: " + System.Text.Encoding.UTF8.GetString(frame));
        }

        Confirmed++;
        if (_run.Phase == Phase.Measure)
        {
            DeliveredLatency.RecordTicks(now - _sentAt[sequence & (_sentAt.Length - 1)]);
        }

    }

    public void Error(string what)
    {
        if (Interlocked.Increment(ref Errors) == 1) FirstError = what;
    }

    /// <summary>After a chunk: tells the window how far the receiver got, and wakes the sender if it waits.</summary>
    public void Publish(long completed)
    {
        Interlocked.Exchange(ref Completed, completed);
        Wake();
    }

    public void Wake()
    {
        if (Interlocked.Exchange(ref _waiting, 0) == 1)
        {
            Volatile.Read(ref _credit)?.TrySetResult();
        }
    }

    /// <summary>The sender waits until the window has room or the run ends.</summary>
    public Task WaitForCreditAsync()
    {
        // Continuations run on the waking thread: no hop to the thread pool for every window refill.
        var credit = new TaskCompletionSource();
        Volatile.Write(ref _credit, credit);
        Interlocked.Exchange(ref _waiting, 1);
        if (Sent - Interlocked.Read(ref Completed) < _run.Window || _run.Phase == Phase.Drain)
        {
            Interlocked.Exchange(ref _waiting, 0);
            return Task.CompletedTask;
        }

        return credit.Task;
    }

    private bool MarkSeen(long sequence)
    {
        long word = sequence >> 6;
        if (word >= _seen.Length) Array.Resize(ref _seen, (int)Math.Max(word + 1, _seen.Length * 2L));
        ulong bit = 1UL << (int)(sequence & 63);
        if ((_seen[word] & bit) != 0) return false;
        _seen[word] |= bit;
        return true;
    }
}
