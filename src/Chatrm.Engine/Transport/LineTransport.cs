using System;
using System.Buffers;
using System.Collections.Generic;
using System.IO;
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
    /// One socket carrying UTF-8 lines both ways: a reader that frames incoming lines, and a single
    /// ordered writer fed by any number of threads. Writers append to pooled buffers under a lock and never
    /// wait; a drain started on the thread pool when the first bytes are queued sends everything queued in
    /// one gathered send, and ends when nothing is left, so a slow peer never blocks a sender and an idle
    /// connection holds no buffer and no waiting task.
    /// </summary>
    public sealed class LineTransport : IDisposable
    {
        private static readonly UTF8Encoding Utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);

        // Put in _tlsReadStop by a StopReading while no TLS read runs: the next read takes it and ends at once.
        private static readonly TaskCompletionSource<bool> TlsStoppedEarly = CreateStopped();

        // Output buffers: at least this big, rented from the shared pool and returned once sent.
        private const int ChunkBytes = 4096;

        // A send this short goes from a copy of its own size (see SendAllAsync).
        private const int SmallSendBytes = 512;

        private static readonly WaitCallback StartDrain = state => _ = ((LineTransport)state).DrainAsync();

        // True while this thread hands one read's lines to a server's handler (a read batch).
        [ThreadStatic] private static bool t_inReadBatch;

        // Idle plain-TCP reads that a read batch on this thread stopped: they end when the batch does, so what the
        // batch queued (a sender told why the reader was dropped) goes before what the reader's owner does on ending.
        [ThreadStatic] private static List<SocketLineReader> t_batchStops;

        private readonly bool _stopsAfterReadBatch;

        private readonly Socket _socket;

        // A TLS stream over the socket, or null for plain TCP (where sends go straight to the socket, gathered).
        private readonly Stream _secure;

        // Plain TCP reads straight from the socket (null over TLS).
        private readonly SocketLineReader _reader;

        // TLS: the running read's stop, which StopReading completes to end a pending read (or TlsStoppedEarly).
        private TaskCompletionSource<bool> _tlsReadStop;
        private readonly object _sendLock = new object();
        private readonly int _maxLineBytes;
        private readonly long _maxQueuedBytes;
        // Under _sendLock, as everything else a send touches: no atomic operation per message.
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
        /// <param name="stopsAfterReadBatch">
        /// A server's: when its line handler stops another connection's reading (a recipient too slow), that read
        /// ends once the lines of this read are handled, so what the handler queued (the sender told why) goes first.
        /// </param>
        public LineTransport(Socket socket, int maxLineBytes, long maxQueuedBytes, Stream secure = null, bool stopsAfterReadBatch = false)
        {
            _stopsAfterReadBatch = stopsAfterReadBatch;
            _socket = socket;
            _maxLineBytes = maxLineBytes;
            _maxQueuedBytes = maxQueuedBytes;
            _secure = secure;
            if (secure == null)
            {
                // The reader takes what has arrived without blocking, and waits for more with a zero-byte receive.
                socket.Blocking = false;
                _reader = new SocketLineReader(this);
            }
        }

        /// <summary>
        /// Now, in UTC ticks, the same for every line of one read: they arrived together, and reading the clock
        /// once per read instead of once per line is cheaper. For line handlers, on the reading thread.
        /// </summary>
        internal long ReadTicks => _readTicks != 0 ? _readTicks : (_readTicks = DateTime.UtcNow.Ticks);

        // 0 until a handler asks, for the read being handled.
        private long _readTicks;

        /// <summary>Bytes queued for the peer and not yet handed to the socket.</summary>
        public long QueuedBytes
        {
            get
            {
                lock (_sendLock)
                {
                    return _queuedBytes;
                }
            }
        }

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
        public Task<ReadEnd> ReadLinesAsync(LineHandler onLine, Action onLineTooLong, CancellationToken cancellationToken) =>
            ReadLinesAsync(onLine, onLineTooLong, null, cancellationToken);

        /// <summary>
        /// As <see cref="ReadLinesAsync(LineHandler, Action, CancellationToken)"/>, calling <paramref name="afterLines"/>
        /// once the lines of each read are handled: what they call for can be answered once for all of them.
        /// </summary>
        public Task<ReadEnd> ReadLinesAsync(LineHandler onLine, Action onLineTooLong, Action afterLines, CancellationToken cancellationToken) =>
            _reader != null ? _reader.Start(onLine, onLineTooLong, afterLines, cancellationToken) : ReadTlsLinesAsync(onLine, onLineTooLong, afterLines, cancellationToken);

        /// <summary>
        /// The TLS read loop. While idle it waits with a zero-byte read, which SslStream completes once data (or the
        /// end) is there, so an idle connection holds no buffer; then it reads into the framer's rented buffer.
        /// A stop does not wait for the stream to honour a cancellation (SslStream on .NET Framework, which Windows
        /// PowerShell runs, ignores it): the read is left to end with the connection.
        /// </summary>
        private async Task<ReadEnd> ReadTlsLinesAsync(LineHandler onLine, Action onLineTooLong, Action afterLines, CancellationToken cancellationToken)
        {
            var stop = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            if (Interlocked.Exchange(ref _tlsReadStop, stop) == TlsStoppedEarly)
            {
                stop.TrySetResult(true);
            }

            var framer = new LineFramer();
            bool bufferInUse = false;
            try
            {
                using (cancellationToken.Register(state => ((TaskCompletionSource<bool>)state).TrySetResult(true), stop))
                {
                    while (true)
                    {
                        if (!framer.HasBuffer)
                        {
                            if (stop.Task.IsCompleted || !await ReadUnlessStopped(_secure.ReadAsync(Array.Empty<byte>(), 0, 0), stop.Task).ConfigureAwait(false))
                            {
                                return ReadEnd.Stopped;
                            }
                        }

                        // Checked before each read, as the plain reader does before each receive.
                        if (stop.Task.IsCompleted)
                        {
                            return ReadEnd.Stopped;
                        }

                        ArraySegment<byte> room = framer.Room();
                        Task<int> read = _secure.ReadAsync(room.Array, room.Offset, room.Count);
                        if (!await ReadUnlessStopped(read, stop.Task).ConfigureAwait(false))
                        {
                            // The pending read may still write into the buffer: it must not go back to the pool.
                            bufferInUse = true;
                            return ReadEnd.Stopped;
                        }

                        int received = await read.ConfigureAwait(false);
                        if (received == 0)
                        {
                            return ReadEnd.PeerClosed;
                        }

                        if (!framer.Frame(received, this, onLine, onLineTooLong, afterLines))
                        {
                            return ReadEnd.Stopped;
                        }

                        framer.ReturnIfEmpty();
                    }
                }
            }
            catch (OperationCanceledException)
            {
                return ReadEnd.Stopped;
            }
            catch (Exception e) when (e is IOException || e is SocketException || e is ObjectDisposedException || e is InvalidOperationException)
            {
                // Disposing to stop fails what was reading: it was a stop.
                return stop.Task.IsCompleted ? ReadEnd.Stopped : ReadEnd.Failed;
            }
            finally
            {
                if (bufferInUse)
                {
                    framer.Abandon();
                }
                else
                {
                    framer.Return();
                }

                Interlocked.CompareExchange(ref _tlsReadStop, null, stop);
            }
        }

        /// <summary>Waits for the read or the stop; false when the stop came first (the read is then left pending).</summary>
        private static async Task<bool> ReadUnlessStopped(Task<int> read, Task stopped)
        {
            if (!read.IsCompleted && await Task.WhenAny(read, stopped).ConfigureAwait(false) != read)
            {
                // It ends when the connection closes, most likely faulted: look at its exception so nobody else has to.
                _ = read.ContinueWith(t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                return false;
            }

            return true;
        }

        private static TaskCompletionSource<bool> CreateStopped()
        {
            var stopped = new TaskCompletionSource<bool>();
            stopped.SetResult(true);
            return stopped;
        }

        /// <summary>
        /// Queues text (which must end with its newline) for the peer, without waiting. <paramref name="evenIfFull"/>
        /// lets one last word through a full queue, such as the notice that says why the peer is dropped.
        /// </summary>
        public SendResult Send(string text, bool evenIfFull = false) => Enqueue(text, default, evenIfFull);

        /// <summary>As <see cref="Send(string, bool)"/>, for text already encoded as UTF-8 (newline included).</summary>
        public SendResult Send(ReadOnlySpan<byte> utf8, bool evenIfFull = false) => Enqueue(null, utf8, evenIfFull);

        /// <summary>
        /// The lock every send takes. A caller that keeps a record in step with the wire holds it around
        /// <see cref="SendHoldingGate"/>, so one lock does for both.
        /// </summary>
        internal object SendGate => _sendLock;

        /// <summary>As <see cref="Send(ReadOnlySpan{byte}, bool)"/>, by a caller that holds <see cref="SendGate"/>.</summary>
        internal SendResult SendHoldingGate(ReadOnlySpan<byte> utf8) => EnqueueHoldingGate(null, utf8, evenIfFull: false);

        private SendResult Enqueue(string text, ReadOnlySpan<byte> utf8, bool evenIfFull)
        {
            lock (_sendLock)
            {
                return EnqueueHoldingGate(text, utf8, evenIfFull);
            }
        }

        private SendResult EnqueueHoldingGate(string text, ReadOnlySpan<byte> utf8, bool evenIfFull) =>
            MayQueue(evenIfFull, out SendResult refused) ? Queued(text != null ? Encode(text) : Append(utf8)) : refused;

        /// <summary>
        /// Queues the line <paramref name="a"/>, <paramref name="separator"/>, <paramref name="b"/>,
        /// <paramref name="separator"/>, <paramref name="c"/> and a newline, as <see cref="Send(string, bool)"/>
        /// would that string, without making it. <paramref name="separator"/> is ASCII.
        /// </summary>
        internal SendResult SendJoined(char separator, string a, string b, string c)
        {
            lock (_sendLock)
            {
                return MayQueue(evenIfFull: false, out SendResult refused)
                    ? Queued(Encode(a) + AppendAscii(separator) + Encode(b) + AppendAscii(separator) + Encode(c) + AppendAscii('\n'))
                    : refused;
            }
        }

        /// <summary>Whether a send may queue now; if not, why. Under _sendLock.</summary>
        private bool MayQueue(bool evenIfFull, out SendResult refused)
        {
            refused = _outputCompleted ? SendResult.Closed : !evenIfFull && _queuedBytes > _maxQueuedBytes ? SendResult.QueueFull : SendResult.Queued;
            return refused == SendResult.Queued;
        }

        /// <summary>Counts what a send wrote to the chunk and starts a drain if none runs. Under _sendLock.</summary>
        private SendResult Queued(int written)
        {
            _queuedBytes += written;
            if (!_draining && written > 0)
            {
                // One hop per burst: whatever else is queued before the drain runs goes in the same send. (Draining
                // on the reading thread at the end of its batch instead was slower in A/B runs: this way the two
                // cores read and send in parallel.)
                _draining = true;
                ThreadPool.UnsafeQueueUserWorkItem(StartDrain, this);
            }

            return SendResult.Queued;
        }

        /// <summary>
        /// Stops reading, from any thread: a pending <see cref="ReadLinesAsync"/> returns Stopped once the lines
        /// already received are handled. Over plain TCP this is final: a later read returns Stopped at once.
        /// </summary>
        public void StopReading()
        {
            if (_reader != null)
            {
                _reader.Stop();
            }
            else
            {
                // Ends the running read, or the next one if none runs (TlsStoppedEarly is already complete).
                Interlocked.CompareExchange(ref _tlsReadStop, TlsStoppedEarly, null)?.TrySetResult(true);
            }
        }

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
            StopReading();
            try { _socket.Dispose(); }
            catch (ObjectDisposedException) { }

            // Freed now, or when the receive the close aborts has ended.
            _reader?.Dispose();
            _secure?.Dispose();
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
                long sent = 0;
                while (true)
                {
                    List<ArraySegment<byte>> batch;
                    lock (_sendLock)
                    {
                        _queuedBytes -= sent;
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

                    await SendAllAsync(batch).ConfigureAwait(false);
                    sent = 0;
                    foreach (ArraySegment<byte> segment in batch)
                    {
                        sent += segment.Count;
                        ArrayPool<byte>.Shared.Return(segment.Array);
                    }

                    batch.Clear();
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

                StopReading();
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

        /// <summary>Ends the reads that the batch stopped.</summary>
        private static void EndBatch()
        {
            t_inReadBatch = false;
            List<SocketLineReader> stops = t_batchStops;
            if (stops != null && stops.Count > 0)
            {
                foreach (SocketLineReader reader in stops)
                {
                    reader.EndStopped();
                }

                stops.Clear();
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

        private int AppendAscii(char c)
        {
            Reserve(1);
            _chunk[_chunkUsed++] = (byte)c;
            return 1;
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

        /// <summary>
        /// The one line framer, for both read paths: bytes are received into <see cref="Room"/> and framed there, and
        /// what is left of a partial line is kept at the buffer's start. A field or local, never copied.
        /// </summary>
        private struct LineFramer
        {
            // A read takes a burst of frames (a client's whole window) in one receive. Between reads, a partial line
            // is kept in a buffer no bigger than KeptBytes when it fits, so an idle connection holds no more.
            private const int BufferBytes = 16 * 1024;
            private const int KeptBytes = 4096;

            // Rented; the partial line is its first _kept bytes.
            private byte[] _buffer;
            private int _kept;

            // Dropping the rest of a line over the limit, up to its newline.
            private bool _skipping;

            public bool HasBuffer => _buffer != null;

            /// <summary>Where to receive next: after the partial line, in a buffer rented (or grown) as needed.</summary>
            public ArraySegment<byte> Room()
            {
                if (_buffer == null)
                {
                    _buffer = ArrayPool<byte>.Shared.Rent(BufferBytes);
                }
                else
                {
                    // A small buffer that kept a partial line grows back to the read size; a partial line that fills
                    // the buffer, yet is within the limit (or it would have been dropped), doubles it.
                    int wanted = Math.Max(BufferBytes, _kept == _buffer.Length ? _buffer.Length * 2 : 0);
                    if (_buffer.Length < wanted)
                    {
                        MoveTo(ArrayPool<byte>.Shared.Rent(wanted));
                    }
                }

                return new ArraySegment<byte>(_buffer, _kept, _buffer.Length - _kept);
            }

            /// <summary>
            /// Hands over, in one read batch, the complete lines that the <paramref name="received"/> bytes just put in
            /// <see cref="Room"/> end, and keeps the partial line after them. False when a handler stops reading.
            /// </summary>
            public bool Frame(int received, LineTransport transport, LineHandler onLine, Action onLineTooLong, Action afterLines)
            {
                byte[] buffer = _buffer;
                int length = _kept + received;
                int max = transport._maxLineBytes;
                int start = 0;
                bool batch = transport._stopsAfterReadBatch;
                t_inReadBatch |= batch;
                transport._readTicks = 0;
                try
                {
                    while (true)
                    {
                        int newline = new ReadOnlySpan<byte>(buffer, start, length - start).IndexOf((byte)'\n');
                        if (newline < 0)
                        {
                            break;
                        }

                        int lineStart = start;
                        int lineLength = newline;
                        start += newline + 1;
                        if (_skipping)
                        {
                            _skipping = false;
                            continue;
                        }

                        if (lineLength > 0 && buffer[lineStart + lineLength - 1] == (byte)'\r')
                        {
                            lineLength--;
                        }

                        if (lineLength > max)
                        {
                            onLineTooLong();
                            continue;
                        }

                        if (!onLine(new ReadOnlySpan<byte>(buffer, lineStart, lineLength)))
                        {
                            return false;
                        }
                    }

                    // A \r at the end may be the first half of a \r\n, which the limit does not count.
                    int pending = length - start;
                    int counted = pending > 0 && buffer[length - 1] == (byte)'\r' ? pending - 1 : pending;
                    if (!_skipping && counted > max)
                    {
                        _skipping = true;
                        onLineTooLong();
                    }

                    if (_skipping)
                    {
                        pending = 0;
                    }
                    else if (pending > 0 && start > 0)
                    {
                        System.Buffer.BlockCopy(buffer, start, buffer, 0, pending);
                    }

                    _kept = pending;
                    afterLines?.Invoke();
                    return true;
                }
                finally
                {
                    if (batch)
                    {
                        EndBatch();
                    }
                }
            }

            /// <summary>
            /// Between reads: gives the buffer back when no partial line is kept in it, and moves a short partial
            /// line to a small buffer.
            /// </summary>
            public void ReturnIfEmpty()
            {
                if (_kept == 0)
                {
                    Return();
                }
                else if (_buffer.Length > KeptBytes && _kept <= KeptBytes)
                {
                    MoveTo(ArrayPool<byte>.Shared.Rent(KeptBytes));
                }
            }

            /// <summary>Moves the partial line into <paramref name="other"/>, rented, and returns the old buffer.</summary>
            private void MoveTo(byte[] other)
            {
                System.Buffer.BlockCopy(_buffer, 0, other, 0, _kept);
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = other;
            }

            /// <summary>Gives the buffer back, dropping any partial line.</summary>
            public void Return()
            {
                if (_buffer != null)
                {
                    ArrayPool<byte>.Shared.Return(_buffer);
                    _buffer = null;
                    _kept = 0;
                }
            }

            /// <summary>Lets go of the buffer without returning it to the pool: a read still pending may write into it.</summary>
            public void Abandon()
            {
                _buffer = null;
                _kept = 0;
            }
        }

        /// <summary>
        /// Reads lines straight from a plain TCP socket. While idle it is one pending zero-byte receive: no buffer
        /// and no task of its own. When bytes are there it takes them with non-blocking
        /// receives into a pooled buffer, which goes back to the pool as soon as no partial line is left in it.
        /// </summary>
        private sealed class SocketLineReader : SocketAsyncEventArgs
        {
            // Whose the buffer and the handlers are. Working: the one thread reading. Waiting: nobody's, while the
            // zero-byte receive pends; leaving it takes a CompareExchange, which either the receive's completion
            // (to Working) or StopReading (to Ended) wins. Ended: for good.
            private const int NotStarted = 0;
            private const int Working = 1;
            private const int Waiting = 2;
            private const int Ended = 3;

            private readonly LineTransport _transport;
            private int _state;
            private int _stopRequested;
            private LineHandler _onLine;
            private Action _onLineTooLong;
            private Action _afterLines;
            private TaskCompletionSource<ReadEnd> _end;

            // Its buffer is null whenever no partial line is kept across receives.
            private LineFramer _framer;

            // On the caller's token, when it can be cancelled. A server passes none: it stops its connections'
            // reading itself, so an idle connection carries no registration.
            private CancellationTokenRegistration _registration;

            public SocketLineReader(LineTransport transport)
            {
                _transport = transport;

                // The socket's receive keeps its buffer referenced while it pends: an empty one holds nothing alive.
                SetBuffer(Array.Empty<byte>(), 0, 0);
            }

            private bool StopRequested => Volatile.Read(ref _stopRequested) != 0;

            public Task<ReadEnd> Start(LineHandler onLine, Action onLineTooLong, Action afterLines, CancellationToken cancellationToken)
            {
                if (Interlocked.CompareExchange(ref _state, Working, NotStarted) != NotStarted)
                {
                    // One read loop per transport (a zero-byte receive of the last may still pend); a stop is for good.
                    return Task.FromResult(StopRequested ? ReadEnd.Stopped : ReadEnd.Failed);
                }

                _onLine = onLine;
                _onLineTooLong = onLineTooLong;
                _afterLines = afterLines;
                _end = new TaskCompletionSource<ReadEnd>(TaskCreationOptions.RunContinuationsAsynchronously);
                Task<ReadEnd> ended = _end.Task;
                if (cancellationToken.CanBeCanceled)
                {
                    // A token cancelled already stops it here, at once, while it is Working.
                    _registration = cancellationToken.Register(state => ((SocketLineReader)state).Stop(), this);
                }

                Drive();
                return ended;
            }

            public void Stop()
            {
                Interlocked.Exchange(ref _stopRequested, 1);
                if (Interlocked.CompareExchange(ref _state, Ended, Waiting) == Waiting)
                {
                    // Idle: end the read here (the receive still pends; its completion finds the read Ended), or
                    // when the read batch this thread is in ends.
                    if (t_inReadBatch)
                    {
                        (t_batchStops ?? (t_batchStops = new List<SocketLineReader>())).Add(this);
                    }
                    else
                    {
                        Finish(ReadEnd.Stopped);
                    }
                }
            }

            /// <summary>Ends a read that <see cref="Stop"/> took from Waiting inside a read batch.</summary>
            public void EndStopped() => Finish(ReadEnd.Stopped);

            protected override void OnCompleted(SocketAsyncEventArgs e)
            {
                if (Interlocked.CompareExchange(ref _state, Working, Waiting) != Waiting)
                {
                    return;
                }

                if (SocketError != SocketError.Success)
                {
                    Finish(ReadEnd.Failed);
                    return;
                }

                Drive();
            }

            /// <summary>Reads what has arrived, then waits for more with a zero-byte receive. Runs as Working.</summary>
            private void Drive()
            {
                try
                {
                    while (true)
                    {
                        ReadEnd? end = ReceiveAvailable();
                        if (end != null)
                        {
                            Finish(end.Value);
                            return;
                        }

                        // From Waiting on, the receive's completion or StopReading carries on.
                        Interlocked.Exchange(ref _state, Waiting);
                        bool pending;
                        try
                        {
                            pending = _transport._socket.ReceiveAsync(this);
                        }
                        catch (Exception e) when (e is ObjectDisposedException || e is SocketException || e is InvalidOperationException)
                        {
                            // Closed meanwhile: nothing pends, so end here unless StopReading just did.
                            if (Interlocked.CompareExchange(ref _state, Working, Waiting) == Waiting)
                            {
                                Finish(ReadEnd.Failed);
                            }

                            return;
                        }

                        if (pending)
                        {
                            // A StopReading while this was Working only set the flag; it can end the read now.
                            if (StopRequested)
                            {
                                Stop();
                            }

                            return;
                        }

                        if (Interlocked.CompareExchange(ref _state, Working, Waiting) != Waiting)
                        {
                            return;
                        }

                        if (SocketError != SocketError.Success)
                        {
                            Finish(ReadEnd.Failed);
                            return;
                        }
                    }
                }
                catch (OperationCanceledException)
                {
                    Finish(ReadEnd.Stopped);
                }
                catch (Exception e) when (e is IOException || e is SocketException || e is ObjectDisposedException || e is InvalidOperationException)
                {
                    Finish(ReadEnd.Failed);
                }
                catch (Exception e)
                {
                    // From a line handler: the read's task carries it, as an async read loop's would.
                    Finish(ReadEnd.Failed, e);
                }
            }

            /// <summary>
            /// Receives and frames until the socket has no more for now (null), or reading ends (why). Stops
            /// between receives when asked to, as the TLS loop does between reads.
            /// </summary>
            private ReadEnd? ReceiveAvailable()
            {
                Socket socket = _transport._socket;
                while (true)
                {
                    if (StopRequested)
                    {
                        return ReadEnd.Stopped;
                    }

                    ArraySegment<byte> room = _framer.Room();
                    int received = socket.Receive(room.Array, room.Offset, room.Count, SocketFlags.None, out SocketError error);
                    if (error == SocketError.WouldBlock)
                    {
                        break;
                    }

                    if (error != SocketError.Success)
                    {
                        return ReadEnd.Failed;
                    }

                    if (received == 0)
                    {
                        return ReadEnd.PeerClosed;
                    }

                    if (!_framer.Frame(received, _transport, _onLine, _onLineTooLong, _afterLines))
                    {
                        return ReadEnd.Stopped;
                    }

                    if (received < room.Count)
                    {
                        // Took all there was, most likely; the zero-byte receive finds out without a buffer.
                        break;
                    }
                }

                _framer.ReturnIfEmpty();
                return null;
            }

            /// <summary>Ends the read. Called once, by whoever holds it (Working, or Stop taking it from Waiting).</summary>
            private void Finish(ReadEnd end, Exception error = null)
            {
                Volatile.Write(ref _state, Ended);
                _registration.Dispose();
                _registration = default;
                _framer.Return();

                TaskCompletionSource<ReadEnd> completion = _end;
                _end = null;
                _onLine = null;
                _onLineTooLong = null;
                _afterLines = null;
                if (error != null)
                {
                    completion.TrySetException(error);
                }
                else
                {
                    // Closing the socket to stop (Dispose) fails what was reading: it was a stop.
                    completion.TrySetResult(end == ReadEnd.Failed && StopRequested ? ReadEnd.Stopped : end);
                }
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
