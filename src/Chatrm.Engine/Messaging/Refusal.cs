using System;

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

    public static class Refusals
    {
        /// <summary>The code as it stands on the wire: lower case words joined by '-', never '_'.</summary>
        public static string ToCode(this Refusal refusal)
        {
            switch (refusal)
            {
                case Refusal.UnknownUser: return "unknown-user";
                case Refusal.UserOffline: return "user-offline";
                case Refusal.ForgedSender: return "forged-sender";
                case Refusal.MalformedLine: return "malformed-line";
                case Refusal.LineTooLong: return "line-too-long";
                case Refusal.InvalidName: return "invalid-name";
                case Refusal.NameTaken: return "name-taken";
                case Refusal.HandshakeTimeout: return "handshake-timeout";
                case Refusal.RecipientTooSlow: return "recipient-too-slow";
                case Refusal.ServerStopping: return "server-stopping";
                case Refusal.ConnectionClosed: return "connection-closed";
                case Refusal.RecipientLeft: return "recipient-left";
                case Refusal.MalformedFrame: return "malformed-frame";
                case Refusal.UnsupportedVersion: return "unsupported-version";
                case Refusal.KeepaliveTimeout: return "keepalive-timeout";
                case Refusal.NoAnswer: return "no-answer";
                case Refusal.ProtocolMismatch: return "protocol-mismatch";
                case Refusal.ServerFull: return "server-full";
                case Refusal.RateLimited: return "rate-limited";
                case Refusal.IdleTimeout: return "idle-timeout";
                case Refusal.Disconnected: return "disconnected";
                case Refusal.AuthFailed: return "auth-failed";
                case Refusal.AuthRequired: return "auth-required";
                case Refusal.Replaced: return "replaced";
                case Refusal.TlsFailed: return "tls-failed";
                default: return "none";
            }
        }

        public static Refusal FromCode(string code)
        {
            foreach (Refusal r in Enum.GetValues(typeof(Refusal)))
            {
                if (r != Refusal.None && string.Equals(r.ToCode(), code, StringComparison.Ordinal))
                {
                    return r;
                }
            }

            return Refusal.None;
        }

        /// <summary>The error id PowerShell users match on, e.g. ChatrmUnknownUser.</summary>
        public static string ToErrorId(this Refusal refusal) => "Chatrm" + refusal;
    }
}
