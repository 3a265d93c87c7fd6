using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Chatrm.Engine.Storage;
using Microsoft.Data.Sqlite;
using Xunit;

namespace Chatrm.Engine.Tests.Storage
{
    /// <summary>The contract, against a store file in a temporary folder.</summary>
    public sealed class SqliteMessageStoreContractTests : MessageStoreContract
    {
        private readonly StoreFolder folder = new StoreFolder();
        private int files;

        internal override IMessageStore Make(StoreLimits limits, TimeProvider time) =>
            SqliteMessageStore.Open(folder.File("store" + (++files) + ".db"), limits, time);

        public override void Dispose()
        {
            base.Dispose();
            folder.Dispose();
        }
    }

    /// <summary>What only a file does: it outlives the server, it is locked, it is checked, it can fill up.</summary>
    public sealed class SqliteMessageStoreTests : IDisposable
    {
        private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);
        private readonly StoreFolder folder = new StoreFolder();
        private readonly string path;

        public SqliteMessageStoreTests()
        {
            path = folder.File("chatrm.db");
        }

        public void Dispose() => folder.Dispose();

        private static StoredMessage Message(long id, string from, string to, string text) =>
            new StoredMessage { Id = id, From = from, To = to, Text = text, SentAt = DateTime.UtcNow, SenderRef = "ref" + id };

        private static SqliteMessageStore Open(string file, StoreLimits limits = null) =>
            SqliteMessageStore.Open(file, limits ?? new StoreLimits(), TimeProvider.System);

        [Fact]
        public async Task A_reopened_store_has_everything_it_committed()
        {
            long ids;
            using (SqliteMessageStore store = Open(path))
            {
                ids = store.ReserveIds(1_000_000);
                store.RememberUser("Alice");
                await MessageStoreContract.StoreAsync(store, Message(7, "alice", "bob", "while you were away"));
                for (int i = 1; i <= 600; i++)
                {
                    store.AppendHistory(Message(100 + i, "alice", "bob", "line " + i));
                }

                var post = Message(1000, "alice", "#ops", "room post");
                post.Seq = 41;
                store.AppendHistory(post);
            }

            using (SqliteMessageStore store = Open(path))
            {
                Assert.True(store.IsKnownUser("alice"));
                StoredMessage waiting = Assert.Single(store.ReadInbox("bob", 10));
                Assert.Equal(7, waiting.Id);
                Assert.Equal("ref7", waiting.SenderRef);
                Assert.True(store.ReserveIds(1_000_000) >= ids + 1_000_000);
                Assert.Equal(41, store.LastRoomSeq("#OPS"));

                string key = Conversations.Direct("alice", "bob");
                Assert.Equal(Enumerable.Range(1, 600).Select(i => (long)i), store.ReadHistory(key, 1000, 0, 0).Select(m => m.Seq));
                Assert.Equal(new long[] { 299, 300 }, store.ReadHistory(key, 2, 301, 0).Select(m => m.Seq));

                var next = Message(2000, "bob", "alice", "carries on");
                store.AppendHistory(next);
                Assert.Equal(601, next.Seq);
            }
        }

        [Fact]
        public void History_is_kept_as_one_row_per_conversation_per_commit()
        {
            using (SqliteMessageStore store = Open(path))
            {
                // The held writer takes a first batch of one and waits; the hundred behind it go in one commit.
                store.PauseWriter();
                store.AppendHistory(Message(1000, "alice", "dave", "first"));
                Assert.True(SpinWait.SpinUntil(() => store.QueuedBytes == 0, Deadline));
                for (int i = 0; i < 100; i++)
                {
                    store.AppendHistory(Message(i, "alice", i % 2 == 0 ? "bob" : "carol", "line"));
                }

                store.ResumeWriter();
                Assert.True(store.Flush(Deadline));
            }

            Assert.Equal(3, CountRows("history_chunk"));
        }

        [Fact]
        public async Task The_inbox_is_kept_as_one_row_per_recipient_per_commit_and_a_confirm_rewrites_only_its_rows()
        {
            using (SqliteMessageStore store = Open(path))
            {
                // The held writer takes a first batch of one and waits; the 310 behind it go in one commit.
                store.PauseWriter();
                var stored = new CountdownEvent(311);
                store.StoreOffline(Message(1000, "alice", "dave", "first"), r => stored.Signal());
                Assert.True(SpinWait.SpinUntil(() => store.QueuedBytes == 0, Deadline));
                for (int i = 1; i <= 310; i++)
                {
                    store.StoreOffline(Message(i, "alice", i <= 300 ? "bob" : "carol", "m" + i), r => stored.Signal());
                }

                store.ResumeWriter();
                Assert.True(stored.Wait(Deadline));
                Assert.Equal(4, CountRows("inbox_chunk")); // dave's; bob's 256 and 44; carol's 10

                // All of bob's first row and one of his second: the first row goes, the second is written again.
                for (int i = 1; i <= 257; i++)
                {
                    store.ConfirmInbox("bob", i);
                }

                Assert.True(store.Flush(Deadline));
                Assert.Equal(3, CountRows("inbox_chunk"));
                Assert.Equal(Enumerable.Range(258, 43).Select(i => (long)i), store.ReadInbox("bob", 1000).Select(m => m.Id));
                Assert.Equal(10, store.ReadInbox("carol", 1000).Count);
            }

            // What the file holds is counted again at open: bob has 43 of his 44.
            using (SqliteMessageStore store = Open(path, new StoreLimits { MaxInboxMessages = 44 }))
            {
                Assert.Equal(StoreOutcome.Stored, (await MessageStoreContract.StoreAsync(store, Message(400, "alice", "bob", "one more"))).Outcome);
                Assert.Equal(StoreOutcome.InboxFull, (await MessageStoreContract.StoreAsync(store, Message(401, "alice", "bob", "too many"))).Outcome);
                Assert.Equal("m258", store.ReadInbox("bob", 1)[0].Text);
            }
        }

        [Fact]
        public async Task A_confirmed_message_is_not_read_again_while_its_confirm_waits_for_the_writer()
        {
            using (SqliteMessageStore store = Open(path))
            {
                await MessageStoreContract.StoreAsync(store, Message(1, "alice", "bob", "one"));
                await MessageStoreContract.StoreAsync(store, Message(2, "alice", "bob", "two"));
                store.PauseWriter();
                store.ConfirmInbox("Bob", 1);

                // A login right after the ack reads the inbox before the writer commits the confirm.
                Assert.Equal(new long[] { 2 }, store.ReadInbox("bob", 10).Select(m => m.Id));

                store.ResumeWriter();
                Assert.True(store.Flush(Deadline));
                Assert.Equal(new long[] { 2 }, store.ReadInbox("bob", 10).Select(m => m.Id));
            }
        }

        [Fact]
        public async Task A_confirm_in_the_same_commit_as_its_message_takes_it_out_and_gives_back_its_room()
        {
            using (SqliteMessageStore store = Open(path, new StoreLimits { MaxInboxMessages = 2 }))
            {
                store.PauseWriter();
                var first = new ManualResetEventSlim();
                store.StoreOffline(Message(1, "alice", "dave", "first"), r => first.Set());
                Assert.True(SpinWait.SpinUntil(() => store.QueuedBytes == 0, Deadline));
                var outcomes = new List<StoreOutcome>();
                var both = new CountdownEvent(2);
                store.StoreOffline(Message(5, "alice", "bob", "five"), r => { lock (outcomes) outcomes.Add(r.Outcome); both.Signal(); });
                store.StoreOffline(Message(6, "alice", "bob", "six"), r => { lock (outcomes) outcomes.Add(r.Outcome); both.Signal(); });
                store.ConfirmInbox("bob", 5);
                store.ResumeWriter();
                Assert.True(both.Wait(Deadline));
                Assert.True(store.Flush(Deadline));

                Assert.Equal(new[] { StoreOutcome.Stored, StoreOutcome.Stored }, outcomes);
                Assert.Equal(new long[] { 6 }, store.ReadInbox("bob", 10).Select(m => m.Id));

                // Five's room came back: one more fits, the next does not.
                Assert.Equal(StoreOutcome.Stored, (await MessageStoreContract.StoreAsync(store, Message(7, "alice", "bob", "seven"))).Outcome);
                Assert.Equal(StoreOutcome.InboxFull, (await MessageStoreContract.StoreAsync(store, Message(8, "alice", "bob", "eight"))).Outcome);
            }
        }

        [Fact]
        public async Task An_inbox_reads_in_id_order_across_commits()
        {
            using (SqliteMessageStore store = Open(path))
            {
                // A message kept back after its recipient left has an older id than one stored before it.
                await MessageStoreContract.StoreAsync(store, Message(10, "alice", "bob", "newer"));
                await MessageStoreContract.StoreAsync(store, Message(3, "carol", "bob", "older"));
                await MessageStoreContract.StoreAsync(store, Message(7, "alice", "bob", "between"));

                Assert.Equal(new long[] { 3, 7, 10 }, store.ReadInbox("bob", 10).Select(m => m.Id));
                Assert.Equal(new long[] { 3, 7 }, store.ReadInbox("bob", 2).Select(m => m.Id));
            }
        }

        [Fact]
        public async Task A_version_2_file_is_upgraded_in_place_its_inbox_rows_becoming_chunks()
        {
            // A file as version 2 made it: one row per offline message in table inbox.
            long now = DateTime.UtcNow.Ticks;
            Raw(path, $@"
CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE known_user(name_key TEXT PRIMARY KEY, name TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE inbox(user_key TEXT NOT NULL, id INTEGER NOT NULL, sender TEXT NOT NULL, recipient TEXT NOT NULL,
    text TEXT NOT NULL, bytes INTEGER NOT NULL, sent_at INTEGER NOT NULL, ref TEXT);
CREATE INDEX inbox_user_id ON inbox(user_key, id);
CREATE TABLE conversation(key TEXT PRIMARY KEY, last_seq INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE history_chunk(conversation TEXT NOT NULL, first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL,
    first_sent_at INTEGER NOT NULL, last_sent_at INTEGER NOT NULL, body BLOB NOT NULL);
CREATE INDEX history_chunk_seq ON history_chunk(conversation, last_seq);
CREATE TABLE kept_ref(user_name TEXT NOT NULL, token_hash TEXT NOT NULL, ref TEXT NOT NULL, id INTEGER NOT NULL,
    recipient TEXT NOT NULL, sent_at INTEGER NOT NULL, fate INTEGER NOT NULL, reason TEXT, message TEXT,
    seq INTEGER NOT NULL, recipients INTEGER NOT NULL);
INSERT INTO meta(key, value) VALUES ('reserved_ids', 5000);
INSERT INTO known_user(name_key, name) VALUES ('bob', 'Bob');
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)
    INSERT INTO inbox SELECT 'bob', 301 - i, 'alice', 'Bob', 'm' || (301 - i), length('m' || (301 - i)), {now} + i, 'r' || (301 - i) FROM n;
INSERT INTO inbox VALUES ('carol', 9000, 'alice', 'Carol', 'héllo', 6, {now}, NULL);
PRAGMA application_id = {SqliteSchema.ApplicationId}; PRAGMA user_version = 2;");

            using (SqliteMessageStore store = Open(path, new StoreLimits { MaxInboxMessages = 301 }))
            {
                Assert.True(store.IsKnownUser("bob"));
                IReadOnlyList<StoredMessage> bob = store.ReadInbox("bob", 1000);
                Assert.Equal(Enumerable.Range(1, 300).Select(i => (long)i), bob.Select(m => m.Id));
                Assert.Equal(("alice", "Bob", "m42", "r42", new DateTime(now + 259, DateTimeKind.Utc)), (bob[41].From, bob[41].To, bob[41].Text, bob[41].SenderRef, bob[41].SentAt));
                StoredMessage carol = Assert.Single(store.ReadInbox("carol", 10));
                Assert.Equal(("héllo", (string)null), (carol.Text, carol.SenderRef));

                // Counted at open as before: bob's inbox has room for one more; ids go on above the file's.
                Assert.Equal(StoreOutcome.Stored, (await MessageStoreContract.StoreAsync(store, Message(9001, "alice", "bob", "one more"))).Outcome);
                Assert.Equal(StoreOutcome.InboxFull, (await MessageStoreContract.StoreAsync(store, Message(9002, "alice", "bob", "too many"))).Outcome);
                Assert.True(store.ReserveIds(10) >= 9000 + 10);

                store.ConfirmInbox("carol", 9000);
                Assert.True(store.Flush(Deadline));
                Assert.Empty(store.ReadInbox("carol", 10));
            }

            Assert.Equal(SqliteSchema.Version, Scalar(path, "PRAGMA user_version"));
            Assert.Equal(0, Scalar(path, "SELECT count(*) FROM sqlite_master WHERE name IN ('inbox', 'inbox_user_id')"));
            Assert.Equal(3, CountRows("inbox_chunk")); // bob's 256 and 44, and his one more (carol's went with its confirm)
        }

        [Fact]
        public void A_second_open_of_the_same_file_fails_clearly()
        {
            using (Open(path))
            {
                var refused = Assert.Throws<StoreOpenException>(() => Open(path));
                Assert.Contains("in use by another Chatrm server", refused.Message);
                Assert.Equal(Path.GetFullPath(path), refused.Path);
            }

            using (Open(path))
            {
                // Free again once the first is closed.
            }
        }

        [Fact]
        public void A_file_that_is_not_sqlite_is_refused_and_left_as_it_was()
        {
            File.WriteAllText(path, "my notes, not a database\n");
            byte[] before = File.ReadAllBytes(path);

            var refused = Assert.Throws<StoreOpenException>(() => Open(path));

            Assert.Contains("not a Chatrm message store", refused.Message);
            Assert.Equal(before, File.ReadAllBytes(path));
        }

        [Fact]
        public void Another_programs_sqlite_file_is_refused_and_left_as_it_was()
        {
            Raw(path, "CREATE TABLE orders(id INTEGER PRIMARY KEY, item TEXT); INSERT INTO orders(item) VALUES ('tea');");
            byte[] before = File.ReadAllBytes(path);

            var refused = Assert.Throws<StoreOpenException>(() => Open(path));

            Assert.Contains("another program", refused.Message);
            Assert.Equal(before, File.ReadAllBytes(path));
        }

        [Fact]
        public void A_newer_schema_is_refused_and_left_byte_identical()
        {
            Raw(path, $"CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER); PRAGMA application_id = {SqliteSchema.ApplicationId}; PRAGMA user_version = 99;");
            byte[] before = File.ReadAllBytes(path);

            var refused = Assert.Throws<StoreOpenException>(() => Open(path));

            Assert.Contains("schema version 99", refused.Message);
            Assert.Equal(before, File.ReadAllBytes(path));
            Assert.False(File.Exists(path + "-wal"));
        }

        [Fact]
        public void A_damaged_file_is_refused_and_left_as_it_was()
        {
            using (SqliteMessageStore store = Open(path))
            {
                for (int i = 0; i < 2000; i++)
                {
                    store.AppendHistory(Message(i, "alice", "user" + (i % 50), new string('x', 200)));
                }
            }

            // Checkpointed and closed; now scribble over the pages after the first (the schema's).
            byte[] bytes = File.ReadAllBytes(path);
            Assert.True(bytes.Length > 16 * 4096);
            var noise = new Random(16);
            for (int i = 4096; i < bytes.Length; i += 512)
            {
                bytes[i + noise.Next(512)] = (byte)noise.Next(256);
                bytes[i + 3] ^= 0x5A;
            }

            File.WriteAllBytes(path, bytes);

            var refused = Assert.Throws<StoreOpenException>(() => Open(path));

            Assert.Contains("damaged", refused.Message);
            Assert.Equal(bytes, File.ReadAllBytes(path));
        }

        [Fact]
        public async Task A_full_file_fails_that_batch_with_a_reason_and_the_writer_goes_on()
        {
            using (SqliteMessageStore store = Open(path))
            {
                store.LimitPages(store.PageCount() + 2);
                var outcomes = new List<StoreResult>();
                for (int i = 1; i <= 50 && !outcomes.Any(r => r.Outcome == StoreOutcome.Failed); i++)
                {
                    outcomes.Add(await MessageStoreContract.StoreAsync(store, Message(i, "alice", "bob", new string('x', 3000))));
                }

                StoreResult failed = outcomes.Last();
                Assert.Equal(StoreOutcome.Failed, failed.Outcome);
                Assert.Contains("full", failed.Reason);

                // History and tickets still move, so a Delivered that waits on a commit is not held for ever.
                long ticket = store.AppendHistory(Message(99, "alice", "carol", new string('y', 9000)));
                var committed = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
                store.WhenCommitted(ticket, () => committed.SetResult(true));
                Assert.True(await Task.WhenAny(committed.Task, Task.Delay(Deadline)) == committed.Task);

                // Room again (space freed, as by an operator): the writer took the failure and goes on.
                store.LimitPages(1_000_000);
                Assert.Equal(StoreOutcome.Stored, (await MessageStoreContract.StoreAsync(store, Message(100, "alice", "bob", "after"))).Outcome);
                Assert.Contains(store.ReadInbox("bob", 100), m => m.Id == 100);
                Assert.DoesNotContain(store.ReadInbox("bob", 100), m => m.Id == outcomes.Count);
            }
        }

        [Fact]
        public void History_writes_wait_while_the_queue_is_over_its_bound()
        {
            using (SqliteMessageStore store = Open(path))
            {
                store.MaxQueuedBytes = 64 * 1024;
                store.PauseWriter();
                string text = new string('z', 1000);
                int appended = 0;
                var appender = new Thread(() =>
                {
                    for (int i = 0; i < 1000; i++)
                    {
                        store.AppendHistory(Message(i, "alice", "bob", text));
                        Interlocked.Increment(ref appended);
                    }
                })
                { IsBackground = true };
                appender.Start();

                // The first batch is taken by the held writer; after it the queue fills to its bound and the appender waits.
                var clock = System.Diagnostics.Stopwatch.StartNew();
                int seen = -1;
                while (clock.Elapsed < Deadline)
                {
                    int now = Volatile.Read(ref appended);
                    if (now == seen && store.QueuedBytes > store.MaxQueuedBytes)
                    {
                        break;
                    }

                    seen = now;
                    Thread.Sleep(50);
                }

                Assert.True(store.QueuedBytes > store.MaxQueuedBytes, "the queue never reached its bound");
                Assert.True(store.QueuedBytes <= store.MaxQueuedBytes + 2100 + 64, $"queued {store.QueuedBytes} bytes, past the bound by more than one write");
                Assert.True(appended < 1000);
                Assert.True(appender.IsAlive);

                store.ResumeWriter();
                Assert.True(appender.Join(Deadline), "the appender never went on");
                Assert.True(store.Flush(Deadline));
                Assert.Equal(1000, store.ReadHistory(Conversations.Direct("alice", "bob"), 1000, 0, 0).Count);
            }
        }

        [Fact]
        public async Task Nothing_is_reported_or_read_before_its_commit()
        {
            using (SqliteMessageStore store = Open(path))
            {
                store.PauseWriter();
                var stored = new TaskCompletionSource<StoreResult>(TaskCreationOptions.RunContinuationsAsynchronously);
                store.StoreOffline(Message(1, "alice", "bob", "held"), result => stored.SetResult(result));
                long ticket = store.AppendHistory(Message(2, "alice", "bob", "held line"));
                var committed = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
                store.WhenCommitted(ticket, () => committed.SetResult(true));

                Assert.False(store.Flush(TimeSpan.FromMilliseconds(100)));
                Assert.False(stored.Task.IsCompleted);
                Assert.False(committed.Task.IsCompleted);
                Assert.True(store.CommittedTicket < ticket);
                Assert.Empty(store.ReadInbox("bob", 10));
                Assert.Empty(store.ReadHistory(Conversations.Direct("alice", "bob"), 10, 0, 0));

                store.ResumeWriter();
                Assert.Equal(StoreOutcome.Stored, (await stored.Task.WaitAsync(Deadline)).Outcome);
                Assert.True(await committed.Task.WaitAsync(Deadline));
                Assert.Single(store.ReadInbox("bob", 10));
                Assert.Single(store.ReadHistory(Conversations.Direct("alice", "bob"), 10, 0, 0));
            }
        }

        [Fact]
        public async Task Writes_after_dispose_are_refused_not_lost_silently()
        {
            SqliteMessageStore store = Open(path);
            store.Dispose();

            StoreResult refused = await MessageStoreContract.StoreAsync(store, Message(1, "alice", "bob", "too late"));
            Assert.Equal(StoreOutcome.Failed, refused.Outcome);
            Assert.Contains("closed", refused.Reason);
            Assert.Equal(0, store.AppendHistory(Message(2, "alice", "bob", "too late")));
            store.Dispose();
        }

        [Fact]
        public async Task A_callback_that_throws_does_not_stop_the_writer()
        {
            using (SqliteMessageStore store = Open(path))
            {
                store.StoreOffline(Message(1, "alice", "bob", "one"), _ => throw new InvalidOperationException("caller's bug"));
                Assert.Equal(StoreOutcome.Stored, (await MessageStoreContract.StoreAsync(store, Message(2, "alice", "bob", "two"))).Outcome);
                Assert.Equal(2, store.ReadInbox("bob", 10).Count);
            }
        }

        private long CountRows(string table)
        {
            using (var connection = new SqliteConnection(SqliteSchema.ConnectionString(path, readOnly: true)))
            {
                connection.Open();
                return SqliteSchema.Scalar(connection, "SELECT count(*) FROM " + table);
            }
        }

        [Fact]
        public void Kept_refs_reach_the_next_open_once_as_they_were_kept()
        {
            DateTime sentAt = new DateTime(2030, 1, 2, 3, 4, 5, DateTimeKind.Utc).AddTicks(7);
            using (SqliteMessageStore store = Open(path))
            {
                Assert.Empty(store.TakeKeptRefs());
                store.FinishWrites();
                store.KeepRefs(new[]
                {
                    new KeptRef { UserName = "Alice", TokenHash = "ab", Ref = "r1", Id = 42, To = "bob", SentAt = sentAt, Fate = 3 },
                    new KeptRef { UserName = "Alice", TokenHash = "ab", Ref = "r2", Id = 43, To = "bob", SentAt = sentAt.AddSeconds(1), Fate = 5, Reason = "inbox-full", Message = "full" },
                    new KeptRef { UserName = "carol", TokenHash = "cd", Ref = "p", Id = 44, To = "#ops", SentAt = sentAt.AddSeconds(-1), Fate = 4, Seq = 17, Recipients = 2 },
                });
            }

            using (SqliteMessageStore store = Open(path))
            {
                IReadOnlyList<KeptRef> kept = store.TakeKeptRefs();
                Assert.Equal(new[] { "p", "r1", "r2" }, kept.Select(k => k.Ref));
                KeptRef refused = kept[2];
                Assert.Equal(("Alice", "ab", 43L, "bob", sentAt.AddSeconds(1), 5, "inbox-full", "full"),
                    (refused.UserName, refused.TokenHash, refused.Id, refused.To, refused.SentAt, refused.Fate, refused.Reason, refused.Message));
                Assert.Equal((17L, 2, (string)null), (kept[0].Seq, kept[0].Recipients, kept[0].Reason));
                Assert.Empty(store.TakeKeptRefs());
            }

            // Taken out of the file at open: a start that crashes leaves none for the one after it.
            Assert.Equal(0, CountRows("kept_ref"));
        }

        [Fact]
        public void FinishWrites_returns_once_every_queued_write_has_been_answered()
        {
            using (SqliteMessageStore store = Open(path))
            {
                StoreResult? answer = null;
                store.PauseWriter();
                store.StoreOffline(Message(1, "alice", "bob", "one"), r => answer = r);
                Assert.False(answer.HasValue);
                store.FinishWrites();
                Assert.Equal(StoreOutcome.Stored, answer?.Outcome);

                // Then no more writes: a late one is refused, not lost in silence.
                StoreResult? late = null;
                store.StoreOffline(Message(2, "alice", "bob", "two"), r => late = r);
                Assert.Equal(StoreOutcome.Failed, late?.Outcome);
            }
        }

        [Fact]
        public void A_version_1_file_is_upgraded_in_place_and_keeps_what_it_held()
        {
            using (SqliteMessageStore store = Open(path))
            {
                store.RememberUser("alice");
            }

            // Back to what version 1 had: no kept_ref, and the inbox as a row per message.
            Raw(path, @"DROP TABLE kept_ref; DROP TABLE inbox_chunk;
CREATE TABLE inbox(user_key TEXT NOT NULL, id INTEGER NOT NULL, sender TEXT NOT NULL, recipient TEXT NOT NULL,
    text TEXT NOT NULL, bytes INTEGER NOT NULL, sent_at INTEGER NOT NULL, ref TEXT);
CREATE INDEX inbox_user_id ON inbox(user_key, id);
PRAGMA user_version = 1;");
            using (SqliteMessageStore store = Open(path))
            {
                Assert.True(store.IsKnownUser("alice"));
                Assert.Empty(store.TakeKeptRefs());
            }

            Assert.Equal(SqliteSchema.Version, Scalar(path, "PRAGMA user_version"));
            Assert.Equal(0, CountRows("kept_ref"));
        }

        private static long Scalar(string file, string sql)
        {
            using (var connection = new SqliteConnection(SqliteSchema.ConnectionString(file, readOnly: true)))
            {
                connection.Open();
                return SqliteSchema.Scalar(connection, sql);
            }
        }

        private static void Raw(string file, string sql)
        {
            using (var connection = new SqliteConnection(SqliteSchema.ConnectionString(file, readOnly: false)))
            {
                connection.Open();
                SqliteSchema.Command(connection, sql).ExecuteNonQuery();
            }
        }
    }

    /// <summary>A temporary folder for store files, deleted with everything in it.</summary>
    internal sealed class StoreFolder : IDisposable
    {
        public StoreFolder()
        {
            Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "chatrm-store-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(Path);
        }

        public string Path { get; }

        public string File(string name) => System.IO.Path.Combine(Path, name);

        public void Dispose()
        {
            try
            {
                Directory.Delete(Path, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
