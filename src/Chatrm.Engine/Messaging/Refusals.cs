using System;

namespace Chatrm.Engine
{
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
                case Refusal.InvalidRoom: return "invalid-room";
                case Refusal.NotInRoom: return "not-in-room";
                case Refusal.TooManyRooms: return "too-many-rooms";
                case Refusal.RoomFull: return "room-full";
                case Refusal.NoMoreRooms: return "no-more-rooms";
                case Refusal.InboxFull: return "inbox-full";
                case Refusal.StoreFailed: return "store-failed";
                case Refusal.AccessDenied: return "access-denied";
                case Refusal.HistoryOff: return "history-off";
                case Refusal.NotConnected: return "not-connected";
                case Refusal.ClusterUnavailable: return "cluster-unavailable";
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
