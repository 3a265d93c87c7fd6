using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Tasks;
using Xunit;
using static Chatrm.Engine.Tests.NativePeer;

namespace Chatrm.Engine.Tests
{
    /// <summary>Native and classic users on one server, chatting both ways.</summary>
    public class MixedProtocolTests
    {
        private static readonly TimeSpan Deadline = RawClient.Deadline;

        [Fact]
        public async Task ANativeAndAClassicChatClientChatBothWays()
        {
            await using var server = new TestServer();
            using ChatClient alice = await server.ConnectNativeAsync("alice");
            using ChatClient bob = await server.ConnectAsync("bob"); // classic

            SentMessage toBob = await alice.SendAsync("bob", "hi_bob, from native").WaitAsync(Deadline);
            Assert.Equal(SendStatus.Forwarded, toBob.Status);
            Assert.False(string.IsNullOrEmpty(toBob.Id));
            await Eventually.TrueAsync(() => bob.MessagesWaiting == 1, "bob receives alice's message");
            var atBob = Assert.IsType<ChatMessage>(Assert.Single(bob.Take(10)));
            Assert.Equal(("alice", "hi_bob, from native"), (atBob.From, atBob.Text));
            Assert.Null(atBob.Id); // the classic protocol carries no ids

            SentMessage toAlice = await bob.SendAsync("alice", "hi_alice, from classic").WaitAsync(Deadline);
            Assert.Equal(SendStatus.Sent, toAlice.Status); // the classic protocol says nothing more
            await Eventually.TrueAsync(() => alice.MessagesWaiting == 1, "alice receives bob's message");
            var atAlice = Assert.IsType<ChatMessage>(Assert.Single(alice.Take(10)));
            Assert.Equal(("bob", "alice", "hi_alice, from classic"), (atAlice.From, atAlice.To, atAlice.Text));
            Assert.False(string.IsNullOrEmpty(atAlice.Id));
            Assert.NotNull(atAlice.SentAt);
            Assert.NotEqual(toBob.Id, atAlice.Id);
        }

        [Theory]
        [InlineData("one\ntwo_2\r\nthree\rfour\n", new[] { "one", "two_2", "three", "four" })]
        [InlineData("a\n\nb", new[] { "a", "", "b" })]      // an empty line in the middle is a line
        [InlineData("only one\n", new[] { "only one" })]    // a final break ends the line, adds none
        [InlineData("\r\n", new[] { "" })]
        [InlineData("", new[] { "" })]
        [InlineData("no break at all", new[] { "no break at all" })]
        public async Task TextWithLineBreaksReachesAClassicUserAsOneLinePerLine(string text, string[] lines)
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice");
            using RawClient bob = await server.JoinAsync("bob");

            await alice.SendMessageAsync("bob", text, "m1");

            foreach (string line in lines)
            {
                Assert.Equal("bob_alice_" + line, await bob.ReadLineAsync());
            }

            // One status for the whole message, and nothing more reached bob than those lines.
            JsonObject status = await alice.ExpectAsync("status");
            Assert.Equal(("m1", "forwarded"), (Str(status, "ref"), Str(status, "status")));
            await alice.AssertNothingWaitingAsync();
            await bob.SendAsync("bob_bob_next\n");
            Assert.Equal("bob_bob_next", await bob.ReadLineAsync());
        }

        [Fact]
        public async Task AMultiLineMessageReachesAClassicUserWithNoOtherSendersLineBetween()
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice");
            using RawClient carol = await server.JoinAsync("carol");
            using RawClient bob = await server.JoinAsync("bob");
            const int lineCount = 300;

            string longText = string.Join("\n", Enumerable.Range(0, lineCount).Select(i => "a" + i));
            string carolsLines = string.Concat(Enumerable.Range(0, lineCount).Select(i => $"carol_bob_c{i}\n"));

            // Both at once: carol's lines may come before, after, or between alice's message - but never inside it.
            await Task.WhenAll(alice.SendMessageAsync("bob", longText), carol.SendAsync(carolsLines));

            var received = new List<string>();
            for (int i = 0; i < 2 * lineCount; i++)
            {
                received.Add(await bob.ReadLineAsync());
            }

            var fromAlice = received.Select((line, index) => (line, index)).Where(x => x.line.StartsWith("bob_alice_", StringComparison.Ordinal)).ToList();
            Assert.Equal(Enumerable.Range(0, lineCount).Select(i => "bob_alice_a" + i), fromAlice.Select(x => x.line));
            Assert.Equal(lineCount - 1, fromAlice[lineCount - 1].index - fromAlice[0].index); // contiguous
            Assert.Equal(
                Enumerable.Range(0, lineCount).Select(i => "bob_carol_c" + i),
                received.Where(l => l.StartsWith("bob_carol_", StringComparison.Ordinal)));
        }

        [Fact]
        public async Task AClassicUsersLinesReachANativeUserAsMessagesWithIds()
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice");
            using RawClient carol = await server.JoinAsync("carol");
            DateTime before = DateTime.UtcNow;

            // Both classic forms: the original client's SOURCE_DEST_TEXT and the README's DEST_SOURCE_TEXT.
            await carol.SendAsync("carol_alice_hello_world_again\n");
            await carol.SendAsync("ALICE_carol_second ✓ 日本 🎉\n");

            JsonObject first = await alice.ExpectAsync("message");
            JsonObject second = await alice.ExpectAsync("message");
            Assert.Equal(("carol", "alice", "hello_world_again"), (Str(first, "from"), Str(first, "to"), Str(first, "text")));
            Assert.Equal(("carol", "second ✓ 日本 🎉"), (Str(second, "from"), Str(second, "text")));
            Assert.False(string.IsNullOrEmpty(Str(first, "id")));
            Assert.NotEqual(Str(first, "id"), Str(second, "id"));
            Assert.InRange(Time(first, "sentAt"), before, DateTime.UtcNow);
            Assert.True(Time(first, "sentAt") <= Time(second, "sentAt"));

            // alice acks; carol, who cannot hear confirmations, gets nothing: her next line is her own.
            await alice.AckAsync(Str(first, "id"));
            await alice.AckAsync(Str(second, "id"));
            await alice.AssertNothingWaitingAsync();
            await carol.SendAsync("carol_carol_barrier\n");
            Assert.Equal("carol_carol_barrier", await carol.ReadLineAsync());
        }

        [Fact]
        public async Task Utf8PassesBothWaysBetweenTheProtocols()
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice");
            using RawClient bob = await server.JoinAsync("bob");
            const string text = "héllo ✓ 日本 🎉 \"quoted\" \\ back";

            await alice.SendMessageAsync("bob", text);
            Assert.Equal(Encoding.UTF8.GetBytes("bob_alice_" + text), await bob.ReadLineBytesAsync());
            Assert.Equal("forwarded", Str(await alice.ExpectAsync("status"), "status"));

            await bob.SendAsync(Encoding.UTF8.GetBytes("bob_alice_" + text + "\n"));
            Assert.Equal(text, Str(await alice.ExpectAsync("message"), "text"));
        }

        [Fact]
        public async Task AClassicUsersLineToANativeUserWhoLeftIsRefusedWithAClassicNotice()
        {
            await using var server = new TestServer();
            using RawClient carol = await server.JoinAsync("carol");
            using (NativePeer alice = await server.JoinNativeAsync("alice"))
            {
                await alice.SendAsync("{\"type\":\"bye\"}");
            }

            await server.WaitForEventAsync(ServerEventKind.UserLeft, "alice");
            await carol.SendAsync("carol_alice_still there?\n");

            // alice is known, so the line waits in her inbox (issue 16); carol is told so in a notice.
            Assert.StartsWith("carol_chatrm_stored: alice is offline", await carol.ReadLineAsync());
        }

        [Fact]
        public async Task ANativeUsersMessageToAClassicUserWhoLeftIsStoredForThem()
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice");
            using (RawClient bob = await server.JoinAsync("bob"))
            {
                await bob.SendAsync("EXIT\n");
            }

            await server.WaitForEventAsync(ServerEventKind.UserLeft, "bob");
            await alice.SendMessageAsync("bob", "gone?", "g1");

            JsonObject status = await alice.ExpectAsync("status");
            Assert.Equal(("g1", "stored"), (NativePeer.Str(status, "ref"), NativePeer.Str(status, "status")));
        }

        [Fact]
        public async Task ANativeClientSeesClassicUsersComeAndGo()
        {
            await using var server = new TestServer();
            using ChatClient alice = await server.ConnectNativeAsync("alice");

            RawClient bob = await server.JoinAsync("bob");
            IReadOnlyList<UserInfo> users = await alice.GetUsersAsync(Deadline);
            Assert.Equal(ChatProtocol.Classic, users.Single(u => u.Name == "bob").Protocol);
            Assert.Equal(ChatProtocol.Chatrm, users.Single(u => u.Name == "alice").Protocol);

            await bob.SendAsync("EXIT\n");
            bob.Dispose();

            var seen = new List<PresenceEvent>();
            await Eventually.TrueAsync(() =>
            {
                seen.AddRange(alice.Take(10, includePresence: true).OfType<PresenceEvent>());
                return seen.Count >= 2;
            }, "bob's joining and leaving are heard");
            Assert.Equal(new[] { (PresenceChange.Joined, "bob"), (PresenceChange.Left, "bob") }, seen.Select(p => (p.Kind, p.UserName)));
            Assert.DoesNotContain(await alice.GetUsersAsync(Deadline), u => u.Name == "bob");
        }

        [Fact]
        public async Task MessageIdsAreUniqueAcrossBothProtocols()
        {
            await using var server = new TestServer();
            using ChatClient alice = await server.ConnectNativeAsync("alice");
            using ChatClient bob = await server.ConnectNativeAsync("bob");
            using RawClient carol = await server.JoinAsync("carol");

            // More than one block of the ids a connection takes from the server at a time.
            const int each = 150;

            // Native sends and classic lines interleaved, all to bob.
            var sends = new List<Task<SentMessage>>();
            for (int i = 0; i < each; i++)
            {
                sends.Add(alice.SendAsync("bob", "n" + i));
                await carol.SendAsync($"carol_bob_c{i}\n");
            }

            await Task.WhenAll(sends).WaitAsync(Deadline);
            await Eventually.TrueAsync(() => bob.MessagesWaiting == 2 * each, "bob receives all of them");

            var received = bob.Take(1000).Cast<ChatMessage>().ToList();
            Assert.Equal(2 * each, received.Select(m => m.Id).Distinct().Count());
            Assert.All(received, m => Assert.False(string.IsNullOrEmpty(m.Id)));
            // The ids alice was told are the ids bob got.
            Assert.Equal(
                sends.Select(s => s.Result.Id).OrderBy(id => id),
                received.Where(m => m.From == "alice").Select(m => m.Id).OrderBy(id => id));

            // Each sender's ids rise in the order it sent.
            foreach (string sender in new[] { "alice", "carol" })
            {
                long[] ids = received.Where(m => m.From == sender).Select(m => long.Parse(m.Id)).ToArray();
                Assert.Equal(ids.OrderBy(id => id), ids);
            }
        }
    }
}
