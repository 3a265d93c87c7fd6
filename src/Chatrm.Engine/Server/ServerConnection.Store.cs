using System.Collections.Generic;
using Chatrm.Engine.Messaging;
using Chatrm.Engine.Storage;

namespace Chatrm.Engine.Server
{
    /// <summary>
    /// This user and the store: its messages to offline users go to their inboxes, its own inbox comes to it at login
    /// (a share at a time, so its send queue never fills with it), and what it confirms leaves its inbox with a receipt
    /// to the sender.
    /// </summary>
    internal sealed partial class ServerConnection
    {
        // This user's inbox as read at login, and how far it has been written; only this connection's reader uses them.
        private IReadOnlyList<StoredMessage> _inbox;
        private int _inboxNext;

        /// <summary>Whether some of the inbox read at login is still to be written.</summary>
        internal bool HasInboxLeft => _inbox != null;

        /// <summary>Keeps a message for its offline recipient; the sender hears stored once it is committed, or why not.</summary>
        private void StoreOffline(ChatEnvelope envelope)
        {
            IMessageStore store = _server.Store;
            _server.AppendDirectHistory(envelope);
            StoredMessage stored = envelope.ToStored(forInbox: true);
            store.StoreOffline(stored, result => OnStored(envelope, stored, result));
        }

        /// <summary>After the commit (on the store's writer), or at once when refused.</summary>
        private void OnStored(ChatEnvelope envelope, StoredMessage stored, StoreResult result)
        {
            switch (result.Outcome)
            {
                case StoreOutcome.Stored:
                    // Through the router, as every report goes: to the sender's address, which with a token is its state's,
                    // which records the fate and tells whichever connection holds the token now.
                    _server.Router.ReportStored(envelope);

                    // Stored while its recipient was logging in, after its inbox was read: not stranded, it goes now
                    // (with its id; a client drops one it has shown already).
                    _server.Router.Deliver(ChatEnvelope.OfInbox(stored));
                    break;
                case StoreOutcome.InboxFull:
                    _server.Router.ReportRefused(envelope, Refusal.InboxFull, result.Reason ?? envelope.To + "'s inbox is full");
                    break;
                default:
                    _server.Router.ReportRefused(envelope, Refusal.StoreFailed, result.Reason ?? "the server could not keep the message");
                    break;
            }
        }

        /// <summary>
        /// The recipient (this user) left without confirming a direct message: it goes into this user's inbox, and its
        /// sender hears stored once committed, or the store's refusal. False when there is no store to keep it.
        /// </summary>
        internal bool KeepUnconfirmed(ChatEnvelope envelope)
        {
            IMessageStore store = _server.Store;
            if (store == null || envelope.Room != null || envelope.FromInbox || !envelope.SenderHearsStatus)
            {
                return false;
            }

            _server.AppendDirectHistory(envelope);
            StoredMessage stored = envelope.ToStored(forInbox: true);
            // The store may answer at once, under this connection's send gate: its senders are told off it.
            // A stop waits for these reports, so the fates they tell are in the resend memory it keeps.
            _server.KeptReportQueued();
            store.StoreOffline(stored, result => System.Threading.ThreadPool.UnsafeQueueUserWorkItem(_ => ReportKeptThenCount(envelope, stored, result), null));
            return true;
        }

        private void ReportKeptThenCount(ChatEnvelope envelope, StoredMessage stored, StoreResult result)
        {
            try
            {
                ReportKept(envelope, stored, result);
            }
            finally
            {
                _server.KeptReportTold();
            }
        }

        private void ReportKept(ChatEnvelope envelope, StoredMessage stored, StoreResult result)
        {
            switch (result.Outcome)
            {
                case StoreOutcome.Stored:
                    _server.Router.ReportStored(envelope);

                    // Back already (a resumed session read its inbox before this was kept): it goes now, same id.
                    _server.Router.Deliver(ChatEnvelope.OfInbox(stored));
                    break;
                case StoreOutcome.InboxFull:
                    _server.Router.ReportFailed(envelope, Refusal.InboxFull, result.Reason ?? envelope.To + "'s inbox is full");
                    break;
                default:
                    _server.Router.ReportFailed(envelope, Refusal.RecipientLeft, result.Reason ?? envelope.To + " left before confirming");
                    break;
            }
        }

        /// <summary>At login, inside the welcome gate: reads the inbox and writes its first share.</summary>
        private void StartInbox(string name)
        {
            IMessageStore store = _server.Store;
            if (store == null)
            {
                return;
            }

            IReadOnlyList<StoredMessage> inbox = store.ReadInbox(name, _server.Options.MaxInboxMessages);
            if (inbox.Count == 0)
            {
                return;
            }

            _inbox = inbox;
            _inboxNext = 0;
            PumpInbox();
        }

        /// <summary>
        /// Writes more of the inbox while the send queue is under half its limit and, for a user who confirms, while
        /// under half its unconfirmed limit; a native session calls this again after each ack.
        /// </summary>
        internal void PumpInbox()
        {
            IReadOnlyList<StoredMessage> inbox = _inbox;
            if (inbox == null)
            {
                return;
            }

            ServerOptions options = _server.Options;
            while (_inboxNext < inbox.Count
                && _transport.QueuedBytes < options.MaxQueuedBytesPerConnection / 2
                && _session.UnconfirmedCount < options.MaxUnconfirmedPerConnection / 2)
            {
                if (_session.Deliver(ChatEnvelope.OfInbox(inbox[_inboxNext++])) != DeliveryStatus.Accepted)
                {
                    // Gone: what is left stays in the inbox for the next login.
                    _inboxNext = inbox.Count;
                }
            }

            if (_inboxNext >= inbox.Count)
            {
                _inbox = null;
            }
        }

        /// <summary>The user confirmed a message from its inbox: out of the inbox, and a receipt to its sender if online now.</summary>
        internal void ConfirmFromInbox(ChatEnvelope envelope)
        {
            _server.Store?.ConfirmInbox(UserName, envelope.Number);
            _server.Router.ReportReceipt(envelope.From, envelope);
        }
    }
}
