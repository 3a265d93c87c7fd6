namespace Chatrm.Engine
{
    /// <summary>Why the server refused something, or a client could not do it. Each has a stable wire code and a stable error id.</summary>
    public enum Refusal
    {
        None = 0,
        UnknownUser,
        UserOffline,
        ForgedSender,
        MalformedLine,
        LineTooLong,
        InvalidName,
        NameTaken,
        HandshakeTimeout,
        RecipientTooSlow,
        ServerStopping,
        /// <summary>Client side: the connection is closed, so nothing can be sent.</summary>
        ConnectionClosed,
        /// <summary>The recipient left before confirming the message.</summary>
        RecipientLeft,
        /// <summary>A native frame that could not be read.</summary>
        MalformedFrame,
        /// <summary>A native opening with a protocol version this server does not speak.</summary>
        UnsupportedVersion,
        /// <summary>The peer stopped answering keepalive pings.</summary>
        KeepaliveTimeout,
        /// <summary>Client side: the server did not say what became of a message in time.</summary>
        NoAnswer,
        /// <summary>Client side: the server does not answer the native protocol.</summary>
        ProtocolMismatch,
        /// <summary>The server holds as many connections as it may, in all or from this address.</summary>
        ServerFull,
        /// <summary>The user sends more messages a second than the server allows.</summary>
        RateLimited,
        /// <summary>The user sent no message for the server's idle time.</summary>
        IdleTimeout,
        /// <summary>The server's operator disconnected the user.</summary>
        Disconnected,
        /// <summary>Wrong name or password (the same answer for both).</summary>
        AuthFailed,
        /// <summary>The server needs a password, which this protocol or client did not give.</summary>
        AuthRequired,
        /// <summary>The same user logged in again elsewhere; this older session ends.</summary>
        Replaced,
        /// <summary>Client side: the server's TLS certificate was not accepted, or TLS failed.</summary>
        TlsFailed,
        /// <summary>A room name that breaks the rules: '#' and 1 to 32 letters, digits, dots or dashes.</summary>
        InvalidRoom,
        /// <summary>A post to, or a leave of, a room the user is not in.</summary>
        NotInRoom,
        /// <summary>The user is in as many rooms as the server lets one user be in (MaxRoomsPerUser).</summary>
        TooManyRooms,
        /// <summary>The room has as many members as the server lets a room have (MaxMembersPerRoom).</summary>
        RoomFull,
        /// <summary>The server has as many rooms as it may (MaxRooms): a new one cannot be made.</summary>
        NoMoreRooms,
        /// <summary>The offline recipient's inbox holds as many messages or bytes as the server keeps for one user.</summary>
        InboxFull,
        /// <summary>The server's store could not keep an offline message (a full disk, a broken file): nothing was kept.</summary>
        StoreFailed,
        /// <summary>History of a conversation the user is not in, or of a room it is not a member of.</summary>
        AccessDenied,
        /// <summary>The server keeps no history (started with history off).</summary>
        HistoryOff,
        /// <summary>Client side: the connection dropped and is being made again; what waits for it is sent once it is back.</summary>
        NotConnected,
        /// <summary>The recipient is on another server of the cluster, and this server cannot reach the cluster now.</summary>
        ClusterUnavailable,
    }
}
