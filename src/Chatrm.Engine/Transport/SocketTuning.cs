using System;
using System.Net.Sockets;

namespace Chatrm.Engine.Transport
{
    internal static class SocketTuning
    {
        // The values of SocketOptionName.TcpKeepAliveTime/Interval/RetryCount, which netstandard2.0 lacks.
        private const SocketOptionName TcpKeepAliveTime = (SocketOptionName)3;
        private const SocketOptionName TcpKeepAliveInterval = (SocketOptionName)17;
        private const SocketOptionName TcpKeepAliveRetryCount = (SocketOptionName)16;

        /// <summary>Low latency for short lines, and keepalive so a vanished peer is found without a write.</summary>
        public static void Apply(Socket socket, TimeSpan keepAliveTime)
        {
            socket.NoDelay = true;
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
            try
            {
                int seconds = Math.Max(1, (int)keepAliveTime.TotalSeconds);
                socket.SetSocketOption(SocketOptionLevel.Tcp, TcpKeepAliveTime, seconds);
                socket.SetSocketOption(SocketOptionLevel.Tcp, TcpKeepAliveInterval, Math.Max(1, seconds / 4));
                socket.SetSocketOption(SocketOptionLevel.Tcp, TcpKeepAliveRetryCount, 4);
            }
            catch (Exception e) when (e is SocketException || e is PlatformNotSupportedException)
            {
                // An older runtime or platform: the system's keepalive times apply.
            }
        }
    }
}
