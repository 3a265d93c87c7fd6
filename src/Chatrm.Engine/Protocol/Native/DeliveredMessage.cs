using System;

namespace Chatrm.Engine.Protocol.Native
{
    /// <summary>One message a delivered frame confirms: the sender's ref, the server's id and time.</summary>
    internal sealed class DeliveredMessage
    {
        public DeliveredMessage(string reference, string id, DateTime? sentAt)
        {
            Ref = reference;
            Id = id;
            SentAt = sentAt;
        }

        public string Ref { get; }
        public string Id { get; }
        public DateTime? SentAt { get; }
    }
}
