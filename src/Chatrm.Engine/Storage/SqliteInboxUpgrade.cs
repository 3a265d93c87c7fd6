using System;
using System.Collections.Generic;
using Microsoft.Data.Sqlite;

namespace Chatrm.Engine.Storage
{
    /// <summary>
    /// Schema 2 to 3, in the upgrade's transaction: each user's rows of the old table inbox (one message a row) become
    /// rows of inbox_chunk (a run of messages a row, <see cref="InboxChunk"/>), in id order, and the old table goes.
    /// </summary>
    internal static class SqliteInboxUpgrade
    {
        public static void MoveRowsIntoChunks(SqliteConnection connection, SqliteTransaction transaction)
        {
            var chunk = new InboxChunk();
            var run = new List<StoredMessage>();
            string user = null;
            using (SqliteCommand read = SqliteSchema.Command(connection, "SELECT user_key, id, sender, recipient, text, sent_at, ref FROM inbox ORDER BY user_key, id"))
            using (SqliteCommand insert = SqliteStatements.MakeInsertInboxChunk(connection))
            {
                read.Transaction = transaction;
                insert.Transaction = transaction;
                using (SqliteDataReader row = read.ExecuteReader())
                {
                    while (row.Read())
                    {
                        string key = row.GetString(0);
                        if (user != null && (key != user || run.Count == SqliteMessageStore.InboxChunkMessages))
                        {
                            SqliteMessageStore.InsertInboxChunk(insert, chunk, user, run, 0, run.Count);
                            run.Clear();
                        }

                        user = key;
                        run.Add(new StoredMessage
                        {
                            Id = row.GetInt64(1),
                            From = row.GetString(2),
                            To = row.GetString(3),
                            Text = row.GetString(4),
                            SentAt = new DateTime(row.GetInt64(5), DateTimeKind.Utc),
                            SenderRef = row.IsDBNull(6) ? null : row.GetString(6),
                        });
                    }
                }

                if (run.Count > 0)
                {
                    SqliteMessageStore.InsertInboxChunk(insert, chunk, user, run, 0, run.Count);
                }
            }

            using (SqliteCommand drop = SqliteSchema.Command(connection, "DROP TABLE inbox"))
            {
                drop.Transaction = transaction;
                drop.ExecuteNonQuery();
            }
        }
    }
}
