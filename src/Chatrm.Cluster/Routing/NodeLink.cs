using System;
using System.Collections.Concurrent;
using System.Globalization;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;
using NATS.Client.Core;

namespace Chatrm.Cluster.Routing
{
    /// <summary>
    /// Frames to and from the other nodes over core NATS, each node listening on a subject named by its number alone.
    /// Frames to one node leave in the order they were handed over (one queue and one publisher per node), which NATS
    /// keeps to the receiver: so a sender's messages to a user on another node arrive in the order sent.
    /// </summary>
    internal sealed class NodeLink : IAsyncDisposable
    {
        // A node that cannot take what is sent to it: past this many frames waiting, sends are refused, never queued.
        private const int MaxWaitingPerNode = 65_536;

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
        public async Task StartAsync(Action<byte[]> onFrame)
        {
            INatsSub<byte[]> sub = await _nats.SubscribeCoreAsync<byte[]>(SubjectOf(_self), cancellationToken: _stopping.Token).ConfigureAwait(false);
            _inbound = Task.Run(async () =>
            {
                await using (sub)
                {
                    try
                    {
                        await foreach (NatsMsg<byte[]> msg in sub.Msgs.ReadAllAsync(_stopping.Token).ConfigureAwait(false))
                        {
                            if (msg.Data != null && msg.Data.Length > 0)
                            {
                                onFrame(msg.Data);
                            }
                        }
                    }
                    catch (OperationCanceledException)
                    {
                    }
                }
            });
        }

        /// <summary>Queues a frame for the node; false when it cannot go now (NATS is away, or too much waits for that node).</summary>
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
            _pumps[node] = Task.Run(() => PumpAsync(node, queue.Reader));
            return queue;
        }

        private async Task PumpAsync(int node, ChannelReader<byte[]> frames)
        {
            string subject = SubjectOf(node);
            try
            {
                while (await frames.WaitToReadAsync(_stopping.Token).ConfigureAwait(false))
                {
                    while (frames.TryRead(out byte[] frame))
                    {
                        await _nats.PublishAsync(subject, frame, cancellationToken: _stopping.Token).ConfigureAwait(false);
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
