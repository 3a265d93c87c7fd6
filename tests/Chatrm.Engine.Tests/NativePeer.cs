using System;
using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using System.Threading.Tasks;
using Xunit;

namespace Chatrm.Engine.Tests
{
    /// <summary>
    /// A person typing native frames into nc: raw JSON lines out, raw lines in, read back with
    /// System.Text.Json directly so the engine's own codec is not what checks the engine.
    /// </summary>
    internal sealed class NativePeer : IDisposable
    {
        private NativePeer(RawClient raw, string name)
        {
            Raw = raw;
            Name = name;
        }

        public RawClient Raw { get; }

        public string Name { get; }

        /// <summary>The welcome frame the server answered the hello with.</summary>
        public JsonObject Welcome { get; private set; }

        public static string Hello(string user, int version = 1) =>
            new JsonObject { ["type"] = "hello", ["protocol"] = "chatrm_native", ["version"] = version, ["user"] = user }.ToJsonString();

        /// <summary>Connects, says hello (with a resume token when given) and reads the welcome, failing the test when anything else comes.</summary>
        public static async Task<NativePeer> JoinAsync(IPEndPoint endPoint, string name, bool batch = false, string resume = null)
        {
            RawClient raw = await RawClient.ConnectAsync(endPoint);
            var peer = new NativePeer(raw, name);
            JsonObject hello = JsonNode.Parse(Hello(name)).AsObject();
            if (batch)
            {
                hello["batch"] = true;
            }

            if (resume != null)
            {
                hello["resume"] = resume;
            }

            await peer.SendFrameAsync(hello);
            JsonObject welcome = await peer.ReadAsync();
            Assert.Equal("welcome", Type(welcome));
            peer.Welcome = welcome;
            return peer;
        }

        /// <summary>Connects without saying anything.</summary>
        public static async Task<NativePeer> ConnectAsync(IPEndPoint endPoint, string name = null) =>
            new NativePeer(await RawClient.ConnectAsync(endPoint), name);

        /// <summary>Sends one line as typed, adding the newline.</summary>
        public Task SendAsync(string line) => Raw.SendAsync(line + "\n");

        public Task SendFrameAsync(JsonObject frame) => SendAsync(frame.ToJsonString());

        public Task SendMessageAsync(string to, string text, string reference = null)
        {
            var frame = new JsonObject { ["type"] = "send", ["to"] = to, ["text"] = text };
            if (reference != null)
            {
                frame["ref"] = reference;
            }

            return SendFrameAsync(frame);
        }

        public Task AckAsync(string id) => SendFrameAsync(new JsonObject { ["type"] = "ack", ["id"] = id });

        /// <summary>Acks message <paramref name="id"/> and every message the server sent before it.</summary>
        public Task AckThroughAsync(string id) => SendFrameAsync(new JsonObject { ["type"] = "ack", ["through"] = id });

        /// <summary>The next line, which must be one JSON object.</summary>
        public async Task<JsonObject> ReadAsync()
        {
            string line = await Raw.ReadLineAsync();
            JsonNode node;
            try
            {
                node = JsonNode.Parse(line);
            }
            catch (System.Text.Json.JsonException e)
            {
                throw new Xunit.Sdk.XunitException($"Not a JSON frame: {line} ({e.Message})");
            }

            Assert.True(node is JsonObject, "Not a JSON object: " + line);
            return (JsonObject)node;
        }

        /// <summary>
        /// The next frame other than presence frames (which come whenever someone joins or leaves), which
        /// must be of <paramref name="type"/>.
        /// </summary>
        public async Task<JsonObject> ExpectAsync(string type)
        {
            while (true)
            {
                JsonObject frame = await ReadAsync();
                if (Type(frame) == "presence" && type != "presence")
                {
                    continue;
                }

                Assert.True(Type(frame) == type, $"Expected a {type} frame, got {frame.ToJsonString()}");
                return frame;
            }
        }

        /// <summary>
        /// A barrier: pings with a fresh ref and returns every frame that came before the pong (presence
        /// frames left out). The server handles one connection's lines in order, so whatever it queued for
        /// this peer before handling the ping is in the list.
        /// </summary>
        public async Task<System.Collections.Generic.List<JsonObject>> DrainAsync()
        {
            string reference = "barrier-" + Guid.NewGuid().ToString("N");
            await SendFrameAsync(new JsonObject { ["type"] = "ping", ["ref"] = reference });
            var before = new System.Collections.Generic.List<JsonObject>();
            while (true)
            {
                JsonObject frame = await ReadAsync();
                if (Type(frame) == "pong" && Str(frame, "ref") == reference)
                {
                    return before;
                }

                if (Type(frame) != "presence")
                {
                    before.Add(frame);
                }
            }
        }

        /// <summary>Asserts that nothing but presence frames is waiting for this peer.</summary>
        public async Task AssertNothingWaitingAsync()
        {
            var waiting = await DrainAsync();
            Assert.True(waiting.Count == 0, "Unexpected frames: " + string.Join(" | ", waiting.ConvertAll(f => f.ToJsonString())));
        }

        public static string Type(JsonObject frame) => Str(frame, "type");

        public static string Str(JsonObject frame, string field)
        {
            JsonNode node = frame[field];
            return node?.GetValue<string>();
        }

        public static DateTime Time(JsonObject frame, string field)
        {
            string text = Str(frame, field);
            Assert.False(text == null, $"No {field} in {frame.ToJsonString()}");
            Assert.EndsWith("Z", text);
            return DateTime.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);
        }

        public void Dispose() => Raw.Dispose();
    }
}

namespace Chatrm.Engine.Tests
{
    internal static class NativeTestServerExtensions
    {
        /// <summary>A raw native user: hello typed by hand, welcome read.</summary>
        public static Task<NativePeer> JoinNativeAsync(this TestServer server, string name, bool batch = false, string resume = null) =>
            NativePeer.JoinAsync(server.EndPoint, name, batch, resume);

        /// <summary>A ChatClient in the native protocol (the default).</summary>
        public static Task<ChatClient> ConnectNativeAsync(this TestServer server, string name, ClientOptions options = null) =>
            ChatClient.ConnectAsync("127.0.0.1", server.EndPoint.Port, name, ChatProtocol.Chatrm, options);

        public static string ProtocolOf(this TestServer server, string name)
        {
            foreach (UserInfo user in server.Server.Router.ListUsers())
            {
                if (UserNames.AreSame(user.Name, name))
                {
                    return user.ProtocolName;
                }
            }

            return null;
        }
    }
}
