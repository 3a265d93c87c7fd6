using System;
using System.Collections.Generic;
using Xunit;

namespace Chatrm.Engine.Tests
{
    /// <summary>The local router on its own: names, and reports that find their sender by address.</summary>
    public class LocalRouterTests
    {
        [Fact]
        public void AReportFindsItsSenderByAddressUntilTheSenderIsDetached()
        {
            var router = new LocalRouter();
            var alice = new RecordingEndpoint("alice", new SenderAddress(0, 1));
            Assert.True(router.TryRegister(alice, takeOver: false, out _));
            ChatEnvelope sent = Envelope(alice.Address);

            router.ReportForwarded(sent);
            router.ReportDelivered(sent);
            router.ReportDelivered(new[] { sent, sent });
            router.ReportRefused(sent, Refusal.RecipientTooSlow, "slow");
            router.ReportFailed(sent, Refusal.RecipientLeft, "left");
            Assert.Equal(new[] { "forwarded", "delivered", "delivered 2", "refused recipient-too-slow", "failed recipient-left" }, alice.Told);

            // Left the name, still connected: reports still reach it. Its connection closed: they go nowhere.
            router.Unregister(alice);
            router.ReportDelivered(sent);
            router.Detach(alice);
            router.ReportDelivered(sent);
            Assert.Equal(6, alice.Told.Count);
        }

        [Fact]
        public void AReportToAnotherServerOrToNoSenderReachesNobodyHere()
        {
            var router = new LocalRouter(serverId: 4);
            var alice = new RecordingEndpoint("alice", new SenderAddress(4, 1));
            router.TryRegister(alice, takeOver: false, out _);

            router.ReportDelivered(Envelope(new SenderAddress(5, 1)));
            router.ReportDelivered(Envelope(SenderAddress.None));
            Assert.Empty(alice.Told);
            router.ReportDelivered(Envelope(new SenderAddress(4, 1)));
            Assert.Single(alice.Told);
        }

        [Fact]
        public void ADisplacedSessionStillHearsReportsAndDisconnectGoesToTheHolder()
        {
            var router = new LocalRouter();
            var old = new RecordingEndpoint("alice", new SenderAddress(0, 1));
            var fresh = new RecordingEndpoint("alice", new SenderAddress(0, 2));
            router.TryRegister(old, takeOver: false, out _);
            Assert.True(router.TryRegister(fresh, takeOver: true, out IChatEndpoint displaced));
            Assert.Same(old, displaced);

            router.ReportDelivered(Envelope(old.Address));
            Assert.Single(old.Told);

            Assert.True(router.Disconnect("ALICE", Refusal.Disconnected, "by the operator"));
            Assert.Equal(new[] { "disconnect disconnected" }, fresh.Disconnects);
            Assert.Empty(old.Disconnects);
            Assert.False(router.Disconnect("bob", Refusal.Disconnected, "by the operator"));
        }

        [Fact]
        public void DeliverAnswersAcceptedOrTheReasonOnly()
        {
            var router = new LocalRouter();
            var bob = new RecordingEndpoint("bob", new SenderAddress(0, 1));
            Assert.Equal(DeliveryStatus.UnknownUser, router.Deliver(new ChatEnvelope("1", "alice", "bob", "x", DateTime.UtcNow)));
            router.TryRegister(bob, takeOver: false, out _);
            Assert.Equal(DeliveryStatus.Accepted, router.Deliver(new ChatEnvelope("2", "alice", "bob", "x", DateTime.UtcNow)));
            router.Unregister(bob);
            Assert.Equal(DeliveryStatus.UserOffline, router.Deliver(new ChatEnvelope("3", "alice", "bob", "x", DateTime.UtcNow)));
        }

        private static ChatEnvelope Envelope(SenderAddress sender) =>
            new ChatEnvelope("7", "alice", "bob", "x", DateTime.UtcNow, "r", sender, senderHearsStatus: true);

        private sealed class RecordingEndpoint : IChatEndpoint
        {
            public RecordingEndpoint(string name, SenderAddress address)
            {
                UserName = name;
                Address = address;
            }

            public List<string> Told { get; } = new List<string>();

            public List<string> Disconnects { get; } = new List<string>();

            public string UserName { get; }

            public string Protocol => ProtocolNames.Chatrm;

            public DateTime ConnectedAt { get; } = DateTime.UtcNow;
            public string ResumeToken => null;

            public SenderAddress Address { get; }

            public DeliveryStatus Deliver(ChatEnvelope envelope) => DeliveryStatus.Accepted;

            public void PostAnswered(ChatEnvelope envelope, RoomPost post)
            {
            }

            public void Disconnect(Refusal why, string text) => Disconnects.Add("disconnect " + why.ToCode());

            public void RoomPresence(string room, string userName, PresenceChange change, DateTime time) => Told.Add($"presence {room} {userName} {change}");

            public void Forwarded(ChatEnvelope envelope) => Told.Add("forwarded");

            public void Delivered(ChatEnvelope envelope) => Told.Add("delivered");

            public void Delivered(ReadOnlySpan<ChatEnvelope> envelopes) => Told.Add("delivered " + envelopes.Length);

            public void Refused(ChatEnvelope envelope, Refusal reason, string message) => Told.Add("refused " + reason.ToCode());

            public void Failed(ChatEnvelope envelope, Refusal reason, string message) => Told.Add("failed " + reason.ToCode());

            public void Stored(ChatEnvelope envelope) => Told.Add("stored");
        }
    }
}
