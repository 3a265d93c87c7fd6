using System;

namespace Chatrm.Engine.Storage
{
    /// <summary>A message as the store keeps it: in an offline inbox, or as a line of history.</summary>
    internal sealed class StoredMessage
    {
        /// <summary>The server's number for it (<see cref="Messaging.ChatEnvelope.Number"/>): a stored message keeps its id.</summary>
        public long Id { get; set; }

        public string From { get; set; }

        /// <summary>A user name, or a room's name.</summary>
        public string To { get; set; }

        public string Text { get; set; }

        /// <summary>When the server accepted it, UTC.</summary>
        public DateTime SentAt { get; set; }

        /// <summary>Its place in its conversation (a room's Seq, or a direct conversation's own); 0 in an inbox.</summary>
        public long Seq { get; set; }

        /// <summary>The sender's ref, kept in an inbox so the receipt can name it; null in history.</summary>
        public string SenderRef { get; set; }
    }
}
