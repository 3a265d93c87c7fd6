using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Threading.Tasks;
using Xunit;

namespace Chatrm.Engine.Tests
{
    /// <summary>The native protocol's codec on its own: frames to lines and back, and what it refuses.</summary>
    public class NativeProtocolTests
    {
        private static readonly DateTime SomeTime = new DateTime(2026, 11, 26, 9, 12, 3, DateTimeKind.Utc).AddTicks(1234567);
        private static readonly DateTime OtherTime = new DateTime(2025, 1, 2, 3, 4, 5, DateTimeKind.Utc).AddTicks(7);

        /// <summary>Every frame type, each with the fields it carries on the wire.</summary>
        public static IEnumerable<object[]> EveryFrame()
        {
            yield return Frame(new NativeFrame { Type = FrameType.Hello, Protocol = NativeProtocol.ProtocolName, Version = 1, User = "alice" });
            yield return Frame(new NativeFrame { Type = FrameType.Hello, Protocol = NativeProtocol.ProtocolName, Version = 1, User = "alice", Presence = false });
            yield return Frame(new NativeFrame { Type = FrameType.Welcome, Protocol = NativeProtocol.ProtocolName, Version = 1, User = "alice", KeepAlive = 60, MaxFrameBytes = 16384 });
            yield return Frame(new NativeFrame { Type = FrameType.Send, Ref = "7", To = "bob", Text = "hi_there\nsecond line ✓" });
            yield return Frame(new NativeFrame { Type = FrameType.Status, Ref = "7", Id = "42", To = "bob", SentAt = SomeTime, Status = "delivered" });
            yield return Frame(new NativeFrame { Type = FrameType.Status, Ref = "8", Id = "43", To = "nobody", SentAt = SomeTime, Status = "refused", Reason = "unknown-user", Message = "no user named nobody is known here" });
            yield return Frame(new NativeFrame { Type = FrameType.Message, Id = "42", From = "alice", To = "bob", Text = "héllo 日本 🎉\r\n_x_", SentAt = SomeTime });
            yield return Frame(new NativeFrame { Type = FrameType.Ack, Id = "42" });
            yield return Frame(new NativeFrame { Type = FrameType.Who, Ref = "9" });
            yield return Frame(new NativeFrame
            {
                Type = FrameType.Users,
                Ref = "9",
                Users = new List<UserInfo> { new UserInfo("alice", "chatrm", SomeTime), new UserInfo("bob", "classic", OtherTime) },
            });
            yield return Frame(new NativeFrame { Type = FrameType.Users, Ref = "10", Users = new List<UserInfo>() });
            yield return Frame(new NativeFrame { Type = FrameType.Presence, Event = "joined", User = "carol", Time = SomeTime });
            yield return Frame(new NativeFrame { Type = FrameType.Presence, Event = "left", User = "carol", Time = OtherTime });
            yield return Frame(new NativeFrame { Type = FrameType.Ping });
            yield return Frame(new NativeFrame { Type = FrameType.Ping, Ref = "p1" });
            yield return Frame(new NativeFrame { Type = FrameType.Pong, Ref = "p1" });
            yield return Frame(new NativeFrame { Type = FrameType.Bye });
            yield return Frame(new NativeFrame { Type = FrameType.Bye, Reason = "server-stopping", Message = "the server is stopping" });
            yield return Frame(new NativeFrame { Type = FrameType.Error, Code = "malformed-frame", Message = "not valid JSON: \"quoted\" \\ back", Ref = "3" });
        }

        private static object[] Frame(NativeFrame frame) => new object[] { new FrameCase(frame) };

        /// <summary>Wraps a frame so the test list shows its line.</summary>
        public sealed class FrameCase
        {
            internal FrameCase(NativeFrame frame) => Frame = frame;
            internal NativeFrame Frame { get; }
            public override string ToString() => NativeProtocol.Format(Frame).TrimEnd('\n');
        }

        [Theory]
        [MemberData(nameof(EveryFrame))]
        public void EveryFrameTypeSurvivesARoundTrip(FrameCase frameCase)
        {
            NativeFrame original = frameCase.Frame;

            string line = NativeProtocol.Format(original);

            Assert.EndsWith("\n", line);
            Assert.Equal(1, line.Count(c => c == '\n'));
            Assert.True(NativeProtocol.IsNativeOpening(line));
            Assert.True(NativeProtocol.TryParse(line.TrimEnd('\n'), out NativeFrame parsed, out string problem), problem);
            Assert.Null(problem);
            AssertSameFrame(original, parsed);

            // And the same line again, byte for byte: nothing is lost or reordered on the way.
            Assert.Equal(line, NativeProtocol.Format(parsed));
        }

        [Fact]
        public void FramesLookAsTheProtocolPageShowsThem()
        {
            // The exact bytes a person sees in nc; field names and order are part of the wire.
            Assert.Equal(
                "{\"type\":\"hello\",\"protocol\":\"chatrm_native\",\"version\":1,\"user\":\"alice\"}\n",
                NativeProtocol.Format(new NativeFrame { Type = "hello", Protocol = "chatrm_native", Version = 1, User = "alice" }));
            Assert.Equal(
                "{\"type\":\"welcome\",\"protocol\":\"chatrm_native\",\"version\":1,\"user\":\"alice\",\"keepAlive\":60,\"maxFrameBytes\":16384}\n",
                NativeProtocol.Format(new NativeFrame { Type = "welcome", Protocol = "chatrm_native", Version = 1, User = "alice", KeepAlive = 60, MaxFrameBytes = 16384 }));
            Assert.Equal(
                "{\"type\":\"status\",\"ref\":\"7\",\"id\":\"42\",\"to\":\"bob\",\"sentAt\":\"2026-11-26T09:12:03.1234567Z\",\"status\":\"delivered\"}\n",
                NativeProtocol.Format(new NativeFrame { Type = "status", Ref = "7", Id = "42", To = "bob", SentAt = SomeTime, Status = "delivered" }));
            Assert.Equal(
                "{\"type\":\"users\",\"ref\":\"8\",\"users\":[{\"name\":\"alice\",\"protocol\":\"chatrm\",\"connectedAt\":\"2026-11-26T09:12:03.1234567Z\"}]}\n",
                NativeProtocol.Format(new NativeFrame { Type = "users", Ref = "8", Users = new List<UserInfo> { new UserInfo("alice", "chatrm", SomeTime) } }));
        }

        [Fact]
        public void FieldsThatAreNotSetAreLeftOut()
        {
            Assert.Equal("{\"type\":\"ping\"}\n", NativeProtocol.Format(new NativeFrame { Type = "ping" }));
            Assert.Equal("{\"type\":\"ack\",\"id\":\"5\"}\n", NativeProtocol.Format(new NativeFrame { Type = "ack", Id = "5" }));
        }

        [Fact]
        public void TheOpeningHoldsAnUnderscoreSoAnOriginalServerReadsItAsAHandshake()
        {
            string hello = NativeProtocol.Format(new NativeFrame { Type = FrameType.Hello, Protocol = NativeProtocol.ProtocolName, Version = NativeProtocol.Version, User = "alice" });

            Assert.Contains('_', hello);
            Assert.Equal("chatrm_native", NativeProtocol.ProtocolName);
            Assert.Equal(1, NativeProtocol.Version);
            // The original splits the trimmed line on '_' and takes field 0 as a name: it must not be empty.
            Assert.NotEqual(string.Empty, hello.Trim().Split('_')[0]);
        }

        [Theory]
        [InlineData("a\nb")]
        [InlineData("a\r\nb")]
        [InlineData("a\rb")]
        [InlineData("\n\n\n")]
        [InlineData("ends with a break\n")]
        [InlineData("line\u2028separator\u2029paragraph\u0085next")]
        [InlineData("tab\there, nul\0, bell\a, escape\u001b")]
        public void AFormattedFrameIsOneLineWhateverTheTextHolds(string text)
        {
            string line = NativeProtocol.Format(new NativeFrame { Type = FrameType.Message, Id = "1", From = "alice", To = "bob", Text = text, SentAt = SomeTime });

            // The only line break, and the only control character, is the final newline.
            string body = line.Substring(0, line.Length - 1);
            Assert.Equal('\n', line[line.Length - 1]);
            Assert.DoesNotContain(body, c => c == '\n' || c == '\r' || char.IsControl(c) || c == '\u2028' || c == '\u2029');

            Assert.True(NativeProtocol.TryParse(body, out NativeFrame parsed, out string problem), problem);
            Assert.Equal(text, parsed.Text);
        }

        [Fact]
        public void NonAsciiTextIsWrittenAsItIsAndReadBackExactly()
        {
            const string text = "héllo ✓ 日本語 Ωμέγα ñ € _under_score_";
            string line = NativeProtocol.Format(new NativeFrame { Type = FrameType.Send, Ref = "1", To = "bob", Text = text });

            // Readable in nc: the letters themselves, not \u escapes.
            Assert.Contains(text, line);
            Assert.DoesNotContain("\\u", line);
            Assert.True(NativeProtocol.TryParse(line, out NativeFrame parsed, out _));
            Assert.Equal(text, parsed.Text);
        }

        [Theory]
        [InlineData("🎉 party")]                    // outside the basic plane: a surrogate pair
        [InlineData("quotes \" and \\ backslash")]
        [InlineData("<script>&amp;'</script>")]
        [InlineData("")]
        public void AnyTextSurvivesARoundTrip(string text)
        {
            string line = NativeProtocol.Format(new NativeFrame { Type = FrameType.Send, Ref = "1", To = "bob", Text = text });

            Assert.True(NativeProtocol.TryParse(line.TrimEnd('\n'), out NativeFrame parsed, out string problem), problem);
            Assert.Equal(text, parsed.Text);
        }

        [Fact]
        public void UnknownFieldsAreIgnored()
        {
            const string line = "{\"type\":\"send\",\"ref\":\"1\",\"priority\":\"high\",\"to\":\"bob\",\"nested\":{\"a\":[1,{\"b\":null}],\"c\":true}," +
                                "\"n\":1.5e300,\"text\":\"hi\",\"list\":[],\"flag\":false,\"nothing\":null}";

            Assert.True(NativeProtocol.TryParse(line, out NativeFrame frame, out string problem), problem);
            Assert.Equal(("send", "1", "bob", "hi"), (frame.Type, frame.Ref, frame.To, frame.Text));
            Assert.Null(frame.Id);
            Assert.Null(frame.Users);
        }

        [Fact]
        public void AFrameAsAPersonTypesItIsRead()
        {
            // Spaces around everything, fields in any order, \r left by a terminal.
            Assert.True(NativeProtocol.TryParse("  { \"text\" : \"hi\" , \"to\":\"bob\", \"type\" : \"send\" }  ", out NativeFrame frame, out string problem), problem);
            Assert.Equal(("send", "bob", "hi"), (frame.Type, frame.To, frame.Text));
        }

        [Fact]
        public void NullCountsAsAbsent()
        {
            Assert.True(NativeProtocol.TryParse("{\"type\":\"send\",\"to\":null,\"text\":null,\"ref\":\"1\"}", out NativeFrame frame, out _));
            Assert.Null(frame.To);
            Assert.Null(frame.Text);
            Assert.Equal("1", frame.Ref);
        }

        [Theory]
        [InlineData("", "JSON")]
        [InlineData("   ", "JSON")]
        [InlineData("hello?", "JSON")]
        [InlineData("{", "JSON")]
        [InlineData("{\"type\":\"ping\"", "JSON")]
        [InlineData("{\"type\":\"ping\",}", "JSON")]                       // trailing comma
        [InlineData("{'type':'ping'}", "JSON")]                            // single quotes
        [InlineData("{\"type\":\"ping\"} {\"type\":\"ping\"}", "JSON")]   // two frames on one line
        [InlineData("{\"type\":\"ping\" /* note */}", "JSON")]
        [InlineData("[{\"type\":\"ping\"}]", "object")]
        [InlineData("42", "object")]
        [InlineData("\"ping\"", "object")]
        [InlineData("null", "object")]
        [InlineData("true", "object")]
        [InlineData("{}", "type")]
        [InlineData("{\"ref\":\"1\"}", "type")]
        [InlineData("{\"type\":\"\"}", "type")]
        [InlineData("{\"type\":null}", "type")]
        [InlineData("{\"type\":5}", "\"type\"")]
        [InlineData("{\"type\":[\"send\"]}", "\"type\"")]
        [InlineData("{\"type\":\"send\",\"to\":5,\"text\":\"x\"}", "\"to\"")]
        [InlineData("{\"type\":\"send\",\"to\":\"bob\",\"text\":{\"a\":1}}", "\"text\"")]
        [InlineData("{\"type\":\"send\",\"to\":\"bob\",\"text\":true}", "\"text\"")]
        [InlineData("{\"type\":\"ack\",\"id\":42}", "\"id\"")]
        [InlineData("{\"type\":\"hello\",\"version\":\"1\"}", "\"version\"")]
        [InlineData("{\"type\":\"hello\",\"version\":1.5}", "\"version\"")]
        [InlineData("{\"type\":\"hello\",\"version\":99999999999}", "\"version\"")]
        [InlineData("{\"type\":\"welcome\",\"keepAlive\":\"60\"}", "\"keepAlive\"")]
        [InlineData("{\"type\":\"hello\",\"presence\":\"no\"}", "\"presence\"")]
        [InlineData("{\"type\":\"welcome\",\"maxFrameBytes\":null}", "\"maxFrameBytes\"")]
        [InlineData("{\"type\":\"status\",\"sentAt\":\"yesterday\"}", "\"sentAt\"")]
        [InlineData("{\"type\":\"status\",\"sentAt\":12345}", "\"sentAt\"")]
        [InlineData("{\"type\":\"presence\",\"time\":\"\"}", "\"time\"")]
        [InlineData("{\"type\":\"users\",\"users\":{}}", "\"users\"")]
        [InlineData("{\"type\":\"users\",\"users\":[\"alice\"]}", "\"users\"")]
        public void MalformedLinesAreRefusedWithAReason(string line, string problemMentions)
        {
            Assert.False(NativeProtocol.TryParse(line, out NativeFrame frame, out string problem));

            Assert.Null(frame);
            Assert.False(string.IsNullOrWhiteSpace(problem));
            Assert.Contains(problemMentions, problem);
        }

        [Fact]
        public void NestingTooDeepIsRefusedNotThrown()
        {
            string line = "{\"type\":\"send\",\"x\":" + new string('[', 5000) + new string(']', 5000) + "}";

            Assert.False(NativeProtocol.TryParse(line, out _, out string problem));
            Assert.Contains("JSON", problem);
        }

        [Theory]
        [InlineData("{\"type\":\"send\",\"to\":\"bob\",\"text\":\"\\ud800\"}")]          // a lone high surrogate
        [InlineData("{\"type\":\"send\",\"to\":\"bob\",\"text\":\"a\\udc00b\"}")]        // a lone low surrogate
        [InlineData("{\"type\":\"send\",\"to\":\"\\ud83c\",\"text\":\"x\"}")]
        [InlineData("{\"type\":\"users\",\"users\":[{\"name\":\"\\ud800\"}]}")]
        public void AnEscapeThatIsNotTextIsRefusedNotThrown(string line)
        {
            // JSON allows \uD800 alone; it is no character, so the frame cannot be read. It must say so,
            // not throw: a throw would end the connection instead of answering malformed-frame.
            bool parsed = NativeProtocol.TryParse(line, out NativeFrame frame, out string problem);

            Assert.False(parsed);
            Assert.Null(frame);
            Assert.False(string.IsNullOrWhiteSpace(problem));
        }

        [Fact]
        public void TimesAreIso8601UtcWithSevenDecimals()
        {
            Assert.Equal("2026-11-26T09:12:03.1234567Z", NativeProtocol.FormatTime(SomeTime));

            // A local time is written as the same instant in UTC.
            DateTime local = SomeTime.ToLocalTime();
            Assert.Equal("2026-11-26T09:12:03.1234567Z", NativeProtocol.FormatTime(local));
        }

        [Theory]
        [InlineData("2026-11-26T09:12:03.1234567Z")]
        [InlineData("2026-11-26T11:12:03.1234567+02:00")]
        [InlineData("2026-11-26T04:12:03.1234567-05:00")]
        public void TimesAreReadAsUtcInstants(string written)
        {
            Assert.True(NativeProtocol.TryParse("{\"type\":\"presence\",\"event\":\"joined\",\"user\":\"a\",\"time\":\"" + written + "\"}", out NativeFrame frame, out string problem), problem);

            Assert.Equal(DateTimeKind.Utc, frame.Time.Value.Kind);
            Assert.Equal(SomeTime, frame.Time.Value);
        }

        [Fact]
        public void AUsersEntryWithMissingFieldsIsKeptWithBlanks()
        {
            Assert.True(NativeProtocol.TryParse("{\"type\":\"users\",\"users\":[{\"name\":\"alice\",\"future\":1},{}]}", out NativeFrame frame, out _));

            Assert.Equal(2, frame.Users.Count);
            Assert.Equal("alice", frame.Users[0].Name);
            Assert.Null(frame.Users[0].Protocol);
            Assert.Equal(default, frame.Users[0].ConnectedAt);
            Assert.Null(frame.Users[1].Name);
        }

        [Theory]
        [InlineData("{\"type\":\"hello\"}", true)]
        [InlineData("   {\"type\":\"hello\"}", true)]
        [InlineData("\t{", true)]
        [InlineData("{not json at all", true)]
        [InlineData("alice_", false)]
        [InlineData("alice_{", false)]
        [InlineData("[{\"type\":\"hello\"}]", false)]
        [InlineData("", false)]
        [InlineData("EXIT", false)]
        public void OnlyALineStartingWithABraceOpensTheNativeProtocol(string line, bool native)
        {
            Assert.Equal(native, NativeProtocol.IsNativeOpening(line));
        }

        [Fact]
        public void NoUserNameCanLookLikeANativeOpening()
        {
            // The classic handshake stays unambiguous: a name never starts with '{'.
            Assert.False(UserNames.IsValid("{alice"));
            Assert.False(UserNames.IsValid("{"));
        }

        [Fact]
        public async Task FormattingFromManyThreadsAtOnceKeepsFramesApart()
        {
            // Format reuses a writer per thread; frames formatted at the same time must not mix.
            string[] results = await Task.WhenAll(Enumerable.Range(0, 64).Select(worker => Task.Run(() =>
            {
                var sb = new StringBuilder();
                for (int i = 0; i < 200; i++)
                {
                    string text = $"worker {worker} message {i} " + new string((char)('a' + (worker % 26)), worker + i);
                    string line = NativeProtocol.Format(new NativeFrame { Type = FrameType.Send, Ref = $"{worker}-{i}", To = "bob", Text = text });
                    if (!NativeProtocol.TryParse(line, out NativeFrame parsed, out string problem) || parsed.Text != text || parsed.Ref != $"{worker}-{i}")
                    {
                        sb.Append($"worker {worker} frame {i}: {line} ({problem}); ");
                    }
                }

                return sb.ToString();
            })));

            Assert.All(results, r => Assert.Equal(string.Empty, r));
        }

        [Theory]
        [InlineData("alice", "bob", "hi")]
        [InlineData("Zoë", "日本", "quotes \" back \\ line\nbreak 🎉 <tag> & 'x'")]
        public void TheDeliveryFormatterWritesWhatTheGeneralOneWrites(string from, string to, string text)
        {
            string general = NativeProtocol.Format(new NativeFrame { Type = FrameType.Message, Id = "42", From = from, To = to, Text = text, SentAt = SomeTime });

            // The text as a string, and as the server keeps it from a send it routes.
            var envelope = new ChatEnvelope("42", from, to, text, SomeTime);
            ChatEnvelope routed = ChatEnvelope.FromSend(ReadToRoute(new NativeFrame { Type = FrameType.Send, To = to, Text = text }), 42, from, SomeTime, SenderAddress.None);
            foreach (ChatEnvelope each in new[] { envelope, routed })
            {
                string delivery = Encoding.UTF8.GetString(NativeProtocol.FormatMessage(each, NativeProtocol.EncodeName(from), NativeProtocol.EncodeName(to)).ToArray());
                Assert.Equal(general, delivery);
            }
        }

        [Theory]
        [InlineData("{\"type\":\"send\",\"to\":\"bob\",\"text\":\"hi <b> & 'you' ~\"}", true, "hi <b> & 'you' ~")]
        [InlineData("{\"type\":\"send\",\"to\":\"bob\",\"text\":\"\"}", true, "")]
        [InlineData("{\"type\":\"send\",\"to\":\"bob\",\"text\":\"a \\\"quote\\\"\"}", false, "a \"quote\"")]
        [InlineData("{\"type\":\"send\",\"to\":\"bob\",\"text\":\"\\u0041\"}", false, "A")]
        [InlineData("{\"type\":\"send\",\"to\":\"bob\",\"text\":\"Zoë\"}", false, "Zoë")]
        [InlineData("{\"type\":\"send\",\"to\":\"bob\",\"text\":\"del \u007f\"}", false, "del \u007f")]
        public void ARoutedSendKeepsItsTextAsItCameOnlyWhenTheWriterWouldWriteTheSame(string line, bool kept, string text)
        {
            var frame = new NativeFrame { KeepsWireBytes = true };
            Assert.True(NativeProtocol.TryParse(Encoding.UTF8.GetBytes(line), frame, out string problem), problem);

            Assert.Equal(kept, frame.TextJson != null);
            Assert.Equal(text, frame.Text);
            Assert.Equal(text, ChatEnvelope.FromSend(frame, 1, "alice", SomeTime, SenderAddress.None).Text);
        }

        [Theory]
        [InlineData("{\"type\":\"send\",\"ref\":\"7\",\"to\":\"bob\",\"text\":\"hi <b> & 'you' ~\"}", true)]
        [InlineData("{\"type\":\"send\",\"to\":\"bob\",\"text\":\"hi\"}", true)]
        [InlineData("{\"type\":\"send\",\"ref\":\"\",\"to\":\"\",\"text\":\"\"}", true)]
        [InlineData("{\"type\":\"send\",\"ref\":\"7\",\"to\":\"bob\",\"text\":\"a \\\"quote\\\"\"}", false)]
        [InlineData("{\"type\":\"send\", \"to\":\"bob\",\"text\":\"hi\"}", false)]
        [InlineData("{\"type\":\"send\",\"to\":\"bob\",\"text\":\"hi\",\"later\":1}", false)]
        [InlineData("{\"type\":\"send\",\"to\":\"bob\",\"text\":\"Zoë\"}", false)]
        [InlineData("{\"type\":\"send\",\"to\":\"bob\",\"text\":\"hi\"} ", false)]
        [InlineData("{\"type\":\"send\",\"to\":\"bob\",\"text\":\"hi\"}}", false)]
        [InlineData("{\"type\":\"send\",\"ref\":7,\"to\":\"bob\",\"text\":\"hi\"}", false)]
        [InlineData("{\"type\":\"send\",\"text\":\"hi\",\"to\":\"bob\"}", false)]
        [InlineData("{\"type\":\"send\",\"to\":\"bob\",\"text\":\"tab\tin it\"}", false)]
        [InlineData("{\"type\":\"send\",\"to\":\"bob\",\"text\":\"unended}", false)]
        [InlineData("{\"type\":\"sender\",\"to\":\"bob\",\"text\":\"hi\"}", false)]
        public void APlainSendIsReadWithoutTheReaderAndAsTheReaderReadsIt(string line, bool plain)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(line);
            Assert.Equal(plain, NativeProtocol.TryReadPlainSend(bytes, new NativeFrame { KeepsWireBytes = true }));

            AssertARoutingFrameReadsWhatTheReaderReads(bytes);
        }

        [Theory]
        [InlineData("{\"type\":\"ack\",\"through\":\"42\"}", true)]
        [InlineData("{\"type\":\"ack\",\"id\":\"7.42\"}", true)]
        [InlineData("{\"type\":\"ack\",\"through\":\"\"}", true)]
        [InlineData("{\"type\":\"ack\",\"through\":42}", false)]
        [InlineData("{\"type\":\"ack\",\"through\":\"4\\u0032\"}", false)]
        [InlineData("{\"type\":\"ack\", \"through\":\"42\"}", false)]
        [InlineData("{\"type\":\"ack\",\"through\":\"42\",\"id\":\"43\"}", false)]
        [InlineData("{\"type\":\"ack\",\"ref\":\"1\",\"id\":\"43\"}", false)]
        [InlineData("{\"type\":\"ack\",\"through\":\"42\"} ", false)]
        [InlineData("{\"type\":\"ack\",\"thru\":\"42\"}", false)]
        [InlineData("{\"type\":\"acked\",\"id\":\"42\"}", false)]
        public void APlainAckIsReadWithoutTheReaderAndAsTheReaderReadsIt(string line, bool plain)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(line);
            Assert.Equal(plain, NativeProtocol.TryReadPlainAck(bytes, new NativeFrame { KeepsWireBytes = true }));

            AssertARoutingFrameReadsWhatTheReaderReads(bytes);
        }

        /// <summary>Whichever way a routing frame reads a line, the result is what the reader makes of it.</summary>
        private static void AssertARoutingFrameReadsWhatTheReaderReads(byte[] bytes)
        {
            var routing = new NativeFrame { KeepsWireBytes = true };
            var general = new NativeFrame();
            bool routed = NativeProtocol.TryParse(bytes, routing, out string routedProblem);
            bool read = NativeProtocol.TryParse(bytes, general, out string problem);
            Assert.Equal(read, routed);
            Assert.Equal(problem, routedProblem);
            if (read)
            {
                Assert.Equal(
                    (general.Type, general.Ref, general.To, general.Text, general.Id, general.Through),
                    (routing.Type, routing.Ref, routing.To, routing.Text, routing.Id, routing.Through));
            }
        }

        [Fact]
        public void PrintableAsciiIsToldFromEveryOtherByteWhereverItStands()
        {
            for (int length = 0; length <= 20; length++)
            {
                byte[] bytes = new byte[length];
                Array.Fill(bytes, (byte)'~');
                Assert.True(NativeProtocol.IsPrintableAscii(bytes));
                for (int at = 0; at < length; at++)
                {
                    foreach (byte other in new byte[] { 0x00, 0x0A, 0x1F, 0x7F, 0x80, 0xC3, 0xFE, 0xFF })
                    {
                        bytes[at] = other;
                        Assert.False(NativeProtocol.IsPrintableAscii(bytes), $"0x{other:X2} at {at} of {length}");
                    }

                    bytes[at] = (byte)' ';
                    Assert.True(NativeProtocol.IsPrintableAscii(bytes));
                    bytes[at] = (byte)'~';
                }
            }
        }

        [Fact]
        public void ARoutingFrameReusesTheRecipientNameOnlyWhileItIsTheSame()
        {
            var frame = new NativeFrame { KeepsWireBytes = true };
            Assert.True(NativeProtocol.TryParse("{\"type\":\"send\",\"to\":\"bob\",\"text\":\"1\"}"u8, frame, out _));
            string first = frame.To;
            Assert.True(NativeProtocol.TryParse("{\"type\":\"send\",\"to\":\"bob\",\"text\":\"2\"}"u8, frame, out _));
            Assert.Same(first, frame.To);

            Assert.True(NativeProtocol.TryParse("{\"type\":\"send\",\"to\":\"bobby\",\"text\":\"3\"}"u8, frame, out _));
            Assert.Equal("bobby", frame.To);
            Assert.True(NativeProtocol.TryParse("{\"type\":\"send\",\"to\":\"b\\u006fb\",\"text\":\"4\"}"u8, frame, out _));
            Assert.Equal("bob", frame.To);
            Assert.True(NativeProtocol.TryParse("{\"type\":\"send\",\"text\":\"5\"}"u8, frame, out _));
            Assert.Null(frame.To);
        }

        [Fact]
        public void TimesAreWrittenRightWhetherTheyRepeatOrNot()
        {
            var local = new DateTime(2026, 11, 26, 9, 12, 3, DateTimeKind.Local).AddTicks(4567);
            DateTime[] times =
            {
                SomeTime, SomeTime, SomeTime.AddTicks(1), SomeTime, new DateTime(SomeTime.Ticks, DateTimeKind.Local),
                local, local.ToUniversalTime(), new DateTime(0, DateTimeKind.Utc), new DateTime(0, DateTimeKind.Utc),
            };

            foreach (DateTime time in times)
            {
                Assert.Equal(time.ToUniversalTime().ToString("o", System.Globalization.CultureInfo.InvariantCulture), NativeProtocol.FormatTime(time));
            }
        }

        [Theory]
        [InlineData("1", true, 1L)]
        [InlineData("9223372036854775807", true, long.MaxValue)]
        [InlineData("9223372036854775808", false, 0L)]
        [InlineData("042", false, 0L)]
        [InlineData("0", false, 0L)]
        [InlineData("-1", false, 0L)]
        [InlineData(" 1", false, 0L)]
        [InlineData("1e3", false, 0L)]
        [InlineData("", false, 0L)]
        [InlineData(null, false, 0L)]
        public void MessageIdsAreTheServersNumbersWrittenOneWay(string id, bool ok, long number)
        {
            Assert.Equal(ok, NativeProtocol.TryParseMessageId(id, out long parsed));
            Assert.Equal(number, parsed);
        }

        [Theory]
        [InlineData("3.42", true, 3, 42L)]
        [InlineData("32767.281474976710655", true, 32767, 281474976710655L)]
        [InlineData("32768.1", false, 0, 0L)]
        [InlineData("3.281474976710656", false, 0, 0L)]
        [InlineData("0.5", false, 0, 0L)]
        [InlineData("3.042", false, 0, 0L)]
        [InlineData("3.0", false, 0, 0L)]
        [InlineData("3.", false, 0, 0L)]
        [InlineData(".5", false, 0, 0L)]
        [InlineData("1.2.3", false, 0, 0L)]
        public void AClusterNodesIdsAreItsIdentityADotAndItsSequence(string id, bool ok, int server, long sequence)
        {
            Assert.Equal(ok, NativeProtocol.TryParseMessageId(id, out long number));
            Assert.Equal(server, MessageIds.ServerOf(number));
            Assert.Equal(sequence, MessageIds.SequenceOf(number));
            if (ok)
            {
                Assert.Equal(id, NativeProtocol.MessageIdText(number));
                Span<byte> written = stackalloc byte[NativeProtocol.MaxMessageIdBytes];
                Assert.Equal(id, Encoding.UTF8.GetString(written[..NativeProtocol.FormatMessageId(number, written)]));
            }
        }

        [Fact]
        public void ALoneServersIdsAreItsSequenceAsBefore()
        {
            long number = MessageIds.Compose(0, 42);
            Assert.Equal(42L, number);
            Assert.Equal("42", NativeProtocol.MessageIdText(number));
            Span<byte> written = stackalloc byte[NativeProtocol.MaxMessageIdBytes];
            Assert.Equal("42", Encoding.UTF8.GetString(written[..NativeProtocol.FormatMessageId(number, written)]));
        }

        private static NativeFrame ReadToRoute(NativeFrame send)
        {
            var frame = new NativeFrame { KeepsWireBytes = true };
            Assert.True(NativeProtocol.TryParse(Encoding.UTF8.GetBytes(NativeProtocol.Format(send).TrimEnd('\n')), frame, out string problem), problem);
            return frame;
        }

        [Theory]
        [InlineData("7", "bob")]
        [InlineData(null, "Zoë \"quoted\"")]
        [InlineData("r\u00e9f", null)]
        public void TheDeliveredFormatterWritesWhatTheGeneralOneWrites(string reference, string to)
        {
            string general = NativeProtocol.Format(new NativeFrame { Type = FrameType.Status, Ref = reference, Id = "42", To = to, SentAt = SomeTime, Status = "delivered" });

            string delivered = Encoding.UTF8.GetString(NativeProtocol.FormatDelivered(new ChatEnvelope("42", "alice", to, "text", SomeTime, reference)).ToArray());

            Assert.Equal(general, delivered);
        }

        [Theory]
        [InlineData("7", "bob")]
        [InlineData(null, "Bob_2.x-y")]
        [InlineData("r\u00e9f \"8\"", "bob")]
        [InlineData("7", "Zo\u00eb \"quoted\"")]
        public void TheStoredAndDeliveredStatusesOfARoutedSendAreWhatTheGeneralFormatterWrites(string reference, string to)
        {
            // Routed sends keep their refs as they came and are numbered: their statuses are put together from pieces.
            ChatEnvelope routed = ChatEnvelope.FromSend(ReadToRoute(new NativeFrame { Type = FrameType.Send, Ref = reference, To = to, Text = "t" }), 42, "alice", SomeTime, SenderAddress.None);
            ChatEnvelope made = new ChatEnvelope("43", "alice", to, "text", SomeTime, reference);
            foreach (ChatEnvelope envelope in new[] { routed, made })
            {
                foreach (string status in new[] { "stored", "delivered" })
                {
                    string general = NativeProtocol.Format(new NativeFrame { Type = FrameType.Status, Ref = envelope.SenderRef, Id = envelope.Id, To = envelope.To, SentAt = envelope.SentAt, Status = status });
                    ReadOnlySpan<byte> frame = status == "stored" ? NativeProtocol.FormatStored(envelope) : NativeProtocol.FormatDelivered(envelope);
                    Assert.Equal(general, Encoding.UTF8.GetString(frame.ToArray()));
                }
            }
        }

        [Fact]
        public void FrameTypeNamesAreTheWireNames()
        {
            Assert.Equal(
                new[] { "hello", "welcome", "send", "status", "message", "ack", "who", "users", "presence", "ping", "pong", "bye", "error", "delivered" },
                new[] { FrameType.Hello, FrameType.Welcome, FrameType.Send, FrameType.Status, FrameType.Message, FrameType.Ack, FrameType.Who, FrameType.Users, FrameType.Presence, FrameType.Ping, FrameType.Pong, FrameType.Bye, FrameType.Error, FrameType.Delivered });
        }

        [Fact]
        public void TheBatchedDeliveredFormatterWritesWhatTheGeneralOneWrites()
        {
            var envelopes = new[]
            {
                new ChatEnvelope("41", "alice", "bob", "one", SomeTime, "7"),
                new ChatEnvelope("42", "alice", "bob", "two", SomeTime.AddTicks(1), "r\u00e9f \"8\""),
                new ChatEnvelope("43", "alice", "bob", "three", SomeTime.AddTicks(2), null),
            };
            string general = NativeProtocol.Format(new NativeFrame
            {
                Type = FrameType.Delivered,
                Messages = envelopes.Select(e => new DeliveredMessage(e.SenderRef, e.Id, e.SentAt)).ToList(),
            });

            int taken = NativeProtocol.FormatDelivered(envelopes, out ReadOnlySpan<byte> frame);

            Assert.Equal(3, taken);
            Assert.Equal(general, Encoding.UTF8.GetString(frame.ToArray()));
            Assert.StartsWith("{\"type\":\"delivered\",\"messages\":[{\"ref\":\"7\",\"id\":\"41\",\"sentAt\":\"2026-11-26T09:12:03.1234567Z\"},", general);
        }

        [Theory]
        [InlineData(false)]
        [InlineData(true)]
        public void ADeliveredFrameTakesAtLeastOneMessageAndStopsNearItsSize(bool routed)
        {
            // Routed sends keep their refs as they came, and their frames are put together from pieces.
            ChatEnvelope Envelope(int i, string reference) =>
                routed ? Routed(i + 1, reference) : new ChatEnvelope(i.ToString(), "alice", "bob", "t", SomeTime, reference);

            string huge = new string('x', NativeProtocol.DeliveredFrameBytes * 2);
            var envelopes = Enumerable.Range(0, 3).Select(i => Envelope(i, huge + i)).ToArray();

            Assert.Equal(1, NativeProtocol.FormatDelivered(envelopes, out ReadOnlySpan<byte> one));
            Assert.InRange(one.Length, huge.Length, huge.Length + 200);

            var small = Enumerable.Range(0, 1000).Select(i => Envelope(i, "r" + i)).ToArray();
            int taken = NativeProtocol.FormatDelivered(small, out ReadOnlySpan<byte> frame);
            Assert.InRange(taken, 2, 999);
            Assert.InRange(frame.Length, NativeProtocol.DeliveredFrameBytes, NativeProtocol.DeliveredFrameBytes + 200);
            string general = NativeProtocol.Format(new NativeFrame
            {
                Type = FrameType.Delivered,
                Messages = small.Take(taken).Select(e => new DeliveredMessage(e.SenderRef, e.Id, e.SentAt)).ToList(),
            });
            Assert.Equal(general, Encoding.UTF8.GetString(frame.ToArray()));
        }

        [Fact]
        public void RoutedSendsAreConfirmedWithTheBytesTheGeneralFormatterWrites()
        {
            // Refs kept as they came, one without a ref; then one whose ref had to become a string, which sends the
            // whole frame through the writer.
            var kept = new[] { Routed(41, "7"), Routed(42, "r-8 <&>'"), Routed(43, null) };
            var mixed = new[] { Routed(44, "9"), Routed(45, "r\u00e9f \"10\"") };
            Assert.NotNull(kept[0].SenderRefJson);
            Assert.Null(mixed[1].SenderRefJson);

            foreach (ChatEnvelope[] envelopes in new[] { kept, mixed })
            {
                string general = NativeProtocol.Format(new NativeFrame
                {
                    Type = FrameType.Delivered,
                    Messages = envelopes.Select(e => new DeliveredMessage(e.SenderRef, e.Id, e.SentAt)).ToList(),
                });

                Assert.Equal(envelopes.Length, NativeProtocol.FormatDelivered(envelopes, out ReadOnlySpan<byte> frame));
                Assert.Equal(general, Encoding.UTF8.GetString(frame.ToArray()));
            }
        }

        /// <summary>The message a server routes from a send with this ref, as it builds it.</summary>
        private static ChatEnvelope Routed(long number, string reference) =>
            ChatEnvelope.FromSend(ReadToRoute(new NativeFrame { Type = FrameType.Send, Ref = reference, To = "bob", Text = "t" }), number, "alice", SomeTime.AddTicks(number), SenderAddress.None);

        [Fact]
        public void BatchFieldsAreReadBack()
        {
            Assert.True(NativeProtocol.TryParse("{\"type\":\"hello\",\"batch\":true}", out NativeFrame hello, out _));
            Assert.True(hello.Batch);
            Assert.True(NativeProtocol.TryParse("{\"type\":\"ack\",\"through\":\"42\"}", out NativeFrame ack, out _));
            Assert.Equal(("42", null), (ack.Through, ack.Id));

            Assert.True(NativeProtocol.TryParse("{\"type\":\"delivered\",\"messages\":[{\"ref\":\"7\",\"id\":\"41\",\"sentAt\":\"2026-11-26T09:12:03.1234567Z\",\"later\":[1]},{\"ref\":8}]}", out NativeFrame delivered, out _));
            Assert.Equal(2, delivered.Messages.Count);
            Assert.Equal(("7", "41", SomeTime), (delivered.Messages[0].Ref, delivered.Messages[0].Id, delivered.Messages[0].SentAt.Value));
            Assert.Equal((null, null, (DateTime?)null), (delivered.Messages[1].Ref, delivered.Messages[1].Id, delivered.Messages[1].SentAt));
        }

        [Theory]
        [InlineData("{\"type\":\"hello\",\"batch\":\"yes\"}", "\"batch\" must be true or false")]
        [InlineData("{\"type\":\"ack\",\"through\":42}", "\"through\" must be a string")]
        [InlineData("{\"type\":\"delivered\",\"messages\":{}}", "\"messages\" must be an array")]
        [InlineData("{\"type\":\"delivered\",\"messages\":[1]}", "each of \"messages\" must be an object")]
        public void BatchFieldsOfTheWrongKindAreNamed(string line, string problem)
        {
            Assert.False(NativeProtocol.TryParse(line, out _, out string said));
            Assert.Equal(problem, said);
        }

        [Theory]
        [InlineData(Refusal.RecipientLeft, "recipient-left")]
        [InlineData(Refusal.MalformedFrame, "malformed-frame")]
        [InlineData(Refusal.UnsupportedVersion, "unsupported-version")]
        [InlineData(Refusal.KeepaliveTimeout, "keepalive-timeout")]
        [InlineData(Refusal.ProtocolMismatch, "protocol-mismatch")]
        [InlineData(Refusal.NoAnswer, "no-answer")]
        public void TheNativeRefusalsHaveStableCodes(Refusal refusal, string code)
        {
            Assert.Equal(code, refusal.ToCode());
            Assert.Equal(refusal, Refusals.FromCode(code));
            Assert.DoesNotContain('_', code);
        }

        private static void AssertSameFrame(NativeFrame expected, NativeFrame actual)
        {
            Assert.Equal(expected.Type, actual.Type);
            Assert.Equal(expected.Protocol, actual.Protocol);
            Assert.Equal(expected.Version, actual.Version);
            Assert.Equal(expected.Presence, actual.Presence);
            Assert.Equal(expected.User, actual.User);
            Assert.Equal(expected.Ref, actual.Ref);
            Assert.Equal(expected.Id, actual.Id);
            Assert.Equal(expected.From, actual.From);
            Assert.Equal(expected.To, actual.To);
            Assert.Equal(expected.Text, actual.Text);
            Assert.Equal(expected.SentAt, actual.SentAt);
            Assert.Equal(expected.Status, actual.Status);
            Assert.Equal(expected.Reason, actual.Reason);
            Assert.Equal(expected.Message, actual.Message);
            Assert.Equal(expected.Code, actual.Code);
            Assert.Equal(expected.Event, actual.Event);
            Assert.Equal(expected.Time, actual.Time);
            Assert.Equal(expected.KeepAlive, actual.KeepAlive);
            Assert.Equal(expected.MaxFrameBytes, actual.MaxFrameBytes);
            if (expected.SentAt.HasValue)
            {
                Assert.Equal(DateTimeKind.Utc, actual.SentAt.Value.Kind);
            }

            if (expected.Users == null)
            {
                Assert.Null(actual.Users);
                return;
            }

            Assert.Equal(
                expected.Users.Select(u => (u.Name, u.ProtocolName, u.ConnectedAtUtc)),
                actual.Users.Select(u => (u.Name, u.ProtocolName, u.ConnectedAtUtc)));
        }
    }
}
