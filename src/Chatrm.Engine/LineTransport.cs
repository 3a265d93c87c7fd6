using System;
using System.Buffers;
using System.Collections.Generic;
using System.IO;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace Chatrm.Engine
{
    /// <summary>Outcome of queueing a line for a peer.</summary>
    public enum SendResult
    {
        Queued,
        Closed,
        QueueFull,
    }

    /// <summary>
    /// One socket carrying UTF-8 lines both ways: a pipe reader that frames incoming lines, and a single
    /// ordered writer fed by any number of threads. Writers append to pooled buffers under a lock and never
    /// wait; a drain started on the thread pool when the first bytes are queued sends everything queued in
    /// one gathered send, and ends when nothing is left, so a slow peer never blocks a sender and an idle
    /// connection holds no buffer and no waiting task.
    /// </summary>
    public sealed class LineTransport : IDisposable
    {
        private static readonly UTF8Encoding Utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);

        // Zero-byte reads: an idle connection's pending read holds no buffer; one is rented when data is there.
        // Options are immutable, so every connection shares one of each.
        private static readonly StreamPipeReaderOptions ReaderOptions =
            new StreamPipeReaderOptions(bufferSize: 4096, minimumReadSize: 1024, leaveOpen: true, useZeroByteReads: true);

        // Output buffers: at least this big, rented from the shared pool and returned once sent.
        private const int ChunkBytes = 4096;

        // A send this short goes from a copy of its own size (see SendAllAsync).
        private const int SmallSendBytes = 512;

        private static readonly WaitCallback StartDrain = state => _ = ((LineTransport)state).DrainAsync();

        // The transports whose first bytes a read batch on this thread queued: their drains start on this thread
        // when the batch ends, instead of one thread-pool hop each. Null outside a batch.
        [ThreadStatic] private static List<LineTransport> t_batchDrains;
        [ThreadStatic] private static List<LineTransport> t_spareBatchList;

        private readonly bool _drainAfterReadBatch;

        private readonly Socket _socket;
        private readonly NetworkStream _stream;

        // A TLS stream over the socket, or null for plain TCP (where sends go straight to the socket, gathered).
        private readonly Stream _secure;
        private readonly PipeReader _input;
        private readonly object _sendLock = new object();
        private readonly int _maxLineBytes;
        private readonly long _maxQueuedBytes;
        private long _queuedBytes;
        private int _disposed;

        // Guarded by _sendLock. Bytes wait in _queued (full buffers) and _chunk (the one being filled, _chunkUsed
        // bytes of it); _draining is true while a drain runs, which is then the only one touching the socket.
        private List<ArraySegment<byte>> _queued;
        private List<ArraySegment<byte>> _sending;
        private byte[] _chunk;
        private int _chunkUsed;
        private bool _draining;
        private bool _outputCompleted;
        private TaskCompletionSource<bool> _drained;

        /// <param name="maxLineBytes">Longest incoming line, without its newline.</param>
        /// <param name="maxQueuedBytes">How many bytes may wait for a peer that does not read.</param>
        /// <param name="secure">A TLS stream already authenticated over <paramref name="socket"/>, or null for plain TCP.</param>
        /// <param name="drainAfterReadBatch">
        /// Whatever the line handler queues, for this peer or any other, starts going out on the reading thread once
        /// the lines of one read are handled: no thread hop per recipient. Only for handlers that never wait for
        /// their own sends (a server's); a client whose reader completes tasks inline keeps the hop.
        /// </param>
        public LineTransport(Socket socket, int maxLineBytes, long maxQueuedBytes, Stream secure = null, bool drainAfterReadBatch = false)
        {
            _drainAfterReadBatch = drainAfterReadBatch;
            _socket = socket;
            _maxLineBytes = maxLineBytes;
            _maxQueuedBytes = maxQueuedBytes;
            _stream = new NetworkStream(socket, ownsSocket: false);
            _secure = secure;
            _input = PipeReader.Create(secure ?? _stream, ReaderOptions);
        }

        /// <summary>Bytes queued for the peer and not yet handed to the socket.</summary>
        public long QueuedBytes => Interlocked.Read(ref _queuedBytes);

        public System.Net.EndPoint RemoteEndPoint
        {
            get
            {
                try { return _socket.RemoteEndPoint; }
                catch (ObjectDisposedException) { return null; }
                catch (SocketException) { return null; }
            }
        }

        /// <summary>
        /// Reads lines until the peer closes, the socket fails, <paramref name="onLine"/> returns false,
        /// or <paramref name="cancellationToken"/> is cancelled. A line longer than the limit is skipped
        /// up to its newline, and <paramref name="onLineTooLong"/> is told, so the stream stays in step.
        /// Returns why reading ended.
        /// </summary>
        public Task<ReadEnd> ReadLinesAsync(Func<string, bool> onLine, Action onLineTooLong, CancellationToken cancellationToken) =>
            ReadLinesAsync(line => onLine(Decode(line)), onLineTooLong, cancellationToken);

        /// <summary>
        /// As <see cref="ReadLinesAsync(Func{string, bool}, Action, CancellationToken)"/>, handing each line over as
        /// its UTF-8 bytes (without the newline), valid only during the call: no string is made unless asked for.
        /// </summary>
        public async Task<ReadEnd> ReadLinesAsync(LineHandler onLine, Action onLineTooLong, CancellationToken cancellationToken)
        {
            bool skipping = false;
            try
            {
                while (true)
                {
                    ReadResult result = await _input.ReadAsync(cancellationToken).ConfigureAwait(false);
                    ReadOnlySequence<byte> buffer = result.Buffer;
                    List<LineTransport> drains = _drainAfterReadBatch ? BeginBatch() : null;
                    try
                    {
                        while (true)
                        {
                            SequencePosition? newline = buffer.PositionOf((byte)'\n');
                            if (newline == null)
                            {
                                // A \r at the end may be the first half of a \r\n, which the limit does not count.
                                long pending = buffer.Length;
                                if (pending > 0 && EndsWithCarriageReturn(buffer))
                                {
                                    pending--;
                                }

                                if (!skipping && pending > _maxLineBytes)
                                {
                                    skipping = true;
                                    onLineTooLong();
                                }

                                if (skipping)
                                {
                                    buffer = buffer.Slice(buffer.End);
                                }

                                break;
                            }

                            ReadOnlySequence<byte> line = buffer.Slice(0, newline.Value);
                            buffer = buffer.Slice(buffer.GetPosition(1, newline.Value));
                            if (skipping)
                            {
                                skipping = false;
                                continue;
                            }

                            if (line.Length > 0 && EndsWithCarriageReturn(line))
                            {
                                line = line.Slice(0, line.Length - 1);
                            }

                            if (line.Length > _maxLineBytes)
                            {
                                onLineTooLong();
                                continue;
                            }

                            if (!Hand(line, onLine))
                            {
                                return ReadEnd.Stopped;
                            }
                        }
                    }
                    finally
                    {
                        _input.AdvanceTo(buffer.Start, buffer.End);
                        if (drains != null)
                        {
                            EndBatch(drains);
                        }
                    }

                    if (result.IsCompleted)
                    {
                        return ReadEnd.PeerClosed;
                    }

                    if (result.IsCanceled)
                    {
                        return ReadEnd.Stopped;
                    }
                }
            }
            catch (OperationCanceledException)
            {
                return ReadEnd.Stopped;
            }
            catch (Exception e) when (e is IOException || e is SocketException || e is ObjectDisposedException || e is InvalidOperationException)
            {
                return ReadEnd.Failed;
            }
        }

        /// <summary>
        /// Queues text (which must end with its newline) for the peer, without waiting. <paramref name="evenIfFull"/>
        /// lets one last word through a full queue, such as the notice that says why the peer is dropped.
        /// </summary>
        public SendResult Send(string text, bool evenIfFull = false) => Enqueue(text, default, evenIfFull);

        /// <summary>As <see cref="Send(string, bool)"/>, for text already encoded as UTF-8 (newline included).</summary>
        public SendResult Send(ReadOnlySpan<byte> utf8, bool evenIfFull = false) => Enqueue(null, utf8, evenIfFull);

        private SendResult Enqueue(string text, ReadOnlySpan<byte> utf8, bool evenIfFull)
        {
            lock (_sendLock)
            {
                if (_outputCompleted)
                {
                    return SendResult.Closed;
                }

                if (!evenIfFull && Interlocked.Read(ref _queuedBytes) > _maxQueuedBytes)
                {
                    return SendResult.QueueFull;
                }

                int written = text != null ? Encode(text) : Append(utf8);
                Interlocked.Add(ref _queuedBytes, written);
                if (!_draining && written > 0)
                {
                    // One drain per burst: whatever else is queued before it runs goes in the same send.
                    _draining = true;
                    List<LineTransport> batch = t_batchDrains;
                    if (batch != null)
                    {
                        batch.Add(this);
                    }
                    else
                    {
                        ThreadPool.UnsafeQueueUserWorkItem(StartDrain, this);
                    }
                }

                return SendResult.Queued;
            }
        }

        /// <summary>Stops reading: a pending <see cref="ReadLinesAsync"/> returns Stopped.</summary>
        public void StopReading() => _input.CancelPendingRead();

        /// <summary>
        /// Lets what is queued reach the peer (waiting at most <paramref name="grace"/>), then closes the
        /// socket. Safe to call more than once and from any thread.
        /// </summary>
        public async Task CloseAsync(TimeSpan grace)
        {
            Task drained = CompleteOutput();
            Task finished = drained.IsCompleted ? drained : await Task.WhenAny(drained, Task.Delay(grace)).ConfigureAwait(false);
            if (finished == drained)
            {
                try { _socket.Shutdown(SocketShutdown.Send); }
                catch (SocketException) { }
                catch (ObjectDisposedException) { }
            }

            Dispose();
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
            {
                return;
            }

            CompleteOutput();
            _input.CancelPendingRead();
            try { _socket.Dispose(); }
            catch (ObjectDisposedException) { }
            _secure?.Dispose();
            _stream.Dispose();
        }

        /// <summary>Takes no more bytes; the task completes once everything queued has been sent (or cannot be).</summary>
        private Task CompleteOutput()
        {
            lock (_sendLock)
            {
                _outputCompleted = true;
                if (!_draining)
                {
                    ReturnQueued();
                    return Task.CompletedTask;
                }

                if (_drained == null)
                {
                    _drained = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
                }

                return _drained.Task;
            }
        }

        /// <summary>Sends what is queued, in gathered sends, until nothing is; then ends, holding nothing.</summary>
        private async Task DrainAsync()
        {
            try
            {
                while (true)
                {
                    List<ArraySegment<byte>> batch;
                    lock (_sendLock)
                    {
                        if (_chunkUsed > 0)
                        {
                            (_queued ?? (_queued = new List<ArraySegment<byte>>())).Add(new ArraySegment<byte>(_chunk, 0, _chunkUsed));
                            _chunk = null;
                            _chunkUsed = 0;
                        }

                        if (_queued == null || _queued.Count == 0)
                        {
                            _draining = false;
                            if (_outputCompleted)
                            {
                                ReturnQueued();
                                _drained?.TrySetResult(true);
                            }

                            return;
                        }

                        // Swap lists, so writers fill one while this sends the other.
                        batch = _queued;
                        _queued = _sending;
                        _sending = batch;
                    }

                    long bytes = 0;
                    foreach (ArraySegment<byte> segment in batch)
                    {
                        bytes += segment.Count;
                    }

                    await SendAllAsync(batch).ConfigureAwait(false);
                    foreach (ArraySegment<byte> segment in batch)
                    {
                        ArrayPool<byte>.Shared.Return(segment.Array);
                    }

                    batch.Clear();
                    Interlocked.Add(ref _queuedBytes, -bytes);
                }
            }
            catch (Exception e) when (e is SocketException || e is ObjectDisposedException || e is IOException)
            {
                // The peer is gone; the reader side sees it too and ends the session.
                lock (_sendLock)
                {
                    _outputCompleted = true;
                    _draining = false;
                    _sending?.Clear();
                    ReturnQueued();
                    _drained?.TrySetResult(false);
                }

                _input.CancelPendingRead();
            }
        }

        /// <summary>Drops what waits unsent (the connection is done), giving its buffers back. Under _sendLock.</summary>
        private void ReturnQueued()
        {
            if (_queued != null)
            {
                foreach (ArraySegment<byte> segment in _queued)
                {
                    ArrayPool<byte>.Shared.Return(segment.Array);
                }

                _queued.Clear();
            }

            if (_chunk != null)
            {
                ArrayPool<byte>.Shared.Return(_chunk);
                _chunk = null;
                _chunkUsed = 0;
            }
        }

        private async Task SendAllAsync(List<ArraySegment<byte>> segments)
        {
            if (_secure != null)
            {
                // TLS frames what it is given: write the pieces, then flush once.
                foreach (ArraySegment<byte> segment in segments)
                {
                    await _secure.WriteAsync(segment.Array, segment.Offset, segment.Count).ConfigureAwait(false);
                }

                await _secure.FlushAsync().ConfigureAwait(false);
                return;
            }

            long remaining = 0;
            foreach (var s in segments)
            {
                remaining += s.Count;
            }

            if (segments.Count == 1)
            {
                // The common case under light load, and the welcome. The socket keeps a reference to the last
                // buffer it sent until its next send: a pooled 4 KB buffer would stay alive on every idle
                // connection, so a short send goes from a copy of its own size.
                ArraySegment<byte> only = segments[0];
                if (only.Count <= SmallSendBytes)
                {
                    byte[] copy = new byte[only.Count];
                    Buffer.BlockCopy(only.Array, only.Offset, copy, 0, only.Count);
                    only = new ArraySegment<byte>(copy);
                }

                while (only.Count > 0)
                {
                    int sent = await _socket.SendAsync(only, SocketFlags.None).ConfigureAwait(false);
                    only = new ArraySegment<byte>(only.Array, only.Offset + sent, only.Count - sent);
                }

                return;
            }

            // A partial send drops what went from a copy of the list: the caller returns every buffer afterwards.
            IList<ArraySegment<byte>> left = segments;
            while (remaining > 0)
            {
                int sent = await _socket.SendAsync(left, SocketFlags.None).ConfigureAwait(false);
                remaining -= sent;
                if (remaining > 0)
                {
                    if (ReferenceEquals(left, segments))
                    {
                        left = new List<ArraySegment<byte>>(segments);
                    }

                    DropSent((List<ArraySegment<byte>>)left, sent);
                }
            }
        }

        private static void DropSent(List<ArraySegment<byte>> segments, int sent)
        {
            while (sent > 0)
            {
                ArraySegment<byte> first = segments[0];
                if (sent >= first.Count)
                {
                    sent -= first.Count;
                    segments.RemoveAt(0);
                }
                else
                {
                    segments[0] = new ArraySegment<byte>(first.Array, first.Offset + sent, first.Count - sent);
                    sent = 0;
                }
            }
        }

        private static bool EndsWithCarriageReturn(in ReadOnlySequence<byte> line)
        {
            ReadOnlySequence<byte> last = line.Slice(line.Length - 1);
            return last.First.Span[0] == (byte)'\r';
        }

        private static List<LineTransport> BeginBatch()
        {
            List<LineTransport> drains = t_spareBatchList ?? new List<LineTransport>();
            t_spareBatchList = null;
            t_batchDrains = drains;
            return drains;
        }

        /// <summary>Starts the drains the batch asked for, here; each runs until its socket would block.</summary>
        private static void EndBatch(List<LineTransport> drains)
        {
            t_batchDrains = null;
            foreach (LineTransport transport in drains)
            {
                _ = transport.DrainAsync();
            }

            drains.Clear();
            t_spareBatchList = drains;
        }

        /// <summary>Hands one line to the handler as a single span, copying only a line split across buffers.</summary>
        private static bool Hand(in ReadOnlySequence<byte> line, LineHandler onLine)
        {
            if (line.IsSingleSegment)
            {
                return onLine(line.First.Span);
            }

            byte[] rented = ArrayPool<byte>.Shared.Rent((int)line.Length);
            try
            {
                line.CopyTo(rented);
                return onLine(new ReadOnlySpan<byte>(rented, 0, (int)line.Length));
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }

        internal static unsafe string Decode(ReadOnlySpan<byte> line)
        {
            if (line.IsEmpty)
            {
                return string.Empty;
            }

            fixed (byte* p = line)
            {
                return Utf8.GetString(p, line.Length);
            }
        }

        internal static unsafe string Decode(in ReadOnlySequence<byte> line)
        {
            if (line.IsEmpty)
            {
                return string.Empty;
            }

            if (line.IsSingleSegment)
            {
                fixed (byte* p = line.First.Span)
                {
                    return Utf8.GetString(p, (int)line.Length);
                }
            }

            byte[] rented = ArrayPool<byte>.Shared.Rent((int)line.Length);
            try
            {
                line.CopyTo(rented);
                return Utf8.GetString(rented, 0, (int)line.Length);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }

        /// <summary>Appends bytes to the chunk being filled. Under _sendLock.</summary>
        private int Append(ReadOnlySpan<byte> utf8)
        {
            if (utf8.IsEmpty)
            {
                return 0;
            }

            Reserve(utf8.Length);
            utf8.CopyTo(new Span<byte>(_chunk, _chunkUsed, utf8.Length));
            _chunkUsed += utf8.Length;
            return utf8.Length;
        }

        /// <summary>Appends text as UTF-8 to the chunk being filled. Under _sendLock.</summary>
        private unsafe int Encode(string text)
        {
            if (text.Length == 0)
            {
                return 0;
            }

            Reserve(Utf8.GetMaxByteCount(text.Length));
            int written;
            fixed (char* chars = text)
            fixed (byte* bytes = &_chunk[_chunkUsed])
            {
                written = Utf8.GetBytes(chars, text.Length, bytes, _chunk.Length - _chunkUsed);
            }

            _chunkUsed += written;
            return written;
        }

        /// <summary>Makes room for <paramref name="max"/> bytes in the chunk, starting a new one when they might not fit.</summary>
        private void Reserve(int max)
        {
            if (_chunk == null || _chunk.Length - _chunkUsed < max)
            {
                if (_chunkUsed > 0)
                {
                    (_queued ?? (_queued = new List<ArraySegment<byte>>())).Add(new ArraySegment<byte>(_chunk, 0, _chunkUsed));
                }
                else if (_chunk != null)
                {
                    ArrayPool<byte>.Shared.Return(_chunk);
                }

                _chunk = ArrayPool<byte>.Shared.Rent(Math.Max(ChunkBytes, max));
                _chunkUsed = 0;
            }
        }
    }

    /// <summary>Handles one incoming line's UTF-8 bytes; false stops reading.</summary>
    public delegate bool LineHandler(ReadOnlySpan<byte> line);

    /// <summary>Why a read loop ended.</summary>
    public enum ReadEnd
    {
        /// <summary>The peer closed its side.</summary>
        PeerClosed,
        /// <summary>The socket failed (reset, timeout found by keepalive, ...).</summary>
        Failed,
        /// <summary>We stopped it: EXIT, a refused handshake, or the server stopping.</summary>
        Stopped,
    }
}
