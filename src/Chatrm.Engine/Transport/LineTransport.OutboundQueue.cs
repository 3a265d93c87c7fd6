using System;
using System.Buffers;
using System.Collections.Generic;
using System.IO;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;

namespace Chatrm.Engine.Transport
{
    /// <summary>The outbound queue: senders append under the send lock; one drain at a time sends what is queued.</summary>
    internal sealed partial class LineTransport
    {
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
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
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
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        private SendResult Queued(int written)
        {
            _queuedBytes += written;
            if (!_draining && written > 0)
            {
                // One hop per burst: whatever else is queued before the drain runs goes in the same send. (Draining
                // on the reading thread at the end of its batch instead was slower in A/B runs: this way the two
                // cores read and send in parallel.)
                _draining = true;
                StartDrainSoon();
            }

            return SendResult.Queued;
        }

        /// <summary>Takes no more bytes from now on; what is queued still goes, and a close waits for it as ever.</summary>
        internal void TakeNoMore() => CompleteOutput();

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
            Action emptied = null;
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

                            emptied = _whenEmpty;
                            _whenEmpty = null;
                            break;
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
            catch (Exception)
            {
                // The peer is gone (or the stream broke in some other way, as a TLS stream can with an
                // InvalidOperationException): either way nothing more can be written, so the output ends here.
                // Leaving _draining set would make every later send queue behind a drain that never runs.
                lock (_sendLock)
                {
                    _outputCompleted = true;
                    _draining = false;
                    _sending?.Clear();
                    ReturnQueued();
                    _drained?.TrySetResult(false);
                }

                StopReading();
                return;
            }

            // Outside the lock: the callback queues more, as a user's inbox does a share at a time.
            emptied?.Invoke();
        }

        /// <summary>
        /// Runs <paramref name="then"/> once, when everything queued so far has been sent: at once when nothing is queued.
        /// Never after the output has ended. One callback waits at a time; a second replaces the first.
        /// </summary>
        internal void WhenQueueEmpty(Action then)
        {
            lock (_sendLock)
            {
                if (_outputCompleted)
                {
                    return;
                }

                if (_draining)
                {
                    _whenEmpty = then;
                    return;
                }
            }

            then();
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
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
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

                // A burst's first chunk is small: most bursts are a message or two (a post to many rooms' members
                // is one each), and thousands of sockets holding a 4 KB buffer each outrun the pool, whose misses
                // are fresh pages the kernel zeroes. A burst that outgrows it goes on in full-size chunks.
                int size = _chunkUsed > 0 || _queued?.Count > 0 ? ChunkBytes : FirstChunkBytes;
                _chunk = ArrayPool<byte>.Shared.Rent(Math.Max(size, max));
                _chunkUsed = 0;
            }
        }
    }
}
