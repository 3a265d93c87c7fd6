using System;
using System.Collections.Generic;
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

        private static readonly UTF8Encoding Utf8 = new UTF8Encoding(false);

        private readonly TcpClient _tcp;
        private readonly NetworkStream _stream;

        // Bytes received and not yet handed out as lines: _buffer[_start.._end).
        private byte[] _buffer = new byte[16 * 1024];
        private int _start;
        private int _end;

        private RawClient(TcpClient tcp)
        {
            _tcp = tcp;
            _stream = tcp.GetStream();
        }

        public static async Task<RawClient> ConnectAsync(IPEndPoint endPoint)
        {
            // NoDelay so that each small write leaves as its own segment, as a person typing would send it.
            var tcp = new TcpClient(AddressFamily.InterNetwork) { NoDelay = true };
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

        public Task SendAsync(string text) => SendAsync(Utf8.GetBytes(text));

        public async Task SendAsync(byte[] bytes)
        {
            await _stream.WriteAsync(bytes, 0, bytes.Length);
            await _stream.FlushAsync();
        }

        /// <summary>Sends each byte in its own write, so the server sees the line in many pieces.</summary>
        public async Task SendByteByByteAsync(string text)
        {
            foreach (byte b in Utf8.GetBytes(text))
            {
                await SendAsync(new[] { b });
            }
        }

        /// <summary>The next line as UTF-8 text, without its newline; fails the test when none comes by the deadline.</summary>
        public async Task<string> ReadLineAsync() => Utf8.GetString(await ReadLineBytesAsync());

        /// <summary>The next line's bytes, without the newline; fails when the connection closes or nothing comes in time.</summary>
        public async Task<byte[]> ReadLineBytesAsync()
        {
            using var cts = new CancellationTokenSource(Deadline);
            byte[] line;
            try
            {
                line = await TryReadLineBytesAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"No line arrived within {Deadline.TotalSeconds} s.");
            }

            Assert.True(line != null, "The server closed the connection where a line was expected.");
            return line;
        }

        /// <summary>Reads lines until the server closes the connection; fails when it does not close in time.</summary>
        public async Task<List<string>> ReadUntilClosedAsync()
        {
            var lines = new List<string>();
            using var cts = new CancellationTokenSource(Deadline);
            try
            {
                byte[] line;
                while ((line = await TryReadLineBytesAsync(cts.Token)) != null)
                {
                    lines.Add(Utf8.GetString(line));
                }
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"The server did not close the connection within {Deadline.TotalSeconds} s; lines so far: {string.Join(" | ", lines)}");
            }
            catch (IOException)
            {
                // A reset is a close too.
            }

            return lines;
        }

        /// <summary>True when the server closes the connection before the deadline.</summary>
        public async Task<bool> ClosedByServerAsync()
        {
            using var cts = new CancellationTokenSource(Deadline);
            try
            {
                while (await TryReadLineBytesAsync(cts.Token) != null)
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

        /// <summary>Closes with a reset instead of a clean close, as a crashed peer or pulled cable would.</summary>
        public void Abort()
        {
            _tcp.Client.LingerState = new LingerOption(true, 0);
            _tcp.Client.Close();
        }

        public void Dispose()
        {
            _stream.Dispose();
            _tcp.Dispose();
        }

        /// <summary>The next line's bytes, or null at the end of the stream (a partial last line is dropped).</summary>
        private async Task<byte[]> TryReadLineBytesAsync(CancellationToken cancellationToken)
        {
            while (true)
            {
                int newline = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
                if (newline >= 0)
                {
                    byte[] line = _buffer[_start..newline];
                    _start = newline + 1;
                    return line;
                }

                // Keep the partial line at the front, and make room for more.
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
                if (_end == _buffer.Length)
                {
                    Array.Resize(ref _buffer, _buffer.Length * 2);
                }

                int read = await _stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken);
                if (read == 0)
                {
                    return null;
                }

                _end += read;
            }
        }
    }
}
