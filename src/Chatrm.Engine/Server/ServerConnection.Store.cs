using System;
using System.Collections.Generic;
using System.Threading;
using Chatrm.Engine.Messaging;
using Chatrm.Engine.Routing;
using Chatrm.Engine.Server.Inbox;
using Chatrm.Engine.Storage;

namespace Chatrm.Engine.Server
{
    /// <summary>
    /// This user and the store: its messages to offline users go to their inboxes; its own inbox comes to it at login,
    /// once nothing is on its way into it, a share at a time (so its send queue never fills with it), ahead of the live
    /// messages that came meanwhile; what it confirms leaves its inbox with a receipt to the sender.
    /// </summary>
    internal sealed partial class ServerConnection
    {
        // This user's inbox as read at login, and how far it has been written; under _inboxGate (the login's callback,
        // the reader after an ack and the send queue's drain all write more of it).
        private readonly object _inboxGate = new object();
        private IReadOnlyList<StoredMessage> _inbox;
        private int _inboxNext;
        private volatile bool _inboxLeft;

        // Read once at login, then again when told something came late (a cluster's other server stored it while this
        // login read): the ids written from it so far, so a second read writes only what is new; and a read asked for
        // while one is being written. Under _inboxGate.
        private HashSet<long> _inboxWritten;
        private bool _inboxAgain;

        // With a store: direct messages that came while the inbox was read and written, to go after it. Set at login.
        private volatile HeldDeliveries _held;

        // Whether a login of this name waits for this session to end: 0 not asked, 1 waits, 2 ended (see HoldLoginUntilEnded).
        private int _handover;

        /// <summary>Whether some of the inbox read at login is still to be written.</summary>
        internal bool HasInboxLeft => _inboxLeft;

        /// <summary>Keeps a message for its offline recipient; the sender hears stored once it is committed, or why not.</summary>
        private void StoreOffline(ChatEnvelope envelope)
        {
            // Counted, then looked up once more: a login that read its inbox before the count was registered already.
            InboxWritesInFlight writes = _server.InboxWrites;
            writes.Add(envelope.To);
            if (Route(envelope) == DeliveryStatus.Accepted)
            {
                writes.Done(envelope.To);
                return;
            }

            IMessageStore store = _server.Store;
            _server.AppendDirectHistory(envelope);
            store.StoreOffline(envelope.ToStored(forInbox: true), result =>
            {
                try
                {
                    OnStored(envelope, result);
                }
                finally
                {
                    writes.Done(envelope.To);
                }
            });
        }

        /// <summary>After the commit (on the store's writer), or at once when refused.</summary>
        private void OnStored(ChatEnvelope envelope, StoreResult result) => TellStoreFate(_server.Router, envelope, result);

        /// <summary>
        /// What became of a message sent to an offline recipient, told to its sender; a cluster's router tells it too
        /// for a message it took back from a server that never answered.
        /// </summary>
        internal static void TellStoreFate(IMessageRouter router, ChatEnvelope envelope, StoreResult result)
        {
            // Through the router, as every report goes: to the sender's address, which with a token is its state's, which
            // records the fate and tells whichever connection holds the token now.
            switch (result.Outcome)
            {
                case StoreOutcome.Stored:
                    router.ReportStored(envelope);
                    router.InboxWritten(envelope.To);
                    break;
                case StoreOutcome.InboxFull:
                    router.ReportRefused(envelope, Refusal.InboxFull, result.Reason ?? envelope.To + "'s inbox is full");
                    break;
                default:
                    router.ReportRefused(envelope, Refusal.StoreFailed, result.Reason ?? "the server could not keep the message");
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
            if (!_server.KeepsInboxes || envelope.Room != null || envelope.FromInbox || !envelope.SenderHearsStatus)
            {
                return false;
            }

            _server.AppendDirectHistory(envelope);
            StoredMessage stored = envelope.ToStored(forInbox: true);

            // Counted before this session lets go of its name: the next login reads its inbox after this is in it.
            _server.InboxWrites.Add(UserName);

            // The store may answer at once, under this connection's send gate: its senders are told off it.
            // A stop waits for these reports, so the fates they tell are in the resend memory it keeps.
            _server.KeptReportQueued();
            store.StoreOffline(stored, result => ThreadPool.UnsafeQueueUserWorkItem(_ => ReportKeptThenCount(envelope, result), null));
            return true;
        }

        /// <summary>Keeps a message this user will not confirm now, or tells its sender it left (see <see cref="KeepUnconfirmed"/>).</summary>
        internal void KeepOrReportLeft(ChatEnvelope envelope)
        {
            if (!KeepUnconfirmed(envelope))
            {
                ReportLeft(envelope);
            }
        }

        /// <summary>A message this user never confirmed and nothing keeps: its sender, if it hears fates, hears recipient-left.</summary>
        internal void ReportLeft(ChatEnvelope envelope)
        {
            if (envelope.SenderHearsStatus)
            {
                _server.Router.ReportFailed(envelope, Refusal.RecipientLeft, UserName + " left before confirming");
            }
        }

        private void ReportKeptThenCount(ChatEnvelope envelope, StoreResult result)
        {
            try
            {
                ReportKept(envelope, result);
            }
            finally
            {
                _server.InboxWrites.Done(UserName);
                _server.KeptReportTold();
            }
        }

        private void ReportKept(ChatEnvelope envelope, StoreResult result)
        {
            switch (result.Outcome)
            {
                case StoreOutcome.Stored:
                    _server.Router.ReportStored(envelope);
                    _server.Router.InboxWritten(UserName);
                    break;
                case StoreOutcome.InboxFull:
                    _server.Router.ReportFailed(envelope, Refusal.InboxFull, result.Reason ?? envelope.To + "'s inbox is full");
                    break;
                default:
                    _server.Router.ReportFailed(envelope, Refusal.RecipientLeft, result.Reason ?? envelope.To + " left before confirming");
                    break;
            }
        }

        /// <summary>At registration, inside the welcome gate: with a store, direct messages wait until the inbox is written.</summary>
        private void HoldDeliveriesForInbox()
        {
            if (_server.Store != null)
            {
                _held = new HeldDeliveries(_server.Options.MaxInboxMessages);
            }
        }

        /// <summary>
        /// After registration: once nothing is on its way into this user's inbox (the unconfirmed messages of a session
        /// it displaced included), reads the inbox and writes it, then what was held.
        /// </summary>
        private void CatchUp(IChatEndpoint displaced)
        {
            if (_held == null)
            {
                return;
            }

            (displaced as ServerConnection)?.HoldLoginUntilEnded();
            _server.InboxWrites.WhenSettled(UserName, StartInbox);
        }

        /// <summary>A login displaced this session: its inbox read waits until this session has ended and kept what it held.</summary>
        private void HoldLoginUntilEnded()
        {
            // Counted first, so the count is there before this session's end can settle it.
            _server.InboxWrites.Add(UserName);
            if (Interlocked.CompareExchange(ref _handover, 1, 0) != 0)
            {
                // Ended already: what it kept is counted by itself.
                _server.InboxWrites.Done(UserName);
            }
        }

        /// <summary>As the session ends: what was held goes into the inbox (or its senders hear), then a login waiting for this goes on.</summary>
        private void LetGoOfHeld()
        {
            try
            {
                HeldDeliveries held = _held;
                if (held != null)
                {
                    foreach (ChatEnvelope envelope in held.TakeAll())
                    {
                        KeepOrReportLeft(envelope);
                    }
                }
            }
            finally
            {
                if (Interlocked.Exchange(ref _handover, 2) == 1)
                {
                    _server.InboxWrites.Done(UserName);
                }
            }
        }

        /// <summary>Reads the inbox and writes its first share; on the login's thread, or on the pool once the last write into it settled.</summary>
        private void StartInbox()
        {
            lock (_inboxGate)
            {
                _inboxWritten = new HashSet<long>();
                TryReadInboxHoldingGate("the inbox could not be read");
                PumpInboxHoldingGate();
            }
        }

        /// <summary>
        /// Reads the inbox, leaving out what this session wrote from it already. A store that cannot be read costs this
        /// login its waiting messages (they stay for the next), not its live ones: the failure is told, never thrown.
        /// </summary>
        private void TryReadInboxHoldingGate(string failure)
        {
            try
            {
                ReadInboxHoldingGate();
            }
            catch (Exception e)
            {
                _server.Raise(ServerEventKind.ServerError, UserName, failure + ": " + e.GetType().Name + ": " + e.Message);
            }
        }

        private void ReadInboxHoldingGate()
        {
            IReadOnlyList<StoredMessage> read = _server.Store?.ReadInbox(UserName, _server.Options.MaxInboxMessages);
            var inbox = new List<StoredMessage>(read?.Count ?? 0);
            foreach (StoredMessage message in read ?? Array.Empty<StoredMessage>())
            {
                if (!_inboxWritten.Contains(message.Id))
                {
                    inbox.Add(message);
                }
            }

            if (inbox.Count > 0)
            {
                _inbox = inbox;
                _inboxNext = 0;
                _inboxLeft = true;
            }
        }

        /// <summary>
        /// Something was kept for this user after its login read the inbox (see <see cref="IMessageRouter.InboxWritten"/>):
        /// reads it again, off the caller's thread, and writes what this session has not written yet.
        /// </summary>
        internal void CheckInboxAgain()
        {
            ThreadPool.UnsafeQueueUserWorkItem(_ =>
            {
                lock (_inboxGate)
                {
                    if (_inboxWritten == null)
                    {
                        // The login's own read is still to come, and reads it all.
                        return;
                    }

                    if (_inbox != null)
                    {
                        _inboxAgain = true;
                        return;
                    }

                    TryReadInboxHoldingGate("the inbox could not be read again");
                    PumpInboxHoldingGate();
                }
            }, null);
        }

        /// <summary>
        /// Writes more of the inbox while the send queue is under half its limit and, for a user who confirms, while under
        /// half its unconfirmed limit; more goes when the queue has emptied, or after the next ack.
        /// </summary>
        internal void PumpInbox()
        {
            lock (_inboxGate)
            {
                PumpInboxHoldingGate();
            }
        }

        private void PumpInboxHoldingGate()
        {
            IReadOnlyList<StoredMessage> inbox = _inbox;
            if (inbox != null)
            {
                ServerOptions options = _server.Options;
                while (_inboxNext < inbox.Count)
                {
                    if (_transport.QueuedBytes >= options.MaxQueuedBytesPerConnection / 2)
                    {
                        _transport.WhenQueueEmpty(PumpInbox);
                        return;
                    }

                    if (_session.UnconfirmedCount >= options.MaxUnconfirmedPerConnection / 2)
                    {
                        return;
                    }

                    _inboxWritten.Add(inbox[_inboxNext].Id);
                    if (_session.Deliver(ChatEnvelope.OfInbox(inbox[_inboxNext++])) != DeliveryStatus.Accepted)
                    {
                        // Gone: what is left stays in the inbox for the next login.
                        _inboxNext = inbox.Count;
                    }
                }

                _inbox = null;
                _inboxLeft = false;
                if (_inboxAgain)
                {
                    // Told of a late one while writing: read once more, and write what is new (a level deeper, once).
                    _inboxAgain = false;
                    TryReadInboxHoldingGate("the inbox could not be read again");
                    if (_inbox != null)
                    {
                        PumpInboxHoldingGate();
                        return;
                    }
                }
            }

            // The inbox is written: what came meanwhile goes now, in the order it came, ahead of anything newer.
            _held?.Release(DeliverReleased);
        }

        private void DeliverReleased(ChatEnvelope envelope)
        {
            if (_session.Deliver(envelope) != DeliveryStatus.Accepted)
            {
                KeepOrReportLeft(envelope);
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
