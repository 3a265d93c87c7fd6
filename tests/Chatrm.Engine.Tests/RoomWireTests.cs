using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Threading.Tasks;
using Xunit;

namespace Chatrm.Engine.Tests
{
    /// <summary>
    /// The wire of rooms (issue 15; docs/protocol.md, "Rooms"): every new frame and line, both ways, byte for byte,
    /// and what the readers refuse.
    /// </summary>
    public class RoomWireTests
    {
        private static readonly DateTime SomeTime = new DateTime(2026, 11, 26, 9, 12, 3, DateTimeKind.Utc).AddTicks(1234567);
        private const string At = "2026-11-26T09:12:03.1234567Z";
        private static readonly TimeSpan Deadline = RawClient.Deadline;

        /// <summary>Waits until <paramref name="count"/> items wait in the client's inbox, and takes them.</summary>
        private static async Task<List<object>> TakeAsync(ChatClient client, int count, bool includePresence = false)
        {
            var taken = new List<object>();
            DateTime until = DateTime.UtcNow + Deadline;
            while (taken.Count < count)
            {
                Task arrival = client.NextArrival();
                taken.AddRange(client.Take(count - taken.Count, includePresence: includePresence));
                if (taken.Count < count)
                {
                    Assert.True(DateTime.UtcNow < until, $"only {taken.Count} of {count} arrived");
                    await Task.WhenAny(arrival, Task.Delay(100));
                }
            }

            return taken;
        }

        private static string Line(NativeFrame frame) => NativeProtocol.Format(frame);

        private static string Text(ReadOnlySpan<byte> utf8) => Encoding.UTF8.GetString(utf8.ToArray());

        private static NativeFrame Parse(string line)
        {
            Assert.True(NativeProtocol.TryParse(line.TrimEnd('\n'), out NativeFrame frame, out string problem), problem);
            return frame;
        }

        /// <summary>The line, read and written again: the same bytes.</summary>
        private static void AssertRoundTrip(string line) => Assert.Equal(line, Line(Parse(line)));

        // ---- Native: client to server ----

        [Fact]
        public void TheClientsRoomFramesAreWrittenAsTheDesignShowsThem()
        {
            Assert.Equal("{\"type\":\"join\",\"ref\":\"1\",\"room\":\"#ops\"}\n", Line(NativeProtocol.JoinFrame("1", "#ops")));
            Assert.Equal("{\"type\":\"part\",\"ref\":\"2\",\"room\":\"#ops\"}\n", Line(NativeProtocol.PartFrame("2", "#ops")));
            Assert.Equal("{\"type\":\"rooms\",\"ref\":\"3\"}\n", Line(NativeProtocol.RoomsRequestFrame("3")));
            Assert.Equal("{\"type\":\"who\",\"ref\":\"4\",\"room\":\"#ops\"}\n", Line(NativeProtocol.WhoRoomFrame("4", "#ops")));
            Assert.Equal("{\"type\":\"send\",\"ref\":\"7\",\"to\":\"#ops\",\"text\":\"hi\"}\n", Line(new NativeFrame { Type = FrameType.Send, Ref = "7", To = "#ops", Text = "hi" }));
        }

        [Theory]
        [InlineData("{\"type\":\"join\",\"ref\":\"1\",\"room\":\"#ops\"}", "join", "#ops")]
        [InlineData("{\"type\":\"part\",\"ref\":\"1\",\"room\":\"#OPS\"}", "part", "#OPS")]
        [InlineData("{\"type\":\"who\",\"ref\":\"1\",\"room\":\"#ops\"}", "who", "#ops")]
        [InlineData("{\"type\":\"who\",\"ref\":\"1\"}", "who", null)]
        [InlineData("{\"type\":\"rooms\",\"ref\":\"1\"}", "rooms", null)]
        [InlineData("{ \"room\" : \"#ops\", \"type\" : \"join\" }", "join", "#ops")]           // as a person types it
        [InlineData("{\"type\":\"join\",\"room\":\"\\u0023ops\"}", "join", "#ops")]          // escaped
        [InlineData("{\"type\":\"join\",\"room\":\"#bad name\"}", "join", "#bad name")]      // a bad name is the router's to refuse (invalid-room)
        public void TheServerReadsTheClientsRoomFrames(string line, string type, string room)
        {
            foreach (NativeFrame frame in new[] { new NativeFrame(), new NativeFrame { KeepsWireBytes = true } })
            {
                Assert.True(NativeProtocol.TryParse(Encoding.UTF8.GetBytes(line), frame, out string problem), problem);
                Assert.Equal(type, frame.Type);
                Assert.Equal(room, frame.Room);
            }
        }

        [Fact]
        public void ARoutingFrameForgetsTheRoomOfItsPreviousFrame()
        {
            var frame = new NativeFrame { KeepsWireBytes = true };
            Assert.True(NativeProtocol.TryParse("{\"type\":\"join\",\"ref\":\"1\",\"room\":\"#ops\"}"u8, frame, out _));
            Assert.True(NativeProtocol.TryParse("{\"type\":\"who\",\"ref\":\"2\"}"u8, frame, out _));

            Assert.Null(frame.Room);
            Assert.True(NativeProtocol.TryParse("{\"type\":\"part\",\"ref\":\"3\",\"room\":\"#ops\"}"u8, frame, out _));
            Assert.Equal("#ops", frame.Room);
        }

        [Theory]
        [InlineData("{\"type\":\"join\",\"ref\":\"1\"}", "a join needs a \"room\"")]
        [InlineData("{\"type\":\"join\",\"ref\":\"1\",\"room\":null}", "a join needs a \"room\"")]
        [InlineData("{\"type\":\"part\",\"ref\":\"1\"}", "a part needs a \"room\"")]
        [InlineData("{\"type\":\"join\",\"ref\":\"1\",\"room\":5}", "\"room\" must be a string")]
        [InlineData("{\"type\":\"who\",\"ref\":\"1\",\"room\":[\"#ops\"]}", "\"room\" must be a string")]
        [InlineData("{\"type\":\"send\",\"ref\":\"1\",\"to\":\"#ops\",\"text\":\"hi\",\"room\":true}", "\"room\" must be a string")]
        public void ARoomFrameWithoutARoomIsMalformedAndNamedByItsRef(string line, string problemMentions)
        {
            var frame = new NativeFrame { KeepsWireBytes = true };
            Assert.False(NativeProtocol.TryParse(Encoding.UTF8.GetBytes(line), frame, out string problem));

            Assert.Contains(problemMentions, problem);
            Assert.Equal("1", frame.Ref);       // the session answers malformed-frame with the frame's ref
        }

        // ---- Native: server to client ----

        private static RoomInfo Ops(bool member = true) =>
            new RoomInfo("#ops", 2, new[] { "alice", "bob" }, member, member ? SomeTime : null);

        [Fact]
        public void TheRoomFrameIsWrittenAsTheDesignShowsIt()
        {
            // A join's answer, and a who's from a member: members and when one joined.
            Assert.Equal(
                "{\"type\":\"room\",\"ref\":\"1\",\"room\":\"#ops\",\"joined\":true,\"memberCount\":2,\"members\":[\"alice\",\"bob\"],\"joinedAt\":\"" + At + "\"}\n",
                Line(NativeProtocol.RoomFrame("1", Ops(), listMembers: true)));

            // A who from someone outside: members, no joinedAt.
            Assert.Equal(
                "{\"type\":\"room\",\"ref\":\"4\",\"room\":\"#ops\",\"joined\":false,\"memberCount\":2,\"members\":[\"alice\",\"bob\"]}\n",
                Line(NativeProtocol.RoomFrame("4", Ops(member: false), listMembers: true)));

            // A part's answer: no members.
            Assert.Equal(
                "{\"type\":\"room\",\"ref\":\"2\",\"room\":\"#ops\",\"joined\":false,\"memberCount\":1}\n",
                Line(NativeProtocol.RoomFrame("2", new RoomInfo("#ops", 1), listMembers: false)));

            // A who of a room that does not exist: an empty room, members listed as none.
            Assert.Equal(
                "{\"type\":\"room\",\"ref\":\"4\",\"room\":\"#ops\",\"joined\":false,\"memberCount\":0,\"members\":[]}\n",
                Line(NativeProtocol.RoomFrame("4", new RoomInfo("#ops", 0), listMembers: true)));

            // joinedAt goes only with joined: a RoomInfo that is not the asker's own says nothing of when.
            Assert.DoesNotContain("joinedAt", Line(NativeProtocol.RoomFrame("5", new RoomInfo("#ops", 1, null, false, SomeTime), listMembers: false)));
        }

        [Fact]
        public void TheRoomsFrameIsWrittenAsTheDesignShowsIt()
        {
            var rooms = new List<RoomInfo> { new RoomInfo("#ops", 2, new[] { "alice", "bob" }, true, SomeTime), new RoomInfo("#dev", 1) };

            Assert.Equal(
                "{\"type\":\"rooms\",\"ref\":\"3\",\"rooms\":[{\"name\":\"#ops\",\"memberCount\":2,\"joined\":true},{\"name\":\"#dev\",\"memberCount\":1,\"joined\":false}]}\n",
                Line(NativeProtocol.RoomsFrame("3", rooms)));
            Assert.Equal("{\"type\":\"rooms\",\"ref\":\"3\",\"rooms\":[]}\n", Line(NativeProtocol.RoomsFrame("3", new List<RoomInfo>())));
        }

        [Fact]
        public void ThePostedStatusIsWrittenAsTheDesignShowsIt()
        {
            var envelope = new ChatEnvelope(42, "alice", "#ops", "hi", null, SomeTime, senderRef: "7") { Seq = 17 };

            string expected = "{\"type\":\"status\",\"ref\":\"7\",\"id\":\"42\",\"to\":\"#ops\",\"sentAt\":\"" + At + "\",\"status\":\"posted\",\"seq\":17,\"recipients\":3}\n";
            Assert.Equal(expected, Line(NativeProtocol.PostedFrame(envelope, 17, 3)));
            Assert.Equal(expected, Text(NativeProtocol.FormatPosted(envelope, 17, 3)));

            // A post from someone outside the room is refused as any send is: with its id and time.
            Assert.Equal(
                "{\"type\":\"status\",\"ref\":\"8\",\"id\":\"43\",\"to\":\"#ops\",\"sentAt\":\"" + At + "\",\"status\":\"refused\",\"reason\":\"not-in-room\",\"message\":\"you are not in #ops\"}\n",
                Line(new NativeFrame { Type = FrameType.Status, Ref = "8", Id = "43", To = "#ops", SentAt = SomeTime, Status = "refused", Reason = Refusal.NotInRoom.ToCode(), Message = "you are not in #ops" }));
        }

        [Fact]
        public void RoomPresenceIsWrittenAsTheDesignShowsIt()
        {
            Assert.Equal(
                "{\"type\":\"presence\",\"user\":\"carol\",\"event\":\"joined\",\"room\":\"#ops\",\"time\":\"" + At + "\"}\n",
                Line(NativeProtocol.RoomPresenceFrame("#ops", "carol", PresenceChange.Joined, SomeTime)));
            Assert.Equal(
                "{\"type\":\"presence\",\"user\":\"carol\",\"event\":\"left\",\"room\":\"#ops\",\"time\":\"" + At + "\"}\n",
                Line(NativeProtocol.RoomPresenceFrame("#ops", "carol", PresenceChange.Left, SomeTime)));

            // Server-wide presence is unchanged.
            Assert.Equal(
                "{\"type\":\"presence\",\"user\":\"carol\",\"event\":\"joined\",\"time\":\"" + At + "\"}\n",
                Line(new NativeFrame { Type = FrameType.Presence, User = "carol", Event = "joined", Time = SomeTime }));
        }

        [Fact]
        public void TheRoomMessageIsWrittenAsTheDesignShowsIt()
        {
            var envelope = new ChatEnvelope(42, "alice", "#ops", "hi", null, SomeTime) { Seq = 17 };

            string expected = "{\"type\":\"message\",\"id\":\"42\",\"from\":\"alice\",\"to\":\"#ops\",\"room\":\"#ops\",\"seq\":17,\"text\":\"hi\",\"sentAt\":\"" + At + "\"}\n";
            Assert.Equal(expected, Text(NativeProtocol.FormatRoomMessage(envelope).Span));
            Assert.Equal(expected, Line(new NativeFrame { Type = FrameType.Message, Id = "42", From = "alice", To = "#ops", Room = "#ops", Seq = 17, Text = "hi", SentAt = SomeTime }));

            // The message writer every delivery goes through writes the room's form, whatever recipient it is given.
            Assert.Equal(expected, Text(NativeProtocol.FormatMessage(envelope, NativeProtocol.EncodeName("alice"), NativeProtocol.EncodeName("bob"))));
        }

        [Theory]
        [InlineData("alice", "#ops", "hi", 1L)]
        [InlineData("Zoë", "#ops", "quotes \" back \\ line\nbreak 🎉 <tag> & 'x' _under_", 9007199254740993L)]
        [InlineData("alice", "#a.b-c", "", 17L)]
        [InlineData("alice", "#we\"ird", "hi", 2L)]   // no room is named so; still written as JSON
        public void TheRoomMessageWriterWritesWhatTheGeneralOneWrites(string from, string room, string text, long seq)
        {
            string general = Line(new NativeFrame { Type = FrameType.Message, Id = "42", From = from, To = room, Room = room, Seq = seq, Text = text, SentAt = SomeTime });

            // The text as a string, as the server keeps it from a send it routes, and with an id of another server.
            var plain = new ChatEnvelope("42", from, room, text, SomeTime) { Seq = seq };
            var routedFrame = new NativeFrame { KeepsWireBytes = true };
            Assert.True(NativeProtocol.TryParse(Encoding.UTF8.GetBytes(Line(new NativeFrame { Type = FrameType.Send, To = room, Text = text }).TrimEnd('\n')), routedFrame, out _));
            ChatEnvelope routed = ChatEnvelope.FromSend(routedFrame, 42, from, SomeTime, SenderAddress.None);
            routed.Seq = seq;
            routed.EncodedFrom = NativeProtocol.EncodeName(from);
            foreach (ChatEnvelope each in new[] { plain, routed })
            {
                Assert.Equal(general, Text(NativeProtocol.FormatRoomMessage(each).Span));
            }

            AssertRoundTrip(general);
            NativeFrame read = Parse(general);
            Assert.Equal((room, (long?)seq, text), (read.Room, read.Seq, read.Text));
        }

        [Fact]
        public void ARoomMessageIsWrittenOncePerPostForAllItsMembers()
        {
            var post = new ChatEnvelope(42, "alice", "#ops", "hi", null, SomeTime) { Seq = 17 };

            ReadOnlyMemory<byte> first = NativeProtocol.FormatRoomMessage(post);
            string written = Text(first.Span);

            // Every other member of the post: the very same bytes, not written again.
            for (int member = 0; member < 5; member++)
            {
                ReadOnlyMemory<byte> again = NativeProtocol.FormatRoomMessage(post);
                Assert.True(first.Span == again.Span);

                // Whatever else is written for a member in between (its own frames) does not touch them.
                NativeProtocol.FormatUtf8(new NativeFrame { Type = FrameType.Error, Code = "x", Message = new string('y', 500) });
                NativeProtocol.FormatMessage(new ChatEnvelope(43, "bob", "carol", "direct", null, SomeTime), NativeProtocol.EncodeName("bob"), NativeProtocol.EncodeName("carol"));
                ClassicProtocol.FormatRoomDelivery("dave", post);
            }

            Assert.Equal(written, Text(first.Span));

            // The next post is written anew, a long one too, and a short one after it.
            var next = new ChatEnvelope(44, "alice", "#ops", "again", null, SomeTime) { Seq = 18 };
            Assert.Contains("\"seq\":18,\"text\":\"again\"", Text(NativeProtocol.FormatRoomMessage(next).Span));
            var lengthy = new ChatEnvelope(45, "alice", "#ops", new string('z', 100_000), null, SomeTime) { Seq = 19 };
            Assert.Equal(Line(new NativeFrame { Type = FrameType.Message, Id = "45", From = "alice", To = "#ops", Room = "#ops", Seq = 19, Text = lengthy.Text, SentAt = SomeTime }),
                Text(NativeProtocol.FormatRoomMessage(lengthy).Span));
            Assert.Equal(written.Replace("\"seq\":17", "\"seq\":20"), Text(NativeProtocol.FormatRoomMessage(new ChatEnvelope(42, "alice", "#ops", "hi", null, SomeTime) { Seq = 20 }).Span));
        }

        [Fact]
        public void APostToAHundredMembersWritesWithoutAllocating()
        {
            // The fan-out path: one post, each member's frame or line; warmed first (buffers grow once).
            ChatEnvelope Post(long n)
            {
                NativeFrame send = new NativeFrame { KeepsWireBytes = true };
                NativeProtocol.TryParse("{\"type\":\"send\",\"ref\":\"1\",\"to\":\"#ops\",\"text\":\"sixty-four bytes of text, more or less, as the benchmark sends\"}"u8, send, out _);
                ChatEnvelope envelope = ChatEnvelope.FromSend(send, n, "alice", SomeTime, SenderAddress.None);
                envelope.Seq = n;
                envelope.EncodedFrom = NativeProtocol.EncodeName("alice");
                _ = envelope.Text;
                return envelope;
            }

            string[] classic = Enumerable.Range(0, 100).Select(i => "member" + i).ToArray();
            ChatEnvelope[] posts = Enumerable.Range(1, 20).Select(i => Post(i)).ToArray();
            int bytes = 0;
            void Deliver(ChatEnvelope post)
            {
                for (int member = 0; member < 100; member++)
                {
                    bytes += NativeProtocol.FormatMessage(post, post.EncodedFrom, default).Length;
                    bytes += ClassicProtocol.FormatRoomDelivery(classic[member], post).Length;
                }
            }

            Deliver(posts[0]);
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 1; i < posts.Length; i++)
            {
                Deliver(posts[i]);
            }

            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(bytes > 0);
            Assert.True(allocated < 256, allocated + " bytes allocated by 19 posts to 100 native and 100 classic members");
        }

        [Fact]
        public void DirectMessagesAreWrittenAsBefore()
        {
            var envelope = new ChatEnvelope(42, "alice", "bob", "hi", null, SomeTime);

            Assert.Equal(
                "{\"type\":\"message\",\"id\":\"42\",\"from\":\"alice\",\"to\":\"bob\",\"text\":\"hi\",\"sentAt\":\"" + At + "\"}\n",
                Text(NativeProtocol.FormatMessage(envelope, NativeProtocol.EncodeName("alice"), NativeProtocol.EncodeName("bob"))));
            Assert.Null(envelope.Room);
        }

        [Theory]
        [InlineData("{\"type\":\"room\",\"ref\":\"1\",\"room\":\"#ops\",\"joined\":true,\"memberCount\":2,\"members\":[\"alice\",\"bob\"],\"joinedAt\":\"" + At + "\"}\n")]
        [InlineData("{\"type\":\"room\",\"ref\":\"2\",\"room\":\"#ops\",\"joined\":false,\"memberCount\":1}\n")]
        [InlineData("{\"type\":\"room\",\"ref\":\"4\",\"room\":\"#ops\",\"joined\":false,\"memberCount\":0,\"members\":[]}\n")]
        [InlineData("{\"type\":\"room\",\"ref\":\"4\",\"room\":\"#x\",\"joined\":true,\"memberCount\":1,\"members\":[\"Zo\\u00eb \\\"q\\\"\"],\"joinedAt\":\"" + At + "\"}\n")]
        [InlineData("{\"type\":\"rooms\",\"ref\":\"3\",\"rooms\":[{\"name\":\"#ops\",\"memberCount\":2,\"joined\":true},{\"name\":\"#dev\",\"memberCount\":1,\"joined\":false}]}\n")]
        [InlineData("{\"type\":\"status\",\"ref\":\"7\",\"id\":\"42\",\"to\":\"#ops\",\"sentAt\":\"" + At + "\",\"status\":\"posted\",\"seq\":17,\"recipients\":3}\n")]
        [InlineData("{\"type\":\"status\",\"ref\":\"7\",\"id\":\"42\",\"to\":\"#ops\",\"sentAt\":\"" + At + "\",\"status\":\"posted\",\"seq\":9223372036854775807,\"recipients\":0}\n")]
        [InlineData("{\"type\":\"presence\",\"user\":\"carol\",\"event\":\"left\",\"room\":\"#ops\",\"time\":\"" + At + "\"}\n")]
        [InlineData("{\"type\":\"message\",\"id\":\"3.42\",\"from\":\"alice\",\"to\":\"#ops\",\"room\":\"#ops\",\"seq\":17,\"text\":\"hi\",\"sentAt\":\"" + At + "\"}\n")]
        [InlineData("{\"type\":\"join\",\"ref\":\"1\",\"room\":\"#ops\"}\n")]
        [InlineData("{\"type\":\"part\",\"ref\":\"1\",\"room\":\"#ops\"}\n")]
        [InlineData("{\"type\":\"who\",\"ref\":\"1\",\"room\":\"#ops\"}\n")]
        [InlineData("{\"type\":\"rooms\",\"ref\":\"1\"}\n")]
        public void EveryRoomFrameSurvivesARoundTrip(string line)
        {
            // Escapes are the writer's own: the member with é comes back as its letter.
            string expected = line.Replace("Zo\\u00eb", "Zoë");
            Assert.Equal(expected, Line(Parse(line)));
        }

        [Fact]
        public void TheClientReadsTheRoomFramesIntoRooms()
        {
            RoomInfo joined = Parse(Line(NativeProtocol.RoomFrame("1", Ops(), listMembers: true))).ToRoomInfo();
            Assert.Equal(("#ops", 2, true, (DateTime?)SomeTime), (joined.Name, joined.MemberCount, joined.IsMember, joined.JoinedAtUtc));
            Assert.Equal(new[] { "alice", "bob" }, joined.Members);

            RoomInfo left = Parse("{\"type\":\"room\",\"ref\":\"2\",\"room\":\"#ops\",\"joined\":false,\"memberCount\":1}").ToRoomInfo();
            Assert.Equal(("#ops", 1, false, (DateTime?)null), (left.Name, left.MemberCount, left.IsMember, left.JoinedAtUtc));
            Assert.Empty(left.Members);

            NativeFrame rooms = Parse("{\"type\":\"rooms\",\"ref\":\"3\",\"rooms\":[{\"name\":\"#ops\",\"memberCount\":2,\"joined\":true,\"later\":{}},{\"name\":\"#dev\"},{}]}");
            Assert.Equal(3, rooms.Rooms.Count);
            Assert.Equal(("#ops", 2, true), (rooms.Rooms[0].Name, rooms.Rooms[0].MemberCount, rooms.Rooms[0].IsMember));
            Assert.Equal(("#dev", 0, false), (rooms.Rooms[1].Name, rooms.Rooms[1].MemberCount, rooms.Rooms[1].IsMember));
            Assert.Null(rooms.Rooms[2].Name);
        }

        [Theory]
        [InlineData("{\"type\":\"message\",\"room\":\"#ops\",\"seq\":\"17\"}", "\"seq\"")]
        [InlineData("{\"type\":\"message\",\"room\":\"#ops\",\"seq\":0}", "\"seq\"")]
        [InlineData("{\"type\":\"message\",\"room\":\"#ops\",\"seq\":1.5}", "\"seq\"")]
        [InlineData("{\"type\":\"message\",\"room\":\"#ops\",\"seq\":99999999999999999999}", "\"seq\"")]
        [InlineData("{\"type\":\"status\",\"status\":\"posted\",\"recipients\":-1}", "\"recipients\"")]
        [InlineData("{\"type\":\"status\",\"status\":\"posted\",\"recipients\":\"3\"}", "\"recipients\"")]
        [InlineData("{\"type\":\"room\",\"room\":\"#ops\",\"joined\":\"yes\"}", "\"joined\"")]
        [InlineData("{\"type\":\"room\",\"room\":\"#ops\",\"memberCount\":\"2\"}", "\"memberCount\"")]
        [InlineData("{\"type\":\"room\",\"room\":\"#ops\",\"members\":\"alice\"}", "\"members\"")]
        [InlineData("{\"type\":\"room\",\"room\":\"#ops\",\"members\":[\"alice\",5]}", "\"members\"")]
        [InlineData("{\"type\":\"room\",\"room\":\"#ops\",\"joinedAt\":\"soon\"}", "\"joinedAt\"")]
        [InlineData("{\"type\":\"rooms\",\"rooms\":{}}", "\"rooms\"")]
        [InlineData("{\"type\":\"rooms\",\"rooms\":[\"#ops\"]}", "\"rooms\"")]
        [InlineData("{\"type\":\"presence\",\"user\":\"a\",\"event\":\"joined\",\"room\":{}}", "\"room\"")]
        public void MalformedRoomFieldsAreRefusedWithAReason(string line, string problemMentions)
        {
            Assert.False(NativeProtocol.TryParse(line, out NativeFrame frame, out string problem));

            Assert.Null(frame);
            Assert.Contains(problemMentions, problem);
        }

        [Fact]
        public void ARoomOfAThousandMembersAndTenThousandRoomsAreReadWhole()
        {
            // Longer than any frame a client may send (maxFrameBytes), as a users frame of many users is: the client
            // reads lines up to ClientOptions.MaxLineBytes (1 MiB), whatever the server takes.
            string[] members = Enumerable.Range(0, 1000).Select(i => "member-with-a-long-name-" + i.ToString("D8")).ToArray();
            string big = Line(NativeProtocol.RoomFrame("1", new RoomInfo("#ops", members.Length, members, true, SomeTime), listMembers: true));
            Assert.True(big.Length > ServerOptions.DefaultMaxLineBytes);
            Assert.Equal(members, Parse(big).Members);

            string longName = "#" + new string('r', 26);
            var rooms = Enumerable.Range(0, 10000).Select(i => new RoomInfo(longName + i.ToString("D6"), 1000, null, i % 2 == 0)).ToList();
            string list = Line(NativeProtocol.RoomsFrame("2", rooms));
            Assert.InRange(Encoding.UTF8.GetByteCount(list), ServerOptions.DefaultMaxLineBytes, new ClientOptions().MaxLineBytes);
            Assert.Equal(rooms.Select(r => r.Name), Parse(list).Rooms.Select(r => r.Name));
        }

        // ---- Classic ----

        [Fact]
        public void ARoomMessageReachesAClassicMemberAsTheOriginalClientShowsIt()
        {
            Assert.Equal("bob_#ops_alice: hello\n", ClassicProtocol.FormatRoomDelivery("bob", "#ops", "alice", "hello"));

            // The original client splits at the first two '_': DEST bob, SOURCE #ops, TEXT "alice: hello" ([#ops>>] alice: hello).
            Assert.True(ClassicProtocol.TryParseDelivery("bob_#ops_alice: hello_world", out string to, out string source, out string text));
            Assert.Equal(("bob", "#ops", "alice: hello_world"), (to, source, text));
        }

        [Theory]
        [InlineData("hello")]
        [InlineData("")]
        [InlineData("two lines\nhere_and: there")]
        [InlineData("three\r\nlines\rhere\n")]
        [InlineData("héllo 日本 🎉")]
        public void TheClassicRoomLineBytesAreTheStringsAndAreMadeOncePerPost(string text)
        {
            var post = new ChatEnvelope(5, "alice", "#ops", text, null, SomeTime) { Seq = 3 };

            foreach (string member in new[] { "bob", "carol", "Dave.x-1", "bob" })
            {
                string expected = string.Concat(ClassicProtocol.SplitLines(text).Select(line => ClassicProtocol.FormatRoomDelivery(member, "#ops", "alice", line)));
                Assert.Equal(expected, Text(ClassicProtocol.FormatRoomDelivery(member, post)));
            }

            // Another post on the same thread is its own.
            var other = new ChatEnvelope(6, "carol", "#dev", "x", null, SomeTime) { Seq = 1 };
            Assert.Equal("bob_#dev_carol: x\n", Text(ClassicProtocol.FormatRoomDelivery("bob", other)));
        }

        [Theory]
        [InlineData("bob_#ops_alice: hello", "bob", "#ops", "alice", "hello")]
        [InlineData("bob_#ops_alice: a_b: c", "bob", "#ops", "alice", "a_b: c")]
        [InlineData("bob_#ops_alice: ", "bob", "#ops", "alice", "")]
        [InlineData("bob_#ops_alice:", "bob", "#ops", "alice", "")]
        [InlineData("bob_#ops_alice:  two spaces", "bob", "#ops", "alice", " two spaces")]
        public void ChatrmsClientReadsARoomLine(string line, string to, string room, string from, string text)
        {
            Assert.True(ClassicProtocol.TryParseRoomDelivery(line, out string readTo, out string readRoom, out string readFrom, out string readText));
            Assert.Equal((to, room, from, text), (readTo, readRoom, readFrom, readText));

            // And what the server writes reads back.
            Assert.True(ClassicProtocol.TryParseRoomDelivery(ClassicProtocol.FormatRoomDelivery(to, room, from, text).TrimEnd('\n'), out _, out _, out readFrom, out readText));
            Assert.Equal((from, text), (readFrom, readText));
        }

        [Theory]
        [InlineData("bob_alice_hello: there")]       // a direct line: SOURCE is a user
        [InlineData("bob_chatrm_not-in-room: you are not in #ops")]
        [InlineData("bob_#ops_no colon here")]
        [InlineData("bob_#ops_: nobody")]
        [InlineData("bob_#ops_two words: x")]
        [InlineData("bob_#ops")]
        public void OtherLinesAreNotRoomLines(string line)
        {
            Assert.False(ClassicProtocol.TryParseRoomDelivery(line, out _, out _, out _, out _));
        }

        [Theory]
        [InlineData("alice_#ops_hello", "#ops", "hello")]         // the original client's SOURCE_DEST_TEXT
        [InlineData("#ops_alice_hello", "#ops", "hello")]         // the README's DEST_SOURCE_TEXT
        [InlineData("alice_#OPS_hi_there", "#OPS", "hi_there")]
        [InlineData("alice_#ops_/part", "#ops", "/part")]
        [InlineData("alice_#bad name_x", "#bad name", "x")]       // the router refuses it: invalid-room
        public void TheServerReadsAClassicLineToARoomAsAMessageToIt(string line, string to, string text)
        {
            ClassicLine parsed = ClassicProtocol.ParseClientLine(line, "alice");

            Assert.Equal(ClassicLineKind.Message, parsed.Kind);
            Assert.Equal((to, text), (parsed.To, parsed.Text));
            Assert.True(RoomNames.IsRoom(parsed.To));
        }

        [Theory]
        [InlineData("/part", true)]
        [InlineData("/part ", false)]
        [InlineData(" /part", false)]
        [InlineData("/PART", false)]
        [InlineData("/parting", false)]
        [InlineData("part", false)]
        [InlineData("", false)]
        public void OnlyTheTextPartLeavesARoom(string text, bool part)
        {
            Assert.Equal(part, ClassicProtocol.IsPart(text));
        }

        // ---- Chatrm's client reading them ----

        [Fact]
        public async Task TheNativeClientReadsRoomMessagesPresenceAndPostedStatuses()
        {
            using var fake = new FakeNativeServer();
            Task<ChatClient> connecting = ChatClient.ConnectAsync("127.0.0.1", fake.Port, "bob");
            await fake.AcceptAndWelcomeAsync("bob");
            using ChatClient bob = await connecting.WaitAsync(Deadline);

            await fake.WriteLineAsync("{\"type\":\"presence\",\"user\":\"carol\",\"event\":\"joined\",\"room\":\"#ops\",\"time\":\"" + At + "\"}");
            await fake.WriteLineAsync("{\"type\":\"message\",\"id\":\"42\",\"from\":\"alice\",\"to\":\"#ops\",\"room\":\"#ops\",\"seq\":17,\"text\":\"hi\",\"sentAt\":\"" + At + "\"}");
            await fake.WriteLineAsync("{\"type\":\"message\",\"id\":\"43\",\"from\":\"alice\",\"to\":\"bob\",\"text\":\"direct\",\"sentAt\":\"" + At + "\"}");

            // A room message needs no ack (this client did not ask for batches, so it acks by id): only the direct one is.
            Assert.Equal("{\"type\":\"ack\",\"id\":\"43\"}", await fake.ReadLineAsync());
            List<object> got = await TakeAsync(bob, 3, includePresence: true);

            var presence = Assert.IsType<PresenceEvent>(got[0]);
            Assert.Equal(("carol", PresenceChange.Joined, "#ops"), (presence.UserName, presence.Kind, presence.Room));
            var room = Assert.IsType<ChatMessage>(got[1]);
            Assert.Equal(("alice", "#ops", "#ops", (long?)17, "hi", "42"), (room.From, room.To, room.Room, room.Seq, room.Text, room.Id));
            var direct = Assert.IsType<ChatMessage>(got[2]);
            Assert.Equal(("alice", "bob", "", (long?)null), (direct.From, direct.To, direct.Room, direct.Seq));

            // A post: the send frame to the room, answered posted with its place and how many it reached.
            Task<SentMessage> posting = bob.SendAsync("#ops", "hello room");
            string send = await fake.ReadLineAsync();
            Assert.Matches("^\\{\"type\":\"send\",\"ref\":\"[^\"]+\",\"to\":\"#ops\",\"text\":\"hello room\"\\}$", send);
            string reference = NativeProtocol.TryParse(send, out NativeFrame frame, out _) ? frame.Ref : null;
            await fake.WriteLineAsync("{\"type\":\"status\",\"ref\":\"" + reference + "\",\"id\":\"44\",\"to\":\"#ops\",\"sentAt\":\"" + At + "\",\"status\":\"posted\",\"seq\":18,\"recipients\":3}");
            SentMessage posted = await posting.WaitAsync(Deadline);
            Assert.Equal((SendStatus.Posted, (long?)18, (int?)3, "44", "#ops"), (posted.Status, posted.Seq, posted.Recipients, posted.Id, posted.To));

            Task<SentMessage> refusing = bob.SendAsync("#dev", "anyone?");
            NativeProtocol.TryParse(await fake.ReadLineAsync(), out frame, out _);
            await fake.WriteLineAsync("{\"type\":\"status\",\"ref\":\"" + frame.Ref + "\",\"id\":\"45\",\"to\":\"#dev\",\"sentAt\":\"" + At + "\",\"status\":\"refused\",\"reason\":\"not-in-room\",\"message\":\"you are not in #dev\"}");
            SentMessage refused = await refusing.WaitAsync(Deadline);
            Assert.Equal((SendStatus.Refused, Refusal.NotInRoom, (long?)null, (int?)null), (refused.Status, refused.Refusal, refused.Seq, refused.Recipients));

            var bad = Assert.Throws<ChatException>(() => { _ = bob.SendAsync("#not a room", "x"); });
            Assert.Equal(Refusal.InvalidRoom, bad.Refusal);
        }

        [Fact]
        public async Task TheNativeClientMatchesRoomAnswersToItsRequestsByRef()
        {
            using var fake = new FakeNativeServer();
            Task<ChatClient> connecting = ChatClient.ConnectAsync("127.0.0.1", fake.Port, "bob");
            await fake.AcceptAndWelcomeAsync("bob");
            using ChatClient bob = await connecting.WaitAsync(Deadline);

            // A join answered by a room frame of a thousand members: longer than maxFrameBytes, read whole.
            Task<RoomInfo> joining = bob.AskForRoomAsync(r => NativeProtocol.JoinFrame(r, "#ops"), "join #ops", Deadline);
            NativeFrame join = Parse(await fake.ReadLineAsync());
            Assert.Equal((FrameType.Join, "#ops"), (join.Type, join.Room));
            string[] members = Enumerable.Range(0, 1000).Select(i => "a-member-named-" + i.ToString("D6")).ToArray();
            string answer = Line(NativeProtocol.RoomFrame(join.Ref, new RoomInfo("#ops", 1000, members, true, SomeTime), listMembers: true));
            Assert.True(answer.Length > ServerOptions.DefaultMaxLineBytes);
            await fake.WriteLineAsync("{\"type\":\"room\",\"ref\":\"not-mine\",\"room\":\"#other\",\"joined\":true,\"memberCount\":1}");
            await fake.WriteLineAsync(answer.TrimEnd('\n'));
            RoomInfo ops = await joining.WaitAsync(Deadline);
            Assert.Equal(("#ops", 1000, true), (ops.Name, ops.MemberCount, ops.IsMember));
            Assert.Equal(members, ops.Members);
            Assert.Equal(SomeTime.ToLocalTime(), ops.JoinedAt);

            // A refused join: its error, by ref, fails the request with the refusal.
            Task<RoomInfo> refused = bob.AskForRoomAsync(r => NativeProtocol.JoinFrame(r, "#full"), "join #full", Deadline);
            NativeFrame second = Parse(await fake.ReadLineAsync());
            await fake.WriteLineAsync("{\"type\":\"error\",\"ref\":\"" + second.Ref + "\",\"code\":\"room-full\",\"message\":\"#full has 1000 members, as many as a room may have (-MaxMembersPerRoom)\"}");
            var e = await Assert.ThrowsAsync<ChatException>(() => refused.WaitAsync(Deadline));
            Assert.Equal(Refusal.RoomFull, e.Refusal);
            Assert.Contains("-MaxMembersPerRoom", e.Message);

            // The list of rooms.
            Task<IReadOnlyList<RoomInfo>> listing = bob.AskForRoomsAsync(Deadline);
            NativeFrame list = Parse(await fake.ReadLineAsync());
            Assert.Equal((FrameType.Rooms, (string)null), (list.Type, list.Room));
            await fake.WriteLineAsync(Line(NativeProtocol.RoomsFrame(list.Ref, new[] { new RoomInfo("#ops", 1000, null, true), new RoomInfo("#dev", 2) })).TrimEnd('\n'));
            IReadOnlyList<RoomInfo> rooms = await listing.WaitAsync(Deadline);
            Assert.Equal(new[] { ("#ops", 1000, true), ("#dev", 2, false) }, rooms.Select(r => (r.Name, r.MemberCount, r.IsMember)));

            // Nothing of this reached the inbox.
            Assert.Empty(bob.Take(10, includePresence: true));
        }

        [Fact]
        public async Task TheClassicClientReadsARoomLineAsARoomMessage()
        {
            using var original = new FakeOriginalServer();
            Task<System.Net.Sockets.NetworkStream> accepted = original.AcceptAsync();
            Task<ChatClient> connecting = ChatClient.ConnectAsync("127.0.0.1", original.Port, "bob", ChatProtocol.Classic);
            System.Net.Sockets.NetworkStream stream = await accepted.WaitAsync(Deadline);
            byte[] welcome = Encoding.UTF8.GetBytes("bob_chatrm_welcome: you are bob on this Chatrm server\n");
            await stream.WriteAsync(welcome);
            using ChatClient bob = await connecting.WaitAsync(Deadline);

            await stream.WriteAsync(Encoding.UTF8.GetBytes("bob_#ops_alice: hello_world: x\nbob_alice_direct\n"));
            List<object> got = await TakeAsync(bob, 2);

            var room = Assert.IsType<ChatMessage>(got[0]);
            Assert.Equal(("alice", "#ops", "#ops", "hello_world: x", (long?)null), (room.From, room.To, room.Room, room.Text, room.Seq));
            var direct = Assert.IsType<ChatMessage>(got[1]);
            Assert.Equal(("alice", "bob", "", "direct"), (direct.From, direct.To, direct.Room, direct.Text));

            // A post to a room over classic is the original client's line to it.
            SentMessage sent = await bob.SendAsync("#ops", "hi all");
            Assert.Equal(SendStatus.Sent, sent.Status);
        }
    }
}
