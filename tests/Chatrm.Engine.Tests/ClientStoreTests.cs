using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json.Nodes;
using System.Threading.Tasks;
using Xunit;

namespace Chatrm.Engine.Tests
{
    /// <summary>
    /// The client's side of the message store against a scripted server: Stored fates, receipts, a stored message sent
    /// again shown once, and history questions and answers (docs/protocol.md, the wire the server side speaks).
    /// </summary>
    public class ClientStoreTests
    {
        private static readonly TimeSpan Deadline = RawClient.Deadline;
        private static readonly TimeSpan Ask = TimeSpan.FromSeconds(10);

        [Fact]
        public async Task AStoredStatusIsTheSendsFateAndTheLaterDeliveredOneIsAReceipt()
        {
            using var fake = new FakeNativeServer();
            using ChatClient alice = await ConnectAsync(fake, "alice");

            Task<SentMessage> sending = alice.SendAsync("bob", "while you were away");
            string reference = RefOf(await fake.ReadLineAsync());
            await fake.WriteLineAsync("{\"type\":\"status\",\"ref\":\"" + reference + "\",\"id\":\"42\",\"to\":\"bob\",\"sentAt\":\"2026-12-02T12:00:00.000Z\",\"status\":\"stored\"}");
            SentMessage stored = await sending.WaitAsync(Deadline);
            Assert.Equal((SendStatus.Stored, "42", "bob"), (stored.Status, stored.Id, stored.To));
            Assert.Null(stored.Reason);

            await fake.WriteLineAsync("{\"type\":\"status\",\"id\":\"42\",\"to\":\"bob\",\"status\":\"delivered\",\"ref\":\"" + reference + "\"}");
            var taken = new List<object>();
            await Eventually.TrueAsync(() => { taken.AddRange(alice.Take(10, includeReceipts: true)); return taken.Count > 0; }, "the receipt");
            DeliveryReceipt receipt = Assert.IsType<DeliveryReceipt>(Assert.Single(taken));
            Assert.Equal(("42", "bob", SendStatus.Delivered), (receipt.Id, receipt.To, receipt.Status));
        }

        [Fact]
        public async Task AReceiptWaitsInOrderWithMessagesAndIsTakenOnlyWhenAskedFor()
        {
            using var fake = new FakeNativeServer();
            using ChatClient alice = await ConnectAsync(fake, "alice");

            await fake.WriteLineAsync("{\"type\":\"status\",\"id\":\"42\",\"to\":\"bob\",\"status\":\"delivered\",\"ref\":\"gone\"}");
            await fake.WriteLineAsync(Message("43", "bob", "thanks"));
            await Eventually.TrueAsync(() => alice.MessagesWaiting == 1, "bob's message");

            List<object> items = alice.Take(10, includeReceipts: true);
            Assert.Equal(2, items.Count);
            var receipt = Assert.IsType<DeliveryReceipt>(items[0]);
            Assert.Equal(("42", "bob", SendStatus.Delivered), (receipt.Id, receipt.To, receipt.Status));
            Assert.Equal(DateTimeKind.Local, receipt.Time.Kind);
            Assert.Equal("thanks", Assert.IsType<ChatMessage>(items[1]).Text);

            // Without asking, a receipt is passed over and dropped, as presence is.
            await fake.WriteLineAsync("{\"type\":\"status\",\"id\":\"44\",\"to\":\"bob\",\"status\":\"delivered\",\"ref\":\"gone\"}");
            await fake.WriteLineAsync(Message("45", "bob", "again"));
            await Eventually.TrueAsync(() => alice.MessagesWaiting == 1, "bob's second message");
            Assert.Equal(new[] { "again" }, alice.Take(10).Cast<ChatMessage>().Select(m => m.Text));
            Assert.Empty(alice.Take(10, includeReceipts: true));
        }

        [Fact]
        public async Task AStatusWhoseRefIsAWaitingSendToSomeoneElseIsAReceiptNotThatSendsFate()
        {
            // An earlier connection's receipt carries that connection's ref, which may be a waiting send's now.
            using var fake = new FakeNativeServer();
            using ChatClient alice = await ConnectAsync(fake, "alice");

            Task<SentMessage> sending = alice.SendAsync("carol", "hi carol");
            string reference = RefOf(await fake.ReadLineAsync());
            await fake.WriteLineAsync("{\"type\":\"status\",\"id\":\"7\",\"to\":\"bob\",\"status\":\"delivered\",\"ref\":\"" + reference + "\"}");
            await Eventually.TrueAsync(() => Receipts(alice.Take(10, includeReceipts: true)).Any(r => r.Id == "7"), "the receipt for bob");
            Assert.False(sending.IsCompleted);

            await fake.WriteLineAsync("{\"type\":\"status\",\"ref\":\"" + reference + "\",\"id\":\"8\",\"to\":\"carol\",\"sentAt\":\"2026-12-02T12:00:00.000Z\",\"status\":\"delivered\"}");
            SentMessage delivered = await sending.WaitAsync(Deadline);
            Assert.Equal((SendStatus.Delivered, "8"), (delivered.Status, delivered.Id));
        }

        [Fact]
        public async Task ALaterConnectionNeverReusesAnEarlierOnesRef()
        {
            // A receipt carries the ref of the connection that sent the message: a new connection's sends must not share it.
            var refs = new List<string>();
            for (int i = 0; i < 2; i++)
            {
                using var fake = new FakeNativeServer();
                using ChatClient alice = await ConnectAsync(fake, "alice");
                _ = alice.SendAsync("bob", "hi");
                refs.Add(RefOf(await fake.ReadLineAsync()));
            }

            Assert.NotEqual(refs[0], refs[1]);
        }

        [Fact]
        public async Task AMessageSentAgainWithTheSameIdIsShownOnceAndAckedEachTime()
        {
            using var fake = new FakeNativeServer();
            using ChatClient bob = await ConnectAsync(fake, "bob");

            await fake.WriteLineAsync(Message("42", "alice", "first"));
            await fake.WriteLineAsync(Message("42", "alice", "first"));
            await fake.WriteLineAsync(Message("43", "alice", "second"));

            // Every copy is confirmed, so the server's inbox lets go of it.
            var acks = new List<string>();
            for (int i = 0; i < 3; i++)
            {
                acks.Add(NativePeer.Str(JsonNode.Parse(await fake.ReadLineAsync()).AsObject(), "id"));
            }

            Assert.Equal(new[] { "42", "42", "43" }, acks);
            await Eventually.TrueAsync(() => bob.MessagesWaiting >= 2, "both messages");
            Assert.Equal(new[] { "first", "second" }, bob.Take(10).Cast<ChatMessage>().Select(m => m.Text));
        }

        [Fact]
        public async Task ALaterConnectionGivenTheSameShownIdsDropsWhatAnEarlierOneShowedAndAcksIt()
        {
            // bob's first connection showed 42, and its ack was lost to the disconnect: the server sends 42 again.
            var shown = new ShownMessageIds();
            for (int connection = 0; connection < 2; connection++)
            {
                using var fake = new FakeNativeServer();
                Task<ChatClient> connecting = ChatClient.ConnectAsync("127.0.0.1", fake.Port, "bob", options: new ClientOptions { ShownIds = shown });
                await fake.AcceptAndWelcomeAsync("bob");
                using ChatClient bob = await connecting.WaitAsync(Deadline);

                await fake.WriteLineAsync(Message("42", "alice", "stored while you were away"));
                await fake.WriteLineAsync(Message(connection == 0 ? "43" : "44", "alice", "live " + connection));
                Assert.Equal("42", NativePeer.Str(JsonNode.Parse(await fake.ReadLineAsync()).AsObject(), "id"));
                await fake.ReadLineAsync();
                await Eventually.TrueAsync(() => bob.MessagesWaiting >= (connection == 0 ? 2 : 1), "the messages");
                Assert.Equal(connection == 0 ? new[] { "stored while you were away", "live 0" } : new[] { "live 1" },
                    bob.Take(10).Cast<ChatMessage>().Select(m => m.Text));
            }
        }

        [Fact]
        public void ShownIdsForgetTheOldestWhenFull()
        {
            var ids = new ShownMessageIds(capacity: 3);
            Assert.True(ids.Add("1"));
            Assert.True(ids.Add("2"));
            Assert.True(ids.Add("3"));
            Assert.False(ids.Add("2"));
            Assert.True(ids.Add("4"));

            // "1" was the oldest: forgotten, so it counts as new; "3" and "4" are still remembered.
            Assert.True(ids.Add("1"));
            Assert.False(ids.Add("4"));
            Assert.False(ids.Add("1"));
        }

        [Fact]
        public async Task AHistoryQuestionWritesItsBoundsAndTheAnswerWithItsRefIsTheMessagesWithSeq()
        {
            using var fake = new FakeNativeServer();
            using ChatClient alice = await ConnectAsync(fake, "alice");

            Task<IReadOnlyList<ChatMessage>> asking = alice.GetHistoryAsync("bob", 20, before: 9, after: 3, Ask);
            JsonObject question = JsonNode.Parse(await fake.ReadLineAsync()).AsObject();
            Assert.Equal("history", NativePeer.Type(question));
            Assert.Equal("bob", NativePeer.Str(question, "with"));
            Assert.Null(question["room"]);
            Assert.Equal((20, 9L, 3L), ((int)question["last"], (long)question["before"], (long)question["after"]));
            string reference = NativePeer.Str(question, "ref");

            // Someone else's answer first: it settles nothing.
            await fake.WriteLineAsync("{\"type\":\"history\",\"ref\":\"nobody\",\"with\":\"bob\",\"messages\":[]}");
            await fake.WriteLineAsync("{\"type\":\"history\",\"ref\":\"" + reference + "\",\"with\":\"bob\",\"messages\":[" +
                "{\"id\":\"40\",\"from\":\"alice\",\"to\":\"bob\",\"text\":\"hi_there\\nbob\",\"sentAt\":\"2026-12-02T12:00:00.0000000Z\",\"seq\":4}," +
                "{\"id\":\"41\",\"from\":\"bob\",\"to\":\"alice\",\"text\":\"hi \\u00e9\",\"sentAt\":\"2026-12-02T12:00:01.0000000Z\",\"seq\":5}]}");

            IReadOnlyList<ChatMessage> messages = await asking.WaitAsync(Deadline);
            Assert.Equal(new long?[] { 4, 5 }, messages.Select(m => m.Seq));
            Assert.Equal(new[] { "40", "41" }, messages.Select(m => m.Id));
            Assert.Equal(new[] { "alice", "bob" }, messages.Select(m => m.From));
            Assert.Equal(new[] { "bob", "alice" }, messages.Select(m => m.To));
            Assert.Equal(new[] { "hi_there\nbob", "hi \u00e9" }, messages.Select(m => m.Text));
            Assert.All(messages, m => Assert.Equal(string.Empty, m.Room));
            Assert.Equal(new DateTime(2026, 12, 2, 12, 0, 1, DateTimeKind.Utc), messages[1].SentAt.Value.ToUniversalTime());

            // History is not the inbox: nothing waits to be taken.
            Assert.Equal(0, alice.MessagesWaiting);
        }

        [Fact]
        public async Task ARoomsHistoryAsksByRoomLeavesOutUnsetBoundsAndCarriesTheRoom()
        {
            using var fake = new FakeNativeServer();
            using ChatClient alice = await ConnectAsync(fake, "alice");

            Task<IReadOnlyList<ChatMessage>> asking = alice.GetHistoryAsync("#ops", 50, 0, 0, Ask);
            JsonObject question = JsonNode.Parse(await fake.ReadLineAsync()).AsObject();
            Assert.Equal("#ops", NativePeer.Str(question, "room"));
            Assert.Null(question["with"]);
            Assert.Null(question["before"]);
            Assert.Null(question["after"]);
            Assert.Equal(50, (int)question["last"]);

            await fake.WriteLineAsync("{\"type\":\"history\",\"ref\":\"" + NativePeer.Str(question, "ref") + "\",\"room\":\"#ops\",\"messages\":[" +
                "{\"id\":\"9\",\"from\":\"carol\",\"to\":\"#ops\",\"text\":\"deploy\",\"sentAt\":\"2026-12-02T12:00:00.0000000Z\",\"seq\":17}]}");
            ChatMessage only = Assert.Single(await asking.WaitAsync(Deadline));
            Assert.Equal(("#ops", "#ops", 17L, "carol"), (only.Room, only.To, only.Seq.Value, only.From));
        }

        [Theory]
        [InlineData("access-denied", Refusal.AccessDenied)]
        [InlineData("history-off", Refusal.HistoryOff)]
        public async Task ARefusedHistoryQuestionThrowsWithTheServersWordsAndNothingGoesToTheInbox(string code, Refusal refusal)
        {
            using var fake = new FakeNativeServer();
            using ChatClient alice = await ConnectAsync(fake, "alice");

            Task<IReadOnlyList<ChatMessage>> asking = alice.GetHistoryAsync("#dev", 50, 0, 0, Ask);
            string reference = NativePeer.Str(JsonNode.Parse(await fake.ReadLineAsync()).AsObject(), "ref");
            await fake.WriteLineAsync("{\"type\":\"error\",\"ref\":\"" + reference + "\",\"code\":\"" + code + "\",\"message\":\"the server's words\"}");

            var e = await Assert.ThrowsAsync<ChatException>(() => asking.WaitAsync(Deadline));
            Assert.Equal(refusal, e.Refusal);
            Assert.Equal("the server's words", e.Message);
            Assert.Empty(alice.Take(10));
        }

        [Theory]
        [InlineData(0)]
        [InlineData(1001)]
        public async Task AskingForTooFewOrTooManySendsNothing(int last)
        {
            using var fake = new FakeNativeServer();
            using ChatClient alice = await ConnectAsync(fake, "alice");

            Assert.Throws<ArgumentOutOfRangeException>(() => { _ = alice.GetHistoryAsync("bob", last, 0, 0, Ask); });
            Assert.Equal(Refusal.InvalidName, Assert.Throws<ChatException>(() => { _ = alice.GetHistoryAsync("no one", 5, 0, 0, Ask); }).Refusal);
            Assert.Equal(Refusal.InvalidRoom, Assert.Throws<ChatException>(() => { _ = alice.GetHistoryAsync("#no room", 5, 0, 0, Ask); }).Refusal);

            // The next line the client writes is the ping below's answer: nothing was sent for the bad questions.
            await fake.WriteLineAsync("{\"type\":\"ping\",\"ref\":\"p\"}");
            Assert.Equal("pong", NativePeer.Type(JsonNode.Parse(await fake.ReadLineAsync()).AsObject()));
        }

        [Fact]
        public async Task AHistoryQuestionFailsWhenTheConnectionCloses()
        {
            var fake = new FakeNativeServer();
            ChatClient alice = await ConnectAsync(fake, "alice");
            using (alice)
            {
                Task<IReadOnlyList<ChatMessage>> asking = alice.GetHistoryAsync("bob", 5, 0, 0, Ask);
                await fake.ReadLineAsync();
                fake.Dispose();
                var e = await Assert.ThrowsAsync<ChatException>(() => asking.WaitAsync(Deadline));
                Assert.Equal(Refusal.ConnectionClosed, e.Refusal);
            }
        }

        private static async Task<ChatClient> ConnectAsync(FakeNativeServer fake, string user)
        {
            Task<ChatClient> connecting = ChatClient.ConnectAsync("127.0.0.1", fake.Port, user);
            await fake.AcceptAndWelcomeAsync(user);
            return await connecting.WaitAsync(Deadline);
        }

        private static string Message(string id, string from, string text) =>
            "{\"type\":\"message\",\"id\":\"" + id + "\",\"from\":\"" + from + "\",\"to\":\"me\",\"text\":\"" + text + "\",\"sentAt\":\"2026-12-02T12:00:00.0000000Z\"}";

        private static IEnumerable<DeliveryReceipt> Receipts(IEnumerable<object> items) => items.OfType<DeliveryReceipt>();

        private static string RefOf(string frame) => NativePeer.Str(JsonNode.Parse(frame).AsObject(), "ref");
    }
}
