using System;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading.Tasks;
using Xunit;

namespace Chatrm.Engine.Tests
{
    /// <summary>Starting and stopping a server.</summary>
    public class ServerLifecycleTests
    {
        [Fact]
        public async Task StopClosesEveryConnectionAndTellsUsers()
        {
            var server = new TestServer();
            await using (server)
            {
                using RawClient alice = await server.JoinAsync("alice");
                using RawClient bob = await server.JoinAsync("bob");
                using RawClient silent = await server.ConnectRawAsync(); // still in its handshake

                await server.Server.StopAsync().WaitAsync(RawClient.Deadline);

                // Each one is told why, then sees the close.
                Assert.StartsWith("alice_chatrm_server-stopping: ", Assert.Single(await alice.ReadUntilClosedAsync()));
                Assert.StartsWith("bob_chatrm_server-stopping: ", Assert.Single(await bob.ReadUntilClosedAsync()));
                Assert.True(await silent.ClosedByServerAsync());

                Assert.False(server.Server.IsRunning);
                Assert.Equal(0, server.Server.ConnectionCount);
                Assert.Empty(server.Server.Router.OnlineUsers);
                Assert.True(server.Server.Stopped.IsCompletedSuccessfully);
                Assert.Contains(server.Events, e => e.Kind == ServerEventKind.UserLeft && e.UserName == "alice" && e.Detail == "server stopping");
            }
        }

        [Fact]
        public async Task StartAndStopRaiseEvents()
        {
            var server = new TestServer();
            await server.DisposeAsync();

            Assert.Equal(ServerEventKind.ServerStarted, server.Events.First().Kind);
            Assert.Contains(server.EndPoint.Port.ToString(), server.Events.First().Detail);
            Assert.Equal(ServerEventKind.ServerStopped, server.Events.Last().Kind);
        }

        [Fact]
        public async Task StopIsSafeToCallTwiceAndConcurrently()
        {
            await using var server = new TestServer();
            using RawClient alice = await server.JoinAsync("alice");

            await Task.WhenAll(server.Server.StopAsync(), server.Server.StopAsync(), Task.Run(() => server.Server.Dispose()))
                .WaitAsync(RawClient.Deadline);
            await server.Server.StopAsync();

            Assert.Single(server.Events, e => e.Kind == ServerEventKind.ServerStopped);
        }

        [Fact]
        public async Task StartTwiceIsAnError()
        {
            await using var server = new TestServer();
            Assert.Throws<InvalidOperationException>(() => server.Server.Start());
        }

        [Fact]
        public async Task APortInUseFailsAtStart()
        {
            await using var first = new TestServer();
            using var second = new ChatServer(new ServerOptions { Address = IPAddress.Loopback, Port = first.EndPoint.Port });

            var e = Assert.Throws<SocketException>(() => second.Start());
            Assert.Equal(SocketError.AddressAlreadyInUse, e.SocketErrorCode);
            Assert.False(second.IsRunning);
        }

        [Fact]
        public async Task AThrowingEventHandlerDoesNotHurtTheServer()
        {
            await using var server = new TestServer();
            server.Server.EventRaised += (_, _) => throw new InvalidOperationException("observer bug");

            using RawClient alice = await server.JoinAsync("alice");
            using RawClient bob = await server.JoinAsync("bob");
            await alice.SendAsync("alice_nobody_x\n"); // raises LineRefused
            Assert.StartsWith("alice_chatrm_unknown-user: ", await alice.ReadLineAsync());
            await alice.SendAsync("alice_bob_hi\n");
            Assert.Equal("bob_alice_hi", await bob.ReadLineAsync());
        }
    }

    /// <summary>A stopped server's port, taken again by number: alone, so no test beside it is given the port in between.</summary>
    [Collection(PortReuseCollection.Name)]
    public class ServerPortReuseTests
    {
        [Fact]
        public async Task StopFreesThePort()
        {
            int port;
            await using (var server = new TestServer())
            {
                port = server.EndPoint.Port;
                using RawClient alice = await server.JoinAsync("alice");
                await server.Server.StopAsync();
                Assert.True(await alice.ClosedByServerAsync());
            }

            // Nothing accepts there any more...
            var refused = await Assert.ThrowsAnyAsync<SocketException>(() => RawClient.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port)));
            Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);

            // ...and a new listener can have the port, even with the old connections in TIME_WAIT.
            var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            listener.Stop();
            await using var again = new TestServer(o => o.Port = port);
            using RawClient bob = await again.JoinAsync("bob");
            Assert.Equal(port, again.EndPoint.Port);
        }
    }
}
