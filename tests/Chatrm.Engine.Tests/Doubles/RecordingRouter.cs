using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;

namespace Chatrm.Engine.Tests
{
    /// <summary>
    /// A router double: records what the sessions asked of it and answers as the test told it. Reports it is asked
    /// to carry reach the sender registered with it, as the local router's would, so a test can play the far side.
    /// </summary>
    internal sealed class RecordingRouter : IMessageRouter
    {
        private readonly ConcurrentDictionary<long, IChatEndpoint> _byConnection = new ConcurrentDictionary<long, IChatEndpoint>();

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

        public IReadOnlyCollection<IChatEndpoint> Registered => _byConnection.Values.ToList();

        public event EventHandler<PresenceEventArgs> PresenceChanged;

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

        public void ReportRefused(ChatEnvelope envelope, Refusal reason, string message) => SenderOf(envelope)?.Refused(envelope, reason, message);

        public void ReportFailed(ChatEnvelope envelope, Refusal reason, string message) => SenderOf(envelope)?.Failed(envelope, reason, message);

        public IReadOnlyCollection<string> OnlineUsers => _byConnection.Values.Select(e => e.UserName).ToList();

        public IReadOnlyList<UserInfo> ListUsers() => _byConnection.Values.Select(e => new UserInfo(e.UserName, e.Protocol, e.ConnectedAt)).ToList();

        private IChatEndpoint SenderOf(ChatEnvelope envelope) =>
            envelope.Sender.ServerId == ServerId && _byConnection.TryGetValue(envelope.Sender.ConnectionId, out IChatEndpoint sender) ? sender : null;
    }
}
