using System;
using Chatrm.Engine.Messaging;
using Chatrm.Engine.Routing;
using Chatrm.Engine.Server.Inbox;
using Chatrm.Engine.Storage;
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

            if (envelope.Room == null && !envelope.FromInbox)
            {
                // Before it is queued, so its ticket is set before any ack of it can ask for it.
                _server.AppendDirectHistory(envelope);

                // Logged in a moment ago: older messages from its inbox go first.
                HeldDeliveries held = _held;
                if (held != null && held.IsHolding)
                {
                    switch (held.TryHold(envelope))
                    {
                        case HoldResult.Held:
                            return DeliveryStatus.Accepted;
                        case HoldResult.Full:
                            _server.Router.ReportRefused(envelope, Refusal.RecipientTooSlow, envelope.To + " has more waiting for it than it has read yet");
                            return DeliveryStatus.Accepted;
                    }
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

        // Fates of this user's own messages: only a native sender hears them (its session writes a status). They come by
        // the envelope's sender address: with a resume token that is the token's state (ReportAddress), which records them
        // and tells the connection holding the token now, so none of a token's reports come here.
        void IDeliveryReceipt.Forwarded(ChatEnvelope envelope)
        {
            _session.Forwarded(envelope);
        }

        void IDeliveryReceipt.Refused(ChatEnvelope envelope, Refusal reason, string message)
        {
            TellRefused(envelope, reason, message);
        }

        void IDeliveryReceipt.Stored(ChatEnvelope envelope)
        {
            _session.TellStored(envelope);
        }

        // Delivered is durable too: a report waits until the message's line of history is committed (on the store's
        // writer then, which runs it once the commit is done).
        void IDeliveryReceipt.Delivered(ChatEnvelope envelope)
        {
            IMessageStore store = _server.Store;
            long ticket = envelope.HistoryTicket;
            if (!IsCommitted(store, ticket))
            {
                store.WhenCommitted(ticket, () => _session.Delivered(envelope));
                return;
            }

            _session.Delivered(envelope);
        }

        void IDeliveryReceipt.Delivered(ReadOnlySpan<ChatEnvelope> envelopes)
        {
            IMessageStore store = _server.Store;
            long ticket = LastTicket(envelopes);
            if (!IsCommitted(store, ticket))
            {
                // The span is the acker's buffer, reused at its next ack: the wait keeps a copy.
                ChatEnvelope[] waiting = envelopes.ToArray();
                store.WhenCommitted(ticket, () => _session.Delivered(waiting));
                return;
            }

            _session.Delivered(envelopes);
        }

        void IDeliveryReceipt.Failed(ChatEnvelope envelope, Refusal reason, string message)
        {
            _session.Failed(envelope, reason, message);
        }

        /// <summary>Whether a delivered report for a line of history with this ticket (0: none) may be told now.</summary>
        internal static bool IsCommitted(IMessageStore store, long ticket) => ticket == 0 || store == null || ticket <= store.CommittedTicket;

        /// <summary>The highest history ticket of these messages: a report of all of them waits for it.</summary>
        internal static long LastTicket(ReadOnlySpan<ChatEnvelope> envelopes)
        {
            long ticket = 0;
            foreach (ChatEnvelope envelope in envelopes)
            {
                ticket = Math.Max(ticket, envelope.HistoryTicket);
            }

            return ticket;
        }

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

                // The notice is the last thing it gets: the queue takes nothing more, so no later delivery (the
                // queue drains, and has room again) lands behind it; under the send gate, so none from another thread does between.
                lock (_transport.SendGate)
                {
                    Tell(Refusal.RecipientTooSlow, told, evenIfFull: true);
                    _transport.TakeNoMore();
                }

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
