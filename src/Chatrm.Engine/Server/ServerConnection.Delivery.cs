using System;
using Chatrm.Engine.Messaging;
using Chatrm.Engine.Routing;
using Chatrm.Engine.Transport;

namespace Chatrm.Engine.Server
{
    /// <summary>
    /// Messages to this user and reports on its own: the welcome gate, then its session writes them in its
    /// protocol; and the too-slow policy every write goes through.
    /// </summary>
    internal sealed partial class ServerConnection
    {
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        public DeliveryStatus Deliver(ChatEnvelope envelope)
        {
            if (!_welcomed)
            {
                // Registered a moment ago: wait for the welcome to be queued first.
                lock (_welcomeGate)
                {
                }
            }

            return _session.Deliver(envelope);
        }

        /// <summary>Tells a user who asked for presence that someone joined or left.</summary>
        public void SendPresence(PresenceChange change, string userName, DateTime time)
        {
            if (_welcomed)
            {
                _session.SendPresence(change, userName, time);
            }
        }

        // Fates of this user's own messages: only a native sender hears them (its session writes a status).
        void IDeliveryReceipt.Forwarded(ChatEnvelope envelope) => _session.Forwarded(envelope);

        void IDeliveryReceipt.Refused(ChatEnvelope envelope, Refusal reason, string message) => TellRefused(envelope, reason, message);

        void IDeliveryReceipt.Delivered(ChatEnvelope envelope) => _session.Delivered(envelope);

        void IDeliveryReceipt.Delivered(ReadOnlySpan<ChatEnvelope> envelopes) => _session.Delivered(envelopes);

        void IDeliveryReceipt.Failed(ChatEnvelope envelope, Refusal reason, string message) => _session.Failed(envelope, reason, message);

        /// <summary>Whether a send was queued; a full queue drops this user as too slow.</summary>
        internal bool Queued(SendResult result)
        {
            switch (result)
            {
                case SendResult.Queued:
                    return true;
                case SendResult.QueueFull:
                    // It has stopped reading; holding more for it would let one client eat the server's memory.
                    DropAsTooSlow("its send queue was full", $"you did not read what was sent to you; more than {_server.Options.MaxQueuedBytesPerConnection} bytes waited");
                    return false;
                default:
                    return false;
            }
        }

        /// <summary>Drops this user as too slow, once, telling it why.</summary>
        internal void DropAsTooSlow(string why, string told)
        {
            if (!_tooSlow)
            {
                _tooSlow = true;
                LeaveReason = "too slow: " + why;
                Tell(Refusal.RecipientTooSlow, told, evenIfFull: true);
                _transport.StopReading();
            }
        }

        /// <summary>Not queued: a too-slow drop is reported to the sender (it was accepted, then refused here); otherwise this user is gone.</summary>
        internal DeliveryStatus TooSlowOrGone(ChatEnvelope envelope)
        {
            if (!_tooSlow)
            {
                return DeliveryStatus.UserOffline;
            }

            _server.Router.ReportRefused(envelope, Refusal.RecipientTooSlow, SendRefusals.TooSlow(envelope.To));
            return DeliveryStatus.Accepted;
        }
    }
}
