using System;
using System.Linq;
using System.Text.Json.Nodes;
using System.Threading.Tasks;
using Xunit;

namespace Chatrm.Engine.Tests
{
    /// <summary>
    /// A session's protocol and routing logic over an in-memory connection, against a router double: what the
    /// session asks the router, and what it tells its user of the router's answers and reports.
    /// </summary>
    public class SessionWithoutSocketsTests
    {
        [Fact]
        public async Task ANativeSendGoesToTheRouterAndItsDeliveryReportComesBackAsAStatus()
        {
            var router = new RecordingRouter();
            await using var session = new InMemorySession(router);
            await HelloAsync(session, "alice");

            await session.Client.SendAsync("{\"type\":\"send\",\"to\":\"bob\",\"text\":\"hi\",\"ref\":\"r1\"}\n");
            JsonObject pong = await PingAsync(session);
            Assert.Equal("pong", pong["type"]!.GetValue<string>());

            ChatEnvelope envelope = Assert.Single(router.Delivered);
            Assert.Equal(("alice", "bob", "hi", "r1"), (envelope.From, envelope.To, envelope.Text, envelope.SenderRef));
            Assert.Equal(session.Connection.Address, envelope.Sender);
            Assert.True(envelope.SenderHearsStatus);

            // The far side confirms it: the report goes by the envelope's address, not by an object it holds.
            router.ReportDelivered(envelope);
            JsonObject status = await NextFrameAsync(session);
            Assert.Equal("status", status["type"]!.GetValue<string>());
            Assert.Equal("delivered", status["status"]!.GetValue<string>());
            Assert.Equal("r1", status["ref"]!.GetValue<string>());
            Assert.Equal(envelope.Id, status["id"]!.GetValue<string>());
        }

        [Fact]
        public async Task ARouterRefusalIsToldAsARefusedStatus()
        {
            var router = new RecordingRouter { Answer = DeliveryStatus.UserOffline };
            await using var session = new InMemorySession(router);
            await HelloAsync(session, "alice");

            await session.Client.SendAsync("{\"type\":\"send\",\"to\":\"bob\",\"text\":\"hi\",\"ref\":\"r1\"}\n");
            JsonObject status = await NextFrameAsync(session);
            Assert.Equal("refused", status["status"]!.GetValue<string>());
            Assert.Equal("user-offline", status["reason"]!.GetValue<string>());
            Assert.Equal("bob is offline", status["message"]!.GetValue<string>());
        }

        [Fact]
        public async Task AClassicSessionHearsARefusalInTheSameWordsAsANotice()
        {
            var router = new RecordingRouter { Answer = DeliveryStatus.UserOffline };
            await using var session = new InMemorySession(router);
            await session.Client.SendAsync("alice\n");
            Assert.StartsWith("alice_chatrm_", await session.Client.ReadLineAsync());
            Assert.Contains("register alice takeOver=False", router.Asked);

            await session.Client.SendAsync("alice_bob_hi\n");
            Assert.Equal("alice_chatrm_user-offline: bob is offline", await session.Client.ReadLineAsync());
            ChatEnvelope envelope = Assert.Single(router.Delivered);
            Assert.False(envelope.SenderHearsStatus);
            Assert.Equal(session.Connection.Address, envelope.Sender);
        }

        [Fact]
        public async Task AReportForAnotherServersSenderReachesNobodyHere()
        {
            var router = new RecordingRouter(serverId: 2);
            await using var session = new InMemorySession(router);
            await HelloAsync(session, "alice");
            await session.Client.SendAsync("{\"type\":\"send\",\"to\":\"bob\",\"text\":\"hi\",\"ref\":\"r1\"}\n");
            await PingAsync(session);
            ChatEnvelope sent = Assert.Single(router.Delivered);
            Assert.Equal(2, sent.Sender.ServerId);

            // Same connection id, another server: not this user's message.
            var foreign = new ChatEnvelope("9", "carol", "bob", "x", DateTime.UtcNow, "f1", new SenderAddress(3, sent.Sender.ConnectionId), senderHearsStatus: true);
            router.ReportDelivered(foreign);
            router.ReportFailed(sent, Refusal.RecipientLeft, "bob left before confirming");
            JsonObject status = await NextFrameAsync(session);
            Assert.Equal("r1", status["ref"]!.GetValue<string>());
            Assert.Equal("recipient-left", status["reason"]!.GetValue<string>());
        }

        [Fact]
        public async Task DisconnectingAUserIsTheRoutersAndEndsTheSession()
        {
            var router = new RecordingRouter();
            await using var session = new InMemorySession(router);
            await HelloAsync(session, "alice");

            Assert.True(session.Server.DisconnectUser("alice", "bye now"));
            JsonObject error = await NextFrameAsync(session);
            Assert.Equal("disconnected", error["code"]!.GetValue<string>());
            await session.Ended.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Contains("disconnect alice disconnected", router.Asked);
            Assert.Equal(new[] { "unregister alice", "detach alice" }, router.Asked.Where(a => a.StartsWith("unregister") || a.StartsWith("detach")));
        }

        private static async Task HelloAsync(InMemorySession session, string name)
        {
            await session.Client.SendAsync(NativePeer.Hello(name) + "\n");
            JsonObject welcome = await NextFrameAsync(session);
            Assert.Equal("welcome", welcome["type"]!.GetValue<string>());
        }

        // The session answers one line at a time, in order: a pong says every line before the ping was handled.
        private static async Task<JsonObject> PingAsync(InMemorySession session)
        {
            await session.Client.SendAsync("{\"type\":\"ping\",\"ref\":\"barrier\"}\n");
            return await NextFrameAsync(session);
        }

        private static async Task<JsonObject> NextFrameAsync(InMemorySession session)
        {
            while (true)
            {
                string line = await session.Client.ReadLineAsync();
                Assert.NotNull(line);
                var frame = (JsonObject)JsonNode.Parse(line)!;
                if (frame["type"]!.GetValue<string>() != "presence")
                {
                    return frame;
                }
            }
        }
    }
}
