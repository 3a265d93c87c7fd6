using System;
using System.IO;
using System.Net.Sockets;
using System.Threading.Tasks;
using Xunit;

namespace Chatrm.Engine.Tests.Support
{
    /// <summary>The chaos proxy does what the reconnect tests rely on: forwards, cuts where told, holds, retargets.</summary>
    public sealed class ChaosProxyTests
    {
        private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

        /// <summary>A listener standing for a server: accepts one connection at a time.</summary>
        private sealed class EchoTarget : IDisposable
        {
            private readonly TcpListener _listener = new TcpListener(System.Net.IPAddress.Loopback, 0);

            public EchoTarget() => _listener.Start();

            public int Port => ((System.Net.IPEndPoint)_listener.LocalEndpoint).Port;

            public Task<Socket> AcceptAsync() => _listener.AcceptSocketAsync();

            public void Dispose() => _listener.Stop();
        }

        /// <summary>One client linked through a proxy to a target: the sockets at both ends and the link between.</summary>
        private sealed class ProxiedPair : IAsyncDisposable
        {
            private ProxiedPair(EchoTarget target, ChaosProxy proxy, Socket client, Socket server)
            {
                Target = target;
                Proxy = proxy;
                Client = client;
                Server = server;
            }

            public EchoTarget Target { get; }
            public ChaosProxy Proxy { get; }
            public Socket Client { get; }
            public Socket Server { get; }
            public ProxyLink Link => Proxy.Links[0];

            public static async Task<ProxiedPair> OpenAsync(int? seed = null)
            {
                var target = new EchoTarget();
                var proxy = new ChaosProxy(target.Port, seed);
                Socket client = await ConnectAsync(proxy.Port);
                Socket server = await Within(target.AcceptAsync(), "the proxy connects to the target");
                await Eventually.TrueAsync(() => proxy.Links.Count == 1, "the link is open");
                return new ProxiedPair(target, proxy, client, server);
            }

            public async ValueTask DisposeAsync()
            {
                Client.Dispose();
                Server.Dispose();
                await Proxy.DisposeAsync();
                Target.Dispose();
            }
        }

        private static async Task<Socket> ConnectAsync(int port)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(System.Net.IPAddress.Loopback, port);
            return socket;
        }

        // Reads until the peer ends the connection (or resets it), returning what came.
        private static async Task<byte[]> ReadToEndAsync(Socket socket)
        {
            var all = new MemoryStream();
            var buffer = new byte[4096];
            try
            {
                int read;
                while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None)) > 0)
                {
                    all.Write(buffer, 0, read);
                }
            }
            catch (SocketException)
            {
                // A reset ends it too.
            }

            return all.ToArray();
        }

        private static async Task<T> Within<T>(Task<T> task, string what)
        {
            Task finished = await Task.WhenAny(task, Task.Delay(Deadline));
            Assert.True(finished == task, "Not within the deadline: " + what);
            return await task;
        }

        private static byte[] Bytes(int count, int salt = 0)
        {
            var bytes = new byte[count];
            for (int i = 0; i < count; i++)
            {
                bytes[i] = (byte)(i * 31 + salt);
            }

            return bytes;
        }

        private static async Task SendAllAsync(Socket socket, byte[] bytes)
        {
            int sent = 0;
            while (sent < bytes.Length)
            {
                sent += await socket.SendAsync(bytes.AsMemory(sent), SocketFlags.None);
            }
        }

        private static async Task<byte[]> ReadExactlyAsync(Socket socket, int count)
        {
            var bytes = new byte[count];
            int got = 0;
            while (got < count)
            {
                int read = await socket.ReceiveAsync(bytes.AsMemory(got), SocketFlags.None);
                Assert.True(read > 0, $"the connection ended after {got} of {count} bytes");
                got += read;
            }

            return bytes;
        }

        [Fact]
        public async Task ForwardsBothWaysUnchanged()
        {
            await using ProxiedPair pair = await ProxiedPair.OpenAsync();
            (ChaosProxy proxy, Socket client, Socket server) = (pair.Proxy, pair.Client, pair.Server);

            byte[] up = Bytes(100_000, 1);
            byte[] down = Bytes(70_000, 2);
            Task sending = Task.WhenAll(SendAllAsync(client, up), SendAllAsync(server, down));
            Assert.Equal(up, await Within(ReadExactlyAsync(server, up.Length), "bytes to the server"));
            Assert.Equal(down, await Within(ReadExactlyAsync(client, down.Length), "bytes to the client"));
            await sending;
            Assert.Equal(1, proxy.Accepted);
        }

        [Theory]
        [InlineData(ProxyDirection.ToServer, 1)]
        [InlineData(ProxyDirection.ToServer, 12_345)]
        [InlineData(ProxyDirection.ToClient, 7)]
        [InlineData(ProxyDirection.ToClient, 40_000)]
        public async Task ACutForwardsExactlyTheBytesItWasToldThenEndsBothSides(ProxyDirection direction, int offset)
        {
            await using ProxiedPair pair = await ProxiedPair.OpenAsync();
            (ChaosProxy proxy, Socket client, Socket server) = (pair.Proxy, pair.Client, pair.Server);

            pair.Link.CutAfter(direction, offset);
            (Socket writer, Socket reader, Socket other) = direction == ProxyDirection.ToServer ? (client, server, client) : (server, client, server);
            byte[] sent = Bytes(100_000, 3);
            Task<byte[]> reading = ReadToEndAsync(reader);
            try
            {
                await SendAllAsync(writer, sent);
            }
            catch (SocketException)
            {
                // The cut can reset the writer before it has written everything.
            }

            byte[] arrived = await Within(reading, "the cut side sees the end");
            Assert.Equal(sent.AsSpan(0, offset).ToArray(), arrived);
            Assert.Empty(await Within(ReadToEndAsync(other), "the other side sees the end too"));
            Assert.Equal(1, proxy.Cuts);
        }

        [Fact]
        public async Task CutAtRandomIsRepeatableFromTheSeed()
        {
            long Offset(int seed)
            {
                var random = new Random(seed);
                random.Next(1); // the link's pick among one
                random.Next(2);
                return random.Next(5000);
            }

            await using ProxiedPair pair = await ProxiedPair.OpenAsync(seed: 1234);
            (ChaosProxy proxy, Socket client, Socket server) = (pair.Proxy, pair.Client, pair.Server);

            Assert.NotNull(proxy.CutAtRandom(5000));
            Task<byte[]> toServer = ReadToEndAsync(server);
            Task<byte[]> toClient = ReadToEndAsync(client);
            Task writing = Task.WhenAll(SendAllAsync(client, Bytes(20_000)), SendAllAsync(server, Bytes(20_000))).ContinueWith(_ => { });
            byte[] a = await Within(toServer, "the server side ends");
            byte[] b = await Within(toClient, "the client side ends");
            await writing;

            // The cut fell where the seed says, in one of the two directions; the other got at most everything sent.
            long expected = Offset(1234);
            Assert.True(a.Length == expected || b.Length == expected, $"seed 1234 cuts at {expected}; arrived {a.Length} and {b.Length}");
            Assert.Equal(1234, proxy.Seed);
        }

        [Fact]
        public async Task AHeldLinkStaysOpenAndForwardsNothingUntilReleasedThenEverythingInOrder()
        {
            await using ProxiedPair pair = await ProxiedPair.OpenAsync();
            (Socket client, Socket server, ProxyLink link) = (pair.Client, pair.Server, pair.Link);

            link.Hold();
            byte[] sent = Bytes(50_000, 4);
            await SendAllAsync(client, sent);
            Task<byte[]> reading = ReadExactlyAsync(server, sent.Length);
            // Nothing comes while held; the link is neither closed nor forwarding. (A short look: a late arrival fails.)
            Assert.NotSame(reading, await Task.WhenAny(reading, Task.Delay(300)));
            Assert.False(link.IsClosed);
            Assert.Equal(0, link.Forwarded(ProxyDirection.ToServer));

            link.Release();
            Assert.Equal(sent, await Within(reading, "the held bytes after the release"));
        }

        [Fact]
        public async Task AHeldLinkClosesWhenOneEndGivesUp()
        {
            await using ProxiedPair pair = await ProxiedPair.OpenAsync();
            (Socket client, Socket server, ProxyLink link) = (pair.Client, pair.Server, pair.Link);

            link.Hold();
            client.Dispose(); // as a client's keepalive does when it hears nothing

            await Within(link.Closed.ContinueWith(_ => true), "the link closes");
            Assert.Empty(await Within(ReadToEndAsync(server), "the server side ends"));
        }

        [Fact]
        public async Task AHeldLinkIsFoundByTheClientsKeepAlive()
        {
            await using var server = new TestServer();
            await using var proxy = new ChaosProxy(server.EndPoint.Port);
            var options = new ClientOptions { KeepAliveInterval = TimeSpan.FromMilliseconds(300) };
            using ChatClient alice = await ChatClient.ConnectAsync("127.0.0.1", proxy.Port, "alice", ChatProtocol.Chatrm, options);
            await Eventually.TrueAsync(() => proxy.Links.Count == 1, "the link is open");

            proxy.Links[0].Hold();

            await Eventually.TrueAsync(() => alice.State == ConnectionState.Closed, Deadline, "the client's keepalive gives up on a silent link");
            await Eventually.TrueAsync(() => !server.IsOnline("alice"), Deadline, "the server lets alice go");
        }

        [Fact]
        public async Task RetargetingSendsNewConnectionsToTheNewPortAndLeavesOldOnesWhereTheyAre()
        {
            using var first = new EchoTarget();
            using var second = new EchoTarget();
            await using var proxy = new ChaosProxy(first.Port);
            using Socket old = await ConnectAsync(proxy.Port);
            using Socket atFirst = await Within(first.AcceptAsync(), "the first target");

            proxy.TargetPort = second.Port;
            using Socket fresh = await ConnectAsync(proxy.Port);
            using Socket atSecond = await Within(second.AcceptAsync(), "the second target");

            await SendAllAsync(old, new byte[] { 1 });
            await SendAllAsync(fresh, new byte[] { 2 });
            Assert.Equal(new byte[] { 1 }, await Within(ReadExactlyAsync(atFirst, 1), "old link"));
            Assert.Equal(new byte[] { 2 }, await Within(ReadExactlyAsync(atSecond, 1), "new link"));
        }

        [Fact]
        public async Task AConnectionToATargetThatIsNotListeningEndsAtOnce()
        {
            using var nothing = new ReservedPort();
            await using var proxy = new ChaosProxy(nothing.Port);
            using Socket client = await ConnectAsync(proxy.Port);

            Assert.Empty(await Within(ReadToEndAsync(client), "the client's connection ends"));
            Assert.Empty(proxy.Links);
        }
    }
}
