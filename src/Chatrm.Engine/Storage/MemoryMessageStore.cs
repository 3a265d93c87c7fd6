using System;
using System.Collections.Generic;
using System.Threading;

namespace Chatrm.Engine.Storage
{
    /// <summary>
    /// The store of a server started without a file: the same rules as the SQLite store, forgotten at a restart.
    /// Every write is committed when it returns, so callbacks run at once on the caller's thread (outside the
    /// store's lock) and every ticket is committed. History (<see cref="MemoryHistory"/>) is held to
    /// <see cref="StoreLimits.MaxMemoryHistoryBytes"/>, the oldest lines going first, so a busy server that was given
    /// no file cannot fill its memory.
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
        private readonly MemoryHistory history;
        private long reservedIds;
        // Every write is committed when it returns: one ticket does for all of them, with nothing counted per write (a
        // counter shared by every reader thread cost a contended cache line per message).
        private const long Committed = 1;
        private long lastSweepTicks;

        public MemoryMessageStore(StoreLimits limits, TimeProvider time)
        {
            this.limits = limits ?? throw new ArgumentNullException(nameof(limits));
            this.time = time ?? throw new ArgumentNullException(nameof(time));
            quota = new InboxQuota(limits);
            history = new MemoryHistory(limits.MaxMemoryHistoryBytes);
            lastSweepTicks = Now.Ticks;
        }

        public string Path => null;

        public bool KeepsHistory => limits.KeepHistory;

        // Nothing survives a restart here, ids included: every memory store is a scope of its own.
        public string IdScope { get; } = Guid.NewGuid().ToString("N");

        public long CommittedTicket => Committed;

        /// <summary>What the history holds now, in the bytes it counts (for tests).</summary>
        internal long HistoryBytes => history.Bytes;

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

                    // In id order, as a file's inbox is read: one kept when its recipient left comes in after newer ones.
                    int at = inbox.Count;
                    while (at > 0 && inbox[at - 1].Id > message.Id)
                    {
                        at--;
                    }

                    inbox.Insert(at, message);
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

            // Old lines are looked for when a segment is begun, not on every line: a read of the clock per message was
            // a tenth of the history's cost, and lines too old are never read anyway (reads filter by age).
            if (history.Append(message))
            {
                SweepIfDue();
            }

            return Committed;
        }

        public long LastRoomSeq(string room) => history.LastSeq(Conversations.Room(room));

        public IReadOnlyList<StoredMessage> ReadHistory(string conversation, int last, long before, long after)
        {
            if (!limits.KeepHistory || last <= 0)
            {
                return Array.Empty<StoredMessage>();
            }

            DateTime notBefore = Now.AddDays(-limits.HistoryDays);
            return HistoryRange.Select(history.Read(conversation, notBefore), last, before, after, notBefore);
        }

        public void WhenCommitted(long ticket, Action action) => action();

        public bool Flush(TimeSpan timeout) => true;

        // Memory ends with the process: nothing is kept for a next start.
        public IReadOnlyList<KeptRef> TakeKeptRefs() => Array.Empty<KeptRef>();

        public void FinishWrites()
        {
        }

        public void KeepRefs(IReadOnlyCollection<KeptRef> refs)
        {
        }

        public void Dispose()
        {
        }

        private void SweepIfDue()
        {
            // Read on every append: one read of the time and of a number, until a sweep is due and one caller takes it.
            DateTime now = Now;
            long last = Interlocked.Read(ref lastSweepTicks);
            if (now.Ticks - last < SweepEvery.Ticks || Interlocked.CompareExchange(ref lastSweepTicks, now.Ticks, last) != last)
            {
                return;
            }

            lock (gate)
            {
                foreach (string user in new List<string>(inboxes.Keys))
                {
                    ExpireInbox(user, now);
                }
            }

            history.Expire(now.AddDays(-limits.HistoryDays));
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
    }
}
