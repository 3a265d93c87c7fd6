using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace Chatrm.Engine.Tests
{
    /// <summary>
    /// Two connected in-memory streams, what one writes the other reads: a connection without a socket, for
    /// LineTransport (which reads and writes a Stream as it does over TLS).
    /// </summary>
    internal static class InMemoryDuplex
    {
        public static (Stream Near, Stream Far) CreatePair()
        {
            var nearToFar = new Pipe();
            var farToNear = new Pipe();
            return (new End(farToNear, nearToFar), new End(nearToFar, farToNear));
        }

        /// <summary>One direction: bytes written wait until read; a completed pipe reads as the end (0).</summary>
        private sealed class Pipe
        {
            private readonly object _gate = new object();
            private readonly Queue<byte> _bytes = new Queue<byte>();
            private TaskCompletionSource<bool> _more = NewSignal();
            private bool _completed;

            public void Write(ReadOnlySpan<byte> bytes)
            {
                TaskCompletionSource<bool> woken;
                lock (_gate)
                {
                    if (_completed)
                    {
                        throw new IOException("The other end is closed.");
                    }

                    foreach (byte b in bytes)
                    {
                        _bytes.Enqueue(b);
                    }

                    woken = _more;
                    _more = NewSignal();
                }

                woken.TrySetResult(true);
            }

            public void Complete()
            {
                TaskCompletionSource<bool> woken;
                lock (_gate)
                {
                    _completed = true;
                    woken = _more;
                }

                woken.TrySetResult(true);
            }

            /// <summary>Waits for a byte (or the end); a zero-byte read waits too, as a socket's stream does.</summary>
            public async Task<int> ReadAsync(Memory<byte> into, CancellationToken cancellationToken)
            {
                while (true)
                {
                    Task more;
                    lock (_gate)
                    {
                        if (_bytes.Count > 0)
                        {
                            int count = 0;
                            while (count < into.Length && _bytes.Count > 0)
                            {
                                into.Span[count++] = _bytes.Dequeue();
                            }

                            return count;
                        }

                        if (_completed)
                        {
                            return 0;
                        }

                        more = _more.Task;
                    }

                    await more.WaitAsync(cancellationToken).ConfigureAwait(false);
                }
            }

            private static TaskCompletionSource<bool> NewSignal() => new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        private sealed class End : Stream
        {
            private readonly Pipe _in;
            private readonly Pipe _out;

            public End(Pipe @in, Pipe @out)
            {
                _in = @in;
                _out = @out;
            }

            public override bool CanRead => true;
            public override bool CanWrite => true;
            public override bool CanSeek => false;
            public override long Length => throw new NotSupportedException();
            public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

            public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
                _in.ReadAsync(new Memory<byte>(buffer, offset, count), cancellationToken);

            public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
                new ValueTask<int>(_in.ReadAsync(buffer, cancellationToken));

            public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count).GetAwaiter().GetResult();

            public override void Write(byte[] buffer, int offset, int count) => _out.Write(new ReadOnlySpan<byte>(buffer, offset, count));

            public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
            {
                Write(buffer, offset, count);
                return Task.CompletedTask;
            }

            public override void Flush()
            {
            }

            public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

            public override void SetLength(long value) => throw new NotSupportedException();

            protected override void Dispose(bool disposing)
            {
                // Closing one end: the other reads the end of both directions.
                _out.Complete();
                _in.Complete();
                base.Dispose(disposing);
            }
        }
    }

    /// <summary>The far end of an in-memory connection, read line by line with a deadline.</summary>
    internal sealed class InMemoryPeer : IDisposable
    {
        private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);
        private readonly Stream _stream;
        private readonly List<byte> _pending = new List<byte>();

        public InMemoryPeer(Stream stream)
        {
            _stream = stream;
        }

        public Task SendAsync(string text)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(text);
            return _stream.WriteAsync(bytes, 0, bytes.Length);
        }

        /// <summary>The next line, without its newline; null at the end; fails when none comes by the deadline.</summary>
        public async Task<string> ReadLineAsync()
        {
            var one = new byte[256];
            while (true)
            {
                int newline = _pending.IndexOf((byte)'\n');
                if (newline >= 0)
                {
                    string line = Encoding.UTF8.GetString(_pending.GetRange(0, newline).ToArray());
                    _pending.RemoveRange(0, newline + 1);
                    return line;
                }

                int read = await _stream.ReadAsync(one, 0, one.Length).WaitAsync(Deadline);
                if (read == 0)
                {
                    return null;
                }

                _pending.AddRange(new ArraySegment<byte>(one, 0, read));
            }
        }

        public void Dispose() => _stream.Dispose();
    }
}
