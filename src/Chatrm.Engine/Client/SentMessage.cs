using System;

namespace Chatrm.Engine
{
    /// <summary>What became of a message once the client handed it on.</summary>
    public enum SendStatus
    {
        /// <summary>Written to the server; the classic protocol says nothing more.</summary>
        Sent,
        /// <summary>The server wrote it to a classic recipient, which cannot confirm.</summary>
        Forwarded,
        /// <summary>The recipient confirmed receiving it.</summary>
        Delivered,
        /// <summary>The server refused it; Reason says why.</summary>
        Refused,
        /// <summary>
        /// A room message the server accepted and handed to every other member (Recipients says how many, Seq its
        /// place in the room); members do not confirm room messages one by one.
        /// </summary>
        Posted,
        /// <summary>
        /// The recipient is offline: the server keeps the message in its inbox (durably, with a store file) and hands it
        /// over when the recipient connects. A <see cref="DeliveryReceipt"/> says when it was confirmed.
        /// </summary>
        Stored,
    }

    /// <summary>A message this client sent, as -PassThru shows it.</summary>
    public sealed class SentMessage
    {
        public SentMessage(string from, string to, string text, DateTime sentAt, SendStatus status, string reason = null, string id = null, string detail = null)
        {
            Id = id;
            Detail = detail;
            From = from;
            To = to;
            Text = text;
            _sentAt = sentAt;
            Status = status;
            Reason = reason;
        }

        public string From { get; }
        public string To { get; }
        public string Text { get; }
        private readonly DateTime _sentAt;

        /// <summary>When the server accepted it (native), or when it was written (classic), in local time.</summary>
        public DateTime SentAt => _sentAt.ToLocalTime();
        public SendStatus Status { get; }
        /// <summary>The refusal's code, such as user-offline, when Status is Refused.</summary>
        public string Reason { get; }

        /// <summary>The server's id for the message (native protocol).</summary>
        public string Id { get; }

        /// <summary>The server's words about a refusal.</summary>
        public string Detail { get; }

        public Refusal Refusal => Refusals.FromCode(Reason);

        /// <summary>Which message this is, without its text: an error's CategoryInfo shows it.</summary>
        /// <summary>A posted room message's place in its room; null otherwise.</summary>
        public long? Seq { get; internal set; }

        /// <summary>How many members a posted room message went to (the sender not counted); null otherwise.</summary>
        public int? Recipients { get; internal set; }

        public override string ToString() => $"{From} to {To}{(Id == null ? string.Empty : " #" + Id)}: {Status}";
    }
}
