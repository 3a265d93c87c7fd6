using System;
using System.Net;

namespace Chatrm.Engine
{
    /// <summary>Where a server listens and the limits it keeps. Every limit has a default a normal user never meets.</summary>
    public sealed class ServerOptions
    {
        public const int DefaultMaxLineBytes = 16 * 1024;

        /// <summary>Loopback unless told otherwise, as the original.</summary>
        public IPAddress Address { get; set; } = IPAddress.Loopback;

        /// <summary>0 picks a free port.</summary>
        public int Port { get; set; }

        /// <summary>Longest line a client may send, in bytes without the newline; longer ones are refused.</summary>
        public int MaxLineBytes { get; set; } = DefaultMaxLineBytes;

        /// <summary>
        /// How long a new connection may take to name itself. The original client sends its handshake only
        /// after a person typed two names, so this is minutes.
        /// </summary>
        public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromMinutes(5);

        /// <summary>Bytes that may wait for a recipient that does not read before it counts as too slow.</summary>
        public long MaxQueuedBytesPerConnection { get; set; } = 4 * 1024 * 1024;

        /// <summary>How long a closing connection may take to flush what is queued for it.</summary>
        public TimeSpan CloseGrace { get; set; } = TimeSpan.FromSeconds(2);

        /// <summary>TCP keepalive: idle time before the first probe. Finds peers that vanished without a close.</summary>
        public TimeSpan TcpKeepAliveTime { get; set; } = TimeSpan.FromMinutes(2);

        /// <summary>
        /// Native protocol: after this long without a frame from a user the server pings it, and after as long
        /// again without an answer it drops it. Long by default so a person typing into nc is not cut off.
        /// </summary>
        public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(60);

        /// <summary>Connections the server holds at once; one more is told the server is full and closed.</summary>
        public int MaxConnections { get; set; } = 100_000;

        /// <summary>Connections from one IP address at once; 0 is no limit (the default).</summary>
        public int MaxConnectionsPerAddress { get; set; }

        /// <summary>Messages a user may send per second, with bursts of as many; 0 is no limit (the default).</summary>
        public int MaxMessagesPerSecond { get; set; }

        /// <summary>A user who sends no message for this long is disconnected; zero is no limit (the default).</summary>
        public TimeSpan IdleTimeout { get; set; } = TimeSpan.Zero;

        public void Validate()
        {
            if (Port < 0 || Port > 65535) throw new ArgumentOutOfRangeException(nameof(Port), Port, "A port is 0 to 65535.");
            if (MaxLineBytes < 64) throw new ArgumentOutOfRangeException(nameof(MaxLineBytes), MaxLineBytes, "The longest line is at least 64 bytes.");
            if (HandshakeTimeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(HandshakeTimeout), HandshakeTimeout, "The handshake time must be positive.");
            if (MaxQueuedBytesPerConnection < MaxLineBytes) throw new ArgumentOutOfRangeException(nameof(MaxQueuedBytesPerConnection), MaxQueuedBytesPerConnection, "The send queue must hold at least one line.");
            if (KeepAliveInterval < TimeSpan.FromMilliseconds(10)) throw new ArgumentOutOfRangeException(nameof(KeepAliveInterval), KeepAliveInterval, "The keepalive interval is at least 10 ms.");
            if (MaxConnections < 1) throw new ArgumentOutOfRangeException(nameof(MaxConnections), MaxConnections, "The server holds at least one connection.");
            if (MaxConnectionsPerAddress < 0) throw new ArgumentOutOfRangeException(nameof(MaxConnectionsPerAddress), MaxConnectionsPerAddress, "0 is no limit; a limit is positive.");
            if (MaxMessagesPerSecond < 0) throw new ArgumentOutOfRangeException(nameof(MaxMessagesPerSecond), MaxMessagesPerSecond, "0 is no limit; a limit is positive.");
            if (IdleTimeout < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(IdleTimeout), IdleTimeout, "Zero is no limit; a limit is positive.");
            if (Address == null) throw new ArgumentNullException(nameof(Address));
        }
    }
}
