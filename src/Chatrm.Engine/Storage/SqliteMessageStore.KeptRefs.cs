using System;
using System.Collections.Generic;
using System.Threading;
using Microsoft.Data.Sqlite;

namespace Chatrm.Engine.Storage
{
    /// <summary>
    /// The resume tokens' refs from one graceful stop to the next start (table kept_ref): written once as the stop
    /// ends, read and deleted once as the next start opens the file, so the table is empty while a server runs.
    /// </summary>
    internal sealed partial class SqliteMessageStore
    {
        private const string KeptRefColumns = "user_name, token_hash, ref, id, recipient, sent_at, fate, reason, message, seq, recipients";

        // Read at open, handed to the server once.
        private IReadOnlyList<KeptRef> keptRefs = Array.Empty<KeptRef>();

        // Set once by Dispose: KeepRefs may come after the writer stopped, never after this.
        private int disposed;

        public IReadOnlyList<KeptRef> TakeKeptRefs() => Interlocked.Exchange(ref keptRefs, Array.Empty<KeptRef>());

        public void FinishWrites() => StopWriter();

        public void KeepRefs(IReadOnlyCollection<KeptRef> refs)
        {
            lock (writeGate)
            {
                if (Volatile.Read(ref disposed) != 0)
                {
                    throw new ObjectDisposedException(nameof(SqliteMessageStore));
                }

                using (SqliteTransaction transaction = writeConnection.BeginTransaction())
                using (SqliteCommand clear = SqliteSchema.Command(writeConnection, "DELETE FROM kept_ref"))
                using (SqliteCommand insert = SqliteSchema.Command(writeConnection,
                    "INSERT INTO kept_ref(" + KeptRefColumns + ") VALUES ($u, $t, $r, $id, $to, $at, $f, $reason, $message, $seq, $n)"))
                {
                    clear.Transaction = transaction;
                    clear.ExecuteNonQuery();
                    insert.Transaction = transaction;
                    foreach (string name in new[] { "$u", "$t", "$r", "$id", "$to", "$at", "$f", "$reason", "$message", "$seq", "$n" })
                    {
                        insert.Parameters.Add(new SqliteParameter { ParameterName = name });
                    }

                    SqliteParameterCollection p = insert.Parameters;
                    foreach (KeptRef kept in refs)
                    {
                        p[0].Value = kept.UserName;
                        p[1].Value = kept.TokenHash;
                        p[2].Value = kept.Ref;
                        p[3].Value = kept.Id;
                        p[4].Value = kept.To ?? string.Empty;
                        p[5].Value = kept.SentAt.ToUniversalTime().Ticks;
                        p[6].Value = kept.Fate;
                        p[7].Value = (object)kept.Reason ?? DBNull.Value;
                        p[8].Value = (object)kept.Message ?? DBNull.Value;
                        p[9].Value = kept.Seq;
                        p[10].Value = kept.Recipients;
                        insert.ExecuteNonQuery();
                    }

                    transaction.Commit();
                }
            }
        }

        /// <summary>At open: the last stop's refs, oldest first, taken out of the file in the same transaction.</summary>
        private void TakeKeptRefsFromFile()
        {
            var read = new List<KeptRef>();
            using (SqliteTransaction transaction = writeConnection.BeginTransaction())
            {
                using (SqliteCommand select = SqliteSchema.Command(writeConnection, "SELECT " + KeptRefColumns + " FROM kept_ref ORDER BY sent_at, rowid"))
                {
                    select.Transaction = transaction;
                    using (SqliteDataReader row = select.ExecuteReader())
                    {
                        while (row.Read())
                        {
                            read.Add(new KeptRef
                            {
                                UserName = row.GetString(0),
                                TokenHash = row.GetString(1),
                                Ref = row.GetString(2),
                                Id = row.GetInt64(3),
                                To = row.GetString(4),
                                SentAt = new DateTime(row.GetInt64(5), DateTimeKind.Utc),
                                Fate = row.GetInt32(6),
                                Reason = row.IsDBNull(7) ? null : row.GetString(7),
                                Message = row.IsDBNull(8) ? null : row.GetString(8),
                                Seq = row.GetInt64(9),
                                Recipients = row.GetInt32(10),
                            });
                        }
                    }
                }

                using (SqliteCommand clear = SqliteSchema.Command(writeConnection, "DELETE FROM kept_ref"))
                {
                    clear.Transaction = transaction;
                    clear.ExecuteNonQuery();
                }

                transaction.Commit();
            }

            keptRefs = read;
        }
    }
}
