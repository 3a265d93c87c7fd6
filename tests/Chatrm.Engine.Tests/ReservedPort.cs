using System;
using System.Net;
using System.Net.Sockets;
using Xunit;

namespace Chatrm.Engine.Tests
{
    /// <summary>
    /// A loopback port that nothing listens on, for as long as this lives: bound, never listening, so a
    /// connection there is refused, and the system gives the port to no other test (a listener on port 0,
    /// a client's own port) meanwhile. Taking a free port and letting it go, instead, races the tests that
    /// run beside it.
    /// </summary>
    internal sealed class ReservedPort : IDisposable
    {
        private readonly Socket _socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

        public ReservedPort()
        {
            _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        }

        public int Port => ((IPEndPoint)_socket.LocalEndPoint).Port;

        public void Dispose() => _socket.Dispose();
    }

    /// <summary>
    /// Tests that must let a port go and take it again by number. Beside other tests, a listener on port 0
    /// could be given that port in between, so these run alone, after the parallel ones.
    /// </summary>
    [CollectionDefinition(Name, DisableParallelization = true)]
    public sealed class PortReuseCollection
    {
        public const string Name = "Port reuse";
    }
}
