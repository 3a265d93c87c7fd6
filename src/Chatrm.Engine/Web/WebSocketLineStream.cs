using System;
using System.IO;
using System.Net.WebSockets;
using System.Threading;
using System.Threading.Tasks;

namespace Chatrm.Engine.Web
{
    /// <summary>
    /// A WebSocket seen as the byte stream of lines a <see cref="Transport.LineTransport"/> reads and writes: each
    /// text message received is its bytes and a newline; each line written is sent as one text message. The
    /// framing is .NET's; this only maps messages to lines. One read and one write may run at once, as the
    /// transport does.
    /// </summary>
    internal sealed class WebSocketLineStream : Stream
    {
        /// <summary>How long closing waits for the close handshake before the connection is cut.</summary>
        private static readonly TimeSpan CloseWait = TimeSpan.FromSeconds(2);

        private readonly WebSocket _socket;
        private readonly Action _closeUnderlying;
        private readonly Func<int> _maxMessageBytes;

        // The received message not yet read, with its newline: _incoming[_incomingAt.._incomingEnd).
        private byte[] _incoming = Array.Empty<byte>();
        private int _incomingAt;
        private int _incomingEnd;
        private bool _ended;

        // The start of a line whose newline has not been written yet.
        private byte[] _partial = Array.Empty<byte>();
        private int _partialLength;
        private int _disposed;

        /// <param name="maxMessageBytes">The longest message, read at each message: longer ones close with 1009.</param>
        /// <param name="closeUnderlying">Closes what the WebSocket runs over (its stream and socket), once it is closed.</param>
        public WebSocketLineStream(WebSocket socket, Func<int> maxMessageBytes, Action closeUnderlying = null)
        {
            _socket = socket ?? throw new ArgumentNullException(nameof(socket));
            _closeUnderlying = closeUnderlying;
            _maxMessageBytes = maxMessageBytes ?? throw new ArgumentNullException(nameof(maxMessageBytes));
        }

        /// <summary>Why this side closed the WebSocket, when it did (a message too big, a binary one).</summary>
        public WebSocketCloseStatus? ClosedWith { get; private set; }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        /// <summary>
        /// The next bytes of the lines received; 0 at the end (the peer closed, or a message broke the rules). A
        /// zero-byte read waits until there is something to read, as a network stream's does.
        /// </summary>
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_incomingAt == _incomingEnd && !_ended)
            {
                await ReceiveMessageAsync(cancellationToken).ConfigureAwait(false);
            }

            if (_incomingAt == _incomingEnd || buffer.Length == 0)
            {
                return 0;
            }

            int taken = Math.Min(buffer.Length, _incomingEnd - _incomingAt);
            _incoming.AsMemory(_incomingAt, taken).CopyTo(buffer);
            _incomingAt += taken;
            return taken;
        }

        /// <summary>Receives one whole message into <see cref="_incoming"/>, with a newline; or marks the end.</summary>
        private async Task ReceiveMessageAsync(CancellationToken cancellationToken)
        {
            int limit = _maxMessageBytes();
            int length = 0;
            while (true)
            {
                // Grown as a message needs, to one byte past the limit (so a message over it is known without
                // reading it all) and one for the newline.
                if (_incoming.Length - 1 - length <= 0)
                {
                    Array.Resize(ref _incoming, Math.Min(limit + 2, Math.Max(4096, _incoming.Length * 2)));
                }

                WebSocketReceiveResult received;
                try
                {
                    received = await _socket.ReceiveAsync(new ArraySegment<byte>(_incoming, length, _incoming.Length - 1 - length), cancellationToken).ConfigureAwait(false);
                }
                catch (WebSocketException)
                {
                    // The peer vanished or broke the framing: the end, as a reset is over TCP.
                    _ended = true;
                    return;
                }

                if (received.MessageType == WebSocketMessageType.Close)
                {
                    _ended = true;
                    return;
                }

                if (received.MessageType == WebSocketMessageType.Binary)
                {
                    await CloseForAsync(WebSocketCloseStatus.InvalidMessageType, "native frames are text messages").ConfigureAwait(false);
                    return;
                }

                length += received.Count;
                if (length > limit)
                {
                    await CloseForAsync(WebSocketCloseStatus.MessageTooBig, $"a frame is at most {limit} bytes").ConfigureAwait(false);
                    return;
                }

                if (received.EndOfMessage)
                {
                    break;
                }
            }

            // One message is one frame: a newline inside would make it two lines.
            if (_incoming.AsSpan(0, length).IndexOf((byte)'\n') >= 0)
            {
                await CloseForAsync(WebSocketCloseStatus.InvalidPayloadData, "one native frame per message, without a line break").ConfigureAwait(false);
                return;
            }

            _incoming[length] = (byte)'\n';
            _incomingAt = 0;
            _incomingEnd = length + 1;
        }

        private async Task CloseForAsync(WebSocketCloseStatus status, string why)
        {
            _ended = true;
            ClosedWith = status;
            try
            {
                using var wait = new CancellationTokenSource(CloseWait);
                await _socket.CloseOutputAsync(status, why, wait.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is WebSocketException || e is OperationCanceledException || e is ObjectDisposedException || e is IOException)
            {
                // Gone already: the close is as good as sent.
            }
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        /// <summary>Sends each whole line in <paramref name="buffer"/> as one text message; a line's start without its newline waits for the rest.</summary>
        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            while (!buffer.IsEmpty)
            {
                int newline = buffer.Span.IndexOf((byte)'\n');
                if (newline < 0)
                {
                    AppendPartial(buffer.Span);
                    return;
                }

                ReadOnlyMemory<byte> line = buffer.Slice(0, newline);
                if (_partialLength > 0)
                {
                    AppendPartial(line.Span);
                    line = _partial.AsMemory(0, _partialLength);
                }

                await _socket.SendAsync(line, WebSocketMessageType.Text, endOfMessage: true, cancellationToken).ConfigureAwait(false);
                _partialLength = 0;
                buffer = buffer.Slice(newline + 1);
            }
        }

        private void AppendPartial(ReadOnlySpan<byte> bytes)
        {
            if (_partial.Length < _partialLength + bytes.Length)
            {
                Array.Resize(ref _partial, Math.Max(_partialLength + bytes.Length, _partial.Length * 2));
            }

            bytes.CopyTo(_partial.AsSpan(_partialLength));
            _partialLength += bytes.Length;
        }

        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("Read asynchronously.");

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("Write asynchronously.");

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        /// <summary>Closes the WebSocket properly (in the background, briefly), then the stream under it.</summary>
        protected override void Dispose(bool disposing)
        {
            if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                _ = CloseAndDisposeAsync();
            }

            base.Dispose(disposing);
        }

        private async Task CloseAndDisposeAsync()
        {
            try
            {
                if (_socket.State == WebSocketState.Open || _socket.State == WebSocketState.CloseReceived)
                {
                    using var wait = new CancellationTokenSource(CloseWait);
                    await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, wait.Token).ConfigureAwait(false);
                }
            }
            catch (Exception e) when (e is WebSocketException || e is OperationCanceledException || e is ObjectDisposedException || e is IOException)
            {
                // The peer is gone; closing the stream below is all that is left to do.
            }
            finally
            {
                _socket.Dispose();
                _closeUnderlying?.Invoke();
            }
        }
    }
}
