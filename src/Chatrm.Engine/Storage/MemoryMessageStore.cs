using System;
using System.Collections;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Threading;

namespace Chatrm.Engine.Storage
{
    /// <summary>
    /// The store of a server started without a file: the same rules as the SQLite store, forgotten at a restart.
    /// Every write is committed when it returns, so callbacks run at once on the caller's thread (outside the
    /// store's lock) and every ticket is committed. History is held to <see cref="StoreLimits.MaxMemoryHistoryBytes"/>,
    /// the oldest lines going first (as a NATS memory stream keeps to its max_bytes), so a busy server that was
    /// given no file cannot fill its memory; each conversation has its own lock, as every message is appended.
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
        private readonly ConcurrentDictionary<string, Conversation> history = new ConcurrentDictionary<string, Conversation>(StringComparer.Ordinal);

        // One entry per line appended, in the order appended: whose line goes first when history is over its bytes.
        private readonly ConcurrentQueue<Conversation> appendOrder = new ConcurrentQueue<Conversation>();
        private long historyBytes;
        private long reservedIds;
        private long ticket;
        private long lastSweepTicks;

        public MemoryMessageStore(StoreLimits limits, TimeProvider time)
        {
            this.limits = limits ?? throw new ArgumentNullException(nameof(limits));
            this.time = time ?? throw new ArgumentNullException(nameof(time));
            quota = new InboxQuota(limits);
            lastSweepTicks = Now.Ticks;
        }

        public string Path => null;

        public bool KeepsHistory => limits.KeepHistory;

        public long CommittedTicket => Interlocked.Read(ref ticket);

        /// <summary>What the history holds now, in the bytes it counts (for tests).</summary>
        internal long HistoryBytes => Interlocked.Read(ref historyBytes);

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
                Interlocked.Increment(ref ticket);
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
                    Interlocked.Increment(ref ticket);
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
                Interlocked.Increment(ref ticket);
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
            Conversation conversation = history.GetOrAdd(Conversations.Of(message), _ => new Conversation());
            long bytes = Conversation.BytesOf(message);
            lock (conversation)
            {
                if (!room)
                {
                    message.Seq = conversation.LastSeq + 1;
                }

                conversation.Add(message);
            }

            appendOrder.Enqueue(conversation);
            if (Interlocked.Add(ref historyBytes, bytes) > limits.MaxMemoryHistoryBytes)
            {
                DropOldest();
            }

            SweepIfDue();
            return Interlocked.Increment(ref ticket);
        }

        public long LastRoomSeq(string room) =>
            history.TryGetValue(Conversations.Room(room), out Conversation conversation) ? conversation.LastSeqLocked : 0;

        public IReadOnlyList<StoredMessage> ReadHistory(string conversation, int last, long before, long after)
        {
            if (!limits.KeepHistory || last <= 0)
            {
                return Array.Empty<StoredMessage>();
            }

            DateTime notBefore = Now.AddDays(-limits.HistoryDays);
            if (!history.TryGetValue(conversation, out Conversation kept))
            {
                return new List<StoredMessage>();
            }

            lock (kept)
            {
                return HistoryRange.Select(kept, last, before, after, notBefore);
            }
        }

        /// <summary>Drops the oldest lines of history, whichever conversation they are in, until it is within its bytes.</summary>
        private void DropOldest()
        {
            while (Interlocked.Read(ref historyBytes) > limits.MaxMemoryHistoryBytes && appendOrder.TryDequeue(out Conversation oldest))
            {
                long freed;
                lock (oldest)
                {
                    freed = oldest.DropOldest();
                }

                Interlocked.Add(ref historyBytes, -freed);
            }
        }

        public void WhenCommitted(long ticket, Action action) => action();

        public bool Flush(TimeSpan timeout) => true;

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

            DateTime historyCutoff = now.AddDays(-limits.HistoryDays);
            foreach (Conversation conversation in history.Values)
            {
                long freed;
                lock (conversation)
                {
                    freed = conversation.Expire(historyCutoff);
                }

                Interlocked.Add(ref historyBytes, -freed);
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

        /// <summary>
        /// One conversation's lines, ascending by Seq, and the last Seq it ever had (kept when lines go). Lines leave
        /// from the front only, so they are a list read from an offset, compacted now and then. Locked by its users.
        /// </summary>
        private sealed class Conversation : IReadOnlyList<StoredMessage>
        {
            private readonly List<StoredMessage> lines = new List<StoredMessage>();
            private int first;

            // Entries of the store's append order that stand for lines already gone by age: skipped, not dropped twice.
            private int expiredEntries;

            public long LastSeq { get; private set; }

            public long LastSeqLocked
            {
                get
                {
                    lock (this)
                    {
                        return LastSeq;
                    }
                }
            }

            public int Count => lines.Count - first;

            public StoredMessage this[int index] => lines[first + index];

            /// <summary>What a line counts towards the history's bytes: its text as it is held (UTF-16, or the bytes it came as), and the object around it.</summary>
            public static long BytesOf(StoredMessage message) => (message.TextJson?.Length ?? 2L * message.TextLength) + 128;

            public void Add(StoredMessage message)
            {
                // A room's posts can reach the store a little out of order (Seq is given before the append).
                int at = lines.Count;
                while (at > first && lines[at - 1].Seq > message.Seq)
                {
                    at--;
                }

                lines.Insert(at, message);
                LastSeq = Math.Max(LastSeq, message.Seq);
            }

            /// <summary>Drops the oldest line for one entry of the append order; returns the bytes it freed.</summary>
            public long DropOldest()
            {
                if (expiredEntries > 0)
                {
                    expiredEntries--;
                    return 0;
                }

                if (Count == 0)
                {
                    return 0;
                }

                long freed = BytesOf(lines[first]);
                lines[first++] = null;
                Compact();
                return freed;
            }

            /// <summary>Drops lines older than <paramref name="cutoff"/>; returns the bytes freed.</summary>
            public long Expire(DateTime cutoff)
            {
                long freed = 0;
                while (Count > 0 && lines[first].SentAt < cutoff)
                {
                    freed += BytesOf(lines[first]);
                    lines[first++] = null;
                    expiredEntries++;
                }

                Compact();
                return freed;
            }

            public IEnumerator<StoredMessage> GetEnumerator()
            {
                for (int i = first; i < lines.Count; i++)
                {
                    yield return lines[i];
                }
            }

            IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

            private void Compact()
            {
                if (first > 1024 && first > lines.Count / 2)
                {
                    lines.RemoveRange(0, first);
                    first = 0;
                }
            }
        }
    }
}
