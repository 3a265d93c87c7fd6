using System;
using System.Buffers;

namespace Chatrm.Engine.Transport
{
    internal sealed partial class LineTransport
    {
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
            [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
            public bool Frame(int received, LineTransport transport, LineHandler onLine, Action onLineTooLong, Action afterLines)
            {
                byte[] buffer = _buffer;
                int length = _kept + received;
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

                        // Read per line: a handler may change it for the lines after its own (a server's opening).
                        if (lineLength > transport._maxLineBytes)
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
                    if (!_skipping && counted > transport._maxLineBytes)
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
    }
}
