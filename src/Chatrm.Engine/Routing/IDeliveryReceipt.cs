using System;
using Chatrm.Engine.Messaging;

namespace Chatrm.Engine.Routing
{
    /// <summary>
    /// A sender's side of delivery reports: what became of its messages after the router accepted them. The
    /// router calls these on the session its <see cref="SenderAddress"/> names.
    /// </summary>
    internal interface IDeliveryReceipt
    {
        /// <summary>Queued for a recipient who cannot confirm (classic): as far as it goes.</summary>
        void Forwarded(ChatEnvelope envelope);

        /// <summary>The recipient's client confirmed receiving it.</summary>
        void Delivered(ChatEnvelope envelope);

        /// <summary>The recipient's client confirmed receiving these, in the order sent, with one ack.</summary>
        void Delivered(ReadOnlySpan<ChatEnvelope> envelopes);

        /// <summary>The recipient's side refused it on arrival (it is too slow and was dropped).</summary>
        void Refused(ChatEnvelope envelope, Refusal reason, string message);

        /// <summary>It was handed on but never confirmed: the recipient left or was dropped first.</summary>
        void Failed(ChatEnvelope envelope, Refusal reason, string message);

        /// <summary>The message's recipient left before confirming it, and it was kept in the recipient's inbox.</summary>
        void Stored(ChatEnvelope envelope);
    }
}
