using System;
using Chatrm.Engine.Messaging;

namespace Chatrm.Engine.Routing
{
    /// <summary>Tells a message's sender what became of it after the router handed it on.</summary>
    internal interface IDeliveryReceipt
    {
        /// <summary>The recipient's client confirmed receiving it.</summary>
        void Delivered(ChatEnvelope envelope);

        /// <summary>The recipient's client confirmed receiving these, in the order sent, with one ack.</summary>
        void Delivered(ReadOnlySpan<ChatEnvelope> envelopes);

        /// <summary>It was handed on but never confirmed: the recipient left or was dropped first.</summary>
        void Failed(ChatEnvelope envelope, Refusal reason, string message);
    }
}
