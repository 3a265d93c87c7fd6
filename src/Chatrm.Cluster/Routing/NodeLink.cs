using System;
using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Globalization;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;
using Chatrm.Engine;
using NATS.Client.Core;

namespace Chatrm.Cluster.Routing
{
    /// <summary>
    /// Frames to and from the other nodes over core NATS, each node listening on a subject named by its number alone.
    /// Frames to one node leave in the order they were handed over (one queue and one publisher per node), which NATS
    /// keeps to the receiver: so a sender's messages to a user on another node arrive in the order sent. What waits
    /// for a node goes in one NATS message, each frame behind its length, as a socket's writes are coalesced: a
    /// publish per frame would cost more than the frame.
    /// </summary>
    internal sealed class NodeLink : IAsyncDisposable
    {
        // A node that cannot take what is sent to it: past this many frames waiting, sends are refused, never queued.
        private const int MaxWaitingPerNode = 65_536;

        // One NATS message carries frames up to about this many bytes (nats-server takes 1 MiB by default).
        private const int MaxBatchBytes = 256 * 1024;

        private readonly INatsConnection _nats;
        private readonly int _self;
        private readonly ConcurrentDictionary<int, Channel<byte[]>> _outbound = new ConcurrentDictionary<int, Channel<byte[]>>();
        private readonly ConcurrentDictionary<int, Task> _pumps = new ConcurrentDictionary<int, Task>();
        private readonly CancellationTokenSource _stopping = new CancellationTokenSource();
        private Task _inbound;

        public NodeLink(INatsConnection nats, int self)
        {
            _nats = nats;
            _self = self;
        }

        public static string SubjectOf(int node) => "chatrm.node." + node.ToString(CultureInfo.InvariantCulture);

        /// <summary>Whether NATS is connected now: a frame sent while it is not may wait, so the caller refuses instead.</summary>
        public bool IsConnected => _nats.ConnectionState == NatsConnectionState.Open;

        /// <summary>Starts taking the frames sent to this node, one at a time, in the order they came.</summary>
        public async Task StartAsync(Action<int, byte[], int, int> onFrame)
        {
            INatsSub<byte[]> sub = await _nats.SubscribeCoreAsync<byte[]>(SubjectOf(_self), cancellationToken: _stopping.Token).ConfigureAwait(false);
            _inbound = Task.Factory.StartNew(() => Receive(sub, onFrame), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }

        // On a thread of its own: behind a busy server's socket work in the pool's queue, every batch would wait its turn.
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        private void Receive(INatsSub<byte[]> sub, Action<int, byte[], int, int> onFrame)
        {
            ChannelReader<NatsMsg<byte[]>> msgs = sub.Msgs;
            try
            {
                while (true)
                {
                    while (msgs.TryRead(out NatsMsg<byte[]> msg))
                    {
                        if (msg.Data != null)
                        {
                            Split(msg.Data, onFrame);
                        }
                    }

                    if (!msgs.WaitToReadAsync(_stopping.Token).AsTask().GetAwaiter().GetResult())
                    {
                        break;
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
            finally
            {
                sub.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
        }

        /// <summary>Queues a frame for the node; false when it cannot go now (NATS is away, or too much waits for that node).</summary>
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        public bool TrySend(int node, byte[] frame)
        {
            if (!IsConnected)
            {
                return false;
            }

            Channel<byte[]> queue = _outbound.GetOrAdd(node, StartPump);
            return queue.Writer.TryWrite(frame);
        }

        public async ValueTask DisposeAsync()
        {
            foreach (Channel<byte[]> queue in _outbound.Values)
            {
                queue.Writer.TryComplete();
            }

            // What was queued goes out first, for a little while.
            await Task.WhenAny(Task.WhenAll(_pumps.Values), Task.Delay(TimeSpan.FromSeconds(2))).ConfigureAwait(false);
            _stopping.Cancel();
            if (_inbound != null)
            {
                await _inbound.ConfigureAwait(false);
            }

            _stopping.Dispose();
        }

        private Channel<byte[]> StartPump(int node)
        {
            Channel<byte[]> queue = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(MaxWaitingPerNode)
            {
                SingleReader = true,
                FullMode = BoundedChannelFullMode.DropWrite,
            });
            _pumps[node] = Task.Factory.StartNew(() => Pump(node, queue.Reader), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            return queue;
        }

        /// <summary>
        /// Hands on each frame of a batch, with the sending node's number the batch starts with: then each frame is a
        /// 4-byte little-endian length and the frame. A torn batch ends where it tears.
        /// </summary>
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        internal static void Split(byte[] batch, Action<int, byte[], int, int> onFrame)
        {
            if (batch.Length < 4)
            {
                return;
            }

            int from = BinaryPrimitives.ReadInt32LittleEndian(batch);
            int at = 4;
            while (batch.Length - at >= 4)
            {
                int length = BinaryPrimitives.ReadInt32LittleEndian(batch.AsSpan(at));
                at += 4;
                if (length <= 0 || length > batch.Length - at)
                {
                    return;
                }

                onFrame(from, batch, at, length);
                at += length;
            }
        }

        // On a thread of its own, for the reason Receive is.
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        private void Pump(int node, ChannelReader<byte[]> frames)
        {
            string subject = SubjectOf(node);
            var batch = new ArrayBufferWriter<byte>(MaxBatchBytes + 64 * 1024);
            try
            {
                while (frames.WaitToReadAsync(_stopping.Token).AsTask().GetAwaiter().GetResult())
                {
                    batch.ResetWrittenCount();
                    BinaryPrimitives.WriteInt32LittleEndian(batch.GetSpan(4), _self);
                    batch.Advance(4);
                    while (batch.WrittenCount < MaxBatchBytes && frames.TryRead(out byte[] frame))
                    {
                        BinaryPrimitives.WriteInt32LittleEndian(batch.GetSpan(4), frame.Length);
                        batch.Advance(4);
                        frame.CopyTo(batch.GetSpan(frame.Length));
                        batch.Advance(frame.Length);
                    }

                    ValueTask published = _nats.PublishAsync(subject, batch.WrittenMemory, cancellationToken: _stopping.Token);
                    if (!published.IsCompletedSuccessfully)
                    {
                        published.AsTask().GetAwaiter().GetResult();
                    }

                }
            }
            catch (OperationCanceledException)
            {
            }
            catch (Exception e) when (e is NatsException || e is TimeoutException)
            {
                // NATS went away mid-publish: what was queued for that node is lost with the link, as a dropped
                // connection loses what it had not written; its senders hear nothing more of those, as of a gone recipient.
                _outbound.TryRemove(node, out _);
                _pumps.TryRemove(node, out _);
            }
        }
    }
}
