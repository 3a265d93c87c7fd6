using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Threading;

namespace Chatrm.Engine.Tests
{
    /// <summary>
    /// A router double: records what the sessions asked of it and answers as the test told it. Reports it is asked
    /// to carry reach the sender registered with it, as the local router's would, so a test can play the far side.
    /// </summary>
    internal sealed class RecordingRouter : IMessageRouter
    {
        private readonly ConcurrentDictionary<long, IChatEndpoint> _byConnection = new ConcurrentDictionary<long, IChatEndpoint>();

        // Resume states' addresses: reports to them reach the state, as the local router's do.
        private readonly ConcurrentDictionary<long, IDeliveryReceipt> _reports = new ConcurrentDictionary<long, IDeliveryReceipt>();

        public RecordingRouter(int serverId = 0)
        {
            ServerId = serverId;
        }

        public int ServerId { get; }

        /// <summary>What <see cref="Deliver"/> answers.</summary>
        public DeliveryStatus Answer { get; set; } = DeliveryStatus.Accepted;

        /// <summary>Whether <see cref="TryRegister"/> lets a name in.</summary>
        public bool Admits { get; set; } = true;

        public ConcurrentQueue<ChatEnvelope> Delivered { get; } = new ConcurrentQueue<ChatEnvelope>();

        public ConcurrentQueue<string> Asked { get; } = new ConcurrentQueue<string>();

        /// <summary>What the room operations (join, leave, post) answer: <see cref="Refusal.None"/> does as asked.</summary>
        public Refusal RoomAnswer { get; set; } = Refusal.None;

        /// <summary>The room messages posted, with the Seq each was given (one count for all rooms).</summary>
        public ConcurrentQueue<ChatEnvelope> Posted { get; } = new ConcurrentQueue<ChatEnvelope>();

        /// <summary>How many members a post says it reached.</summary>
        public int PostRecipients { get; set; }

        private long _seq;

        public IReadOnlyCollection<IChatEndpoint> Registered => _byConnection.Values.ToList();

        public event EventHandler<PresenceEventArgs> PresenceChanged;

        public bool KeepsInboxes => true;

        public System.Threading.Tasks.Task<bool> ClaimName(IChatEndpoint endpoint, bool takeOver) => null;

        public void AbandonClaim(IChatEndpoint endpoint)
        {
        }

        public bool TryRegister(IChatEndpoint endpoint, bool takeOver, out IChatEndpoint displaced)
        {
            Asked.Enqueue($"register {endpoint.UserName} takeOver={takeOver}");
            displaced = null;
            if (!Admits)
            {
                return false;
            }

            _byConnection[endpoint.Address.ConnectionId] = endpoint;
            PresenceChanged?.Invoke(this, new PresenceEventArgs(PresenceChange.Joined, endpoint.UserName));
            return true;
        }

        public void Unregister(IChatEndpoint endpoint) => Asked.Enqueue("unregister " + endpoint.UserName);

        public void Detach(IChatEndpoint endpoint)
        {
            Asked.Enqueue("detach " + endpoint.UserName);
            _byConnection.TryRemove(endpoint.Address.ConnectionId, out _);
        }

        public bool Disconnect(string userName, Refusal why, string text)
        {
            Asked.Enqueue($"disconnect {userName} {why.ToCode()}");
            IChatEndpoint endpoint = _byConnection.Values.FirstOrDefault(e => UserNames.AreSame(e.UserName, userName));
            endpoint?.Disconnect(why, text);
            return endpoint != null;
        }

        public DeliveryStatus Deliver(ChatEnvelope envelope)
        {
            Delivered.Enqueue(envelope);
            return Answer;
        }

        public void ReportForwarded(ChatEnvelope envelope) => SenderOf(envelope)?.Forwarded(envelope);

        public void ReportDelivered(ChatEnvelope envelope) => SenderOf(envelope)?.Delivered(envelope);

        public void ReportDelivered(ReadOnlySpan<ChatEnvelope> envelopes)
        {
            if (envelopes.Length > 0)
            {
                SenderOf(envelopes[0])?.Delivered(envelopes);
            }
        }

        public void ReportReceipt(string senderName, ChatEnvelope envelope) =>
            _byConnection.Values.FirstOrDefault(e => UserNames.AreSame(e.UserName, senderName))?.Delivered(envelope);

        public void ReportRefused(ChatEnvelope envelope, Refusal reason, string message) => SenderOf(envelope)?.Refused(envelope, reason, message);

        public void ReportFailed(ChatEnvelope envelope, Refusal reason, string message) => SenderOf(envelope)?.Failed(envelope, reason, message);

        public void ReportStored(ChatEnvelope envelope) => SenderOf(envelope)?.Stored(envelope);

        public void InboxWritten(string userName)
        {
        }

        public RoomJoin Join(IChatEndpoint member, string room)
        {
            Asked.Enqueue($"join {member.UserName} {room}");
            return RoomAnswer != Refusal.None
                ? RoomJoin.Refused(RoomAnswer, "refused by the test")
                : RoomJoin.Done(new RoomInfo(room, 1, new[] { member.UserName }, isMember: true, joinedAt: DateTime.UtcNow), wasMember: false);
        }

        public RoomLeave Leave(IChatEndpoint member, string room)
        {
            Asked.Enqueue($"leave {member.UserName} {room}");
            return RoomAnswer != Refusal.None
                ? RoomLeave.Refused(RoomAnswer, "refused by the test")
                : RoomLeave.Done(new RoomInfo(room, 0));
        }

        public RoomPost Post(ChatEnvelope envelope)
        {
            Asked.Enqueue($"post {envelope.From} {envelope.To}");
            if (RoomAnswer != Refusal.None)
            {
                return RoomPost.Refused(RoomAnswer, "refused by the test");
            }

            envelope.Seq = Interlocked.Increment(ref _seq);
            Posted.Enqueue(envelope);
            return RoomPost.Done(envelope.Seq, PostRecipients);
        }

        public IReadOnlyList<RoomInfo> ListRooms(IChatEndpoint asking)
        {
            Asked.Enqueue("rooms");
            return Array.Empty<RoomInfo>();
        }

        public RoomInfo GetRoom(string room, IChatEndpoint asking)
        {
            Asked.Enqueue("room " + room);
            return RoomNames.IsValid(room) ? new RoomInfo(room, 0, Array.Empty<string>()) : null;
        }

        public IReadOnlyCollection<string> OnlineUsers => _byConnection.Values.Select(e => e.UserName).ToList();

        public IReadOnlyList<UserInfo> ListUsers() => _byConnection.Values.Select(e => new UserInfo(e.UserName, e.Protocol, e.ConnectedAt)).ToList();

        public void AttachReports(SenderAddress address, IDeliveryReceipt receipt) => _reports[address.ConnectionId] = receipt;

        public void DetachReports(SenderAddress address, IDeliveryReceipt receipt) =>
            ((ICollection<KeyValuePair<long, IDeliveryReceipt>>)_reports).Remove(new KeyValuePair<long, IDeliveryReceipt>(address.ConnectionId, receipt));

        private IDeliveryReceipt SenderOf(ChatEnvelope envelope)
        {
            if (envelope.Sender.ServerId != ServerId)
            {
                return null;
            }

            if (_byConnection.TryGetValue(envelope.Sender.ConnectionId, out IChatEndpoint sender))
            {
                return sender;
            }

            return _reports.TryGetValue(envelope.Sender.ConnectionId, out IDeliveryReceipt receipt) ? receipt : null;
        }
    }
}
