using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Chatrm.Cluster.Nodes;
using Chatrm.Engine;
using NATS.Client.Core;
using NATS.Client.KeyValueStore;

namespace Chatrm.Cluster.Names
{
    /// <summary>
    /// Whose each user name is across the cluster, in a JetStream key-value bucket: a login claims its name with an
    /// atomic create (or, to take it over, an update at the revision it read), and the name is freed by a delete at
    /// the revision this node wrote when the user leaves. Every node watches the bucket, so it knows where everyone
    /// is without asking; an entry whose node is gone is swept away by whichever node sees it first.
    /// </summary>
    internal sealed class NameDirectory : IAsyncDisposable
    {
        internal const string Bucket = "chatrm-names";

        // The whole cluster's names, as the watch last said.
        private readonly ConcurrentDictionary<string, Held> _held = new ConcurrentDictionary<string, Held>(UserNames.Comparer);

        // Every name seen held in this run, up to a bound (as a lone server's table remembers): a known user.
        private const int MaxRememberedNames = 100_000;
        private readonly ConcurrentDictionary<string, byte> _seen = new ConcurrentDictionary<string, byte>(UserNames.Comparer);

        // The names this node wrote, with the revision it wrote: its release deletes only that revision.
        private readonly ConcurrentDictionary<string, ulong> _mine = new ConcurrentDictionary<string, ulong>(UserNames.Comparer);
        private readonly ConcurrentDictionary<Task, byte> _releasing = new ConcurrentDictionary<Task, byte>();
        private readonly CancellationTokenSource _stopping = new CancellationTokenSource();
        private readonly INatsKVStore _names;
        private readonly NodeDirectory _nodes;
        private readonly TimeSpan _lease;
        private readonly TaskCompletionSource<bool> _caughtUp = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        private Task _watch;
        private Task _sweep;

        private NameDirectory(INatsKVStore names, NodeDirectory nodes, TimeSpan lease)
        {
            _names = names;
            _nodes = nodes;
            _lease = lease;
        }

        /// <summary>A name's holder changed: (entry now, null when freed; entry before, null when it was free).</summary>
        public event Action<NameEntry, NameEntry> Changed;

        public static async Task<NameDirectory> OpenAsync(INatsKVContext kv, NodeDirectory nodes, TimeSpan lease, CancellationToken cancellationToken)
        {
            INatsKVStore names = await kv.CreateOrUpdateStoreAsync(new NatsKVConfig(Bucket) { History = 1, NumberOfReplicas = Replicas.Of(kv.JetStreamContext.Connection) }, cancellationToken).ConfigureAwait(false);
            var directory = new NameDirectory(names, nodes, lease);
            directory._watch = Task.Run(() => directory.WatchAsync(directory._stopping.Token));
            directory._sweep = Task.Run(() => directory.SweepAsync(directory._stopping.Token));

            // Names held before this node came are known before its first login is answered.
            await Task.WhenAny(directory._caughtUp.Task, Task.Delay(TimeSpan.FromSeconds(5), cancellationToken)).ConfigureAwait(false);
            return directory;
        }

        /// <summary>The name's holder on a live node other than this one, as the watch says.</summary>
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        public bool TryGetRemote(string name, out NameEntry entry)
        {
            if (_held.TryGetValue(name, out Held held) && held.Entry.Node != _nodes.Self && _nodes.IsAlive(held.Entry.Node))
            {
                entry = held.Entry;
                return true;
            }

            entry = null;
            return false;
        }

        /// <summary>Whether the name has been held anywhere in this node's run: a known user.</summary>
        public bool IsKnown(string name) => _seen.ContainsKey(name);

        /// <summary>Everyone on live nodes other than this one.</summary>
        public IEnumerable<NameEntry> Remote()
        {
            foreach (var pair in _held)
            {
                NameEntry entry = pair.Value.Entry;
                if (entry.Node != _nodes.Self && _nodes.IsAlive(entry.Node))
                {
                    yield return entry;
                }
            }
        }

        /// <summary>
        /// Claims the name for a session on this node: true when it is free, held by a gone node or already by this
        /// one, or taken over (<paramref name="takeOver"/>, or the holder's resume token is the same); false when a live
        /// session elsewhere holds it. Throws when NATS does not answer, or only says it is busy.
        /// </summary>
        public async Task<bool> ClaimAsync(NameEntry claim, bool takeOver, CancellationToken cancellationToken)
        {
            string key = NameEntry.KeyOf(claim.Name);
            string value = claim.Encode();
            for (int attempt = 0; attempt < 8; attempt++)
            {
                NatsResult<ulong> created = await _names.TryCreateAsync(key, value, cancellationToken: cancellationToken).ConfigureAwait(false);
                if (created.Success)
                {
                    _mine[claim.Name] = created.Value;
                    return true;
                }

                if (!(created.Error is NatsKVCreateException || created.Error is NatsKVWrongLastRevisionException))
                {
                    // Not "someone holds it" but JetStream busy (a NATS node just left, its buckets choosing a new
                    // leader): that is no answer, so ask again shortly, within the caller's time.
                    await PauseAsync(attempt, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                NatsResult<NatsKVEntry<string>> read = await _names.TryGetEntryAsync<string>(key, cancellationToken: cancellationToken).ConfigureAwait(false);
                if (!read.Success)
                {
                    // Freed between the two: create again. Anything else is JetStream busy, as above.
                    if (!(read.Error is NatsKVKeyNotFoundException || read.Error is NatsKVKeyDeletedException))
                    {
                        await PauseAsync(attempt, cancellationToken).ConfigureAwait(false);
                    }

                    continue;
                }

                NameEntry holder = NameEntry.Decode(read.Value.Value);
                bool mayTake = holder == null || holder.Node == _nodes.Self || !_nodes.IsAlive(holder.Node) || takeOver
                    || (claim.TokenDigest != "-" && claim.TokenDigest == holder.TokenDigest);
                if (!mayTake)
                {
                    return false;
                }

                NatsResult<ulong> updated = await _names.TryUpdateAsync(key, value, read.Value.Revision, cancellationToken: cancellationToken).ConfigureAwait(false);
                if (updated.Success)
                {
                    _mine[claim.Name] = updated.Value;
                    return true;
                }
            }

            // Only busy answers (or lost races): nobody was found holding it, so this is no refusal.
            throw new TimeoutException("JetStream gave no answer to the claim of " + claim.Name);
        }

        private static Task PauseAsync(int attempt, CancellationToken cancellationToken) =>
            Task.Delay(TimeSpan.FromMilliseconds(100 * (attempt + 1)), cancellationToken);

        /// <summary>Frees a name this node claimed (only the revision it wrote: a newer claim stays). Does not wait.</summary>
        public void Release(string name)
        {
            if (!_mine.TryRemove(name, out ulong revision))
            {
                return;
            }

            Task release = ReleaseAsync(name, revision);
            _releasing[release] = 0;
            release.ContinueWith(done => _releasing.TryRemove(done, out _), TaskScheduler.Default);
        }

        public async ValueTask DisposeAsync()
        {
            // The users' releases go out before the connection closes, so the others need not wait for a sweep.
            await Task.WhenAny(Task.WhenAll(_releasing.Keys), Task.Delay(TimeSpan.FromSeconds(2))).ConfigureAwait(false);
            _stopping.Cancel();
            foreach (Task task in new[] { _watch, _sweep })
            {
                try
                {
                    await task.ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                }
            }

            _stopping.Dispose();
        }

        private async Task ReleaseAsync(string name, ulong revision)
        {
            try
            {
                using var timeout = new CancellationTokenSource(_lease);
                await _names.TryDeleteAsync(NameEntry.KeyOf(name), new NatsKVDeleteOpts { Revision = revision }, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is NatsException || e is OperationCanceledException || e is TimeoutException)
            {
                // The entry stays until a claim or a sweep finds this node's claim is no more (the session is gone here).
            }
        }

        private Task WatchAsync(CancellationToken stopping) => BucketWatch.RunAsync(_names, Apply, () => _caughtUp.TrySetResult(true), stopping);

        private void Apply(NatsKVEntry<string> entry)
        {
            if (entry.Operation == NatsKVOperation.Put)
            {
                NameEntry now = NameEntry.Decode(entry.Value);
                if (now == null)
                {
                    return;
                }

                if (_seen.Count < MaxRememberedNames)
                {
                    _seen.TryAdd(now.Name, 0);
                }

                Held before = null;
                _held.AddOrUpdate(now.Name, new Held(now, entry.Revision), (_, old) => { before = old; return new Held(now, entry.Revision); });
                Changed?.Invoke(now, before?.Entry);
                return;
            }

            // Deleted or purged: the key is all there is; find the name it stood for.
            foreach (var pair in _held)
            {
                if (NameEntry.KeyOf(pair.Key) == entry.Key && _held.TryRemove(pair.Key, out Held gone))
                {
                    Changed?.Invoke(null, gone.Entry);
                    return;
                }
            }
        }

        // Entries of gone nodes are deleted (at their revision, so a new claim stays), which every node's watch then sees.
        private async Task SweepAsync(CancellationToken stopping)
        {
            TimeSpan every = TimeSpan.FromTicks(_lease.Ticks / 3);
            while (!stopping.IsCancellationRequested)
            {
                try
                {
                    await Task.Delay(every, stopping).ConfigureAwait(false);
                    _nodes.SweepGone();
                    foreach (var pair in _held)
                    {
                        if (!_nodes.IsAlive(pair.Value.Entry.Node))
                        {
                            await _names.TryDeleteAsync(NameEntry.KeyOf(pair.Key), new NatsKVDeleteOpts { Revision = pair.Value.Revision }, stopping).ConfigureAwait(false);
                        }
                    }
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                catch (Exception e) when (e is NatsException || e is TimeoutException)
                {
                    // NATS is away: the next sweep tries again.
                }
            }
        }

        private sealed class Held
        {
            public Held(NameEntry entry, ulong revision)
            {
                Entry = entry;
                Revision = revision;
            }

            public NameEntry Entry { get; }

            public ulong Revision { get; }
        }
    }
}
