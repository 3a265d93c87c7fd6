using System;
using System.Collections.Generic;
using System.IO;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;

namespace Chatrm.Engine.Transport
{
    internal sealed partial class LineTransport
    {
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
            [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
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
            [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
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
}
