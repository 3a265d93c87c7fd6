using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using Chatrm.Engine.Storage;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace Chatrm.Engine.Tests.Storage
{
    /// <summary>What every <see cref="IMessageStore"/> does; each store runs these through a subclass.</summary>
    public abstract class MessageStoreContract : IDisposable
    {
        protected static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

        private readonly List<IMessageStore> opened = new List<IMessageStore>();

        protected MessageStoreContract()
        {
            Clock = new FakeTimeProvider(new DateTimeOffset(2026, 6, 1, 12, 0, 0, TimeSpan.Zero));
        }

        protected FakeTimeProvider Clock { get; }

        private DateTime Now => Clock.GetUtcNow().UtcDateTime;

        public virtual void Dispose()
        {
            foreach (IMessageStore store in opened)
            {
                store.Dispose();
            }
        }

        /// <summary>A new, empty store of the kind under test.</summary>
        internal abstract IMessageStore Make(StoreLimits limits, TimeProvider time);

        internal IMessageStore Open(StoreLimits limits = null)
        {
            IMessageStore store = Make(limits ?? new StoreLimits(), Clock);
            opened.Add(store);
            return store;
        }

        internal StoredMessage Message(long id, string from, string to, string text, string senderRef = null) =>
            new StoredMessage { Id = id, From = from, To = to, Text = text, SentAt = Now, SenderRef = senderRef };

        internal static async Task<StoreResult> StoreAsync(IMessageStore store, StoredMessage message)
        {
            var done = new TaskCompletionSource<StoreResult>(TaskCreationOptions.RunContinuationsAsynchronously);
            store.StoreOffline(message, result => done.SetResult(result));
            Task first = await Task.WhenAny(done.Task, Task.Delay(Deadline));
            Assert.True(first == done.Task, "StoreOffline never completed");
            return await done.Task;
        }

        [Fact]
        public async Task Offline_messages_come_back_in_the_order_sent_with_everything_they_had()
        {
            IMessageStore store = Open();
            for (int i = 1; i <= 3; i++)
            {
                Clock.Advance(TimeSpan.FromSeconds(1));
                Assert.Equal(StoreOutcome.Stored, (await StoreAsync(store, Message(100 + i, "alice", "bob", "hi é " + i, "r" + i))).Outcome);
            }

            IReadOnlyList<StoredMessage> inbox = store.ReadInbox("BOB", 10);

            Assert.Equal(new long[] { 101, 102, 103 }, inbox.Select(m => m.Id));
            Assert.Equal("hi é 2", inbox[1].Text);
            Assert.Equal("alice", inbox[1].From);
            Assert.Equal("bob", inbox[1].To);
            Assert.Equal("r2", inbox[1].SenderRef);
            Assert.Equal(new DateTime(2026, 6, 1, 12, 0, 2, DateTimeKind.Utc), inbox[1].SentAt);
            Assert.Equal(DateTimeKind.Utc, inbox[1].SentAt.Kind);
            Assert.Equal(2, store.ReadInbox("bob", 2).Count);
            Assert.Empty(store.ReadInbox("carol", 10));
        }

        [Fact]
        public async Task A_confirmed_message_leaves_only_its_own_inbox()
        {
            IMessageStore store = Open();
            await StoreAsync(store, Message(1, "alice", "bob", "one"));
            await StoreAsync(store, Message(2, "alice", "bob", "two"));
            await StoreAsync(store, Message(3, "alice", "carol", "three"));

            store.ConfirmInbox("Bob", 1);
            store.ConfirmInbox("bob", 3);
            store.ConfirmInbox("bob", 999);
            Assert.True(store.Flush(Deadline));

            Assert.Equal(new long[] { 2 }, store.ReadInbox("bob", 10).Select(m => m.Id));
            Assert.Equal(new long[] { 3 }, store.ReadInbox("carol", 10).Select(m => m.Id));
        }

        [Fact]
        public async Task A_full_inbox_refuses_with_a_reason_until_one_is_confirmed()
        {
            IMessageStore store = Open(new StoreLimits { MaxInboxMessages = 2 });
            await StoreAsync(store, Message(1, "alice", "bob", "one"));
            await StoreAsync(store, Message(2, "alice", "bob", "two"));

            StoreResult full = await StoreAsync(store, Message(3, "alice", "bob", "three"));
            Assert.Equal(StoreOutcome.InboxFull, full.Outcome);
            Assert.Contains("bob", full.Reason);
            Assert.Contains("full", full.Reason);
            Assert.Equal(StoreOutcome.Stored, (await StoreAsync(store, Message(4, "alice", "carol", "other inbox"))).Outcome);

            // A confirm is queued like every write: it frees room once committed.
            store.ConfirmInbox("bob", 1);
            Assert.True(store.Flush(Deadline));
            Assert.Equal(StoreOutcome.Stored, (await StoreAsync(store, Message(5, "alice", "bob", "room again"))).Outcome);
            Assert.True(store.Flush(Deadline));
            Assert.Equal(new long[] { 2, 5 }, store.ReadInbox("bob", 10).Select(m => m.Id));
        }

        [Fact]
        public async Task The_inbox_byte_limit_counts_utf8_bytes_of_text()
        {
            IMessageStore store = Open(new StoreLimits { MaxInboxBytes = 10 });
            Assert.Equal(StoreOutcome.Stored, (await StoreAsync(store, Message(1, "alice", "bob", "ééé"))).Outcome); // 6 bytes
            StoreResult full = await StoreAsync(store, Message(2, "alice", "bob", "ééé")); // 12 > 10
            Assert.Equal(StoreOutcome.InboxFull, full.Outcome);
            Assert.Contains("bytes", full.Reason);
            Assert.Equal(StoreOutcome.Stored, (await StoreAsync(store, Message(3, "alice", "bob", "abcd"))).Outcome); // 10
        }

        [Fact]
        public void Direct_history_numbers_each_conversation_and_pages_by_seq()
        {
            IMessageStore store = Open();
            for (int i = 1; i <= 10; i++)
            {
                StoredMessage message = i % 2 == 0 ? Message(i, "Bob", "alice", "m" + i) : Message(i, "alice", "bob", "m" + i);
                Assert.NotEqual(0, store.AppendHistory(message));
                Assert.Equal(i, message.Seq);
            }

            StoredMessage other = Message(11, "alice", "carol", "first with carol");
            store.AppendHistory(other);
            Assert.Equal(1, other.Seq);
            Assert.True(store.Flush(Deadline));

            string key = Conversations.Direct("BOB", "Alice");
            Assert.Equal(new long[] { 8, 9, 10 }, store.ReadHistory(key, 3, 0, 0).Select(m => m.Seq));
            Assert.Equal(new long[] { 3, 4 }, store.ReadHistory(key, 2, 5, 0).Select(m => m.Seq));
            Assert.Equal(new long[] { 8, 9, 10 }, store.ReadHistory(key, 50, 0, 7).Select(m => m.Seq));
            Assert.Equal(new long[] { 4, 5, 6 }, store.ReadHistory(key, 50, 7, 3).Select(m => m.Seq));
            Assert.Equal(Enumerable.Range(1, 10).Select(i => (long)i), store.ReadHistory(key, 1000, 0, 0).Select(m => m.Seq));
            Assert.Empty(store.ReadHistory(key, 50, 1, 0));

            StoredMessage read = store.ReadHistory(key, 1, 0, 0)[0];
            Assert.Equal(10, read.Id);
            Assert.Equal("Bob", read.From);
            Assert.Equal("alice", read.To);
            Assert.Equal("m10", read.Text);
            Assert.Equal(Now, read.SentAt);
            Assert.Equal(new long[] { 11 }, store.ReadHistory(Conversations.Direct("carol", "alice"), 50, 0, 0).Select(m => m.Id));
        }

        [Fact]
        public void A_room_keeps_the_seq_it_was_given_and_says_its_last()
        {
            IMessageStore store = Open();
            Assert.Equal(0, store.LastRoomSeq("#ops"));
            foreach (long seq in new long[] { 5, 7, 6 })
            {
                var post = Message(seq, "alice", "#Ops", "post " + seq);
                post.Seq = seq;
                store.AppendHistory(post);
                Assert.Equal(seq, post.Seq);
            }

            Assert.True(store.Flush(Deadline));
            Assert.Equal(7, store.LastRoomSeq("#OPS"));
            Assert.Equal(new long[] { 5, 6, 7 }, store.ReadHistory(Conversations.Room("#OPS"), 50, 0, 0).Select(m => m.Seq));
            Assert.Equal("#Ops", store.ReadHistory("#ops", 1, 0, 0)[0].To);
            Assert.Equal(0, store.LastRoomSeq("#dev"));
        }

        [Fact]
        public void Names_that_logged_in_are_known_whatever_their_case()
        {
            IMessageStore store = Open();
            store.RememberUser("Alice");
            store.RememberUser("alice");
            Assert.True(store.Flush(Deadline));

            Assert.True(store.IsKnownUser("ALICE"));
            Assert.False(store.IsKnownUser("bob"));
        }

        [Fact]
        public void Id_blocks_never_overlap()
        {
            IMessageStore store = Open();
            long first = store.ReserveIds(1_000_000);
            long second = store.ReserveIds(1_000_000);

            Assert.True(first >= 1_000_000);
            Assert.True(second >= first + 1_000_000);
        }

        [Fact]
        public async Task Old_inbox_messages_and_history_expire_and_free_their_room()
        {
            IMessageStore store = Open(new StoreLimits { MaxInboxMessages = 1, InboxDays = 2, HistoryDays = 5 });
            await StoreAsync(store, Message(1, "alice", "bob", "old"));
            store.AppendHistory(Message(2, "alice", "bob", "old line"));
            Assert.True(store.Flush(Deadline));

            Clock.Advance(TimeSpan.FromDays(3));
            Assert.Empty(store.ReadInbox("bob", 10));
            Assert.Single(store.ReadHistory(Conversations.Direct("alice", "bob"), 50, 0, 0));
            Assert.Equal(StoreOutcome.Stored, (await StoreAsync(store, Message(3, "alice", "bob", "new"))).Outcome);

            store.AppendHistory(Message(4, "alice", "bob", "new line"));
            Clock.Advance(TimeSpan.FromDays(3));
            store.AppendHistory(Message(5, "alice", "bob", "newest line"));
            Assert.True(store.Flush(Deadline));

            Assert.Equal(new long[] { 4, 5 }, store.ReadHistory(Conversations.Direct("alice", "bob"), 50, 0, 0).Select(m => m.Id));
            StoredMessage newest = store.ReadHistory(Conversations.Direct("alice", "bob"), 1, 0, 0)[0];
            Assert.Equal(3, newest.Seq); // numbering goes on past expired lines
            Assert.Empty(store.ReadInbox("bob", 10));
        }

        [Fact]
        public void A_conversations_lines_keep_each_name_as_it_was_written_whoever_wrote_the_line_before()
        {
            IMessageStore store = Open(new StoreLimits());
            var sent = new[] { ("alice", "Bob", "one"), ("alice", "Bob", "two"), ("bob", "alice", "three"), ("Alice", "bob", ""), ("alice", "bob", "five") };
            long id = 1;
            foreach ((string from, string to, string text) in sent)
            {
                store.AppendHistory(Message(id++, from, to, text));
            }

            Assert.True(store.Flush(Deadline));
            IReadOnlyList<StoredMessage> read = store.ReadHistory(Conversations.Direct("alice", "bob"), 50, 0, 0);
            Assert.Equal(sent, read.Select(m => (m.From, m.To, m.Text)));
        }

        [Fact]
        public void With_history_off_nothing_is_kept()
        {
            IMessageStore store = Open(new StoreLimits { KeepHistory = false });
            Assert.False(store.KeepsHistory);
            Assert.Equal(0, store.AppendHistory(Message(1, "alice", "bob", "not kept")));
            Assert.True(store.Flush(Deadline));
            Assert.Empty(store.ReadHistory(Conversations.Direct("alice", "bob"), 50, 0, 0));
        }

        [Fact]
        public async Task A_ticket_is_committed_and_its_callback_runs_once()
        {
            IMessageStore store = Open();
            long ticket = store.AppendHistory(Message(1, "alice", "bob", "line"));
            var ran = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
            int runs = 0;
            store.WhenCommitted(ticket, () => ran.TrySetResult(System.Threading.Interlocked.Increment(ref runs)));

            Assert.True(await Task.WhenAny(ran.Task, Task.Delay(Deadline)) == ran.Task, "WhenCommitted never ran");
            Assert.True(store.Flush(Deadline));
            Assert.True(store.CommittedTicket >= ticket);
            Assert.Equal(1, runs);

            bool atOnce = false;
            store.WhenCommitted(ticket, () => atOnce = true);
            Assert.True(atOnce);
        }
    }

    public sealed class MemoryMessageStoreTests : MessageStoreContract
    {
        internal override IMessageStore Make(StoreLimits limits, TimeProvider time) => new MemoryMessageStore(limits, time);

        [Fact]
        public void HistoryKeepsToItsBytesDroppingTheOldestLinesWhereverTheyAre()
        {
            // Room for a few segments of a few lines each.
            var store = (MemoryMessageStore)Open(new StoreLimits { MaxMemoryHistoryBytes = 2048 });
            var at = new DateTime(2026, 6, 1, 12, 0, 0, DateTimeKind.Utc);
            for (int i = 1; i <= 200; i++)
            {
                string to = i % 2 == 0 ? "#ops" : "bob";
                store.AppendHistory(new StoredMessage { Id = i, From = "alice", To = to, Text = $"line {i,5}", SentAt = at, Seq = to == "#ops" ? i / 2 : 0 });
                Assert.True(store.HistoryBytes <= 2048, $"{store.HistoryBytes} bytes held after line {i}");
            }

            // The newest lines of both conversations stay, in order and whole; the oldest went; numbering carried on.
            IReadOnlyList<StoredMessage> direct = store.ReadHistory(Conversations.Direct("alice", "bob"), 1000, 0, 0);
            IReadOnlyList<StoredMessage> room = store.ReadHistory(Conversations.Room("#ops"), 1000, 0, 0);
            Assert.InRange(direct.Count + room.Count, 10, 100);
            Assert.Equal(199, direct[direct.Count - 1].Id);
            Assert.Equal(100L, direct[direct.Count - 1].Seq);
            Assert.Equal(200, room[room.Count - 1].Id);
            Assert.Equal(100L, store.LastRoomSeq("#ops"));
            Assert.Equal($"line {200,5}", room[room.Count - 1].Text);
            Assert.DoesNotContain(direct, m => m.Id == 1);
            Assert.Equal(direct.OrderBy(m => m.Seq).Select(m => m.Id), direct.Select(m => m.Id));
            Assert.Equal(direct.Count, direct[direct.Count - 1].Seq - direct[0].Seq + 1);
        }

        [Fact]
        public void LinesGoneByAgeAreNotCountedAgainstTheBytes()
        {
            var store = (MemoryMessageStore)Open(new StoreLimits { MaxMemoryHistoryBytes = 10 * 148, HistoryDays = 1 });
            DateTime now = Clock.GetUtcNow().UtcDateTime;
            for (int i = 1; i <= 10; i++)
            {
                store.AppendHistory(new StoredMessage { Id = i, From = "alice", To = "bob", Text = $"old  {i,5}", SentAt = now });
            }

            // Two days on, a sweep takes the old lines by age; the new ones fill the bytes again, and none of them goes.
            Clock.Advance(TimeSpan.FromDays(2));
            for (int i = 11; i <= 20; i++)
            {
                store.AppendHistory(new StoredMessage { Id = i, From = "alice", To = "bob", Text = $"new  {i,5}", SentAt = Clock.GetUtcNow().UtcDateTime });
            }

            IReadOnlyList<StoredMessage> kept = store.ReadHistory(Conversations.Direct("alice", "bob"), 1000, 0, 0);
            Assert.Equal(Enumerable.Range(11, 10).Select(i => (long)i), kept.Select(m => m.Id));
            Assert.True(store.HistoryBytes <= 10 * 148);
        }
    }
}
