using System;
using System.Collections.Generic;
using System.IO;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace Chatrm.Engine.Transport
{
    /// <summary>
    /// One socket carrying UTF-8 lines both ways: a reader that frames incoming lines, and a single
    /// ordered writer fed by any number of threads. Writers append to pooled buffers under a lock and never
    /// wait; a drain started on the thread pool when the first bytes are queued sends everything queued in
    /// one gathered send, and ends when nothing is left, so a slow peer never blocks a sender and an idle
    /// connection holds no buffer and no waiting task.
    /// </summary>
    internal sealed partial class LineTransport : IDisposable
    {
        private static readonly UTF8Encoding Utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);

        // Put in _tlsReadStop by a StopReading while no TLS read runs: the next read takes it and ends at once.
        private static readonly TaskCompletionSource<bool> TlsStoppedEarly = CreateStopped();

        // Output buffers: at least this big, rented from the shared pool and returned once sent.
        private const int ChunkBytes = 4096;

        // The first buffer of a burst (see Reserve).
        private const int FirstChunkBytes = 512;

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
        // Read per line by the framer; set only from the line handler, on the reading thread (see MaxLineBytes).
        private int _maxLineBytes;
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

        // Run once when the queue next empties (see WhenQueueEmpty); under _sendLock.
        private Action _whenEmpty;

        /// <summary>
        /// Longest incoming line from the next one on. Only a line handler may set it (it runs on the reading
        /// thread): a server lets the opening line be longer than the lines after it.
        /// </summary>
        internal int MaxLineBytes
        {
            get => _maxLineBytes;
            set => _maxLineBytes = value;
        }

        /// <param name="maxLineBytes">Longest incoming line, without its newline.</param>
        /// <param name="maxQueuedBytes">How many bytes may wait for a peer that does not read.</param>
        /// <param name="secure">A TLS stream already authenticated over <paramref name="socket"/>, or null for plain TCP.</param>
        /// <param name="stopsAfterReadBatch">
        /// A server's: when its line handler stops another connection's reading (a recipient too slow), that read
        /// ends once the lines of this read are handled, so what the handler queued (the sender told why) goes first.
        /// </param>
        public LineTransport(Socket socket, int maxLineBytes, long maxQueuedBytes, Stream secure = null, bool stopsAfterReadBatch = false)
            : this(socket, secure, maxLineBytes, maxQueuedBytes, stopsAfterReadBatch)
        {
        }

        /// <summary>
        /// Lines over a stream with no socket under it (an in-memory pair, in tests): read and written as over TLS,
        /// closed by disposing the stream.
        /// </summary>
        internal LineTransport(Stream stream, int maxLineBytes, long maxQueuedBytes, bool stopsAfterReadBatch = false)
            : this(null, stream ?? throw new ArgumentNullException(nameof(stream)), maxLineBytes, maxQueuedBytes, stopsAfterReadBatch)
        {
        }

        private LineTransport(Socket socket, Stream secure, int maxLineBytes, long maxQueuedBytes, bool stopsAfterReadBatch)
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
        internal long ReadTicks => _readTicks != 0 ? _readTicks : (_readTicks = Clock.GetUtcNow().UtcTicks);

        /// <summary>Where <see cref="ReadTicks"/> comes from: the system's clock, or one a test drives.</summary>
        internal TimeProvider Clock { get; set; } = TimeProvider.System;

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
                try { return _socket?.RemoteEndPoint; }
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
                try { _socket?.Shutdown(SocketShutdown.Send); }
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
            try { _socket?.Dispose(); }
            catch (ObjectDisposedException) { }

            // Freed now, or when the receive the close aborts has ended.
            _reader?.Dispose();
            _secure?.Dispose();
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

        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
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
    }
}
