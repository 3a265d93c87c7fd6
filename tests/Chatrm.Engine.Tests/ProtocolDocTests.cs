using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using System.Threading.Tasks;
using Xunit;
using static Chatrm.Engine.Tests.NativePeer;

namespace Chatrm.Engine.Tests
{
    /// <summary>
    /// docs/protocol.md against the server: each point a native client written from the doc alone would rely on,
    /// typed as raw lines, so that the doc and the server cannot drift apart unnoticed.
    /// </summary>
    public class ProtocolDocTests
    {
        private static string RepositoryFile(string relative)
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            {
                string path = Path.Combine(dir.FullName, relative);
                if (File.Exists(path))
                {
                    return path;
                }
            }

            throw new FileNotFoundException("not found above the test's directory", relative);
        }

        private static readonly Lazy<string> ProtocolDoc = new Lazy<string>(() => File.ReadAllText(RepositoryFile(Path.Combine("docs", "protocol.md"))));

        /// <summary>The codes the doc's tables list: a row that starts with a code in backticks.</summary>
        private static HashSet<string> CodesInTables() =>
            new HashSet<string>(Regex.Matches(ProtocolDoc.Value, @"^\| `([a-z]+(?:-[a-z]+)*)` \|", RegexOptions.Multiline).Select(m => m.Groups[1].Value));

        // ---- 17: every code has its row ----

        public static IEnumerable<object[]> EveryRefusal() =>
            Enum.GetValues<Refusal>().Where(r => r != Refusal.None).Select(r => new object[] { r });

        [Theory]
        [MemberData(nameof(EveryRefusal))]
        public void EveryRefusalCodeHasARowInTheProtocolDoc(Refusal refusal)
        {
            string code = refusal.ToCode();
            Assert.True(CodesInTables().Contains(code), $"docs/protocol.md has no table row for `{code}` ({refusal})");
        }

        // ---- 15: an error names the frame it answers, whenever its ref can be read ----

        [Theory]
        [InlineData("{\"type\":\"send\",\"ref\":\"9\",\"to\":\"bob\",\"text\":5}", "\"text\" must be a string")]
        [InlineData("{\"type\":\"send\",\"ref\":\"9\",\"to\":[1,2],\"text\":\"hi\"}", "\"to\" must be a string")]
        [InlineData("{\"type\":\"send\",\"ref\":\"9\",\"to\":\"bob\",\"text\":\"\\ud800\"}", "lone surrogate")]
        [InlineData("{\"type\":\"send\",\"to\":\"bob\",\"text\":\"a\\udc00b\",\"ref\":\"9\"}", "lone surrogate")]
        [InlineData("{\"type\":\"send\",\"ref\":\"9\",\"to\":\"bob\",\"text\":\"hi\",\"sentAt\":\"yesterday\"}", "\"sentAt\"")]
        [InlineData("{\"type\":\"ack\",\"ref\":\"9\",\"id\":42}", "\"id\" must be a string")]
        [InlineData("{\"type\":5,\"ref\":\"9\"}", "\"type\" must be a string")]
        [InlineData("{\"ref\":\"9\"}", "needs a \"type\"")]
        [InlineData("{\"type\":\"send\",\"ref\":\"9\",\"to\":\"bob\",\"text\":\"hi\"} trailing", "not valid JSON")]
        public async Task AFrameThatCannotBeReadIsAnsweredWithItsRef(string line, string problem)
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice");

            await alice.SendAsync(line);

            JsonObject error = await alice.ExpectAsync("error");
            Assert.Equal("malformed-frame", Str(error, "code"));
            Assert.Equal("9", Str(error, "ref"));
            Assert.Contains(problem, Str(error, "message"));
            await alice.AssertNothingWaitingAsync();
        }

        [Theory]
        [InlineData("{\"type\":\"send\",\"ref\":5,\"to\":\"bob\",\"text\":\"hi\"}")]
        [InlineData("{\"type\":\"send\",\"ref\":\"\\udc00\",\"to\":\"bob\",\"text\":\"hi\"}")]
        [InlineData("{\"type\":\"send\",\"to\":\"bob\",\"text\":5,\"x\":{\"ref\":\"9\"}}")]
        [InlineData("not json, \"ref\":\"9\"")]
        public async Task AnErrorHasNoRefWhenTheFrameHadNoReadableOne(string line)
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice");

            await alice.SendAsync(line);

            JsonObject error = await alice.ExpectAsync("error");
            Assert.Equal("malformed-frame", Str(error, "code"));
            Assert.False(error.ContainsKey("ref"), error.ToJsonString());
        }

        // ---- 18: which fields a status has, in which case ----

        [Fact]
        public async Task AStatusOfAnAcceptedMessageHasRefIdToAndSentAt()
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice");

            await alice.SendMessageAsync("nobody", "hi", reference: "7");

            JsonObject status = await alice.ExpectAsync("status");
            Assert.Equal("7", Str(status, "ref"));
            Assert.False(string.IsNullOrEmpty(Str(status, "id")));
            Assert.Equal("nobody", Str(status, "to"));
            Time(status, "sentAt");
            Assert.Equal("refused", Str(status, "status"));
            Assert.Equal("unknown-user", Str(status, "reason"));
        }

        [Fact]
        public async Task ASendWithoutRefGetsAStatusWithoutRef()
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice");

            await alice.SendMessageAsync("nobody", "hi");

            JsonObject status = await alice.ExpectAsync("status");
            Assert.False(status.ContainsKey("ref"), status.ToJsonString());
            Assert.False(string.IsNullOrEmpty(Str(status, "id")));
            Assert.Equal("nobody", Str(status, "to"));
            Time(status, "sentAt");
        }

        [Theory]
        [InlineData("{\"type\":\"send\",\"ref\":\"7\",\"text\":\"hi\"}", null)]
        [InlineData("{\"type\":\"send\",\"ref\":\"7\",\"to\":\"bob\"}", "bob")]
        [InlineData("{\"type\":\"send\",\"ref\":\"7\",\"to\":null,\"text\":\"hi\"}", null)]
        public async Task ASendThatIsNeverAcceptedGetsAStatusWithoutIdOrSentAt(string line, string to)
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice");

            await alice.SendAsync(line);

            JsonObject status = await alice.ExpectAsync("status");
            Assert.Equal("7", Str(status, "ref"));
            Assert.Equal("refused", Str(status, "status"));
            Assert.Equal("malformed-frame", Str(status, "reason"));
            Assert.False(status.ContainsKey("id"), status.ToJsonString());
            Assert.False(status.ContainsKey("sentAt"), status.ToJsonString());
            Assert.Equal(to, Str(status, "to"));
        }

        [Fact]
        public async Task ARateLimitedSendGetsAStatusWithRefAndToButNoIdOrSentAt()
        {
            await using var server = new TestServer(o => o.MaxMessagesPerSecond = 1);
            using NativePeer alice = await server.JoinNativeAsync("alice");

            for (int i = 0; i < 5; i++)
            {
                await alice.SendMessageAsync("nobody", "hi", reference: "r" + i);
            }

            List<JsonObject> statuses = await alice.DrainAsync();
            JsonObject limited = statuses.First(s => Str(s, "reason") == "rate-limited");
            Assert.StartsWith("r", Str(limited, "ref"));
            Assert.Equal("nobody", Str(limited, "to"));
            Assert.False(limited.ContainsKey("id"), limited.ToJsonString());
            Assert.False(limited.ContainsKey("sentAt"), limited.ToJsonString());
        }

        // ---- 19: acks, hello, duplicate keys, surrogates, text outside the BMP ----

        [Fact]
        public async Task AnAckWithNeitherIdNorThroughIsAnsweredWithAnError()
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice");

            await alice.SendAsync("{\"type\":\"ack\",\"ref\":\"a1\"}");

            JsonObject error = await alice.ExpectAsync("error");
            Assert.Equal("malformed-frame", Str(error, "code"));
            Assert.Equal("a1", Str(error, "ref"));
            Assert.Contains("\"id\" or \"through\"", Str(error, "message"));
        }

        [Fact]
        public async Task AnAckWithBothIdAndThroughIsRefusedAndConfirmsNothing()
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice");
            using NativePeer bob = await server.JoinNativeAsync("bob");
            await alice.SendMessageAsync("bob", "one", reference: "1");
            string id = Str(await bob.ExpectAsync("message"), "id");

            await bob.SendAsync("{\"type\":\"ack\",\"ref\":\"a2\",\"id\":\"" + id + "\",\"through\":\"" + id + "\"}");

            JsonObject error = await bob.ExpectAsync("error");
            Assert.Equal("malformed-frame", Str(error, "code"));
            Assert.Equal("a2", Str(error, "ref"));
            Assert.Contains("not both", Str(error, "message"));
            await alice.AssertNothingWaitingAsync();

            await bob.AckAsync(id);
            JsonObject status = await alice.ExpectAsync("status");
            Assert.Equal("delivered", Str(status, "status"));
            Assert.Equal("1", Str(status, "ref"));
        }

        [Fact]
        public async Task AnAckOfAnotherUsersMessageConfirmsNothingAndIsNotAnswered()
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice", batch: true);
            using NativePeer bob = await server.JoinNativeAsync("bob", batch: true);
            using NativePeer carol = await server.JoinNativeAsync("carol", batch: true);
            await alice.SendMessageAsync("bob", "to bob", reference: "1");
            string bobs = Str(await bob.ExpectAsync("message"), "id");
            await alice.SendMessageAsync("carol", "to carol", reference: "2");
            string carols = Str(await carol.ExpectAsync("message"), "id");

            // bob acks carol's message, both ways, and an id nobody was given.
            await bob.AckThroughAsync(carols);
            await bob.AckAsync(carols);
            await bob.AckThroughAsync("999999999");
            await bob.AssertNothingWaitingAsync();
            await alice.AssertNothingWaitingAsync();

            await carol.AckThroughAsync(carols);
            JsonObject delivered = await alice.ExpectAsync("delivered");
            Assert.Equal("2", Str(delivered["messages"][0].AsObject(), "ref"));
            await bob.AckThroughAsync(bobs);
            delivered = await alice.ExpectAsync("delivered");
            Assert.Equal("1", Str(delivered["messages"][0].AsObject(), "ref"));
        }

        [Theory]
        [InlineData("chatrm_native2")]
        [InlineData("irc")]
        [InlineData("")]
        public async Task AHelloOfAnotherProtocolIsRefused(string protocol)
        {
            await using var server = new TestServer();
            using RawClient raw = await server.ConnectRawAsync();

            await raw.SendAsync(new JsonObject { ["type"] = "hello", ["protocol"] = protocol, ["version"] = 1, ["user"] = "alice" }.ToJsonString() + "\n");

            JsonObject error = JsonNode.Parse(await raw.ReadLineAsync()).AsObject();
            Assert.Equal("error", Type(error));
            Assert.Equal("unsupported-version", Str(error, "code"));
            Assert.Contains("chatrm_native", Str(error, "message"));
            Assert.True(await raw.ClosedByServerAsync());
            Assert.False(server.IsOnline("alice"));
        }

        [Fact]
        public async Task AHelloWithoutProtocolIsTakenAsTheNativeProtocol()
        {
            await using var server = new TestServer();
            using RawClient raw = await server.ConnectRawAsync();

            await raw.SendAsync("{\"type\":\"hello\",\"version\":1,\"user\":\"alice\"}\n");

            Assert.Equal("welcome", Type(JsonNode.Parse(await raw.ReadLineAsync()).AsObject()));
        }

        [Fact]
        public async Task ARepeatedFieldTakesItsLastValue()
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice");
            using NativePeer bob = await server.JoinNativeAsync("bob");

            await alice.SendAsync("{\"type\":\"send\",\"ref\":\"1\",\"ref\":\"2\",\"to\":\"nobody\",\"text\":\"first\",\"to\":\"bob\",\"text\":\"last\"}");

            JsonObject message = await bob.ExpectAsync("message");
            Assert.Equal("last", Str(message, "text"));
            await bob.AckAsync(Str(message, "id"));
            Assert.Equal("2", Str(await alice.ExpectAsync("status"), "ref"));
        }

        [Fact]
        public async Task ARepeatedFieldOfTheWrongKindRefusesTheFrameEvenIfALaterOneIsRight()
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice");

            await alice.SendAsync("{\"type\":\"send\",\"ref\":\"1\",\"to\":\"bob\",\"text\":5,\"text\":\"hi\"}");

            JsonObject error = await alice.ExpectAsync("error");
            Assert.Equal("malformed-frame", Str(error, "code"));
            Assert.Equal("1", Str(error, "ref"));
        }

        [Fact]
        public async Task TextOutsideTheBmpGoesAsUtf8BytesNotEscapes()
        {
            await using var server = new TestServer();
            using NativePeer alice = await server.JoinNativeAsync("alice");
            using NativePeer bob = await server.JoinNativeAsync("bob");

            // Sent escaped, as JsonNode writes it: the server writes the text back in UTF-8.
            await alice.SendMessageAsync("bob", "hi \U0001F600 caf\u00e9 \u4e2d", reference: "1");

            byte[] line = await bob.Raw.ReadLineBytesAsync();
            string text = Encoding.UTF8.GetString(line);
            Assert.Contains("\"text\":\"hi \U0001F600 caf\u00e9 \u4e2d\"", text);
            Assert.DoesNotContain("\\u", text);
        }

        /// <summary>Every BMP character, in frames of 4096, as the relaxed encoder the server used before wrote it.</summary>
        public static IEnumerable<object[]> BmpChunks()
        {
            for (int start = 0; start < 0x10000; start += 4096)
            {
                yield return new object[] { start };
            }
        }

        [Theory]
        [MemberData(nameof(BmpChunks))]
        public void BmpTextIsWrittenByteForByteAsBefore(int start)
        {
            var text = new StringBuilder();
            for (int c = start; c < start + 4096; c++)
            {
                if (c < 0xD800 || c > 0xDFFF)
                {
                    text.Append((char)c).Append(' ');
                }
            }

            var frame = new Protocol.Native.NativeFrame { Type = "message", Text = text.ToString() };
            byte[] ours = Protocol.Native.NativeProtocol.FormatUtf8(frame).ToArray();

            var buffer = new System.Buffers.ArrayBufferWriter<byte>();
            using (var writer = new System.Text.Json.Utf8JsonWriter(buffer, new System.Text.Json.JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            {
                writer.WriteStartObject();
                writer.WriteString("type", "message");
                writer.WriteString("text", frame.Text);
                writer.WriteEndObject();
            }

            Assert.Equal(Encoding.UTF8.GetString(buffer.WrittenSpan) + "\n", Encoding.UTF8.GetString(ours));
        }

        [Theory]
        [InlineData("\U0001F600", "\U0001F600")]
        [InlineData("a\U00010000b\U0010FFFFc", "a\U00010000b\U0010FFFFc")]
        [InlineData("\"\U0001F600\n", "\\\"\U0001F600\\n")]
        [InlineData("x\U0001F600<&>'\u2028", "x\U0001F600<&>'\\u2028")]
        public void TextOutsideTheBmpIsWrittenAsUtf8AndTheRestAsBefore(string text, string written)
        {
            byte[] ours = Protocol.Native.NativeProtocol.FormatUtf8(new Protocol.Native.NativeFrame { Type = "message", Text = text }).ToArray();

            Assert.Equal("{\"type\":\"message\",\"text\":\"" + written + "\"}\n", Encoding.UTF8.GetString(ours));
            Assert.Equal(written, System.Text.Json.JsonEncodedText.Encode(Encoding.UTF8.GetBytes(text), Protocol.Native.Utf8JsonEncoder.Instance).ToString());
        }

        // ---- 16: keepalive as the doc says it ----

        [Fact]
        public async Task AKeepaliveDropSaysTheIntervalInWords()
        {
            await using var server = new TestServer(o => o.KeepAliveInterval = TimeSpan.FromMilliseconds(300));
            using NativePeer mute = await server.JoinNativeAsync("mute");

            List<string> lines = await mute.Raw.ReadUntilClosedAsync();

            JsonObject last = JsonNode.Parse(lines[lines.Count - 1]).AsObject();
            Assert.Equal("keepalive-timeout", Str(last, "code"));
            Assert.Equal("no answer to a ping within 0.3 s", Str(last, "message"));
        }

        [Theory]
        [InlineData("")]
        [InlineData("   ")]
        [InlineData("\r")]
        public async Task ABlankLineIsIgnoredAsAFrameButCountsAsTraffic(string blank)
        {
            await using var server = new TestServer(o => o.KeepAliveInterval = TimeSpan.FromMilliseconds(300));
            using NativePeer alice = await server.JoinNativeAsync("alice");

            // Each ping answered with nothing but a blank line: never an error, never a drop.
            int pings = 0;
            while (pings < 3)
            {
                JsonObject frame = await alice.ReadAsync();
                Assert.True(Type(frame) == "ping", "Unexpected frame: " + frame.ToJsonString());
                pings++;
                await alice.SendAsync(blank);
            }

            Assert.True(server.IsOnline("alice"));
            Assert.DoesNotContain(server.Events, e => e.Kind == ServerEventKind.UserLeft || e.Kind == ServerEventKind.LineRefused);
        }
    }
}
