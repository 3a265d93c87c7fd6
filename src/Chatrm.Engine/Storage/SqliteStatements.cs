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
            InsertInbox = Make(connection,
                "INSERT INTO inbox(user_key, id, sender, recipient, text, bytes, sent_at, ref) VALUES ($user, $id, $sender, $recipient, $text, $bytes, $sent, $ref)",
                "$user", "$id", "$sender", "$recipient", "$text", "$bytes", "$sent", "$ref");
            DeleteInbox = Make(connection, "DELETE FROM inbox WHERE user_key = $user AND id = $id RETURNING bytes", "$user", "$id");
            InsertChunk = Make(connection,
                "INSERT INTO history_chunk(conversation, first_seq, last_seq, first_sent_at, last_sent_at, body) VALUES ($c, $first, $last, $firstAt, $lastAt, $body)",
                "$c", "$first", "$last", "$firstAt", "$lastAt", "$body");
            UpdateConversation = Make(connection,
                "INSERT INTO conversation(key, last_seq) VALUES ($c, $seq) ON CONFLICT(key) DO UPDATE SET last_seq = max(last_seq, excluded.last_seq)",
                "$c", "$seq");
            ExpireInbox = Make(connection, "DELETE FROM inbox WHERE sent_at < $cutoff RETURNING user_key, bytes", "$cutoff");
            ExpireHistory = Make(connection, "DELETE FROM history_chunk WHERE last_sent_at < $cutoff", "$cutoff");
        }

        public SqliteCommand RememberUser { get; }

        public SqliteCommand InsertInbox { get; }

        public SqliteCommand DeleteInbox { get; }

        public SqliteCommand InsertChunk { get; }

        public SqliteCommand UpdateConversation { get; }

        public SqliteCommand ExpireInbox { get; }

        public SqliteCommand ExpireHistory { get; }

        public void Use(SqliteTransaction transaction)
        {
            RememberUser.Transaction = transaction;
            InsertInbox.Transaction = transaction;
            DeleteInbox.Transaction = transaction;
            InsertChunk.Transaction = transaction;
            UpdateConversation.Transaction = transaction;
            ExpireInbox.Transaction = transaction;
            ExpireHistory.Transaction = transaction;
        }

        public void Dispose()
        {
            RememberUser.Dispose();
            InsertInbox.Dispose();
            DeleteInbox.Dispose();
            InsertChunk.Dispose();
            UpdateConversation.Dispose();
            ExpireInbox.Dispose();
            ExpireHistory.Dispose();
        }

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
