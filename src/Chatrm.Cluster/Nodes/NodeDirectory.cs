using System;
using System.Collections.Concurrent;
using System.Globalization;
using System.Threading;
using System.Threading.Tasks;
using Chatrm.Engine.Messaging;
using NATS.Client.Core;
using NATS.Client.KeyValueStore;

namespace Chatrm.Cluster.Nodes
{
    /// <summary>
    /// The servers of the cluster: each takes a number of its own (its message ids and sender addresses carry it)
    /// and says it is alive three times a lease in a key-value bucket whose entries age out after one lease. A server
    /// not heard of for a lease is gone, and so are its users.
    /// </summary>
    internal sealed class NodeDirectory : IAsyncDisposable
    {
        internal const string NodesBucket = "chatrm-nodes";
        internal const string ClusterBucket = "chatrm-cluster";
        private const string NextIdKey = "next-node-id";

        private readonly ConcurrentDictionary<int, Heard> _heard = new ConcurrentDictionary<int, Heard>();
        private readonly CancellationTokenSource _stopping = new CancellationTokenSource();
        private readonly TimeSpan _lease;
        private INatsKVStore _nodes;
        private Task _heartbeat;
        private Task _watch;

        private NodeDirectory(TimeSpan lease) => _lease = lease;

        public int Self { get; private set; }

        public string SelfName { get; private set; }

        /// <summary>A node's number is taken from the cluster's counter, never one a live node has, and told to the others.</summary>
        public static async Task<NodeDirectory> JoinAsync(INatsKVContext kv, string nodeName, TimeSpan lease, CancellationToken cancellationToken)
        {
            var directory = new NodeDirectory(lease);
            directory._nodes = await kv.CreateOrUpdateStoreAsync(new NatsKVConfig(NodesBucket) { MaxAge = lease, History = 1, NumberOfReplicas = Replicas.Of(kv.JetStreamContext.Connection) }, cancellationToken).ConfigureAwait(false);
            INatsKVStore cluster = await kv.CreateOrUpdateStoreAsync(new NatsKVConfig(ClusterBucket) { History = 1, NumberOfReplicas = Replicas.Of(kv.JetStreamContext.Connection) }, cancellationToken).ConfigureAwait(false);
            directory.SelfName = nodeName;
            directory.Self = await TakeNumberAsync(cluster, directory._nodes, nodeName, cancellationToken).ConfigureAwait(false);
            directory._heard[directory.Self] = new Heard(nodeName, DateTime.UtcNow);
            directory._watch = Task.Run(() => directory.WatchAsync(directory._stopping.Token));
            directory._heartbeat = Task.Run(() => directory.BeatAsync(directory._stopping.Token));
            return directory;
        }

        /// <summary>Whether the node has been heard of within a lease; this node always is.</summary>
        public bool IsAlive(int node) =>
            node == Self || (_heard.TryGetValue(node, out Heard heard) && DateTime.UtcNow - heard.At < _lease);

        /// <summary>The node's name, as it gave it; its number when not heard of.</summary>
        public string NameOf(int node) => _heard.TryGetValue(node, out Heard heard) ? heard.Name : node.ToString(CultureInfo.InvariantCulture);

        /// <summary>Raised when a node is found gone: heard of no more within a lease, or it said it left.</summary>
        public event Action<int> NodeGone;

        /// <summary>Raised after each sweep (three times a lease), for what else waits on time.</summary>
        public event Action Swept;

        /// <summary>How long a node not heard of is still alive.</summary>
        public TimeSpan Lease => _lease;

        /// <summary>Looks for nodes not heard of within a lease; called by the names' sweep.</summary>
        public void SweepGone()
        {
            foreach (var pair in _heard)
            {
                if (pair.Key != Self && DateTime.UtcNow - pair.Value.At >= _lease && _heard.TryRemove(pair.Key, out _))
                {
                    NodeGone?.Invoke(pair.Key);
                }
            }

            Swept?.Invoke();
        }

        public async ValueTask DisposeAsync()
        {
            _stopping.Cancel();
            await Quietly(_heartbeat).ConfigureAwait(false);
            await Quietly(_watch).ConfigureAwait(false);
            try
            {
                // Leaving on purpose: the others need not wait a lease to know.
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await _nodes.DeleteAsync(KeyOf(Self), cancellationToken: timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is NatsException || e is OperationCanceledException || e is TimeoutException)
            {
                // It ages out within a lease.
            }

            _stopping.Dispose();
        }

        private static async Task<int> TakeNumberAsync(INatsKVStore cluster, INatsKVStore nodes, string nodeName, CancellationToken cancellationToken)
        {
            for (int attempt = 0; attempt < MessageIds.MaxServerId; attempt++)
            {
                NatsResult<NatsKVEntry<string>> current = await cluster.TryGetEntryAsync<string>(NextIdKey, cancellationToken: cancellationToken).ConfigureAwait(false);
                int number;
                if (!current.Success)
                {
                    number = 1;
                    if (!(await cluster.TryCreateAsync(NextIdKey, Next(number), cancellationToken: cancellationToken).ConfigureAwait(false)).Success)
                    {
                        continue;
                    }
                }
                else
                {
                    number = int.Parse(current.Value.Value, CultureInfo.InvariantCulture);
                    if (!(await cluster.TryUpdateAsync(NextIdKey, Next(number), current.Value.Revision, cancellationToken: cancellationToken).ConfigureAwait(false)).Success)
                    {
                        continue;
                    }
                }

                // Numbers come round again after 32,767 starts: one a live node still has is passed over.
                if ((await nodes.TryCreateAsync(KeyOf(number), nodeName, cancellationToken: cancellationToken).ConfigureAwait(false)).Success)
                {
                    return number;
                }
            }

            throw new InvalidOperationException("Every node number of the cluster is taken by a live node.");
        }

        private static string Next(int number) => (number % MessageIds.MaxServerId + 1).ToString(CultureInfo.InvariantCulture);

        private static string KeyOf(int node) => "n." + node.ToString(CultureInfo.InvariantCulture);

        private async Task BeatAsync(CancellationToken stopping)
        {
            TimeSpan every = TimeSpan.FromTicks(_lease.Ticks / 3);
            while (!stopping.IsCancellationRequested)
            {
                try
                {
                    await Task.Delay(every, stopping).ConfigureAwait(false);
                    await _nodes.PutAsync(KeyOf(Self), SelfName, cancellationToken: stopping).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                catch (Exception e) when (e is NatsException || e is TimeoutException)
                {
                    // NATS is away: the next beat tries again.
                }
            }
        }

        private Task WatchAsync(CancellationToken stopping) => BucketWatch.RunAsync(_nodes, OnEntry, null, stopping);

        private void OnEntry(NatsKVEntry<string> entry)
        {
            if (!entry.Key.StartsWith("n.", StringComparison.Ordinal)
                || !int.TryParse(entry.Key.AsSpan(2), NumberStyles.None, CultureInfo.InvariantCulture, out int node) || node == Self)
            {
                return;
            }

            if (entry.Operation == NatsKVOperation.Put)
            {
                // An entry older than a lease read at the start is no sign of life.
                DateTime at = entry.Created < DateTimeOffset.UtcNow - _lease ? entry.Created.UtcDateTime : DateTime.UtcNow;
                _heard[node] = new Heard(entry.Value ?? node.ToString(CultureInfo.InvariantCulture), at);
            }
            else if (_heard.TryRemove(node, out _))
            {
                NodeGone?.Invoke(node);
            }
        }

        private static async Task Quietly(Task task)
        {
            if (task == null)
            {
                return;
            }

            try
            {
                await task.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }

        private readonly struct Heard
        {
            public Heard(string name, DateTime at)
            {
                Name = name;
                At = at;
            }

            public string Name { get; }

            public DateTime At { get; }
        }
    }
}
