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
    }
}
