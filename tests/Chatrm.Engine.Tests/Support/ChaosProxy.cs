using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;

namespace Chatrm.Engine.Tests.Support
{
    /// <summary>Which way bytes go through a <see cref="ChaosProxy"/> link.</summary>
    public enum ProxyDirection
    {
        ToServer,
        ToClient,
    }

    /// <summary>
    /// A TCP proxy on loopback for tests of what survives a bad network: it forwards each accepted connection to a
    /// target port that can change (a server restarted on a new port), and can cut a connection after a chosen number
    /// of bytes in either direction (mid-frame included) or hold it silent, open but forwarding nothing, so that only
    /// keepalive can find it. Its random choices come from one seed, which <see cref="Seed"/> gives for a failure's
    /// message so the run can be repeated.
    /// </summary>
    internal sealed class ChaosProxy : IAsyncDisposable
    {
        private readonly TcpListener _listener = new TcpListener(IPAddress.Loopback, 0);
        private readonly object _lock = new object();
        private readonly List<ProxyLink> _links = new List<ProxyLink>();
        private readonly Random _random;
        private readonly CancellationTokenSource _stop = new CancellationTokenSource();
        private readonly Task _accepting;
        private volatile int _targetPort;
        private int _cuts;
        private int _accepted;

        public ChaosProxy(int targetPort, int? seed = null)
        {
            Seed = seed ?? Environment.TickCount;
            _random = new Random(Seed);
            _targetPort = targetPort;
            _listener.Start();
            _accepting = AcceptAsync();
        }

        public int Seed { get; }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        /// <summary>Where new connections go (0: nowhere, they end at once); connections already made stay where they are.</summary>
        public int TargetPort
        {
            get => _targetPort;
            set => _targetPort = value;
        }

        /// <summary>Connections accepted so far.</summary>
        public int Accepted => Volatile.Read(ref _accepted);

        /// <summary>Links cut by this proxy (not counting those their ends closed).</summary>
        public int Cuts => Volatile.Read(ref _cuts);

        /// <summary>Links open now, both ends connected.</summary>
        public IReadOnlyList<ProxyLink> Links
        {
            get
            {
                lock (_lock)
                {
                    return _links.Where(l => !l.IsClosed).ToList();
                }
            }
        }

        /// <summary>A random number from the proxy's seed, for a test's other choices.</summary>
        public int Next(int maxExclusive)
        {
            lock (_random)
            {
                return _random.Next(maxExclusive);
            }
        }

        /// <summary>
        /// Arms a cut on a random open link: in a random direction, after a random number of further bytes below
        /// <paramref name="maxBytes"/>. Null when no link is open. The link's <see cref="ProxyLink.Closed"/> says when it happened.
        /// </summary>
        public ProxyLink CutAtRandom(int maxBytes)
        {
            IReadOnlyList<ProxyLink> open = Links;
            if (open.Count == 0)
            {
                return null;
            }

            ProxyLink link = open[Next(open.Count)];
            link.CutAfter(Next(2) == 0 ? ProxyDirection.ToServer : ProxyDirection.ToClient, Next(maxBytes));
            return link;
        }

        /// <summary>Cuts every open link now (a network that drops).</summary>
        public void CutAll()
        {
            foreach (ProxyLink link in Links)
            {
                link.Cut();
            }
        }

        internal void CountCut() => Interlocked.Increment(ref _cuts);

        private async Task AcceptAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                Socket client;
                try
                {
                    client = await _listener.AcceptSocketAsync(_stop.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is OperationCanceledException || e is ObjectDisposedException || e is SocketException)
                {
                    return;
                }

                Interlocked.Increment(ref _accepted);
                _ = LinkAsync(client);
            }
        }

        private async Task LinkAsync(Socket client)
        {
            var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            client.NoDelay = true;
            try
            {
                await server.ConnectAsync(new IPEndPoint(IPAddress.Loopback, _targetPort), _stop.Token).ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Nothing listens there (a server between a stop and a start): the client sees its connection end.
                server.Dispose();
                client.Dispose();
                return;
            }

            var link = new ProxyLink(this, client, server);
            lock (_lock)
            {
                _links.RemoveAll(l => l.IsClosed);
                _links.Add(link);
            }

            link.Start();
        }

        public async ValueTask DisposeAsync()
        {
            _stop.Cancel();
            _listener.Stop();
            await _accepting.ConfigureAwait(false);
            List<ProxyLink> all;
            lock (_lock)
            {
                all = _links.ToList();
            }

            foreach (ProxyLink link in all)
            {
                link.Close();
            }

            _stop.Dispose();
        }
    }

    /// <summary>One connection through a <see cref="ChaosProxy"/>: the client's socket and the proxy's own to the server.</summary>
    internal sealed class ProxyLink
    {
        // Bytes a held link takes in and keeps for its release; past this it stops reading, as a full network would.
        private const int MaxHeldBytes = 4 * 1024 * 1024;

        private readonly ChaosProxy _proxy;
        private readonly Socket _client;
        private readonly Socket _server;
        private readonly TaskCompletionSource<bool> _closed = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly object _lock = new object();
        private readonly long[] _forwarded = new long[2];
        // Per direction: bytes still to forward before the cut; -1 for no cut armed.
        private readonly long[] _cutAfter = { -1, -1 };
        private TaskCompletionSource<bool> _released;
        private int _isClosed;

        internal ProxyLink(ChaosProxy proxy, Socket client, Socket server)
        {
            _proxy = proxy;
            _client = client;
            _server = server;
        }

        /// <summary>Completes when the link is closed, by a cut or by either end.</summary>
        public Task Closed => _closed.Task;

        public bool IsClosed => Volatile.Read(ref _isClosed) != 0;

        /// <summary>True while held silent.</summary>
        public bool IsHeld
        {
            get
            {
                lock (_lock)
                {
                    return _released != null;
                }
            }
        }

        public long Forwarded(ProxyDirection direction)
        {
            lock (_lock)
            {
                return _forwarded[(int)direction];
            }
        }

        internal void Start()
        {
            _ = PumpAsync(_client, _server, ProxyDirection.ToServer);
            _ = PumpAsync(_server, _client, ProxyDirection.ToClient);
        }

        /// <summary>Forwards <paramref name="bytes"/> more bytes that way, then closes both ends (0: at once, before the next byte).</summary>
        public void CutAfter(ProxyDirection direction, long bytes)
        {
            if (bytes <= 0)
            {
                Cut();
                return;
            }

            lock (_lock)
            {
                _cutAfter[(int)direction] = bytes;
            }
        }

        /// <summary>Closes both ends now: each sees its connection reset (or, with <paramref name="reset"/> false, ended after what it was sent).</summary>
        public void Cut(bool reset = true)
        {
            if (!IsClosed)
            {
                _proxy.CountCut();
            }

            Close(reset);
        }

        /// <summary>
        /// Stops forwarding either way and keeps both ends open: nothing arrives, nothing is refused, as on a path that
        /// went dark. What arrives meanwhile is kept for <see cref="Release"/>. An end that closes still closes the link.
        /// </summary>
        public void Hold()
        {
            lock (_lock)
            {
                _released ??= new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }

        /// <summary>Forwards again, what was held first.</summary>
        public void Release()
        {
            TaskCompletionSource<bool> released;
            lock (_lock)
            {
                released = _released;
                _released = null;
            }

            released?.TrySetResult(true);
        }

        internal void Close(bool reset = false)
        {
            if (Interlocked.Exchange(ref _isClosed, 1) != 0)
            {
                return;
            }

            foreach (Socket socket in new[] { _client, _server })
            {
                try
                {
                    if (reset)
                    {
                        // Linger 0: the peer gets a reset, the way a dropped path or a restarted box ends a connection.
                        socket.LingerState = new LingerOption(true, 0);
                    }

                    socket.Dispose();
                }
                catch (Exception)
                {
                    // Already gone.
                }
            }

            Release();
            _closed.TrySetResult(true);
        }

        private async Task PumpAsync(Socket from, Socket to, ProxyDirection direction)
        {
            var buffer = new byte[16 * 1024];
            var held = new List<byte[]>();
            long heldBytes = 0;
            int d = (int)direction;
            Task<int> receiving = null;
            try
            {
                while (!IsClosed)
                {
                    Task release;
                    lock (_lock)
                    {
                        release = _released?.Task;
                    }

                    if (release == null && held.Count > 0)
                    {
                        // Released: what was held goes first, in order.
                        foreach (byte[] earlier in held)
                        {
                            if (!await ForwardAsync(to, earlier, earlier.Length, d).ConfigureAwait(false))
                            {
                                return;
                            }
                        }

                        held.Clear();
                        heldBytes = 0;
                    }

                    if (release != null && heldBytes >= MaxHeldBytes)
                    {
                        await release.ConfigureAwait(false);
                        continue;
                    }

                    receiving ??= from.ReceiveAsync(buffer, SocketFlags.None);
                    if (release != null && await Task.WhenAny(receiving, release).ConfigureAwait(false) != receiving)
                    {
                        continue; // released while waiting: flush what was held, then wait on the same read
                    }

                    int read = await receiving.ConfigureAwait(false);
                    receiving = null;
                    if (read == 0)
                    {
                        break;
                    }

                    lock (_lock)
                    {
                        release = _released?.Task;
                    }

                    if (release != null || held.Count > 0)
                    {
                        // Held (or held bytes not yet flushed): kept, not forwarded, until released.
                        held.Add(buffer.AsSpan(0, read).ToArray());
                        heldBytes += read;
                        continue;
                    }

                    if (!await ForwardAsync(to, buffer, read, d).ConfigureAwait(false))
                    {
                        return;
                    }
                }
            }
            catch (Exception)
            {
                // A socket the other pump or a cut closed.
            }

            Close();
        }

        // Writes the bytes, or as many as an armed cut allows and then cuts; false once cut.
        private async Task<bool> ForwardAsync(Socket to, byte[] bytes, int count, int d)
        {
            int allowed = count;
            bool cut = false;
            lock (_lock)
            {
                long left = _cutAfter[d];
                if (left >= 0 && left <= count)
                {
                    allowed = (int)left;
                    cut = true;
                }
                else if (left > 0)
                {
                    _cutAfter[d] = left - count;
                }

                _forwarded[d] += allowed;
            }

            int sent = 0;
            while (sent < allowed)
            {
                sent += await to.SendAsync(bytes.AsMemory(sent, allowed - sent), SocketFlags.None).ConfigureAwait(false);
            }

            if (cut)
            {
                // Ended, not reset: a reset could throw away the bytes just written before the peer reads them.
                Cut(reset: false);
                return false;
            }

            return true;
        }
    }
}
