using System;
using System.IO;
using System.Text;
using Microsoft.Data.Sqlite;

namespace Chatrm.Engine.Storage
{
    /// <summary>
    /// Opens a store file for writing after checking it is one: an SQLite file whose <c>application_id</c> is
    /// Chatrm's and whose <c>user_version</c> (the schema's version) this build knows, and that passes a quick check.
    /// A new or empty file gets the schema. Nothing is written to a file that fails a check.
    /// </summary>
    internal static class SqliteSchema
    {
        /// <summary>"Chtr": marks the file as a Chatrm store, where other programs' files have their own or 0.</summary>
        public const int ApplicationId = 0x43687472;

        public const int Version = 3;

        private static readonly byte[] SqliteHeader = Encoding.ASCII.GetBytes("SQLite format 3\0");

        private const string CreateVersion1 = @"
CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE known_user(name_key TEXT PRIMARY KEY, name TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE inbox(user_key TEXT NOT NULL, id INTEGER NOT NULL, sender TEXT NOT NULL, recipient TEXT NOT NULL,
    text TEXT NOT NULL, bytes INTEGER NOT NULL, sent_at INTEGER NOT NULL, ref TEXT);
CREATE INDEX inbox_user_id ON inbox(user_key, id);
CREATE TABLE conversation(key TEXT PRIMARY KEY, last_seq INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE history_chunk(conversation TEXT NOT NULL, first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL,
    first_sent_at INTEGER NOT NULL, last_sent_at INTEGER NOT NULL, body BLOB NOT NULL);
CREATE INDEX history_chunk_seq ON history_chunk(conversation, last_seq);
INSERT INTO meta(key, value) VALUES ('reserved_ids', 0);
";

        // Each step takes a file from the version before its index to its index, in one transaction: its SQL, then
        // (if any) what it does in code.
        private static readonly (string Sql, Action<SqliteConnection, SqliteTransaction> Then)[] Upgrades =
        {
            (null, null),
            (null, null),

            // 2: the resume tokens' refs a graceful stop keeps for the next start (KeptRef); empty while a server runs.
            (@"
CREATE TABLE kept_ref(user_name TEXT NOT NULL, token_hash TEXT NOT NULL, ref TEXT NOT NULL, id INTEGER NOT NULL,
    recipient TEXT NOT NULL, sent_at INTEGER NOT NULL, fate INTEGER NOT NULL, reason TEXT, message TEXT,
    seq INTEGER NOT NULL, recipients INTEGER NOT NULL);
", null),

            // 3: an inbox row holds a run of one user's messages (InboxChunk) instead of one message; the rows of
            // table inbox move into it (SqliteInboxUpgrade) and the table goes.
            (@"
CREATE TABLE inbox_chunk(user_key TEXT NOT NULL, first_id INTEGER NOT NULL, last_id INTEGER NOT NULL,
    messages INTEGER NOT NULL, bytes INTEGER NOT NULL, first_sent_at INTEGER NOT NULL, last_sent_at INTEGER NOT NULL,
    body BLOB NOT NULL);
CREATE INDEX inbox_chunk_user ON inbox_chunk(user_key, first_id);
", SqliteInboxUpgrade.MoveRowsIntoChunks),
        };

        public static string ConnectionString(string path, bool readOnly) => new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = readOnly ? SqliteOpenMode.ReadOnly : SqliteOpenMode.ReadWriteCreate,
            // The store keeps its two connections for its life; a pooled one would keep the file open after Dispose.
            Pooling = false,
            DefaultTimeout = 30,
        }.ToString();

        /// <summary>The writer's connection, checked, with the schema in place, in WAL mode with synchronous=NORMAL.</summary>
        public static SqliteConnection OpenForWriting(string path)
        {
            RefuseNonSqlite(path);
            var connection = new SqliteConnection(ConnectionString(path, readOnly: false));
            try
            {
                connection.Open();
                long applicationId = Scalar(connection, "PRAGMA application_id");
                long version = Scalar(connection, "PRAGMA user_version");
                bool empty = Scalar(connection, "SELECT count(*) FROM sqlite_master") == 0;
                if (applicationId == 0 && version == 0 && empty)
                {
                    Create(connection);
                }
                else if (applicationId != ApplicationId)
                {
                    throw new StoreOpenException(path, $"'{path}' is an SQLite file of another program, not a Chatrm message store; it was left as it is. Give -StorePath a new file.");
                }
                else if (version > Version)
                {
                    throw new StoreOpenException(path, $"The message store '{path}' has schema version {version}, made by a newer Chatrm than this one (which knows up to {Version}); it was left as it is. Use that newer Chatrm.");
                }

                string check = (string)Command(connection, "PRAGMA quick_check(1)").ExecuteScalar();
                if (check != "ok")
                {
                    throw Damaged(path, check, null);
                }

                // Only a file that passed every check is upgraded (a new one was just made at version 1).
                Upgrade(connection, Scalar(connection, "PRAGMA user_version"));

                string mode = (string)Command(connection, "PRAGMA journal_mode=WAL").ExecuteScalar();
                if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
                {
                    throw new StoreOpenException(path, $"The message store '{path}' could not be put in WAL mode (it stayed '{mode}').");
                }

                Command(connection, "PRAGMA synchronous=NORMAL").ExecuteNonQuery();
                return connection;
            }
            catch (StoreOpenException)
            {
                connection.Dispose();
                throw;
            }
            catch (SqliteException ex)
            {
                connection.Dispose();
                throw Damaged(path, ex.Message, ex);
            }
        }

        public static SqliteCommand Command(SqliteConnection connection, string sql)
        {
            SqliteCommand command = connection.CreateCommand();
            command.CommandText = sql;
            return command;
        }

        public static long Scalar(SqliteConnection connection, string sql)
        {
            using (SqliteCommand command = Command(connection, sql))
            {
                return Convert.ToInt64(command.ExecuteScalar() ?? 0L);
            }
        }

        private static StoreOpenException Damaged(string path, string detail, Exception inner) =>
            new StoreOpenException(path, $"The message store '{path}' is damaged and cannot be read ({detail}); it was left as it is. Restore it from a backup, or move it away to start an empty store.", inner);

        /// <summary>A file that does not start as SQLite files do is refused before SQLite sees it (and before it could write to it).</summary>
        private static void RefuseNonSqlite(string path)
        {
            var info = new FileInfo(path);
            if (!info.Exists || info.Length == 0)
            {
                return;
            }

            var header = new byte[SqliteHeader.Length];
            int read;
            using (var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
            {
                read = file.Read(header, 0, header.Length);
            }

            for (int i = 0; i < header.Length; i++)
            {
                if (read < header.Length || header[i] != SqliteHeader[i])
                {
                    throw new StoreOpenException(path, $"'{path}' is not a Chatrm message store (it is not an SQLite file, or its start is damaged); it was left as it is. Give -StorePath a new file.");
                }
            }
        }

        private static void Create(SqliteConnection connection)
        {
            using (SqliteTransaction transaction = connection.BeginTransaction())
            {
                using (SqliteCommand command = Command(connection, CreateVersion1 + $"PRAGMA application_id = {ApplicationId}; PRAGMA user_version = 1;"))
                {
                    command.Transaction = transaction;
                    command.ExecuteNonQuery();
                }

                transaction.Commit();
            }
        }

        /// <summary>Takes the file from <paramref name="version"/> to <see cref="Version"/>, one version at a time, each in a transaction.</summary>
        private static void Upgrade(SqliteConnection connection, long version)
        {
            for (long next = version + 1; next <= Version; next++)
            {
                using (SqliteTransaction transaction = connection.BeginTransaction())
                {
                    using (SqliteCommand command = Command(connection, Upgrades[next].Sql + $"PRAGMA user_version = {next};"))
                    {
                        command.Transaction = transaction;
                        command.ExecuteNonQuery();
                    }

                    Upgrades[next].Then?.Invoke(connection, transaction);

                    transaction.Commit();
                }
            }
        }
    }
}
