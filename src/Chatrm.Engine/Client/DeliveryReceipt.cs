using System;

namespace Chatrm.Engine
{
    /// <summary>
    /// A messenger's second tick: a message this client sent earlier, whose fate it had already heard (Stored), was
    /// confirmed by its recipient. It waits in the inbox with messages (Receive-ChatrmMessage -IncludeReceipts).
    /// </summary>
    public sealed class DeliveryReceipt
    {
        private readonly DateTime _time;

        public DeliveryReceipt(string id, string to, DateTime time)
        {
            Id = id;
            To = to;
            _time = time;
        }

        /// <summary>The server's id for the message, as its Stored result had it.</summary>
        public string Id { get; }

        /// <summary>Who confirmed it.</summary>
        public string To { get; }

        /// <summary>Always <see cref="SendStatus.Delivered"/>: a receipt says nothing else.</summary>
        public SendStatus Status => SendStatus.Delivered;

        /// <summary>When this client heard of it, in local time.</summary>
        public DateTime Time => _time.ToLocalTime();

        public override string ToString() => $"{To} #{Id}: {Status}";
    }
}
