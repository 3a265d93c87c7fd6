using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using Chatrm.Engine.Client;
using Xunit;

namespace Chatrm.Engine.Tests
{
    /// <summary>
    /// The client's side of rooms against a scripted server: the frames it writes, the answers it matches by ref,
    /// refusals as ChatException, room messages and presence in the inbox, and the inbox's room filter.
    /// </summary>
    public class ClientRoomsTests
    {
        private static readonly TimeSpan Deadline = RawClient.Deadline;
        private static readonly TimeSpan Ask = TimeSpan.FromSeconds(10);

        [Fact]
        public void TakingOneRoomLeavesOtherRoomsAndDirectMessagesWaitingInOrder()
        {
            var inbox = new ClientInbox(capacity: 10);
            inbox.Add(InRoom("#ops", "a", "1"));
            inbox.Add(new ChatMessage("b", "me", "2", default));
            inbox.Add(InRoom("#dev", "a", "3"));
            inbox.Add(InRoom("#OPS", "b", "4"));

            Assert.Equal(new[] { "1", "4" }, Texts(inbox.Take(10, null, includePresence: false, room: "#ops")));
            Assert.Equal(2, inbox.MessagesWaiting);
            Assert.Equal(new[] { "2", "3" }, Texts(inbox.Take(10, null, includePresence: false)));
        }

        [Fact]
        public void TheRoomAndSenderFiltersTogetherTakeOnlyWhatBothAllow()
        {
            var inbox = new ClientInbox(capacity: 10);
            inbox.Add(InRoom("#ops", "a", "1"));
            inbox.Add(InRoom("#ops", "b", "2"));
            inbox.Add(new ChatMessage("a", "me", "3", default));

            Assert.Equal(new[] { "1" }, Texts(inbox.Take(10, "a", includePresence: false, room: "#ops")));
            Assert.Equal(new[] { "2", "3" }, Texts(inbox.Take(10, null, includePresence: false)));
        }

        [Fact]
        public void WithARoomOnlyThatRoomsPresenceIsTakenAndTheRestWaits()
        {
            var inbox = new ClientInbox(capacity: 10);
            inbox.Add(new PresenceEvent(PresenceChange.Joined, "carol", default) { Room = "#ops" });
            inbox.Add(new PresenceEvent(PresenceChange.Joined, "dave", default));
            inbox.Add(new PresenceEvent(PresenceChange.Left, "erin", default) { Room = "#dev" });

            List<object> ops = inbox.Take(10, null, includePresence: true, room: "#ops");
            Assert.Equal(new[] { "carol" }, ops.Cast<PresenceEvent>().Select(p => p.UserName));
            List<object> rest = inbox.Take(10, null, includePresence: true);
            Assert.Equal(new[] { "dave", "erin" }, rest.Cast<PresenceEvent>().Select(p => p.UserName));
        }

        [Fact]
        public async Task JoiningWritesAJoinFrameAndTheAnswerWithItsRefIsTheRoom()
        {
            using var fake = new FakeNativeServer();
            Task<ChatClient> connecting = ChatClient.ConnectAsync("127.0.0.1", fake.Port, "alice");
            await fake.AcceptAndWelcomeAsync("alice");
            using ChatClient alice = await connecting.WaitAsync(Deadline);

            Task<RoomInfo> joining = alice.JoinRoomAsync("#ops", Ask);
            string join = await fake.ReadLineAsync();
            string reference = RefOf(join);
            Assert.Equal("{\"type\":\"join\",\"ref\":\"" + reference + "\",\"room\":\"#ops\"}", join);

            // An answer to someone else's question first: it settles nothing.
            await fake.WriteLineAsync("{\"type\":\"room\",\"ref\":\"nobody\",\"room\":\"#dev\",\"joined\":true,\"memberCount\":1,\"members\":[\"alice\"]}");
            await fake.WriteLineAsync("{\"type\":\"room\",\"ref\":\"" + reference + "\",\"room\":\"#ops\",\"joined\":true,\"memberCount\":2,\"members\":[\"alice\",\"bob\"],\"joinedAt\":\"2026-12-02T12:00:00.000Z\"}");

            RoomInfo room = await joining.WaitAsync(Deadline);
            Assert.Equal("#ops", room.Name);
            Assert.Equal(2, room.MemberCount);
            Assert.Equal(new[] { "alice", "bob" }, room.Members);
            Assert.True(room.IsMember);
            Assert.Equal(new DateTime(2026, 12, 2, 12, 0, 0, DateTimeKind.Utc), room.JoinedAt.Value.ToUniversalTime());
        }

        [Theory]
        [InlineData("too-many-rooms", Refusal.TooManyRooms)]
        [InlineData("room-full", Refusal.RoomFull)]
        [InlineData("no-more-rooms", Refusal.NoMoreRooms)]
        public async Task ARefusedJoinThrowsTheRefusalWithTheServersWords(string code, Refusal refusal)
        {
            using var fake = new FakeNativeServer();
            Task<ChatClient> connecting = ChatClient.ConnectAsync("127.0.0.1", fake.Port, "alice");
            await fake.AcceptAndWelcomeAsync("alice");
            using ChatClient alice = await connecting.WaitAsync(Deadline);

            Task<RoomInfo> joining = alice.JoinRoomAsync("#ops", Ask);
            string reference = RefOf(await fake.ReadLineAsync());
            await fake.WriteLineAsync("{\"type\":\"error\",\"ref\":\"" + reference + "\",\"code\":\"" + code + "\",\"message\":\"the limit's words\"}");

            var e = await Assert.ThrowsAsync<ChatException>(() => joining.WaitAsync(Deadline));
            Assert.Equal(refusal, e.Refusal);
            Assert.Contains("the limit's words", e.Message);

            // The refusal was the question's, not a notice for the inbox.
            Assert.Empty(alice.Take(10));
        }

        [Fact]
        public async Task LeavingARoomOneIsNotInThrowsNotInRoom()
        {
            using var fake = new FakeNativeServer();
            Task<ChatClient> connecting = ChatClient.ConnectAsync("127.0.0.1", fake.Port, "alice");
            await fake.AcceptAndWelcomeAsync("alice");
            using ChatClient alice = await connecting.WaitAsync(Deadline);

            Task<RoomInfo> leaving = alice.LeaveRoomAsync("#ops", Ask);
            string part = await fake.ReadLineAsync();
            Assert.StartsWith("{\"type\":\"part\",", part);
            await fake.WriteLineAsync("{\"type\":\"error\",\"ref\":\"" + RefOf(part) + "\",\"code\":\"not-in-room\",\"message\":\"alice is not in #ops\"}");

            var e = await Assert.ThrowsAsync<ChatException>(() => leaving.WaitAsync(Deadline));
            Assert.Equal(Refusal.NotInRoom, e.Refusal);
        }

        [Fact]
        public async Task ListingRoomsAndAskingForOneMatchTheirAnswers()
        {
            using var fake = new FakeNativeServer();
            Task<ChatClient> connecting = ChatClient.ConnectAsync("127.0.0.1", fake.Port, "alice");
            await fake.AcceptAndWelcomeAsync("alice");
            using ChatClient alice = await connecting.WaitAsync(Deadline);

            Task<IReadOnlyList<RoomInfo>> listing = alice.GetRoomsAsync(Ask);
            string rooms = await fake.ReadLineAsync();
            Assert.Equal("{\"type\":\"rooms\",\"ref\":\"" + RefOf(rooms) + "\"}", rooms);
            Task<RoomInfo> asking = alice.GetRoomAsync("#dev", Ask);
            string who = await fake.ReadLineAsync();
            Assert.StartsWith("{\"type\":\"who\",", who);
            Assert.EndsWith("\"room\":\"#dev\"}", who);

            // Answered in the other order: each by its ref.
            await fake.WriteLineAsync("{\"type\":\"room\",\"ref\":\"" + RefOf(who) + "\",\"room\":\"#dev\",\"joined\":false,\"memberCount\":0,\"members\":[]}");
            await fake.WriteLineAsync("{\"type\":\"rooms\",\"ref\":\"" + RefOf(rooms) + "\",\"rooms\":[{\"name\":\"#ops\",\"memberCount\":2,\"joined\":true},{\"name\":\"#dev\",\"memberCount\":5,\"joined\":false}]}");

            RoomInfo dev = await asking.WaitAsync(Deadline);
            Assert.Equal(("#dev", 0, false), (dev.Name, dev.MemberCount, dev.IsMember));
            Assert.Empty(dev.Members);
            Assert.Null(dev.JoinedAt);
            IReadOnlyList<RoomInfo> all = await listing.WaitAsync(Deadline);
            Assert.Equal(new[] { ("#ops", 2, true), ("#dev", 5, false) }, all.Select(r => (r.Name, r.MemberCount, r.IsMember)));
        }

        [Fact]
        public async Task AQuestionTheServerNeverAnswersEndsWithNoAnswer()
        {
            using var fake = new FakeNativeServer();
            Task<ChatClient> connecting = ChatClient.ConnectAsync("127.0.0.1", fake.Port, "alice");
            await fake.AcceptAndWelcomeAsync("alice");
            using ChatClient alice = await connecting.WaitAsync(Deadline);

            var e = await Assert.ThrowsAsync<ChatException>(() => alice.GetRoomsAsync(TimeSpan.FromMilliseconds(100)).WaitAsync(Deadline));
            Assert.Equal(Refusal.NoAnswer, e.Refusal);
        }

        [Fact]
        public async Task AClosingConnectionFailsTheQuestionsItLeavesOpen()
        {
            using var fake = new FakeNativeServer();
            Task<ChatClient> connecting = ChatClient.ConnectAsync("127.0.0.1", fake.Port, "alice");
            await fake.AcceptAndWelcomeAsync("alice");
            using ChatClient alice = await connecting.WaitAsync(Deadline);

            Task<RoomInfo> joining = alice.JoinRoomAsync("#ops", Ask);
            await fake.ReadLineAsync();
            fake.Dispose();

            var e = await Assert.ThrowsAsync<ChatException>(() => joining.WaitAsync(Deadline));
            Assert.Equal(Refusal.ConnectionClosed, e.Refusal);
        }

        [Theory]
        [InlineData("#")]
        [InlineData("#has space")]
        [InlineData("#a_b")]
        [InlineData("#123456789012345678901234567890123")]
        public async Task ABadRoomNameThrowsInvalidRoomBeforeAnythingIsSent(string room)
        {
            await using var server = new TestServer();
            using ChatClient alice = await ChatClient.ConnectAsync("127.0.0.1", server.EndPoint.Port, "alice");

            Assert.Equal(Refusal.InvalidRoom, Assert.Throws<ChatException>(() => { _ = alice.JoinRoomAsync(room, Ask); }).Refusal);
            Assert.Equal(Refusal.InvalidRoom, Assert.Throws<ChatException>(() => { _ = alice.SendAsync(room, "hi"); }).Refusal);
        }

        [Fact]
        public async Task APostIsPostedWithItsSeqAndRecipients()
        {
            using var fake = new FakeNativeServer();
            Task<ChatClient> connecting = ChatClient.ConnectAsync("127.0.0.1", fake.Port, "alice");
            await fake.AcceptAndWelcomeAsync("alice");
            using ChatClient alice = await connecting.WaitAsync(Deadline);

            Task<SentMessage> posting = alice.SendAsync("#ops", "hi");
            string send = await fake.ReadLineAsync();
            Assert.Contains("\"to\":\"#ops\"", send);
            await fake.WriteLineAsync("{\"type\":\"status\",\"ref\":\"" + RefOf(send) + "\",\"id\":\"42\",\"to\":\"#ops\",\"sentAt\":\"2026-12-02T12:00:00.000Z\",\"status\":\"posted\",\"seq\":17,\"recipients\":3}");

            SentMessage posted = await posting.WaitAsync(Deadline);
            Assert.Equal(SendStatus.Posted, posted.Status);
            Assert.Equal(17, posted.Seq);
            Assert.Equal(3, posted.Recipients);
            Assert.Equal("#ops", posted.To);
            Assert.Null(posted.Reason);
        }

        [Fact]
        public async Task APostToARoomOneIsNotInIsRefusedNotInRoom()
        {
            using var fake = new FakeNativeServer();
            Task<ChatClient> connecting = ChatClient.ConnectAsync("127.0.0.1", fake.Port, "alice");
            await fake.AcceptAndWelcomeAsync("alice");
            using ChatClient alice = await connecting.WaitAsync(Deadline);

            Task<SentMessage> posting = alice.SendAsync("#ops", "hi");
            string send = await fake.ReadLineAsync();
            await fake.WriteLineAsync("{\"type\":\"status\",\"ref\":\"" + RefOf(send) + "\",\"id\":\"43\",\"to\":\"#ops\",\"sentAt\":\"2026-12-02T12:00:00.000Z\",\"status\":\"refused\",\"reason\":\"not-in-room\",\"message\":\"alice is not in #ops\"}");

            SentMessage refused = await posting.WaitAsync(Deadline);
            Assert.Equal(SendStatus.Refused, refused.Status);
            Assert.Equal(Refusal.NotInRoom, refused.Refusal);
            Assert.Null(refused.Seq);
        }

        [Fact]
        public async Task RoomMessagesAndRoomPresenceArriveWithTheirRoom()
        {
            using var fake = new FakeNativeServer();
            Task<ChatClient> connecting = ChatClient.ConnectAsync("127.0.0.1", fake.Port, "alice");
            await fake.AcceptAndWelcomeAsync("alice");
            using ChatClient alice = await connecting.WaitAsync(Deadline);

            await fake.WriteLineAsync("{\"type\":\"message\",\"id\":\"42\",\"from\":\"bob\",\"to\":\"#ops\",\"room\":\"#ops\",\"seq\":17,\"text\":\"hi\",\"sentAt\":\"2026-12-02T12:00:00.000Z\"}");
            await fake.WriteLineAsync("{\"type\":\"presence\",\"user\":\"carol\",\"event\":\"joined\",\"room\":\"#ops\",\"time\":\"2026-12-02T12:00:01.000Z\"}");
            await fake.WriteLineAsync("{\"type\":\"message\",\"id\":\"43\",\"from\":\"bob\",\"to\":\"alice\",\"text\":\"direct\",\"sentAt\":\"2026-12-02T12:00:02.000Z\"}");

            var items = new List<object>();
            await Eventually.TrueAsync(() => { items.AddRange(alice.Take(10, includePresence: true)); return items.Count == 3; }, "three items");
            var room = (ChatMessage)items[0];
            Assert.Equal(("bob", "#ops", "#ops", 17L, "hi"), (room.From, room.To, room.Room, room.Seq.Value, room.Text));
            Assert.Equal("[#ops bob>>] hi", room.ToString());
            var presence = (PresenceEvent)items[1];
            Assert.Equal(("carol", "#ops"), (presence.UserName, presence.Room));
            var direct = (ChatMessage)items[2];
            Assert.Equal((string.Empty, (long?)null), (direct.Room, direct.Seq));
        }

        [Fact]
        public async Task OverClassicJoiningSaysRoomsAreJoinedBySendingAndARoomLineIsARoomMessage()
        {
            using var fake = new FakeNativeServer();
            var options = new ClientOptions { GreetingTimeout = TimeSpan.FromMilliseconds(100) };
            Task<ChatClient> connecting = ChatClient.ConnectAsync("127.0.0.1", fake.Port, "alice", ChatProtocol.Classic, options);
            await fake.AcceptAsync();
            Assert.StartsWith("alice", await fake.ReadLineAsync());
            using ChatClient alice = await connecting.WaitAsync(Deadline);

            var e = Assert.Throws<ChatException>(() => { _ = alice.JoinRoomAsync("#ops", Ask); });
            Assert.Equal(Refusal.ProtocolMismatch, e.Refusal);
            Assert.Contains("sending to it", e.Message);

            SentMessage sent = await alice.SendAsync("#ops", "hello").WaitAsync(Deadline);
            Assert.Equal(SendStatus.Sent, sent.Status);
            Assert.Equal("alice_#ops_hello", await fake.ReadLineAsync());

            await fake.WriteLineAsync("alice_#ops_bob: hello there");
            await Eventually.TrueAsync(() => alice.MessagesWaiting == 1, "the room line");
            var message = (ChatMessage)alice.Take(1, room: "#ops").Single();
            Assert.Equal(("bob", "#ops", "#ops", "hello there"), (message.From, message.To, message.Room, message.Text));
            Assert.Null(message.Seq);
        }

        private static string RefOf(string frame)
        {
            const string Marker = "\"ref\":\"";
            int start = frame.IndexOf(Marker, StringComparison.Ordinal) + Marker.Length;
            return frame.Substring(start, frame.IndexOf('"', start) - start);
        }

        private static ChatMessage InRoom(string room, string from, string text) => new ChatMessage(from, room, text, default) { Room = room };

        private static IEnumerable<string> Texts(List<object> items) => items.Cast<ChatMessage>().Select(m => m.Text);
    }
}
