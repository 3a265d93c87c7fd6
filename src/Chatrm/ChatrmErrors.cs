using System;
using System.Management.Automation;
using Chatrm.Engine;

namespace Chatrm.PowerShell
{
    /// <summary>Error records with stable ids and categories, so scripts can tell failures apart.</summary>
    internal static class ChatrmErrors
    {
        public const string NoConnection = "ChatrmNoConnection";
        public const string NullConnection = "ChatrmNullConnection";
        public const string ConnectFailed = "ChatrmConnectFailed";
        public const string ConnectTimeout = "ChatrmConnectTimeout";
        public const string ServerStartFailed = "ChatrmServerStartFailed";
        public const string ServerNotice = "ChatrmServerNotice";
        public const string ServerNotFound = "ChatrmServerNotFound";
        public const string UserNotFound = "ChatrmUserNotFound";
        public const string InvalidWildcard = "ChatrmInvalidWildcard";
        public const string RoomNotFound = "ChatrmRoomNotFound";
        public const string InvalidHistoryQuestion = "ChatrmInvalidHistoryQuestion";
        public const string ParameterConflict = "ChatrmParameterConflict";
        public const string ClusterUnavailable = "ChatrmClusterUnavailable";
        public const string WebNeedsPowerShell7 = "ChatrmWebNeedsPowerShell7";

        public static ErrorCategory CategoryOf(Refusal refusal)
        {
            switch (refusal)
            {
                case Refusal.UnknownUser: return ErrorCategory.ObjectNotFound;
                case Refusal.UserOffline: return ErrorCategory.ResourceUnavailable;
                case Refusal.ForgedSender: return ErrorCategory.PermissionDenied;
                case Refusal.MalformedLine: return ErrorCategory.InvalidData;
                case Refusal.LineTooLong: return ErrorCategory.LimitsExceeded;
                case Refusal.InvalidName: return ErrorCategory.InvalidArgument;
                case Refusal.NameTaken: return ErrorCategory.ResourceExists;
                case Refusal.HandshakeTimeout: return ErrorCategory.OperationTimeout;
                case Refusal.RecipientTooSlow: return ErrorCategory.LimitsExceeded;
                case Refusal.ServerStopping: return ErrorCategory.ConnectionError;
                case Refusal.ConnectionClosed: return ErrorCategory.ConnectionError;
                case Refusal.RecipientLeft: return ErrorCategory.ResourceUnavailable;
                case Refusal.MalformedFrame: return ErrorCategory.InvalidData;
                case Refusal.UnsupportedVersion: return ErrorCategory.ProtocolError;
                case Refusal.KeepaliveTimeout: return ErrorCategory.OperationTimeout;
                case Refusal.NoAnswer: return ErrorCategory.OperationTimeout;
                case Refusal.ProtocolMismatch: return ErrorCategory.ProtocolError;
                case Refusal.ServerFull: return ErrorCategory.LimitsExceeded;
                case Refusal.RateLimited: return ErrorCategory.LimitsExceeded;
                case Refusal.IdleTimeout: return ErrorCategory.OperationTimeout;
                case Refusal.Disconnected: return ErrorCategory.ConnectionError;
                case Refusal.AuthFailed: return ErrorCategory.AuthenticationError;
                case Refusal.AuthRequired: return ErrorCategory.AuthenticationError;
                case Refusal.Replaced: return ErrorCategory.ConnectionError;
                case Refusal.TlsFailed: return ErrorCategory.SecurityError;
                case Refusal.InvalidRoom: return ErrorCategory.InvalidArgument;
                case Refusal.NotInRoom: return ErrorCategory.InvalidOperation;
                case Refusal.TooManyRooms: return ErrorCategory.LimitsExceeded;
                case Refusal.RoomFull: return ErrorCategory.LimitsExceeded;
                case Refusal.NoMoreRooms: return ErrorCategory.LimitsExceeded;
                case Refusal.InboxFull: return ErrorCategory.LimitsExceeded;
                case Refusal.StoreFailed: return ErrorCategory.WriteError;
                case Refusal.AccessDenied: return ErrorCategory.PermissionDenied;
                case Refusal.HistoryOff: return ErrorCategory.NotEnabled;
                case Refusal.NotConnected: return ErrorCategory.ConnectionError;
                case Refusal.ClusterUnavailable: return ErrorCategory.ResourceUnavailable;
                default: return ErrorCategory.NotSpecified;
            }
        }

        public static ErrorRecord From(ChatException e, object target) =>
            WithSafeTargetName(new ErrorRecord(e, e.Refusal == Refusal.None ? ServerNotice : e.Refusal.ToErrorId(), CategoryOf(e.Refusal), target));

        /// <summary>A server's notice about one of this user's lines, as a non-terminating error.</summary>
        public static ErrorRecord From(ServerNotice notice, ChatrmConnection connection)
        {
            // The message is shown to a person, so the server's words are made safe for the terminal; the target keeps them exact.
            var exception = new ChatException(notice.Refusal, $"Server to {connection.UserName}: {TerminalText.Neutralise(notice.Text)} ({TerminalText.Neutralise(notice.Code)}).");
            var record = From(exception, notice);
            record.ErrorDetails = new ErrorDetails(exception.Message)
            {
                RecommendedAction = RecommendationFor(notice.Refusal),
            };
            return record;
        }

        public static ErrorRecord Make(string id, ErrorCategory category, string message, object target, Exception inner = null) =>
            WithSafeTargetName(new ErrorRecord(inner == null ? new InvalidOperationException(message) : new InvalidOperationException(message, inner), id, category, target));

        /// <summary>CategoryInfo shows the target as a string; a target carrying someone else's text must not reach the terminal raw.</summary>
        private static ErrorRecord WithSafeTargetName(ErrorRecord record)
        {
            if (record.TargetObject != null)
            {
                record.CategoryInfo.TargetName = TerminalText.Neutralise(record.TargetObject.ToString());
            }

            return record;
        }

        private static string RecommendationFor(Refusal refusal)
        {
            switch (refusal)
            {
                case Refusal.UnknownUser:
                case Refusal.UserOffline:
                    return "Check the recipient's name; users who are online are the ones who connected and have not left.";
                case Refusal.LineTooLong:
                    return "Send shorter text, or ask the server's operator for a longer -MaxLineLength.";
                case Refusal.NotInRoom:
                    return "Join the room first (Join-ChatrmRoom); only members post to a room.";
                case Refusal.InboxFull:
                    return "The recipient's inbox is full until they connect and read it; the server's operator sets its size (-MaxInboxMessages, -MaxInboxBytes).";
                case Refusal.ClusterUnavailable:
                    return "The recipient is on another server of the cluster, which this server cannot reach now; send again once the cluster is back (Get-Job shows its state).";
                default:
                    return null;
            }
        }
    }
}
