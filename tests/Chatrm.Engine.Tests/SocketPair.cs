using System;
using System.Collections.Generic;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace Chatrm.Engine.Tests
{
    /// <summary>Two connected TCP sockets on 127.0.0.1: Near for a transport, Far for the peer.</summary>
    internal sealed class SocketPair : IDisposable
    {
        private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

        private SocketPair(Socket near, Socket far)
        {
            Near = near;
            Far = far;
        }

        public Socket Near { get; }

        public Socket Far { get; }

        public static async Task<SocketPair> ConnectAsync()
        {
            using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen(1);
            var far = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            Task<Socket> accepted = listener.AcceptAsync();
            await far.ConnectAsync(listener.LocalEndPoint);
            Socket near = await accepted.WaitAsync(Deadline);
            return new SocketPair(near, far);
        }

        /// <summary>The next line the peer received, without its newline; fails when none comes by the deadline.</summary>
        public async Task<string> ReadFarLineAsync()
        {
            var line = new List<byte>();
            var one = new byte[1];
            using var cts = new CancellationTokenSource(Deadline);
            while (await Far.ReceiveAsync(one, SocketFlags.None, cts.Token) == 1 && one[0] != (byte)'\n')
            {
                line.Add(one[0]);
            }

            return Encoding.UTF8.GetString(line.ToArray());
        }

        public void Dispose()
        {
            Far.Dispose();
            Near.Dispose();
        }
    }
}
