using System;
using Microsoft.Data.Sqlite;

namespace Chatrm.Engine.Storage
{
    /// <summary>The writer's prepared statements, made once on its connection and given each transaction in turn.</summary>
    internal sealed class SqliteStatements : IDisposable
    {
        public SqliteStatements(SqliteConnection connection)
        {
            RememberUser = Make(connection, "INSERT OR IGNORE INTO known_user(name_key, name) VALUES ($key, $name)", "$key", "$name");
            InsertInboxChunk = MakeInsertInboxChunk(connection);
            FindInboxChunks = Make(connection,
                "SELECT rowid, body FROM inbox_chunk WHERE user_key = $user AND first_id <= $most AND last_id >= $least",
                "$user", "$most", "$least");
            RewriteInboxChunk = Make(connection,
                "UPDATE inbox_chunk SET first_id = $first, last_id = $last, messages = $n, bytes = $bytes, first_sent_at = $firstAt, last_sent_at = $lastAt, body = $body WHERE rowid = $row",
                "$first", "$last", "$n", "$bytes", "$firstAt", "$lastAt", "$body", "$row");
            DeleteInboxChunk = Make(connection, "DELETE FROM inbox_chunk WHERE rowid = $row", "$row");
            InsertChunk = Make(connection,
                "INSERT INTO history_chunk(conversation, first_seq, last_seq, first_sent_at, last_sent_at, body) VALUES ($c, $first, $last, $firstAt, $lastAt, $body)",
                "$c", "$first", "$last", "$firstAt", "$lastAt", "$body");
            UpdateConversation = Make(connection,
                "INSERT INTO conversation(key, last_seq) VALUES ($c, $seq) ON CONFLICT(key) DO UPDATE SET last_seq = max(last_seq, excluded.last_seq)",
                "$c", "$seq");
            ExpiringInboxChunks = Make(connection, "SELECT rowid, user_key, body FROM inbox_chunk WHERE first_sent_at < $cutoff", "$cutoff");
            ExpireHistory = Make(connection, "DELETE FROM history_chunk WHERE last_sent_at < $cutoff", "$cutoff");
        }

        public SqliteCommand RememberUser { get; }

        /// <summary>A run of one user's inbox as one row (<see cref="InboxChunk"/>).</summary>
        public SqliteCommand InsertInboxChunk { get; }

        /// <summary>A user's inbox rows whose id range meets a range: where confirmed ids may be.</summary>
        public SqliteCommand FindInboxChunks { get; }

        /// <summary>An inbox row with fewer messages than it had (some confirmed or expired).</summary>
        public SqliteCommand RewriteInboxChunk { get; }

        public SqliteCommand DeleteInboxChunk { get; }

        public SqliteCommand InsertChunk { get; }

        public SqliteCommand UpdateConversation { get; }

        /// <summary>Inbox rows holding a message older than the cutoff.</summary>
        public SqliteCommand ExpiringInboxChunks { get; }

        public SqliteCommand ExpireHistory { get; }

        public void Use(SqliteTransaction transaction)
        {
            RememberUser.Transaction = transaction;
            InsertInboxChunk.Transaction = transaction;
            FindInboxChunks.Transaction = transaction;
            RewriteInboxChunk.Transaction = transaction;
            DeleteInboxChunk.Transaction = transaction;
            InsertChunk.Transaction = transaction;
            UpdateConversation.Transaction = transaction;
            ExpiringInboxChunks.Transaction = transaction;
            ExpireHistory.Transaction = transaction;
        }

        public void Dispose()
        {
            RememberUser.Dispose();
            InsertInboxChunk.Dispose();
            FindInboxChunks.Dispose();
            RewriteInboxChunk.Dispose();
            DeleteInboxChunk.Dispose();
            InsertChunk.Dispose();
            UpdateConversation.Dispose();
            ExpiringInboxChunks.Dispose();
            ExpireHistory.Dispose();
        }

        /// <summary>Also the schema upgrade's, which moves old inbox rows into chunks before a store has statements.</summary>
        public static SqliteCommand MakeInsertInboxChunk(SqliteConnection connection) => Make(connection,
            "INSERT INTO inbox_chunk(user_key, first_id, last_id, messages, bytes, first_sent_at, last_sent_at, body) VALUES ($user, $first, $last, $n, $bytes, $firstAt, $lastAt, $body)",
            "$user", "$first", "$last", "$n", "$bytes", "$firstAt", "$lastAt", "$body");

        private static SqliteCommand Make(SqliteConnection connection, string sql, params string[] names)
        {
            SqliteCommand command = SqliteSchema.Command(connection, sql);
            foreach (string name in names)
            {
                command.Parameters.Add(new SqliteParameter { ParameterName = name });
            }

            return command;
        }
    }
}
