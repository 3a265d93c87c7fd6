using System;
using System.Collections.Generic;
using System.Threading;
using Chatrm.Engine.Messaging;
using Chatrm.Engine.Routing;
using Chatrm.Engine.Storage;

namespace Chatrm.Engine.Server.Resume
{
    /// <summary>
    /// What the server keeps of one resume token beyond any one connection: the refs its sends gave, with the fate each
    /// was last told, and the connection that holds the token now. Its sends carry its <see cref="Address"/>, so every
    /// report of their fates comes here, is recorded, and is told to whichever connection holds the token then (none
    /// between connections: then it is only recorded, and told again when the client resends the ref).
    /// </summary>
    internal sealed class ResumeState : IDeliveryReceipt
    {
        private readonly ChatServer _server;

        // The refs; taken by the holder's reader for each send and by reporters for each fate, rarely at once.
        private readonly object _gate = new object();
        private readonly RememberedRefs _refs;
        private ServerConnection _current;

        public ResumeState(ChatServer server, ResumeKey key, SenderAddress address)
        {
            _server = server;
            Key = key;
            Address = address;
            _refs = new RememberedRefs(server.Options.ResendWindow.Ticks, server.Options.MaxRememberedRefs);
        }

        public ResumeKey Key { get; }

        /// <summary>Where reports of this token's sends go, whichever connection sent them: the router resolves it to this.</summary>
        public SenderAddress Address { get; }

        /// <summary>The connection holding the token now, or null between connections.</summary>
        internal ServerConnection Current => Volatile.Read(ref _current);

        // Set and read under the table's lock (ResumeTable).
        internal long ReleasedAt { get; set; }

        internal bool IsForgotten { get; set; }

        /// <summary>How many refs are remembered, for tests.</summary>
        internal int RememberedCount
        {
            get
            {
                lock (_gate)
                {
                    return _refs.Count;
                }
            }
        }

        /// <summary>
        /// Takes over the refs a store file kept for this token from the last run, oldest first, each at its own send
        /// time: the window counts from the send, across the restart.
        /// </summary>
        internal void Restore(List<KeptRef> kept)
        {
            lock (_gate)
            {
                foreach (KeptRef row in kept)
                {
                    if (KeptRefs.TryFromKept(row, out SentRef sent, out RememberedRef entry))
                    {
                        _refs.TryRemember(sent, entry, entry.SentAt.Ticks, out _);
                    }
                }
            }
        }

        /// <summary>This token's refs still within the window with a known fate, as rows for a store file (at a stop).</summary>
        internal void Keep(long now, List<KeptRef> into)
        {
            var known = new List<KeyValuePair<SentRef, RememberedRef>>();
            lock (_gate)
            {
                _refs.CopyKnown(now, known);
            }

            if (known.Count == 0)
            {
                return;
            }

            string tokenHash = KeptRefs.HashOf(Key.Token);
            foreach (KeyValuePair<SentRef, RememberedRef> pair in known)
            {
                into.Add(KeptRefs.ToKept(Key.UserName, tokenHash, pair.Key, pair.Value));
            }
        }

        /// <summary>A newer connection holds the token: fates from now on are told to it.</summary>
        internal void Attach(ServerConnection connection) => Volatile.Write(ref _current, connection);

        /// <summary>The connection ended: true when it still held the token (then no connection does).</summary>
        internal bool Release(ServerConnection connection) => Interlocked.CompareExchange(ref _current, null, connection) == connection;

        /// <summary>
        /// Remembers a send about to be routed as message <paramref name="number"/>; false when its ref was sent within the
        /// window already (then it must not be routed again), with what is known of the first.
        /// </summary>
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        internal bool TryRemember(SentRef sent, long number, string to, long now, out RememberedRef known)
        {
            lock (_gate)
            {
                return _refs.TryRemember(sent, new RememberedRef(number, to, new DateTime(now, DateTimeKind.Utc)), now, out known);
            }
        }

        /// <summary>Records a fate told on the sending connection itself (a refusal at once, a post).</summary>
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        internal void Record(ChatEnvelope envelope, RefFate fate)
        {
            if (envelope.Number == 0)
            {
                return;
            }

            SentRef sent = SentRef.Of(envelope);
            if (sent.IsNone)
            {
                return;
            }

            lock (_gate)
            {
                _refs.Record(sent, envelope.Number, fate);
            }
        }

        // Reports of this token's sends: from the router (to Address), and from a connection of the token for a report
        // that reached it by other ways (a receipt to the name, a store's answer).
        public void Forwarded(ChatEnvelope envelope)
        {
            Record(envelope, RefFate.Forwarded);
            Current?.Session.Forwarded(envelope);
        }

        public void Refused(ChatEnvelope envelope, Refusal reason, string message)
        {
            Record(envelope, RefFate.Refused(reason, message));
            Current?.Session.TellRefused(envelope, reason, message);
        }

        public void Failed(ChatEnvelope envelope, Refusal reason, string message)
        {
            Record(envelope, RefFate.Refused(reason, message));
            Current?.Session.Failed(envelope, reason, message);
        }

        public void Stored(ChatEnvelope envelope)
        {
            Record(envelope, RefFate.Stored);
            Current?.Session.TellStored(envelope);
        }

        // Delivered is durable: told (and recorded) once the message's line of history is committed, as a connection does.
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        public void Delivered(ChatEnvelope envelope)
        {
            IMessageStore store = _server.Store;
            long ticket = envelope.HistoryTicket;
            if (!ServerConnection.IsCommitted(store, ticket))
            {
                store.WhenCommitted(ticket, () => Delivered(envelope));
                return;
            }

            Record(envelope, RefFate.Delivered);
            Current?.Session.Delivered(envelope);
        }

        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        public void Delivered(ReadOnlySpan<ChatEnvelope> envelopes)
        {
            IMessageStore store = _server.Store;
            long ticket = ServerConnection.LastTicket(envelopes);
            if (!ServerConnection.IsCommitted(store, ticket))
            {
                // The span is the acker's buffer, reused at its next ack: the wait keeps a copy.
                ChatEnvelope[] waiting = envelopes.ToArray();
                store.WhenCommitted(ticket, () => Delivered(waiting));
                return;
            }

            lock (_gate)
            {
                foreach (ChatEnvelope envelope in envelopes)
                {
                    SentRef sent = SentRef.Of(envelope);
                    if (!sent.IsNone)
                    {
                        _refs.Record(sent, envelope.Number, RefFate.Delivered);
                    }
                }
            }

            Current?.Session.Delivered(envelopes);
        }
    }
}
