using System;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Xunit;

namespace Chatrm.Engine.Tests
{
    /// <summary>A bare TCP client that speaks bytes, as nc or the original Go client would.</summary>
    internal sealed class RawClient : IDisposable
    {
        public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

        private readonly TcpClient _tcp;
        private readonly NetworkStream _stream;
        private readonly StreamReader _reader;

        private RawClient(TcpClient tcp)
        {
            _tcp = tcp;
            _stream = tcp.GetStream();
            _reader = new StreamReader(_stream, new UTF8Encoding(false));
        }

        public static async Task<RawClient> ConnectAsync(IPEndPoint endPoint)
        {
            var tcp = new TcpClient();
            await tcp.ConnectAsync(endPoint.Address, endPoint.Port);
            return new RawClient(tcp);
        }

        /// <summary>Connects and sends the original client's handshake, then reads the welcome.</summary>
        public static async Task<RawClient> JoinAsync(IPEndPoint endPoint, string name)
        {
            RawClient client = await ConnectAsync(endPoint);
            await client.SendAsync(name + "_\n");
            string welcome = await client.ReadLineAsync();
            Assert.StartsWith(name + "_chatrm_welcome: ", welcome);
            return client;
        }

        public Task SendAsync(string text) => SendAsync(Encoding.UTF8.GetBytes(text));

        public async Task SendAsync(byte[] bytes)
        {
            await _stream.WriteAsync(bytes, 0, bytes.Length);
            await _stream.FlushAsync();
        }

        /// <summary>The next line, without its newline; fails the test when none comes by the deadline.</summary>
        public async Task<string> ReadLineAsync()
        {
            using var cts = new CancellationTokenSource(Deadline);
            string line = await _reader.ReadLineAsync(cts.Token);
            Assert.NotNull(line);
            return line;
        }

        /// <summary>True when the server closes the connection before the deadline.</summary>
        public async Task<bool> ClosedByServerAsync()
        {
            using var cts = new CancellationTokenSource(Deadline);
            try
            {
                while (await _reader.ReadLineAsync(cts.Token) != null)
                {
                }

                return true;
            }
            catch (IOException)
            {
                return true;
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }

        public void Dispose()
        {
            _reader.Dispose();
            _tcp.Dispose();
        }
    }
}
