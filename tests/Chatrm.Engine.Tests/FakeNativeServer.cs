using System;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace Chatrm.Engine.Tests
{
    /// <summary>
    /// A scripted server on loopback for one client: the test reads what the client sends, line by line,
    /// and writes exactly what the server says, so it can greet and then fall silent, or answer wrongly.
    /// </summary>
    internal sealed class FakeNativeServer : IDisposable
    {
        private static readonly UTF8Encoding Utf8 = new UTF8Encoding(false);

        private readonly TcpListener _listener = new TcpListener(IPAddress.Loopback, 0);
        private TcpClient _accepted;
        private NetworkStream _stream;
        private StreamReader _reader;

        public FakeNativeServer()
        {
            _listener.Start();
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public async Task AcceptAsync()
        {
            using var cts = new CancellationTokenSource(RawClient.Deadline);
            _accepted = await _listener.AcceptTcpClientAsync(cts.Token);
            _stream = _accepted.GetStream();
            _reader = new StreamReader(_stream, Utf8);
        }

        /// <summary>The next line from the client; null when it closed. Fails the test when nothing comes in time.</summary>
        public async Task<string> ReadLineAsync()
        {
            using var cts = new CancellationTokenSource(RawClient.Deadline);
            try
            {
                return await _reader.ReadLineAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"The client sent no line within {RawClient.Deadline.TotalSeconds} s.");
            }
            catch (IOException)
            {
                return null;
            }
        }

        /// <summary>Every line the client sends until it closes.</summary>
        public async Task<List<string>> ReadUntilClosedAsync()
        {
            var lines = new List<string>();
            string line;
            while ((line = await ReadLineAsync()) != null)
            {
                lines.Add(line);
            }

            return lines;
        }

        public async Task WriteLineAsync(string line)
        {
            byte[] bytes = Utf8.GetBytes(line + "\n");
            await _stream.WriteAsync(bytes);
            await _stream.FlushAsync();
        }

        /// <summary>Accepts, reads the hello and answers it with a welcome, as a Chatrm server would.</summary>
        public async Task<string> AcceptAndWelcomeAsync(string user, int maxFrameBytes = ServerOptions.DefaultMaxLineBytes)
        {
            await AcceptAsync();
            string hello = await ReadLineAsync();
            await WriteLineAsync("{\"type\":\"welcome\",\"protocol\":\"chatrm_native\",\"version\":1,\"user\":\"" + user + "\",\"keepAlive\":60,\"maxFrameBytes\":" + maxFrameBytes + "}");
            return hello;
        }

        public void Dispose()
        {
            _reader?.Dispose();
            _accepted?.Dispose();
            _listener.Stop();
        }
    }
}
