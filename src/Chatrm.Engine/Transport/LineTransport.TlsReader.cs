using System;
using System.IO;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;

namespace Chatrm.Engine.Transport
{
    /// <summary>Reading lines over TLS: one pending stream read at a time, which StopReading can end.</summary>
    internal sealed partial class LineTransport
    {
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
    }
}
