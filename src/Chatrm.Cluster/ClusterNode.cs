using System;
using System.Globalization;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Chatrm.Cluster.Names;
using Chatrm.Cluster.Nodes;
using Chatrm.Cluster.Rooms;
using Chatrm.Cluster.Routing;
using Chatrm.Cluster.Storage;
using Chatrm.Engine;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.KeyValueStore;

namespace Chatrm.Cluster
{
    /// <summary>
    /// This server's place in a cluster of Chatrm servers that share one NATS system: its connection to NATS, its
    /// node number, the cluster's names and the link to the other servers. Join first, then make the server.
    /// </summary>
    public sealed class ClusterNode : IAsyncDisposable
    {
        private readonly NatsConnection _nats;
        private readonly ClusterOptions _options;
        private readonly CancellationTokenSource _stopping = new CancellationTokenSource();
        private NodeDirectory _nodes;
        private NameDirectory _names;
        private RoomHomes _rooms;
        private NodeLink _link;
        private ClusterRouter _router;
        private int _state = (int)ClusterState.Connected;
        private int _disposed;

        private ClusterNode(ClusterOptions options, NatsConnection nats)
        {
            _options = options;
            _nats = nats;
        }

        /// <summary>This server's name among the others.</summary>
        public string NodeName => _nodes.SelfName;

        /// <summary>The number this server took in the cluster: its message ids carry it.</summary>
        public int NodeId => _nodes.Self;

        public ClusterState State => (ClusterState)Volatile.Read(ref _state);

        /// <summary>The NATS servers this one joined through, as given.</summary>
        public string Urls => string.Join(",", _options.Urls);

        /// <summary>The port of the NATS server this node is connected to now (for tests that stop that one).</summary>
        internal int? NatsPort => _nats.ConnectionState == NatsConnectionState.Open ? _nats.ServerInfo?.Port : null;

        /// <summary>Raised when <see cref="State"/> changes, on NATS's thread: quick, and never throwing.</summary>
        public event EventHandler<ClusterState> StateChanged;

        /// <summary>
        /// Connects to NATS and takes a node number. Throws <see cref="ClusterJoinException"/> when NATS cannot be reached
        /// within <see cref="ClusterOptions.ConnectTimeout"/>, or has no JetStream.
        /// </summary>
        public static async Task<ClusterNode> JoinAsync(ClusterOptions options, CancellationToken cancellationToken = default)
        {
            if (options == null)
            {
                throw new ArgumentNullException(nameof(options));
            }

            options.Validate();
            string nodeName = options.NodeName ?? DefaultNodeName();
            var opts = new NatsOpts
            {
                Url = string.Join(",", options.Urls),
                Name = "chatrm " + nodeName,
                ConnectTimeout = options.ConnectTimeout,
                // Servers and NATS often start together: the first connect is tried again until the timeout.
                RetryOnInitialConnect = true,
                MaxReconnectRetry = -1,
                ReconnectWaitMin = TimeSpan.FromMilliseconds(200),
                ReconnectWaitMax = TimeSpan.FromSeconds(2),
                AuthOpts = options.UserName == null ? NatsAuthOpts.Default : NatsAuthOpts.Default with { Username = options.UserName, Password = options.Password },
            };

            var nats = new NatsConnection(opts);
            var node = new ClusterNode(options, nats);
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(options.ConnectTimeout);
                try
                {
                    await nats.ConnectAsync().AsTask().WaitAsync(timeout.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is NatsException || e is OperationCanceledException || e is TimeoutException)
                {
                    throw new ClusterJoinException($"Cannot reach NATS at {node.Urls}: {e.Message}", e);
                }

                var kv = new NatsKVContext(new NatsJSContext(nats));
                try
                {
                    node._nodes = await NodeDirectory.JoinAsync(kv, nodeName, options.Lease, timeout.Token).ConfigureAwait(false);
                    node._names = await NameDirectory.OpenAsync(kv, node._nodes, options.Lease, timeout.Token).ConfigureAwait(false);
                    node._rooms = await RoomHomes.OpenAsync(kv, node._nodes, timeout.Token).ConfigureAwait(false);
                }
                catch (NatsJSException e)
                {
                    throw new ClusterJoinException($"NATS at {node.Urls} has no usable JetStream (start nats-server with -js): {e.Message}", e);
                }
                catch (Exception e) when (e is NatsException || e is OperationCanceledException || e is TimeoutException)
                {
                    throw new ClusterJoinException($"NATS at {node.Urls} did not answer: {e.Message}", e);
                }

                node._link = new NodeLink(nats, node._nodes.Self);
                await node._link.StartAsync((from, buffer, offset, count) => node._router?.OnFrame(from, buffer, offset, count)).ConfigureAwait(false);
                nats.ConnectionDisconnected += node.OnDisconnected;
                nats.ConnectionOpened += node.OnOpened;
                return node;
            }
            catch
            {
                await node.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }

        /// <summary>The Chatrm server of this node (once): it reaches the users of every server in the cluster.</summary>
        public ChatServer CreateServer(ServerOptions options)
        {
            if (_router != null)
            {
                throw new InvalidOperationException("This node has its server already.");
            }

            if (options.StorePath != null)
            {
                throw new ArgumentException("A store file is for a single server: a cluster keeps its messages in JetStream.", nameof(options));
            }

            ChatServer server = null;
            server = new ChatServer(options, _nodes.Self, local => _router = new ClusterRouter(local, _names, _nodes, _link, new ClusterRooms(local, _rooms, _nodes, _link), () => server?.Store));

            // Inboxes and history live in JetStream, so whichever server a user comes back through has them.
            server.StoreOpener = limits => JetStreamStore.Open(_nats, _nodes.Self, limits, server.Clock);
            return server;
        }

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
            {
                return;
            }

            _nats.ConnectionDisconnected -= OnDisconnected;
            _nats.ConnectionOpened -= OnOpened;
            _stopping.Cancel();
            if (_names != null)
            {
                await _names.DisposeAsync().ConfigureAwait(false);
            }

            if (_rooms != null)
            {
                await _rooms.DisposeAsync().ConfigureAwait(false);
            }

            if (_link != null)
            {
                await _link.DisposeAsync().ConfigureAwait(false);
            }

            if (_nodes != null)
            {
                await _nodes.DisposeAsync().ConfigureAwait(false);
            }

            await _nats.DisposeAsync().ConfigureAwait(false);
            SetState(ClusterState.Unavailable);
            _stopping.Dispose();
        }

        private static string DefaultNodeName()
        {
            var name = new StringBuilder();
            foreach (char c in Environment.MachineName)
            {
                if (char.IsAsciiLetterOrDigit(c) || c == '-' || c == '.')
                {
                    name.Append(char.ToLowerInvariant(c));
                }
            }

            string pid = "-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
            int room = UserNames.MaxLength - pid.Length;
            return (name.Length == 0 ? "node" : name.ToString(0, Math.Min(name.Length, room))) + pid;
        }

        private ValueTask OnDisconnected(object sender, NatsEventArgs e)
        {
            if (Volatile.Read(ref _disposed) == 0)
            {
                SetState(ClusterState.Reconnecting);
            }

            return default;
        }

        private ValueTask OnOpened(object sender, NatsEventArgs e)
        {
            SetState(ClusterState.Connected);
            ClusterRouter router = _router;
            if (router != null && Volatile.Read(ref _disposed) == 0)
            {
                _ = Task.Run(() => router.ReconcileAsync(_stopping.Token));
            }

            return default;
        }

        private void SetState(ClusterState state)
        {
            if (Interlocked.Exchange(ref _state, (int)state) != (int)state)
            {
                StateChanged?.Invoke(this, state);
            }
        }
    }
}
