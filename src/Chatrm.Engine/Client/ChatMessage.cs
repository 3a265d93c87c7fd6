using System;
using Chatrm.Engine.Messaging;
using Chatrm.Engine.Protocol.Native;

namespace Chatrm.Engine
{
    /// <summary>A message as a client received it.</summary>
    public sealed class ChatMessage
    {
        // Native messages keep their text as it came and their id as a number until asked: a full inbox of them
        // holds a third less. Either the string or what it is made from is set.
        private string _text;
        private readonly byte[] _textJson;
        private string _id;
        private readonly long _idNumber;
        // Kept in UTC; shown in local time, as Get-Date is, so a script can compare and subtract the two in any zone.
        private readonly DateTime _receivedAt;
        private readonly DateTime? _sentAt;

        public ChatMessage(string from, string to, string text, DateTime receivedAt, string id = null, DateTime? sentAt = null)
        {
            From = from;
            To = to;
            _text = text;
            _receivedAt = receivedAt;
            _id = id;
            _sentAt = sentAt;
        }

        /// <summary>A native message: <paramref name="textJson"/> is its text as the frame wrote it, quotes included
        /// (see <see cref="NativeFrame.TextJson"/>), when <paramref name="text"/> is null.</summary>
        internal ChatMessage(string from, string to, string text, byte[] textJson, DateTime receivedAt, string id, DateTime? sentAt)
            : this(from, to, text, receivedAt, null, sentAt)
        {
            _textJson = text == null ? textJson : null;
            // Kept as a number only when it writes back the same (plain digits past a sequence would not).
            if (NativeProtocol.TryParseMessageId(id, out long number) && (number <= MessageIds.MaxSequence || id.IndexOf('.') > 0))
            {
                _idNumber = number;
            }
            else
            {
                _id = id;
            }
        }

        public string From { get; }
        public string To { get; }

        public string Text => _text ?? (_textJson == null ? null : _text = NativeProtocol.TextOfJson(_textJson));

        /// <summary>When this client received it, in local time.</summary>
        public DateTime ReceivedAt => _receivedAt.ToLocalTime();

        /// <summary>The server's id for the message (native protocol; null from a classic server).</summary>
        public string Id => _id ?? (_id = NativeProtocol.MessageIdText(_idNumber));

        /// <summary>When the server accepted the message, in local time (native protocol; null from a classic server).</summary>
        public DateTime? SentAt => _sentAt?.ToLocalTime();

        /// <summary>The room it was posted to (<c>#ops</c>; then <see cref="To"/> is the room too), or empty for a direct message.</summary>
        public string Room { get; internal set; } = string.Empty;

        /// <summary>
        /// A room message's place in its room, one more than the room's message before it; in a history answer, a direct
        /// message's place in its conversation too. Null for a direct message as it arrives, or from a classic server.
        /// </summary>
        public long? Seq { get; internal set; }

        public override string ToString() => Room.Length == 0 ? $"[{From}>>] {Text}" : $"[{Room} {From}>>] {Text}";
    }

    /// <summary>What the server told this client about something it did (a refused line, a taken name, ...).</summary>
    public sealed class ServerNotice
    {
        public ServerNotice(string code, string text, DateTime receivedAt)
        {
            Code = code;
            Text = text;
            _receivedAt = receivedAt;
            Refusal = Refusals.FromCode(code);
        }

        /// <summary>The wire code, such as unknown-user.</summary>
        private readonly DateTime _receivedAt;

        public string Code { get; }
        public string Text { get; }

        /// <summary>In local time.</summary>
        public DateTime ReceivedAt => _receivedAt.ToLocalTime();

        /// <summary>The code as a <see cref="Engine.Refusal"/>, or None for a code this client does not know.</summary>
        public Refusal Refusal { get; }

        public override string ToString() => Code + ": " + Text;
    }

    /// <summary>Someone joined or left the server, or a room this client is in (native protocol).</summary>
    public sealed class PresenceEvent
    {
        public PresenceEvent(PresenceChange kind, string userName, DateTime time)
        {
            Kind = kind;
            UserName = userName;
            _time = time;
        }

        private readonly DateTime _time;

        public PresenceChange Kind { get; }
        public string UserName { get; }

        /// <summary>In local time.</summary>
        public DateTime Time => _time.ToLocalTime();

        /// <summary>The room joined or left, or empty when it is the server.</summary>
        public string Room { get; internal set; } = string.Empty;

        public override string ToString() => $"{UserName} {Kind.ToString().ToLowerInvariant()}" + (Room.Length == 0 ? string.Empty : " " + Room);
    }

    /// <summary>Raised when a server refuses a connection or a client call cannot go ahead.</summary>
    public class ChatException : Exception
    {
        public ChatException(Refusal refusal, string message, Exception inner = null)
            : base(message, inner)
        {
            Refusal = refusal;
        }

        public Refusal Refusal { get; }
    }
}
