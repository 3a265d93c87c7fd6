using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using Microsoft.Data.Sqlite;

namespace Chatrm.Engine.Storage
{
    /// <summary>
    /// The store in an SQLite file (docs/store.md): WAL, synchronous=NORMAL, one background writer that commits
    /// everything queued in one transaction. Callers only queue; names, inbox counts and conversation numbers are
    /// kept in memory as well, so no caller reads the file on the send path. Reads use a second connection.
    /// </summary>
    internal sealed partial class SqliteMessageStore : IMessageStore
    {
        private readonly StoreLimits limits;
        private readonly TimeProvider time;
        private readonly StoreFileLock fileLock;
        private readonly InboxQuota quota;

        // Known names: the send path asks for each offline message.
        private readonly HashSet<string> known = new HashSet<string>(UserNames.Comparer);

        // Reads go through their own connection, one at a time.
        private readonly object readGate = new object();
        private readonly SqliteConnection readConnection;
        private readonly SqliteCommand readInbox;
        private readonly SqliteCommand readChunks;

        private SqliteMessageStore(string path, StoreLimits limits, TimeProvider time, StoreFileLock fileLock, SqliteConnection writeConnection, SqliteConnection readConnection)
        {
            Path = path;
            this.limits = limits;
            this.time = time;
            this.fileLock = fileLock;
            this.writeConnection = writeConnection;
            this.readConnection = readConnection;
            quota = new InboxQuota(limits);
            statements = new SqliteStatements(writeConnection);
            readInbox = SqliteSchema.Command(readConnection,
                "SELECT body FROM inbox_chunk WHERE user_key = $user AND last_sent_at >= $cutoff ORDER BY first_id");
            readInbox.Parameters.Add(new SqliteParameter { ParameterName = "$user" });
            readInbox.Parameters.Add(new SqliteParameter { ParameterName = "$cutoff" });
            readChunks = SqliteSchema.Command(readConnection,
                "SELECT last_seq, body FROM history_chunk WHERE conversation = $c AND last_seq > $after AND first_seq < $before AND last_sent_at >= $cutoff ORDER BY last_seq DESC");
            readChunks.Parameters.Add(new SqliteParameter { ParameterName = "$c" });
            readChunks.Parameters.Add(new SqliteParameter { ParameterName = "$after" });
            readChunks.Parameters.Add(new SqliteParameter { ParameterName = "$before" });
            readChunks.Parameters.Add(new SqliteParameter { ParameterName = "$cutoff" });
            LoadState();
            lastSweep = Now;
            writer = new Thread(WriteLoop) { IsBackground = true, Name = "Chatrm store writer" };
            writer.Start();
        }

        public string Path { get; }

        public bool KeepsHistory => limits.KeepHistory;

        // Read or made at open, and kept in the file.
        public string IdScope { get; private set; }

        private DateTime Now => time.GetUtcNow().UtcDateTime;

        /// <summary>
        /// Opens (or makes) the store at <paramref name="path"/>. Throws <see cref="StoreOpenException"/> for a file
        /// another server holds, a file that is not a Chatrm store, a newer schema or a damaged file, none of which
        /// it writes to.
        /// </summary>
        public static SqliteMessageStore Open(string path, StoreLimits limits, TimeProvider time)
        {
            if (string.IsNullOrEmpty(path))
            {
                throw new ArgumentException("A store needs a file path.", nameof(path));
            }

            string full = System.IO.Path.GetFullPath(path);
            string folder = System.IO.Path.GetDirectoryName(full);
            if (!string.IsNullOrEmpty(folder))
            {
                Directory.CreateDirectory(folder);
            }

            StoreFileLock fileLock = StoreFileLock.Take(full);
            SqliteConnection write = null;
            SqliteConnection read = null;
            try
            {
                write = SqliteSchema.OpenForWriting(full);
                read = new SqliteConnection(SqliteSchema.ConnectionString(full, readOnly: false));
                read.Open();
                SqliteSchema.Command(read, "PRAGMA query_only=1").ExecuteNonQuery();
                return new SqliteMessageStore(full, limits ?? new StoreLimits(), time ?? TimeProvider.System, fileLock, write, read);
            }
            catch (Exception ex)
            {
                read?.Dispose();
                write?.Dispose();
                fileLock.Dispose();
                if (ex is StoreOpenException)
                {
                    throw;
                }

                throw new StoreOpenException(full, $"The message store '{full}' could not be opened: {ex.Message}", ex);
            }
        }

        public long ReserveIds(long count)
        {
            lock (writeGate)
            {
                ThrowIfClosed();
                reservedIds += count;

                // Rare, and an id must never be handed out twice: this one commit is synced even against a power loss.
                using (SqliteCommand command = SqliteSchema.Command(writeConnection,
                    "PRAGMA synchronous=FULL; UPDATE meta SET value = $v WHERE key = 'reserved_ids'; PRAGMA synchronous=NORMAL;"))
                {
                    command.Parameters.AddWithValue("$v", reservedIds);
                    command.ExecuteNonQuery();
                }

                return reservedIds;
            }
        }

        public bool IsKnownUser(string name)
        {
            lock (known)
            {
                return known.Contains(name);
            }
        }

        public void RememberUser(string name)
        {
            lock (known)
            {
                if (!known.Add(name))
                {
                    return;
                }
            }

            Enqueue(new StoreWrite(StoreWriteKind.RememberUser, null, name, 0, 0, null), mayWait: false);
        }

        public void StoreOffline(StoredMessage message, Action<StoreResult> completed)
        {
            long bytes = InboxQuota.BytesOf(message);
            string refusal = quota.TryTake(message.To, bytes);
            if (refusal != null)
            {
                // Asked again whether or not this sweep freed anything: the writer's own sweep may just have, at the same time.
                ExpireIfDue();
                refusal = quota.TryTake(message.To, bytes);
            }

            if (refusal != null)
            {
                completed?.Invoke(new StoreResult(StoreOutcome.InboxFull, refusal));
                return;
            }

            if (Enqueue(new StoreWrite(StoreWriteKind.Inbox, message, message.To.ToLowerInvariant(), message.Id, bytes, completed), mayWait: true) == 0)
            {
                quota.Release(message.To, bytes);
                completed?.Invoke(new StoreResult(StoreOutcome.Failed, "The server's message store is closed: the message was not kept."));
            }
        }

        public IReadOnlyList<StoredMessage> ReadInbox(string user, int max)
        {
            var read = new List<StoredMessage>();
            if (max <= 0)
            {
                return read;
            }

            long cutoff = Now.AddDays(-limits.InboxDays).Ticks;
            string key = user.ToLowerInvariant();

            // Taken before the read: a confirm committed after this is still in the copy, one committed before it is in the file.
            HashSet<long> confirming = ConfirmsInFlight(key);
            var all = new List<StoredMessage>();
            lock (readGate)
            {
                ThrowIfClosed();
                readInbox.Parameters[0].Value = key;
                readInbox.Parameters[1].Value = cutoff;
                using (SqliteDataReader row = readInbox.ExecuteReader())
                {
                    while (row.Read())
                    {
                        InboxChunk.Decode((byte[])row.GetValue(0), all);
                    }
                }
            }

            // Rows are runs of commits, which need not follow one another by id (a message kept back after its
            // recipient left has an older one): the inbox is every row's messages in id order, expired and confirmed ones left out.
            foreach (StoredMessage message in all)
            {
                if (message.SentAt.Ticks >= cutoff && confirming?.Contains(message.Id) != true)
                {
                    read.Add(message);
                }
            }

            if (!InIdOrder(read))
            {
                read = read.OrderBy(m => m.Id).ToList(); // stable: equal ids keep the order they were read in
            }

            return read.Count <= max ? read : read.GetRange(0, max);
        }

        private static bool InIdOrder(List<StoredMessage> messages)
        {
            for (int i = 1; i < messages.Count; i++)
            {
                if (messages[i - 1].Id > messages[i].Id)
                {
                    return false;
                }
            }

            return true;
        }

        public void ConfirmInbox(string user, long id) =>
            Enqueue(new StoreWrite(StoreWriteKind.ConfirmInbox, null, user.ToLowerInvariant(), id, 0, null), mayWait: false);

        public long AppendHistory(StoredMessage message) =>
            limits.KeepHistory ? Enqueue(new StoreWrite(StoreWriteKind.History, message, Conversations.Of(message), 0, 0, null), mayWait: true) : 0;

        public long LastRoomSeq(string room)
        {
            lock (queueGate)
            {
                return lastSeq.TryGetValue(Conversations.Room(room), out long seq) ? seq : 0;
            }
        }

        public IReadOnlyList<StoredMessage> ReadHistory(string conversation, int last, long before, long after)
        {
            if (!limits.KeepHistory || last <= 0)
            {
                return Array.Empty<StoredMessage>();
            }

            DateTime notBefore = Now.AddDays(-limits.HistoryDays);
            var found = new List<StoredMessage>();
            lock (readGate)
            {
                ThrowIfClosed();
                readChunks.Parameters[0].Value = conversation;
                readChunks.Parameters[1].Value = after > 0 ? after : 0;
                readChunks.Parameters[2].Value = before > 0 ? before : long.MaxValue;
                readChunks.Parameters[3].Value = notBefore.Ticks;
                using (SqliteDataReader row = readChunks.ExecuteReader())
                {
                    // Newest chunk first; once enough are found, a chunk whose last Seq is below all of them adds nothing.
                    var inChunk = new List<StoredMessage>();
                    long lowestKept = long.MaxValue;
                    int kept = 0;
                    while (row.Read())
                    {
                        if (kept >= last && row.GetInt64(0) < lowestKept)
                        {
                            break;
                        }

                        inChunk.Clear();
                        HistoryChunk.Decode((byte[])row.GetValue(1), inChunk);
                        foreach (StoredMessage message in inChunk)
                        {
                            if (HistoryRange.Holds(message.Seq, before, after) && message.SentAt >= notBefore)
                            {
                                found.Add(message);
                                kept++;
                                lowestKept = Math.Min(lowestKept, message.Seq);
                            }
                        }
                    }
                }
            }

            found.Sort((a, b) => a.Seq.CompareTo(b.Seq));
            return found.Count <= last ? found : found.GetRange(found.Count - last, last);
        }

        public void Dispose()
        {
            // The writer may have been stopped already (FinishWrites); the connections are closed once either way.
            StopWriter();
            if (Interlocked.Exchange(ref disposed, 1) != 0)
            {
                return;
            }

            lock (readGate)
            {
                readInbox.Dispose();
                readChunks.Dispose();
                readConnection.Dispose();
            }

            lock (writeGate)
            {
                statements.Dispose();
                writeConnection.Dispose();
            }

            fileLock.Dispose();
        }

        private void LoadState()
        {
            using (SqliteCommand command = SqliteSchema.Command(writeConnection, "SELECT name FROM known_user"))
            using (SqliteDataReader row = command.ExecuteReader())
            {
                while (row.Read())
                {
                    known.Add(row.GetString(0));
                }
            }

            using (SqliteCommand command = SqliteSchema.Command(writeConnection, "SELECT user_key, sum(messages), sum(bytes) FROM inbox_chunk GROUP BY user_key"))
            using (SqliteDataReader row = command.ExecuteReader())
            {
                while (row.Read())
                {
                    quota.Add(row.GetString(0), row.GetInt32(1), row.GetInt64(2));
                }
            }

            using (SqliteCommand command = SqliteSchema.Command(writeConnection, "SELECT key, last_seq FROM conversation"))
            using (SqliteDataReader row = command.ExecuteReader())
            {
                while (row.Read())
                {
                    lastSeq[row.GetString(0)] = row.GetInt64(1);
                }
            }

            // The file's id scope: made once (a new file, or one from before scopes) and kept, so it outlives restarts.
            long scope = SqliteSchema.Scalar(writeConnection, "SELECT coalesce(max(value), 0) FROM meta WHERE key = 'ids_scope'");
            if (scope == 0)
            {
                byte[] random = Guid.NewGuid().ToByteArray();
                scope = BitConverter.ToInt64(random, 0) & long.MaxValue | 1;
                using (SqliteCommand command = SqliteSchema.Command(writeConnection, "INSERT INTO meta(key, value) VALUES ('ids_scope', $v)"))
                {
                    command.Parameters.AddWithValue("$v", scope);
                    command.ExecuteNonQuery();
                }
            }

            IdScope = scope.ToString("x16", System.Globalization.CultureInfo.InvariantCulture);
            TakeKeptRefsFromFile();

            // Ids in the file are all below the reserved mark; the max guards a file whose mark was lost.
            reservedIds = Math.Max(
                SqliteSchema.Scalar(writeConnection, "SELECT value FROM meta WHERE key = 'reserved_ids'"),
                SqliteSchema.Scalar(writeConnection, "SELECT coalesce(max(last_id), 0) FROM inbox_chunk"));
        }

        private void ThrowIfClosed()
        {
            if (closed)
            {
                throw new ObjectDisposedException(nameof(SqliteMessageStore));
            }
        }
    }
}
