using System.Net;
using System.Net.Sockets;

namespace Chatrm.Bench;

/// <summary>One client socket with its own receive buffer; what a parser leaves unread stays for the next fill.</summary>
public sealed class Conn : IDisposable
{
    private byte[] _buffer;
    private int _start;
    private int _end;

    private Conn(Socket socket, int bufferSize)
    {
        Socket = socket;
        _buffer = bufferSize > 0 ? new byte[bufferSize] : Array.Empty<byte>();
    }

    public Socket Socket { get; }

    public ReadOnlySpan<byte> Data => _buffer.AsSpan(_start, _end - _start);

    public int Buffered => _end - _start;

    public static async Task<Conn> ConnectAsync(IPEndPoint endPoint, int bufferSize, CancellationToken cancellationToken)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endPoint, cancellationToken).ConfigureAwait(false);
            return new Conn(socket, bufferSize);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public void Consume(int count)
    {
        _start += count;
        if (_start == _end) _start = _end = 0;
    }

    /// <summary>Reads more; false when the peer closed.</summary>
    public async ValueTask<bool> FillAsync(CancellationToken cancellationToken = default)
    {
        if (_buffer.Length == 0) _buffer = new byte[4096];
        if (_end == _buffer.Length)
        {
            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }
            else
            {
                Array.Resize(ref _buffer, _buffer.Length * 2);
            }
        }

        int read = await Socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, cancellationToken).ConfigureAwait(false);
        _end += read;
        return read > 0;
    }

    /// <summary>Gives the buffer up once only small, rare reads remain (idle users).</summary>
    public void ReleaseBuffer()
    {
        if (_start == _end)
        {
            _buffer = Array.Empty<byte>();
            _start = _end = 0;
        }
    }

    public async ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        while (!data.IsEmpty)
        {
            int sent = await Socket.SendAsync(data, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            data = data.Slice(sent);
        }
    }

    /// <summary>Reads until <paramref name="parse"/> says it has what it waited for (it returns bytes consumed, or -1 for more).</summary>
    public async Task ReadUntilAsync(Func<ReadOnlyMemory<byte>, (int Consumed, bool Done)> parse, TimeSpan timeout, string what)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (true)
        {
            while (Buffered > 0)
            {
                (int consumed, bool done) = parse(_buffer.AsMemory(_start, _end - _start));
                if (consumed <= 0 && !done) break;
                Consume(consumed);
                if (done) return;
            }

            bool more;
            try
            {
                more = await FillAsync(cts.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"no answer within {timeout.TotalSeconds:0} s while waiting for {what}");
            }

            if (!more) throw new IOException($"the server closed the connection while we waited for {what}");
        }
    }

    /// <summary>Closes with a reset, so thousands of closes leave no TIME_WAIT behind on the client's ports.</summary>
    public void Dispose()
    {
        try { Socket.LingerState = new LingerOption(true, 0); }
        catch (SocketException) { }
        catch (ObjectDisposedException) { }
        Socket.Dispose();
    }
}

/// <summary>Bytes to send back, gathered while a chunk is parsed and sent once.</summary>
public sealed class Outbox
{
    private byte[] _buffer = new byte[4096];

    public int Length { get; private set; }

    public ReadOnlyMemory<byte> Memory => _buffer.AsMemory(0, Length);

    public void Clear() => Length = 0;

    public Span<byte> GetSpan(int size)
    {
        if (Length + size > _buffer.Length) Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, Length + size));
        return _buffer.AsSpan(Length);
    }

    public void Advance(int count) => Length += count;

    public void Write(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(GetSpan(bytes.Length));
        Length += bytes.Length;
    }
}
