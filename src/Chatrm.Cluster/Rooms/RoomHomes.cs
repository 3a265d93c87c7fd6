using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Globalization;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Chatrm.Cluster.Nodes;
using Chatrm.Engine;
using NATS.Client.Core;
using NATS.Client.KeyValueStore;

namespace Chatrm.Cluster.Rooms
{
    /// <summary>
    /// Which server each room lives on, in a JetStream key-value bucket: the first join anywhere claims the room for
    /// its server (an atomic create), and that server, the room's home, gives every post its Seq and hands it to every
    /// member, so one room has one order. A home that is gone loses its rooms: the next join claims the room anew. The
    /// entry says how many members the room has, for the lists of servers with none in it.
    /// </summary>
    internal sealed class RoomHomes : IAsyncDisposable
    {
        internal const string Bucket = "chatrm-rooms";

        private readonly ConcurrentDictionary<string, Home> _homes = new ConcurrentDictionary<string, Home>(RoomNames.Comparer);
        private readonly CancellationTokenSource _stopping = new CancellationTokenSource();
        private readonly INatsKVStore _rooms;
        private readonly NodeDirectory _nodes;
        private Task _watch;

        private RoomHomes(INatsKVStore rooms, NodeDirectory nodes)
        {
            _rooms = rooms;
            _nodes = nodes;
        }

        public static async Task<RoomHomes> OpenAsync(INatsKVContext kv, NodeDirectory nodes, CancellationToken cancellationToken)
        {
            INatsKVStore rooms = await kv.CreateOrUpdateStoreAsync(new NatsKVConfig(Bucket) { History = 1, NumberOfReplicas = Replicas.Of(kv.JetStreamContext.Connection) }, cancellationToken).ConfigureAwait(false);
            var homes = new RoomHomes(rooms, nodes);
            homes._watch = Task.Run(() => homes.WatchAsync(homes._stopping.Token));
            return homes;
        }

        /// <summary>The room's home, when it has one that is alive.</summary>
        public bool TryGetHome(string room, out int node)
        {
            if (_homes.TryGetValue(room, out Home home) && _nodes.IsAlive(home.Node))
            {
                node = home.Node;
                return true;
            }

            node = 0;
            return false;
        }

        /// <summary>The room's member count, as its live home other than this server last said; false when it has no such home.</summary>
        public bool TryGetRemote(string room, out int members)
        {
            if (_homes.TryGetValue(room, out Home home) && home.Node != _nodes.Self && _nodes.IsAlive(home.Node))
            {
                members = home.Members;
                return true;
            }

            members = 0;
            return false;
        }

        /// <summary>Rooms with a live home other than this server, with their member counts, as their homes last said.</summary>
        public IEnumerable<KeyValuePair<string, int>> Remote()
        {
            foreach (var pair in _homes)
            {
                if (pair.Value.Node != _nodes.Self && _nodes.IsAlive(pair.Value.Node))
                {
                    yield return new KeyValuePair<string, int>(pair.Value.Name, pair.Value.Members);
                }
            }
        }

        /// <summary>The room's home: this server when the room had none alive (it is claimed for it now), else the one it has.</summary>
        public async Task<int> ClaimAsync(string room, CancellationToken cancellationToken)
        {
            string key = KeyOf(room);
            string mine = Encode(_nodes.Self, 0, room);
            for (int attempt = 0; attempt < 8; attempt++)
            {
                NatsResult<ulong> created = await _rooms.TryCreateAsync(key, mine, cancellationToken: cancellationToken).ConfigureAwait(false);
                if (created.Success)
                {
                    _homes[room] = new Home(_nodes.Self, 0, room, created.Value);
                    return _nodes.Self;
                }

                NatsResult<NatsKVEntry<string>> read = await _rooms.TryGetEntryAsync<string>(key, cancellationToken: cancellationToken).ConfigureAwait(false);
                if (!read.Success)
                {
                    continue;
                }

                Home held = Decode(read.Value.Value, read.Value.Revision);
                if (held != null && _nodes.IsAlive(held.Node))
                {
                    _homes[room] = held;
                    return held.Node;
                }

                NatsResult<ulong> taken = await _rooms.TryUpdateAsync(key, mine, read.Value.Revision, cancellationToken: cancellationToken).ConfigureAwait(false);
                if (taken.Success)
                {
                    _homes[room] = new Home(_nodes.Self, 0, room, taken.Value);
                    return _nodes.Self;
                }
            }

            throw new TimeoutException("the room's home could not be settled");
        }

        /// <summary>The home says how many members its room has now (0: the room ended, and its claim goes). Does not wait.</summary>
        public void Update(string room, int members)
        {
            if (!_homes.TryGetValue(room, out Home home) || home.Node != _nodes.Self)
            {
                return;
            }

            _ = UpdateAsync(room, home, members);
        }

        public async ValueTask DisposeAsync()
        {
            _stopping.Cancel();
            try
            {
                await _watch.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }

            _stopping.Dispose();
        }

        private async Task UpdateAsync(string room, Home home, int members)
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                if (members == 0)
                {
                    await _rooms.TryDeleteAsync(KeyOf(room), new NatsKVDeleteOpts { Revision = home.Revision }, timeout.Token).ConfigureAwait(false);
                    _homes.TryRemove(new KeyValuePair<string, Home>(room, home));
                }
                else
                {
                    NatsResult<ulong> updated = await _rooms.TryUpdateAsync(KeyOf(room), Encode(_nodes.Self, members, room), home.Revision, cancellationToken: timeout.Token).ConfigureAwait(false);
                    if (updated.Success)
                    {
                        _homes[room] = new Home(_nodes.Self, members, room, updated.Value);
                    }
                }
            }
            catch (Exception e) when (e is NatsException || e is OperationCanceledException || e is TimeoutException)
            {
                // A count is a hint for lists; a stale claim is taken over by the next join once this server is gone.
            }
        }

        private Task WatchAsync(CancellationToken stopping) => BucketWatch.RunAsync(_rooms, OnEntry, null, stopping);

        private void OnEntry(NatsKVEntry<string> entry)
        {
            if (entry.Operation == NatsKVOperation.Put)
            {
                Home home = Decode(entry.Value, entry.Revision);
                if (home != null && (!_homes.TryGetValue(home.Name, out Home known) || known.Revision <= home.Revision))
                {
                    _homes[home.Name] = home;
                }

                return;
            }

            foreach (var pair in _homes)
            {
                if (KeyOf(pair.Key) == entry.Key && pair.Value.Revision < entry.Revision)
                {
                    _homes.TryRemove(pair);
                }
            }
        }

        private static string KeyOf(string room) => BucketWatch.KeyOf("r.", room);

        private static string Encode(int node, int members, string room) =>
            node.ToString(CultureInfo.InvariantCulture) + "|" + members.ToString(CultureInfo.InvariantCulture) + "|" + room;

        private static Home Decode(string value, ulong revision)
        {
            string[] parts = value?.Split('|', 3);
            if (parts == null || parts.Length != 3 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int node)
                || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int members) || !RoomNames.IsValid(parts[2]))
            {
                return null;
            }

            return new Home(node, members, parts[2], revision);
        }

        private sealed class Home
        {
            public Home(int node, int members, string name, ulong revision)
            {
                Node = node;
                Members = members;
                Name = name;
                Revision = revision;
            }

            public int Node { get; }

            public int Members { get; }

            public string Name { get; }

            public ulong Revision { get; }
        }
    }
}
