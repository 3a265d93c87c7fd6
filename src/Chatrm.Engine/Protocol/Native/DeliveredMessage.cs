using System;

namespace Chatrm.Engine.Protocol.Native
{
    /// <summary>
    /// One entry of a frame's "messages": in a delivered frame, a message it confirms (the sender's ref, the server's
    /// id and time); in a history answer, a line of history (id, from, to, text, sentAt and seq).
    /// </summary>
    internal sealed class DeliveredMessage
    {
        public DeliveredMessage(string reference, string id, DateTime? sentAt)
        {
            Ref = reference;
            Id = id;
            SentAt = sentAt;
        }

        /// <summary>A line of history, as a history answer lists it.</summary>
        public DeliveredMessage(string id, string from, string to, string text, DateTime? sentAt, long? seq)
        {
            Id = id;
            From = from;
            To = to;
            Text = text;
            SentAt = sentAt;
            Seq = seq;
        }

        public string Ref { get; }
        public string Id { get; }
        public DateTime? SentAt { get; }

        /// <summary>History only: who sent it.</summary>
        public string From { get; }

        /// <summary>History only: the user or room it went to.</summary>
        public string To { get; }

        /// <summary>History only.</summary>
        public string Text { get; }

        /// <summary>History only: its place in its conversation.</summary>
        public long? Seq { get; }
    }
}
