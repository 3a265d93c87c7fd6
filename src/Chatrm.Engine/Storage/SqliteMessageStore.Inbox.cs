using System;
using System.Collections.Generic;
using Microsoft.Data.Sqlite;

namespace Chatrm.Engine.Storage
{
    /// <summary>
    /// The inbox in the file (table inbox_chunk): a batch's offline messages go in as one row per recipient of up to
    /// <see cref="InboxChunkMessages"/> messages (<see cref="InboxChunk"/>); a confirm or expiry rewrites the rows that
    /// held what it takes out, or deletes a row left empty. A batch's writes come out as they would one by one: a
    /// confirm takes its id from the batch's own messages before it and from the file, never from a later message.
    /// </summary>
    internal sealed partial class SqliteMessageStore
    {
        /// <summary>An inbox row holds at most this many messages, so a confirm or a read decodes little past what it wants.</summary>
        internal const int InboxChunkMessages = 256;

        // This batch's offline messages by recipient's key, and the ids it confirms by user's key; on the writer.
        private readonly Dictionary<string, List<StoredMessage>> byInbox = new Dictionary<string, List<StoredMessage>>(StringComparer.Ordinal);
        private readonly Dictionary<string, HashSet<long>> confirms = new Dictionary<string, HashSet<long>>(StringComparer.Ordinal);
        private readonly InboxChunk inboxEncoder = new InboxChunk();
        private readonly List<StoredMessage> kept = new List<StoredMessage>();
        private readonly List<(long Row, byte[] Body)> found = new List<(long Row, byte[] Body)>();

        // Confirms queued and not yet committed, by user's key, under queueGate: a read leaves them out, so a login
        // right after an ack does not get the acked message again from a file the confirm has not reached yet.
        private readonly Dictionary<string, HashSet<long>> confirmsInFlight = new Dictionary<string, HashSet<long>>(StringComparer.Ordinal);

        /// <summary>Under queueGate, as a confirm is queued.</summary>
        private void ConfirmQueuedHoldingGate(StoreWrite write)
        {
            if (!confirmsInFlight.TryGetValue(write.Key, out HashSet<long> ids))
            {
                ids = new HashSet<long>();
                confirmsInFlight.Add(write.Key, ids);
            }

            ids.Add(write.Id);
        }

        /// <summary>After a batch's transaction ended: its confirms are in the file now, or (failed) the messages stay in it.</summary>
        private void ConfirmsSettled(List<StoreWrite> batch)
        {
            lock (queueGate)
            {
                if (confirmsInFlight.Count == 0)
                {
                    // A batch of history and offline messages only: no scan under the lock producers wait on.
                    return;
                }

                foreach (StoreWrite write in batch)
                {
                    if (write.Kind == StoreWriteKind.ConfirmInbox && confirmsInFlight.TryGetValue(write.Key, out HashSet<long> ids) &&
                        ids.Remove(write.Id) && ids.Count == 0)
                    {
                        confirmsInFlight.Remove(write.Key);
                    }
                }
            }
        }

        /// <summary>A copy of the user's confirms not committed yet, taken before the file is read; null for none.</summary>
        private HashSet<long> ConfirmsInFlight(string key)
        {
            lock (queueGate)
            {
                return confirmsInFlight.TryGetValue(key, out HashSet<long> ids) ? new HashSet<long>(ids) : null;
            }
        }

        private void QueueInbox(StoreWrite write)
        {
            if (!byInbox.TryGetValue(write.Key, out List<StoredMessage> messages))
            {
                messages = new List<StoredMessage>();
                byInbox.Add(write.Key, messages);
            }

            messages.Add(write.Message);
        }

        private void QueueConfirm(StoreWrite write)
        {
            // One of this batch's own messages leaves before it reaches the file (its sender still hears Stored).
            if (byInbox.TryGetValue(write.Key, out List<StoredMessage> messages))
            {
                for (int i = messages.Count - 1; i >= 0; i--)
                {
                    if (messages[i].Id == write.Id)
                    {
                        released.Add((write.Key, InboxQuota.BytesOf(messages[i])));
                        messages.RemoveAt(i);
                    }
                }
            }

            if (!confirms.TryGetValue(write.Key, out HashSet<long> ids))
            {
                ids = new HashSet<long>();
                confirms.Add(write.Key, ids);
            }

            ids.Add(write.Id);
        }

        /// <summary>The batch's confirms against what the file held before it, then the batch's messages as rows.</summary>
        private void WriteInbox()
        {
            foreach (KeyValuePair<string, HashSet<long>> pair in confirms)
            {
                TakeConfirmed(pair.Key, pair.Value);
            }

            foreach (KeyValuePair<string, List<StoredMessage>> pair in byInbox)
            {
                List<StoredMessage> messages = pair.Value;
                for (int start = 0; start < messages.Count; start += InboxChunkMessages)
                {
                    InsertInboxChunk(statements.InsertInboxChunk, inboxEncoder, pair.Key, messages, start, Math.Min(InboxChunkMessages, messages.Count - start));
                }
            }
        }

        private void ClearInboxBatch()
        {
            byInbox.Clear();
            confirms.Clear();
        }

        internal static void InsertInboxChunk(SqliteCommand insert, InboxChunk chunk, string user, List<StoredMessage> messages, int start, int count)
        {
            chunk.Encode(messages, start, count);
            SqliteParameterCollection p = insert.Parameters;
            p[0].Value = user;
            p[1].Value = chunk.FirstId;
            p[2].Value = chunk.LastId;
            p[3].Value = count;
            p[4].Value = chunk.Bytes;
            p[5].Value = chunk.FirstSentAt;
            p[6].Value = chunk.LastSentAt;
            p[7].Value = chunk.Buffer;
            p[7].Size = chunk.Length;
            insert.ExecuteNonQuery();
        }

        private void TakeConfirmed(string user, HashSet<long> ids)
        {
            long least = long.MaxValue, most = long.MinValue;
            foreach (long id in ids)
            {
                least = Math.Min(least, id);
                most = Math.Max(most, id);
            }

            SqliteParameterCollection p = statements.FindInboxChunks.Parameters;
            p[0].Value = user;
            p[1].Value = most;
            p[2].Value = least;
            found.Clear();
            using (SqliteDataReader row = statements.FindInboxChunks.ExecuteReader())
            {
                while (row.Read())
                {
                    found.Add((row.GetInt64(0), (byte[])row.GetValue(1)));
                }
            }

            foreach ((long rowId, byte[] body) in found)
            {
                Rewrite(rowId, user, body, message => ids.Contains(message.Id), released);
            }
        }

        /// <summary>Takes out of one row the messages <paramref name="leaves"/> picks, counting each in <paramref name="freed"/>.</summary>
        private void Rewrite(long rowId, string user, byte[] body, Predicate<StoredMessage> leaves, List<(string User, long Bytes)> freed)
        {
            kept.Clear();
            InboxChunk.Decode(body, kept);
            int before = kept.Count;
            for (int i = kept.Count - 1; i >= 0; i--)
            {
                if (leaves(kept[i]))
                {
                    freed.Add((user, InboxQuota.BytesOf(kept[i])));
                    kept.RemoveAt(i);
                }
            }

            if (kept.Count == before)
            {
                return;
            }

            if (kept.Count == 0)
            {
                statements.DeleteInboxChunk.Parameters[0].Value = rowId;
                statements.DeleteInboxChunk.ExecuteNonQuery();
                return;
            }

            inboxEncoder.Encode(kept, 0, kept.Count);
            SqliteParameterCollection p = statements.RewriteInboxChunk.Parameters;
            p[0].Value = inboxEncoder.FirstId;
            p[1].Value = inboxEncoder.LastId;
            p[2].Value = kept.Count;
            p[3].Value = inboxEncoder.Bytes;
            p[4].Value = inboxEncoder.FirstSentAt;
            p[5].Value = inboxEncoder.LastSentAt;
            p[6].Value = inboxEncoder.Buffer;
            p[6].Size = inboxEncoder.Length;
            p[7].Value = rowId;
            statements.RewriteInboxChunk.ExecuteNonQuery();
        }

        /// <summary>Takes every message sent before <paramref name="cutoff"/> (UTC ticks) out of the inbox rows, in the caller's transaction.</summary>
        private void ExpireInbox(long cutoff, List<(string User, long Bytes)> freed)
        {
            var expiring = new List<(long Row, string User, byte[] Body)>();
            statements.ExpiringInboxChunks.Parameters[0].Value = cutoff;
            using (SqliteDataReader row = statements.ExpiringInboxChunks.ExecuteReader())
            {
                while (row.Read())
                {
                    expiring.Add((row.GetInt64(0), row.GetString(1), (byte[])row.GetValue(2)));
                }
            }

            foreach ((long rowId, string user, byte[] body) in expiring)
            {
                Rewrite(rowId, user, body, message => message.SentAt.Ticks < cutoff, freed);
            }
        }
    }
}
