using System;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace Chatrm.Engine.Tests
{
    /// <summary>
    /// Stands in for the original Go server: it listens on loopback, never greets, and records what a
    /// client sends. It can also push lines to the client, as the original does when relaying.
    /// </summary>
    internal sealed class FakeOriginalServer : IDisposable
    {
        private readonly TcpListener _listener = new TcpListener(IPAddress.Loopback, 0);
        private TcpClient _accepted;

        public FakeOriginalServer()
        {
            _listener.Start();
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public bool HasPendingConnection => _listener.Pending();

        public async Task<NetworkStream> AcceptAsync()
        {
            using var cts = new CancellationTokenSource(RawClient.Deadline);
            _accepted = await _listener.AcceptTcpClientAsync(cts.Token);
            return _accepted.GetStream();
        }

        /// <summary>Everything the client sent, up to its close.</summary>
        public static async Task<string> ReadToEndAsync(NetworkStream stream)
        {
            using var cts = new CancellationTokenSource(RawClient.Deadline);
            var all = new MemoryStream();
            await stream.CopyToAsync(all, cts.Token);
            return Encoding.UTF8.GetString(all.ToArray());
        }

        public void Dispose()
        {
            _accepted?.Dispose();
            _listener.Stop();
        }
    }
}
