using System;
using System.Collections.Generic;

namespace Chatrm.Engine.Storage
{
    /// <summary>
    /// The store of a server started without a file: the same rules as the SQLite store, forgotten at a restart.
    /// Every write is committed when it returns, so callbacks run at once on the caller's thread (outside the
    /// store's lock) and every ticket is committed.
    /// </summary>
    internal sealed class MemoryMessageStore : IMessageStore
    {
        private static readonly TimeSpan SweepEvery = TimeSpan.FromMinutes(1);

        private readonly object gate = new object();
        private readonly StoreLimits limits;
        private readonly TimeProvider time;
        private readonly InboxQuota quota;
        private readonly Dictionary<string, List<StoredMessage>> inboxes = new Dictionary<string, List<StoredMessage>>(UserNames.Comparer);
        private readonly HashSet<string> known = new HashSet<string>(UserNames.Comparer);
        private readonly Dictionary<string, Conversation> history = new Dictionary<string, Conversation>(StringComparer.Ordinal);
        private long reservedIds;
        private long ticket;
        private DateTime lastSweep;

        public MemoryMessageStore(StoreLimits limits, TimeProvider time)
        {
            this.limits = limits ?? throw new ArgumentNullException(nameof(limits));
            this.time = time ?? throw new ArgumentNullException(nameof(time));
            quota = new InboxQuota(limits);
            lastSweep = Now;
        }

        public string Path => null;

        public bool KeepsHistory => limits.KeepHistory;

        public long CommittedTicket
        {
            get
            {
                lock (gate)
                {
                    return ticket;
                }
            }
        }

        private DateTime Now => time.GetUtcNow().UtcDateTime;

        public long ReserveIds(long count)
        {
            lock (gate)
            {
                reservedIds += count;
                return reservedIds;
            }
        }

        public bool IsKnownUser(string name)
        {
            lock (gate)
            {
                return known.Contains(name);
            }
        }

        public void RememberUser(string name)
        {
            lock (gate)
            {
                known.Add(name);
                ticket++;
            }
        }

        public void StoreOffline(StoredMessage message, Action<StoreResult> completed)
        {
            long bytes = InboxQuota.BytesOf(message);
            string refusal;
            lock (gate)
            {
                refusal = quota.TryTake(message.To, bytes);
                if (refusal != null && ExpireInbox(message.To, Now))
                {
                    refusal = quota.TryTake(message.To, bytes);
                }

                if (refusal == null)
                {
                    if (!inboxes.TryGetValue(message.To, out List<StoredMessage> inbox))
                    {
                        inbox = new List<StoredMessage>();
                        inboxes.Add(message.To, inbox);
                    }

                    inbox.Add(message);
                    ticket++;
                    SweepIfDue();
                }
            }

            completed?.Invoke(refusal == null ? new StoreResult(StoreOutcome.Stored) : new StoreResult(StoreOutcome.InboxFull, refusal));
        }

        public IReadOnlyList<StoredMessage> ReadInbox(string user, int max)
        {
            DateTime notBefore = Now.AddDays(-limits.InboxDays);
            var read = new List<StoredMessage>();
            lock (gate)
            {
                if (inboxes.TryGetValue(user, out List<StoredMessage> inbox))
                {
                    foreach (StoredMessage message in inbox)
                    {
                        if (read.Count >= max)
                        {
                            break;
                        }

                        if (message.SentAt >= notBefore)
                        {
                            read.Add(message);
                        }
                    }
                }
            }

            return read;
        }

        public void ConfirmInbox(string user, long id)
        {
            lock (gate)
            {
                ticket++;
                if (!inboxes.TryGetValue(user, out List<StoredMessage> inbox))
                {
                    return;
                }

                int at = inbox.FindIndex(m => m.Id == id);
                if (at < 0)
                {
                    return;
                }

                quota.Release(user, InboxQuota.BytesOf(inbox[at]));
                inbox.RemoveAt(at);
                if (inbox.Count == 0)
                {
                    inboxes.Remove(user);
                }
            }
        }

        public long AppendHistory(StoredMessage message)
        {
            if (!limits.KeepHistory)
            {
                return 0;
            }

            bool room = RoomNames.IsRoom(message.To);
            string key = Conversations.Of(message);
            lock (gate)
            {
                if (!history.TryGetValue(key, out Conversation conversation))
                {
                    conversation = new Conversation();
                    history.Add(key, conversation);
                }

                if (!room)
                {
                    message.Seq = conversation.LastSeq + 1;
                }

                conversation.Add(message);
                SweepIfDue();
                return ++ticket;
            }
        }

        public long LastRoomSeq(string room)
        {
            lock (gate)
            {
                return history.TryGetValue(Conversations.Room(room), out Conversation conversation) ? conversation.LastSeq : 0;
            }
        }

        public IReadOnlyList<StoredMessage> ReadHistory(string conversation, int last, long before, long after)
        {
            if (!limits.KeepHistory || last <= 0)
            {
                return Array.Empty<StoredMessage>();
            }

            DateTime notBefore = Now.AddDays(-limits.HistoryDays);
            lock (gate)
            {
                return history.TryGetValue(conversation, out Conversation kept)
                    ? HistoryRange.Select(kept.Messages, last, before, after, notBefore)
                    : new List<StoredMessage>();
            }
        }

        public void WhenCommitted(long ticket, Action action) => action();

        public bool Flush(TimeSpan timeout) => true;

        public void Dispose()
        {
        }

        private void SweepIfDue()
        {
            DateTime now = Now;
            if (now - lastSweep < SweepEvery)
            {
                return;
            }

            lastSweep = now;
            foreach (string user in new List<string>(inboxes.Keys))
            {
                ExpireInbox(user, now);
            }

            DateTime historyCutoff = now.AddDays(-limits.HistoryDays);
            foreach (Conversation conversation in history.Values)
            {
                conversation.Expire(historyCutoff);
            }
        }

        /// <summary>Drops a user's messages older than the inbox's days; true if any went.</summary>
        private bool ExpireInbox(string user, DateTime now)
        {
            if (!inboxes.TryGetValue(user, out List<StoredMessage> inbox))
            {
                return false;
            }

            DateTime cutoff = now.AddDays(-limits.InboxDays);
            int removed = inbox.RemoveAll(m =>
            {
                if (m.SentAt >= cutoff)
                {
                    return false;
                }

                quota.Release(user, InboxQuota.BytesOf(m));
                return true;
            });
            if (inbox.Count == 0)
            {
                inboxes.Remove(user);
            }

            return removed > 0;
        }

        /// <summary>One conversation's lines, ascending by Seq, and the last Seq it ever had (kept when lines expire).</summary>
        private sealed class Conversation
        {
            public List<StoredMessage> Messages { get; } = new List<StoredMessage>();

            public long LastSeq { get; private set; }

            public void Add(StoredMessage message)
            {
                // A room's posts can reach the store a little out of order (Seq is given before the append).
                int at = Messages.Count;
                while (at > 0 && Messages[at - 1].Seq > message.Seq)
                {
                    at--;
                }

                Messages.Insert(at, message);
                LastSeq = Math.Max(LastSeq, message.Seq);
            }

            public void Expire(DateTime cutoff)
            {
                int old = 0;
                while (old < Messages.Count && Messages[old].SentAt < cutoff)
                {
                    old++;
                }

                Messages.RemoveRange(0, old);
            }
        }
    }
}
