using System;
using System.Net;

namespace Chatrm.Engine
{
    /// <summary>Where a server listens and the limits it keeps. Every limit has a default a normal user never meets.</summary>
    public sealed class ServerOptions
    {
        public const int DefaultMaxLineBytes = 16 * 1024;

        /// <summary>
        /// The opening line (a classic name, a native hello with its password) may be this long even when
        /// <see cref="MaxLineBytes"/> is less, so that a small line limit never refuses a hello.
        /// </summary>
        internal const int OpeningLineBytes = 4096;

        /// <summary>How long the opening line may be: the line limit, and at least <see cref="OpeningLineBytes"/>.</summary>
        internal int MaxOpeningBytes => Math.Max(MaxLineBytes, OpeningLineBytes);

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

        /// <summary>
        /// Direct native messages that may wait for one recipient's confirmation (room messages need no ack). A
        /// client that reads but never acks would otherwise make the server keep every message sent to it; past
        /// this it counts as too slow.
        /// </summary>
        public int MaxUnconfirmedPerConnection { get; set; } = 32 * 1024;

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

        /// <summary>
        /// Who may log in. When set, native users must give a password, and classic users (who cannot) are
        /// refused unless <see cref="AllowClassic"/>, and even then may not take a name that has a password.
        /// </summary>
        public CredentialStore Credentials { get; set; }

        /// <summary>With <see cref="Credentials"/>: let classic users in, under names that have no password.</summary>
        public bool AllowClassic { get; set; }

        /// <summary>When set, the port speaks TLS only (native clients); see <see cref="ClassicPort"/> for original ones.</summary>
        public System.Security.Cryptography.X509Certificates.X509Certificate2 Certificate { get; set; }

        /// <summary>A second, plain port for original clients beside a TLS port; null for none, 0 to pick a free one.</summary>
        public int? ClassicPort { get; set; }

        /// <summary>
        /// A port that serves the web client (a page at / and a WebSocket at /ws speaking the native protocol), over
        /// HTTPS and WSS when <see cref="Certificate"/> is set; null serves nothing, 0 picks a free port. Needs the
        /// net10.0 build: on netstandard2.0 (.NET Framework) <see cref="ChatServer.Start"/> throws PlatformNotSupportedException.
        /// </summary>
        public int? WebPort { get; set; }

        /// <summary>
        /// Origins (such as https://chat.example.com) whose pages may open the web port's WebSocket, beside the
        /// page's own origin, which always may.
        /// </summary>
        public string[] WebAllowedOrigins { get; set; }

        /// <summary>How long a TLS handshake may take.</summary>
        public TimeSpan TlsHandshakeTimeout { get; set; } = TimeSpan.FromSeconds(10);

        /// <summary>Rooms one user may be in at once; one more join is refused too-many-rooms.</summary>
        public int MaxRoomsPerUser { get; set; } = Routing.Rooms.RoomLimits.DefaultMaxRoomsPerUser;

        /// <summary>Members a room may have; one more join is refused room-full.</summary>
        public int MaxMembersPerRoom { get; set; } = Routing.Rooms.RoomLimits.DefaultMaxMembersPerRoom;

        /// <summary>Rooms the server may have; joining one more that does not exist yet is refused no-more-rooms.</summary>
        public int MaxRooms { get; set; } = Routing.Rooms.RoomLimits.DefaultMaxRooms;

        /// <summary>
        /// The SQLite file that keeps offline messages, history and the names that logged in, across restarts; null
        /// keeps them in memory, with the same behaviour until the server stops. Opened by one server at a time.
        /// </summary>
        public string StorePath { get; set; }

        /// <summary>Whether direct and room messages are kept as history (read with a history frame); on by default.</summary>
        public bool KeepHistory { get; set; } = true;

        /// <summary>Days a line of history is kept.</summary>
        public int HistoryDays { get; set; } = DefaultHistoryDays;

        /// <summary>Days a message waits in an offline user's inbox before it is dropped unread.</summary>
        public int InboxDays { get; set; } = DefaultInboxDays;

        /// <summary>Messages one offline user's inbox holds; one more is refused inbox-full.</summary>
        public int MaxInboxMessages { get; set; } = DefaultMaxInboxMessages;

        /// <summary>Bytes of text (UTF-8) one offline user's inbox holds; one more message past it is refused inbox-full.</summary>
        public long MaxInboxBytes { get; set; } = DefaultMaxInboxBytes;

        /// <summary>
        /// How long a native session that gave a resume token has its refs remembered: a send repeating a ref of its
        /// token within this time is not routed again, and its sender is told the first one's fate. Past it, a
        /// repeated ref is a new message.
        /// </summary>
        public TimeSpan ResendWindow { get; set; } = TimeSpan.FromMinutes(10);

        /// <summary>Refs remembered for one resume token at most (see <see cref="ResendWindow"/>); past it the oldest is forgotten first.</summary>
        public int MaxRememberedRefs { get; set; } = DefaultMaxRememberedRefs;

        internal const int DefaultMaxRememberedRefs = 10_000;

        internal const int DefaultHistoryDays = Storage.StoreLimits.DefaultDays;
        internal const int DefaultInboxDays = Storage.StoreLimits.DefaultDays;
        internal const int DefaultMaxInboxMessages = Storage.StoreLimits.DefaultMaxInboxMessages;
        internal const long DefaultMaxInboxBytes = Storage.StoreLimits.DefaultMaxInboxBytes;

        public void Validate()
        {
            if (Port < 0 || Port > 65535) throw new ArgumentOutOfRangeException(nameof(Port), Port, "A port is 0 to 65535.");
            if (MaxLineBytes < 64) throw new ArgumentOutOfRangeException(nameof(MaxLineBytes), MaxLineBytes, "The longest line is at least 64 bytes.");
            if (HandshakeTimeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(HandshakeTimeout), HandshakeTimeout, "The handshake time must be positive.");
            if (MaxQueuedBytesPerConnection < MaxLineBytes) throw new ArgumentOutOfRangeException(nameof(MaxQueuedBytesPerConnection), MaxQueuedBytesPerConnection, "The send queue must hold at least one line.");
            if (MaxUnconfirmedPerConnection < 1) throw new ArgumentOutOfRangeException(nameof(MaxUnconfirmedPerConnection), MaxUnconfirmedPerConnection, "At least one message may wait for its confirmation.");
            if (KeepAliveInterval < TimeSpan.FromMilliseconds(10)) throw new ArgumentOutOfRangeException(nameof(KeepAliveInterval), KeepAliveInterval, "The keepalive interval is at least 10 ms.");
            if (MaxConnections < 1) throw new ArgumentOutOfRangeException(nameof(MaxConnections), MaxConnections, "The server holds at least one connection.");
            if (MaxConnectionsPerAddress < 0) throw new ArgumentOutOfRangeException(nameof(MaxConnectionsPerAddress), MaxConnectionsPerAddress, "0 is no limit; a limit is positive.");
            if (MaxMessagesPerSecond < 0) throw new ArgumentOutOfRangeException(nameof(MaxMessagesPerSecond), MaxMessagesPerSecond, "0 is no limit; a limit is positive.");
            if (IdleTimeout < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(IdleTimeout), IdleTimeout, "Zero is no limit; a limit is positive.");
            if (MaxRoomsPerUser < 1) throw new ArgumentOutOfRangeException(nameof(MaxRoomsPerUser), MaxRoomsPerUser, "A user may be in at least one room.");
            if (MaxMembersPerRoom < 1) throw new ArgumentOutOfRangeException(nameof(MaxMembersPerRoom), MaxMembersPerRoom, "A room has room for at least one member.");
            if (MaxRooms < 1) throw new ArgumentOutOfRangeException(nameof(MaxRooms), MaxRooms, "The server has room for at least one room.");
            if (ClassicPort.HasValue && (ClassicPort < 0 || ClassicPort > 65535)) throw new ArgumentOutOfRangeException(nameof(ClassicPort), ClassicPort, "A port is 0 to 65535.");
            if (WebPort.HasValue && (WebPort < 0 || WebPort > 65535)) throw new ArgumentOutOfRangeException(nameof(WebPort), WebPort, "A port is 0 to 65535.");
            if (Certificate != null && !Certificate.HasPrivateKey) throw new ArgumentException("The server's certificate needs its private key.", nameof(Certificate));
            if (Address == null) throw new ArgumentNullException(nameof(Address));
            if (StorePath != null && StorePath.Trim().Length == 0) throw new ArgumentException("A store path names a file; null keeps the store in memory.", nameof(StorePath));
            if (HistoryDays < 1) throw new ArgumentOutOfRangeException(nameof(HistoryDays), HistoryDays, "History is kept at least one day (turn it off with KeepHistory).");
            if (InboxDays < 1) throw new ArgumentOutOfRangeException(nameof(InboxDays), InboxDays, "An inbox keeps a message at least one day.");
            if (MaxInboxMessages < 1) throw new ArgumentOutOfRangeException(nameof(MaxInboxMessages), MaxInboxMessages, "An inbox holds at least one message.");
            if (ResendWindow <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(ResendWindow), ResendWindow, "The resend window must be positive.");
            if (MaxRememberedRefs < 1) throw new ArgumentOutOfRangeException(nameof(MaxRememberedRefs), MaxRememberedRefs, "At least one ref is remembered per resume token.");
            if (MaxInboxBytes < MaxLineBytes) throw new ArgumentOutOfRangeException(nameof(MaxInboxBytes), MaxInboxBytes, "An inbox holds at least one message of the longest line.");
        }
    }
}
