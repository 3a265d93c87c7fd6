using System;
using System.Collections.Generic;
using System.Threading;
using Microsoft.Data.Sqlite;

namespace Chatrm.Engine.Storage
{
    /// <summary>The queue and its one writer: group commit, the queue's bound, commit tickets and their callbacks, expiry.</summary>
    internal sealed partial class SqliteMessageStore
    {
        /// <summary>Queued writes held in memory past which a history or inbox write waits for the writer (docs/store.md).</summary>
        public const long DefaultMaxQueuedBytes = 64L * 1024 * 1024;

        /// <summary>A commit's history rows hold at most this many messages each, so a read decodes little past what it wants.</summary>
        private const int ChunkMessages = 256;

        private static readonly TimeSpan SweepEvery = TimeSpan.FromMinutes(1);

        // Waking the idle writer now and then lets expiry run on a quiet server.
        private static readonly TimeSpan IdleWake = TimeSpan.FromSeconds(30);

        // The writer's connection: used by the writer, and under writeGate by ReserveIds and expiry.
        private readonly object writeGate = new object();
        private readonly SqliteConnection writeConnection;
        private readonly SqliteStatements statements;
        private readonly Thread writer;
        private readonly Dictionary<string, List<StoredMessage>> byConversation = new Dictionary<string, List<StoredMessage>>(StringComparer.Ordinal);
        private readonly HistoryChunk encoder = new HistoryChunk();
        private readonly List<(string User, long Bytes)> released = new List<(string User, long Bytes)>();
        private long reservedIds;
        private DateTime lastSweep;

        // The queue: a write's ticket, its place in the queue and (for history) its Seq are given in one step.
        private readonly object queueGate = new object();
        private readonly Dictionary<string, long> lastSeq = new Dictionary<string, long>(StringComparer.Ordinal);
        private List<StoreWrite> queued = new List<StoreWrite>();
        private List<StoreWrite> spare = new List<StoreWrite>();
        private long lastTicket;
        private long queuedBytes;
        private bool writerWaiting;
        private int producersWaiting;
        private bool stopping;
        private volatile bool closed;

        // Commits: the newest committed ticket and what waits on a later one.
        private readonly object commitGate = new object();
        private readonly List<(long Ticket, Action Action)> waiting = new List<(long Ticket, Action Action)>();
        private long committedTicket;

        // Tests hold the writer to fill the queue.
        private readonly ManualResetEventSlim writerGo = new ManualResetEventSlim(true);

        public long CommittedTicket => Volatile.Read(ref committedTicket);

        internal long MaxQueuedBytes { get; set; } = DefaultMaxQueuedBytes;

        internal long QueuedBytes
        {
            get
            {
                lock (queueGate)
                {
                    return queuedBytes;
                }
            }
        }

        private bool OnWriter => Thread.CurrentThread == writer;

        public void WhenCommitted(long ticket, Action action)
        {
            lock (commitGate)
            {
                if (ticket > committedTicket)
                {
                    waiting.Add((ticket, action));
                    return;
                }
            }

            action();
        }

        public bool Flush(TimeSpan timeout)
        {
            long target;
            lock (queueGate)
            {
                target = lastTicket;
            }

            if (OnWriter)
            {
                return CommittedTicket >= target;
            }

            DateTime deadline = DateTime.UtcNow + timeout;
            lock (commitGate)
            {
                while (committedTicket < target)
                {
                    TimeSpan left = deadline - DateTime.UtcNow;
                    if (left <= TimeSpan.Zero || !Monitor.Wait(commitGate, left))
                    {
                        return committedTicket >= target;
                    }
                }
            }

            return true;
        }

        internal void PauseWriter() => writerGo.Reset();

        internal void ResumeWriter() => writerGo.Set();

        /// <summary>Caps the file at a number of pages, as a full disk would: tests use it.</summary>
        internal void LimitPages(long pages)
        {
            lock (writeGate)
            {
                SqliteSchema.Command(writeConnection, $"PRAGMA max_page_count = {pages}").ExecuteNonQuery();
            }
        }

        internal long PageCount()
        {
            lock (writeGate)
            {
                return SqliteSchema.Scalar(writeConnection, "PRAGMA page_count");
            }
        }

        /// <summary>Queues a write and returns its ticket; 0 when the store is closing. History and inbox writes wait while the queue is over its bound.</summary>
        private long Enqueue(StoreWrite write, bool mayWait)
        {
            lock (queueGate)
            {
                if (mayWait && !OnWriter)
                {
                    while (queuedBytes > MaxQueuedBytes && !stopping)
                    {
                        producersWaiting++;
                        Monitor.Wait(queueGate);
                        producersWaiting--;
                    }
                }

                if (stopping)
                {
                    return 0;
                }

                if (write.Kind == StoreWriteKind.History)
                {
                    StoredMessage message = write.Message;
                    lastSeq.TryGetValue(write.Key, out long last);
                    if (!RoomNames.IsRoom(message.To))
                    {
                        message.Seq = last + 1;
                    }

                    if (message.Seq > last)
                    {
                        lastSeq[write.Key] = message.Seq;
                    }
                }
                else if (write.Kind == StoreWriteKind.ConfirmInbox)
                {
                    ConfirmQueuedHoldingGate(write);
                }

                queued.Add(write);
                queuedBytes += write.QueuedBytes;
                if (writerWaiting)
                {
                    Monitor.PulseAll(queueGate);
                }

                return ++lastTicket;
            }
        }

        private void WriteLoop()
        {
            while (true)
            {
                List<StoreWrite> batch = null;
                long ticket;
                lock (queueGate)
                {
                    if (queued.Count == 0 && !stopping)
                    {
                        writerWaiting = true;
                        Monitor.Wait(queueGate, IdleWake);
                        writerWaiting = false;
                    }

                    if (queued.Count == 0 && stopping)
                    {
                        return;
                    }

                    ticket = lastTicket;
                    if (queued.Count > 0)
                    {
                        batch = queued;
                        queued = spare ?? new List<StoreWrite>();
                        spare = null;
                        queuedBytes = 0;
                        if (producersWaiting > 0)
                        {
                            Monitor.PulseAll(queueGate);
                        }
                    }
                }

                if (batch != null)
                {
                    writerGo.Wait();
                    Commit(batch, ticket);
                    batch.Clear();
                    lock (queueGate)
                    {
                        spare = batch;
                    }
                }

                ExpireIfDue();
            }
        }

        /// <summary>Writes one batch in one transaction, then tells its callers, outside the transaction.</summary>
        private void Commit(List<StoreWrite> batch, long ticket)
        {
            string failure = null;
            lock (writeGate)
            {
                released.Clear();
                try
                {
                    using (SqliteTransaction transaction = writeConnection.BeginTransaction())
                    {
                        statements.Use(transaction);
                        foreach (StoreWrite write in batch)
                        {
                            Write(write);
                        }

                        WriteInbox();
                        WriteHistory();
                        transaction.Commit();
                    }
                }
                catch (Exception ex)
                {
                    // Whatever went wrong, the writer must go on: every caller waits on it.
                    failure = FailureReason(ex);
                    released.Clear();
                }
                finally
                {
                    ClearInboxBatch();
                    byConversation.Clear();
                }
            }

            ConfirmsSettled(batch);

            // Room freed by confirms (or by a failed batch) is counted before anyone can see the commit.
            foreach ((string user, long bytes) in released)
            {
                quota.Release(user, bytes);
            }

            if (failure != null)
            {
                foreach (StoreWrite write in batch)
                {
                    if (write.Kind == StoreWriteKind.Inbox)
                    {
                        quota.Release(write.Message.To, write.Bytes);
                    }
                }
            }

            List<Action> due = null;
            lock (commitGate)
            {
                committedTicket = ticket;
                for (int i = waiting.Count - 1; i >= 0; i--)
                {
                    if (waiting[i].Ticket <= ticket)
                    {
                        (due ?? (due = new List<Action>())).Add(waiting[i].Action);
                        waiting.RemoveAt(i);
                    }
                }

                Monitor.PulseAll(commitGate);
            }

            var result = failure == null ? new StoreResult(StoreOutcome.Stored) : new StoreResult(StoreOutcome.Failed, failure);
            foreach (StoreWrite write in batch)
            {
                if (write.Kind == StoreWriteKind.Inbox)
                {
                    Run(write.Completed, result);
                }
            }

            if (due != null)
            {
                // Taken newest first; run oldest first.
                for (int i = due.Count - 1; i >= 0; i--)
                {
                    Run(due[i]);
                }
            }
        }

        private void Write(StoreWrite write)
        {
            switch (write.Kind)
            {
                case StoreWriteKind.RememberUser:
                    statements.RememberUser.Parameters[0].Value = write.Key.ToLowerInvariant();
                    statements.RememberUser.Parameters[1].Value = write.Key;
                    statements.RememberUser.ExecuteNonQuery();
                    break;
                case StoreWriteKind.Inbox:
                    QueueInbox(write);
                    break;
                case StoreWriteKind.ConfirmInbox:
                    QueueConfirm(write);
                    break;
                case StoreWriteKind.History:
                    if (!byConversation.TryGetValue(write.Key, out List<StoredMessage> lines))
                    {
                        lines = new List<StoredMessage>();
                        byConversation.Add(write.Key, lines);
                    }

                    lines.Add(write.Message);
                    break;
            }
        }

        /// <summary>Each conversation's lines of this batch as rows of at most <see cref="ChunkMessages"/>, and its last Seq.</summary>
        private void WriteHistory()
        {
            SqliteParameterCollection chunk = statements.InsertChunk.Parameters;
            SqliteParameterCollection conversation = statements.UpdateConversation.Parameters;
            foreach (KeyValuePair<string, List<StoredMessage>> pair in byConversation)
            {
                List<StoredMessage> lines = pair.Value;
                if (!InSeqOrder(lines))
                {
                    lines.Sort((a, b) => a.Seq.CompareTo(b.Seq));
                }

                for (int start = 0; start < lines.Count; start += ChunkMessages)
                {
                    int count = Math.Min(ChunkMessages, lines.Count - start);
                    long firstAt = long.MaxValue;
                    long lastAt = long.MinValue;
                    for (int i = start; i < start + count; i++)
                    {
                        long at = lines[i].SentAt.ToUniversalTime().Ticks;
                        firstAt = Math.Min(firstAt, at);
                        lastAt = Math.Max(lastAt, at);
                    }

                    chunk[0].Value = pair.Key;
                    chunk[1].Value = lines[start].Seq;
                    chunk[2].Value = lines[start + count - 1].Seq;
                    chunk[3].Value = firstAt;
                    chunk[4].Value = lastAt;
                    encoder.Encode(lines, start, count);
                    chunk[5].Value = encoder.Buffer;
                    chunk[5].Size = encoder.Length;
                    statements.InsertChunk.ExecuteNonQuery();
                }

                conversation[0].Value = pair.Key;
                conversation[1].Value = lines[lines.Count - 1].Seq;
                statements.UpdateConversation.ExecuteNonQuery();
            }
        }

        private static bool InSeqOrder(List<StoredMessage> lines)
        {
            for (int i = 1; i < lines.Count; i++)
            {
                if (lines[i - 1].Seq > lines[i].Seq)
                {
                    return false;
                }
            }

            return true;
        }

        /// <summary>Deletes inbox messages and history rows past their days, at most once a minute, and gives back the inbox room they held.</summary>
        private void ExpireIfDue()
        {
            var freed = new List<(string User, long Bytes)>();
            lock (writeGate)
            {
                DateTime now = Now;
                if (closed || now - lastSweep < SweepEvery)
                {
                    return;
                }

                lastSweep = now;
                try
                {
                    using (SqliteTransaction transaction = writeConnection.BeginTransaction())
                    {
                        statements.Use(transaction);
                        ExpireInbox(now.AddDays(-limits.InboxDays).Ticks, freed);

                        statements.ExpireHistory.Parameters[0].Value = now.AddDays(-limits.HistoryDays).Ticks;
                        statements.ExpireHistory.ExecuteNonQuery();
                        transaction.Commit();
                    }
                }
                catch (Exception ex) when (ex is SqliteException || ex is InvalidOperationException || ex is System.IO.InvalidDataException)
                {
                    // A full disk can refuse even a delete's journal (and a damaged row its decoding); the next sweep tries again.
                    return;
                }

                // Still under the gate: a refused store that waited for this sweep finds the room it freed.
                foreach ((string user, long bytes) in freed)
                {
                    quota.Release(user, bytes);
                }
            }
        }

        /// <summary>Stops taking writes, lets the writer commit what is queued (and run its callbacks), and waits for it; false if already stopped.</summary>
        private bool StopWriter()
        {
            lock (queueGate)
            {
                if (stopping)
                {
                    return false;
                }

                stopping = true;
                Monitor.PulseAll(queueGate);
            }

            writerGo.Set();
            if (!OnWriter)
            {
                writer.Join();
            }

            closed = true;
            return true;
        }

        private static string FailureReason(Exception ex) =>
            ex is SqliteException sqlite && sqlite.SqliteErrorCode == 13
                ? "The server's message store is full (its disk, or the file's size limit): the message was not kept."
                : "The server's message store could not write the message, which was not kept: " + ex.Message;

        // A caller's callback that throws must not stop the writer, which every other caller waits on.
        private static void Run(Action<StoreResult> completed, StoreResult result)
        {
            try
            {
                completed?.Invoke(result);
            }
            catch (Exception)
            {
            }
        }

        private static void Run(Action action)
        {
            try
            {
                action();
            }
            catch (Exception)
            {
            }
        }
    }
}
