using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Threading.Tasks;
using Chatrm.Cluster.Storage;
using Chatrm.Engine.Storage;
using NATS.Client.Core;
using NATS.Client.JetStream;
using Xunit;

namespace Chatrm.Engine.Tests.Cluster
{
    /// <summary>The cluster's store on its own, against a real nats-server: batches of history, paging inside them, inbox limits.</summary>
    [Collection(ClusterCollection.Name)]
    public sealed class JetStreamStoreTests : IAsyncLifetime
    {
        private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);
        private static readonly DateTime At = DateTime.UtcNow;

        private NatsServer _nats;
        private NatsConnection _connection;
        private readonly List<JetStreamStore> _stores = new List<JetStreamStore>();

        public async Task InitializeAsync()
        {
            _nats = await NatsServer.StartAsync();
            _connection = new NatsConnection(new NatsOpts { Url = _nats.Url });
            await _connection.ConnectAsync();
        }

        public async Task DisposeAsync()
        {
            foreach (JetStreamStore store in _stores)
            {
                store.Dispose();
            }

            await _connection.DisposeAsync();
            await _nats.DisposeAsync();
        }

        private JetStreamStore Open(StoreLimits limits = null)
        {
            JetStreamStore store = JetStreamStore.Open(_connection, 1, limits ?? new StoreLimits(), TimeProvider.System);
            _stores.Add(store);
            return store;
        }

        private static StoredMessage Line(long id, string from, string to, string text, long seq = 0) =>
            new StoredMessage { Id = id, From = from, To = to, Text = text, SentAt = At, Seq = seq };

        private static async Task<StoreResult> StoreAsync(IMessageStore store, StoredMessage message)
        {
            var done = new TaskCompletionSource<StoreResult>(TaskCreationOptions.RunContinuationsAsynchronously);
            store.StoreOffline(message, result => done.SetResult(result));
            return await done.Task.WaitAsync(Deadline);
        }

        private async Task<long> MessagesInAsync(string stream) =>
            (await new NatsJSContext(_connection).GetStreamAsync(stream)).Info.State.Messages;

        [Fact]
        public async Task LinesQueuedTogetherShareAPublishAndPageByTheirOwnSeqs()
        {
            JetStreamStore store = Open();
            for (int i = 1; i <= 10; i++)
            {
                store.AppendHistory(i % 2 == 0 ? Line(i, "Bob", "alice", "m" + i) : Line(i, "alice", "bob", "m" + i));
            }

            Assert.True(store.Flush(Deadline));
            Assert.True(await MessagesInAsync(JetStreamStore.HistoryStream) < 10, "ten lines queued at once take fewer than ten JetStream messages");

            string key = Conversations.Direct("BOB", "Alice");
            IReadOnlyList<StoredMessage> all = store.ReadHistory(key, 50, 0, 0);
            Assert.Equal(Enumerable.Range(1, 10).Select(i => "m" + i), all.Select(m => m.Text));
            Assert.Equal(all.Select(m => m.Seq).OrderBy(s => s), all.Select(m => m.Seq));
            Assert.Equal(10, all.Select(m => m.Seq).Distinct().Count());
            Assert.Equal(new[] { "Bob", "alice" }, all.Take(2).Reverse().Select(m => m.From));

            Assert.Equal(new[] { "m8", "m9", "m10" }, store.ReadHistory(key, 3, 0, 0).Select(m => m.Text));
            Assert.Equal(new[] { "m3", "m4" }, store.ReadHistory(key, 2, all[4].Seq, 0).Select(m => m.Text));
            Assert.Equal(new[] { "m8", "m9", "m10" }, store.ReadHistory(key, 50, 0, all[6].Seq).Select(m => m.Text));
            Assert.Equal(new[] { "m5", "m6" }, store.ReadHistory(key, 50, all[6].Seq, all[3].Seq).Select(m => m.Text));
            Assert.Empty(store.ReadHistory(Conversations.Direct("alice", "carol"), 50, 0, 0));
        }

        [Fact]
        public void ARoomsLinesKeepTheirSeqsInsideABatchAndSayTheLast()
        {
            JetStreamStore store = Open();
            Assert.Equal(0, store.LastRoomSeq("#ops"));
            for (long seq = 1; seq <= 10; seq++)
            {
                store.AppendHistory(Line(100 + seq, "alice", "#Ops", "post " + seq, seq));
            }

            store.AppendHistory(Line(200, "alice", "#dev", "elsewhere", 1));
            Assert.True(store.Flush(Deadline));

            Assert.Equal(10, store.LastRoomSeq("#OPS"));
            string room = Conversations.Room("#ops");
            Assert.Equal(new long[] { 1, 2, 3 }, store.ReadHistory(room, 50, 4, 0).Select(m => m.Seq));
            Assert.Equal(new long[] { 8, 9, 10 }, store.ReadHistory(room, 50, 0, 7).Select(m => m.Seq));
            Assert.Equal(new long[] { 5, 6 }, store.ReadHistory(room, 2, 7, 0).Select(m => m.Seq));
            Assert.Equal("#Ops", store.ReadHistory(room, 1, 0, 0)[0].To);
            Assert.Equal(new[] { "elsewhere" }, store.ReadHistory(Conversations.Room("#dev"), 50, 0, 0).Select(m => m.Text));
        }

        [Fact]
        public async Task AFullInboxRefusesUntilOneIsConfirmedAndTheInboxComesInTheOrderSent()
        {
            JetStreamStore store = Open(new StoreLimits { MaxInboxMessages = 2 });
            Assert.Equal(StoreOutcome.Stored, (await StoreAsync(store, Line(2, "alice", "bob", "one"))).Outcome);
            Assert.Equal(StoreOutcome.Stored, (await StoreAsync(store, Line(1, "carol", "bob", "two"))).Outcome);
            StoreResult full = await StoreAsync(store, Line(3, "alice", "bob", "three"));
            Assert.Equal(StoreOutcome.InboxFull, full.Outcome);
            Assert.Contains("bob", full.Reason);
            Assert.Contains("full", full.Reason);

            IReadOnlyList<StoredMessage> inbox = store.ReadInbox("BOB", 10);
            Assert.Equal(new[] { "two", "one" }, inbox.Select(m => m.Text)); // same SentAt: by id
            store.ConfirmInbox("bob", 1);
            store.ConfirmInbox("bob", 999);
            Assert.True(store.Flush(Deadline));
            Assert.Equal(StoreOutcome.Stored, (await StoreAsync(store, Line(4, "alice", "bob", "room again"))).Outcome);
            Assert.Equal(new long[] { 2, 4 }, store.ReadInbox("bob", 10).Select(m => m.Id));
        }

        [Fact]
        public async Task WhatCannotBeReadIsSkippedAndTheRestStillReads()
        {
            JetStreamStore store = Open();
            store.AppendHistory(Line(1, "alice", "bob", "before"));
            Assert.True(store.Flush(Deadline));
            string subject = JetStreamStore.HistorySubjects + Convert.ToHexString(Encoding.UTF8.GetBytes(Conversations.Direct("alice", "bob")));
            await new NatsJSContext(_connection).PublishAsync(subject, Encoding.UTF8.GetBytes("{not json"));
            store.AppendHistory(Line(2, "alice", "bob", "after"));
            Assert.True(store.Flush(Deadline));

            Assert.Equal(new[] { "before", "after" }, store.ReadHistory(Conversations.Direct("alice", "bob"), 50, 0, 0).Select(m => m.Text));
        }

        [Fact]
        public void IdBlocksNeverOverlapAndTheScopeIsTheClustersOwn()
        {
            JetStreamStore first = Open();
            long a = first.ReserveIds(1_000_000);
            long b = first.ReserveIds(1_000_000);
            Assert.True(b >= a + 1_000_000);

            // Another server of the same number later (a restart) goes on above; the scope is the one the first made.
            JetStreamStore again = Open();
            Assert.True(again.ReserveIds(1_000_000) >= b + 1_000_000);
            Assert.Equal(first.IdScope, again.IdScope);
        }
    }
}
