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
    /// ordered writer fed by any number of threads. Writers append to an in-memory pipe under a lock and
    /// never wait; one send loop drains the pipe to the socket, so a slow peer never blocks a sender.
    /// </summary>
    public sealed class LineTransport : IDisposable
    {
        private static readonly UTF8Encoding Utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);

        // Zero-byte reads: an idle connection's pending read holds no buffer; one is rented when data is there.
        // Options are immutable, so every connection shares one of each.
        private static readonly StreamPipeReaderOptions ReaderOptions =
            new StreamPipeReaderOptions(bufferSize: 4096, minimumReadSize: 1024, leaveOpen: true, useZeroByteReads: true);

        // No back-pressure on writers: the queue bound is ours, so a flush never waits.
        private static readonly PipeOptions OutputOptions =
            new PipeOptions(pauseWriterThreshold: 0, resumeWriterThreshold: 0, useSynchronizationContext: false);

        private readonly Socket _socket;
        private readonly NetworkStream _stream;

        // A TLS stream over the socket, or null for plain TCP (where sends go straight to the socket, gathered).
        private readonly Stream _secure;
        private readonly PipeReader _input;
        private readonly Pipe _output;
        private readonly object _sendLock = new object();
        private readonly int _maxLineBytes;
        private readonly long _maxQueuedBytes;
        private readonly Task _sendLoop;
        private long _queuedBytes;
        private bool _outputCompleted;
        private int _disposed;

        /// <param name="maxLineBytes">Longest incoming line, without its newline.</param>
        /// <param name="maxQueuedBytes">How many bytes may wait for a peer that does not read.</param>
        /// <param name="secure">A TLS stream already authenticated over <paramref name="socket"/>, or null for plain TCP.</param>
        public LineTransport(Socket socket, int maxLineBytes, long maxQueuedBytes, Stream secure = null)
        {
            _socket = socket;
            _maxLineBytes = maxLineBytes;
            _maxQueuedBytes = maxQueuedBytes;
            _stream = new NetworkStream(socket, ownsSocket: false);
            _secure = secure;
            _input = PipeReader.Create(secure ?? _stream, ReaderOptions);
            _output = new Pipe(OutputOptions);
            _sendLoop = Task.Run(SendLoopAsync);
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
        public async Task<ReadEnd> ReadLinesAsync(Func<string, bool> onLine, Action onLineTooLong, CancellationToken cancellationToken)
        {
            bool skipping = false;
            try
            {
                while (true)
                {
                    ReadResult result = await _input.ReadAsync(cancellationToken).ConfigureAwait(false);
                    ReadOnlySequence<byte> buffer = result.Buffer;
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

                            if (!onLine(Decode(line)))
                            {
                                return ReadEnd.Stopped;
                            }
                        }
                    }
                    finally
                    {
                        _input.AdvanceTo(buffer.Start, buffer.End);
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
        public SendResult Send(string text, bool evenIfFull = false)
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

                int written = Encode(text, _output.Writer);
                Interlocked.Add(ref _queuedBytes, written);

                // Never waits: pauseWriterThreshold is off. The send loop picks the bytes up.
                _ = _output.Writer.FlushAsync();
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
            CompleteOutput();
            Task finished = await Task.WhenAny(_sendLoop, Task.Delay(grace)).ConfigureAwait(false);
            if (finished == _sendLoop)
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

        private void CompleteOutput()
        {
            lock (_sendLock)
            {
                if (!_outputCompleted)
                {
                    _outputCompleted = true;
                    _output.Writer.Complete();
                }
            }
        }

        private async Task SendLoopAsync()
        {
            PipeReader reader = _output.Reader;
            var segments = new List<ArraySegment<byte>>();
            try
            {
                while (true)
                {
                    ReadResult result = await reader.ReadAsync().ConfigureAwait(false);
                    ReadOnlySequence<byte> buffer = result.Buffer;
                    if (!buffer.IsEmpty)
                    {
                        // One gathered send for everything queued: writes coalesce under load.
                        segments.Clear();
                        foreach (ReadOnlyMemory<byte> memory in buffer)
                        {
                            if (!MemoryMarshal.TryGetArray(memory, out ArraySegment<byte> segment))
                            {
                                segment = new ArraySegment<byte>(memory.ToArray());
                            }

                            segments.Add(segment);
                        }

                        await SendAllAsync(segments).ConfigureAwait(false);
                    }

                    // Read the length before AdvanceTo: after it the pipe may reuse the buffer's segments.
                    long sent = buffer.Length;
                    reader.AdvanceTo(buffer.End);
                    Interlocked.Add(ref _queuedBytes, -sent);
                    if (result.IsCompleted)
                    {
                        break;
                    }
                }
            }
            catch (Exception e) when (e is SocketException || e is ObjectDisposedException || e is IOException)
            {
                // The peer is gone; the reader side sees it too and ends the session.
                CompleteOutput();
                _input.CancelPendingRead();
            }
            finally
            {
                reader.Complete();
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

            while (remaining > 0)
            {
                int sent = await _socket.SendAsync(segments, SocketFlags.None).ConfigureAwait(false);
                remaining -= sent;
                if (remaining > 0)
                {
                    DropSent(segments, sent);
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

        private static unsafe int Encode(string text, PipeWriter writer)
        {
            int max = Utf8.GetMaxByteCount(text.Length);
            Span<byte> span = writer.GetSpan(max);
            int written;
            fixed (char* chars = text)
            fixed (byte* bytes = span)
            {
                written = Utf8.GetBytes(chars, text.Length, bytes, span.Length);
            }

            writer.Advance(written);
            return written;
        }
    }

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
