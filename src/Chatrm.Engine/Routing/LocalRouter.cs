using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using Chatrm.Engine.Messaging;

namespace Chatrm.Engine.Routing
{
    /// <summary>
    /// The user table of one server process: thread-safe, case-insensitive names, and the table of connection id to
    /// session that delivery reports are addressed through.
    /// </summary>
    internal sealed class LocalRouter : IMessageRouter
    {
        // Remembering every name ever seen would grow without bound; past this many, a gone user reads as unknown.
        private const int MaxRememberedNames = 100_000;

        private readonly ConcurrentDictionary<string, IChatEndpoint> _online = new ConcurrentDictionary<string, IChatEndpoint>(UserNames.Comparer);
        private readonly ConcurrentDictionary<string, byte> _seen = new ConcurrentDictionary<string, byte>(UserNames.Comparer);

        // Every registered session until its connection closes, by connection id: where reports to a sender go.
        private readonly ConcurrentDictionary<long, IChatEndpoint> _byConnection = new ConcurrentDictionary<long, IChatEndpoint>();

        public LocalRouter(int serverId = 0)
        {
            ServerId = serverId;
        }

        public int ServerId { get; }

        public event EventHandler<PresenceEventArgs> PresenceChanged;

        public IReadOnlyCollection<string> OnlineUsers
        {
            get
            {
                var names = new List<string>();
                foreach (var pair in _online)
                {
                    names.Add(pair.Value.UserName);
                }

                return names;
            }
        }

        public bool TryRegister(IChatEndpoint endpoint, bool takeOver, out IChatEndpoint displaced)
        {
            displaced = null;
            if (takeOver)
            {
                IChatEndpoint previous = null;
                _online.AddOrUpdate(endpoint.UserName, endpoint, (_, old) => { previous = old; return endpoint; });
                displaced = previous;
                _byConnection[endpoint.Address.ConnectionId] = endpoint;
                if (displaced != null)
                {
                    // The name stays online throughout: no presence change to announce.
                    return true;
                }
            }
            else if (!_online.TryAdd(endpoint.UserName, endpoint))
            {
                return false;
            }
            else
            {
                _byConnection[endpoint.Address.ConnectionId] = endpoint;
            }

            if (_seen.Count < MaxRememberedNames)
            {
                _seen.TryAdd(endpoint.UserName, 0);
            }

            PresenceChanged?.Invoke(this, new PresenceEventArgs(PresenceChange.Joined, endpoint.UserName));
            return true;
        }

        public void Unregister(IChatEndpoint endpoint)
        {
            var entry = new KeyValuePair<string, IChatEndpoint>(endpoint.UserName, endpoint);
            if (((ICollection<KeyValuePair<string, IChatEndpoint>>)_online).Remove(entry))
            {
                PresenceChanged?.Invoke(this, new PresenceEventArgs(PresenceChange.Left, endpoint.UserName));
            }
        }

        public void Detach(IChatEndpoint endpoint) =>
            ((ICollection<KeyValuePair<long, IChatEndpoint>>)_byConnection).Remove(new KeyValuePair<long, IChatEndpoint>(endpoint.Address.ConnectionId, endpoint));

        public bool Disconnect(string userName, Refusal why, string text)
        {
            if (userName == null || !_online.TryGetValue(userName, out IChatEndpoint endpoint))
            {
                return false;
            }

            endpoint.Disconnect(why, text);
            return true;
        }

        public IReadOnlyList<UserInfo> ListUsers()
        {
            var users = new List<UserInfo>();
            foreach (var pair in _online)
            {
                users.Add(new UserInfo(pair.Value.UserName, pair.Value.Protocol, pair.Value.ConnectedAt));
            }

            return users;
        }

        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        public DeliveryStatus Deliver(ChatEnvelope envelope)
        {
            if (_online.TryGetValue(envelope.To, out IChatEndpoint endpoint))
            {
                return endpoint.Deliver(envelope);
            }

            return _seen.ContainsKey(envelope.To) ? DeliveryStatus.UserOffline : DeliveryStatus.UnknownUser;
        }

        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        public void ReportForwarded(ChatEnvelope envelope)
        {
            if (TryResolve(envelope.Sender, out IChatEndpoint sender))
            {
                sender.Forwarded(envelope);
            }
        }

        public void ReportDelivered(ChatEnvelope envelope)
        {
            if (TryResolve(envelope.Sender, out IChatEndpoint sender))
            {
                sender.Delivered(envelope);
            }
        }

        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        public void ReportDelivered(ReadOnlySpan<ChatEnvelope> envelopes)
        {
            // One sender's: one lookup for the batch.
            if (envelopes.Length > 0 && TryResolve(envelopes[0].Sender, out IChatEndpoint sender))
            {
                sender.Delivered(envelopes);
            }
        }

        public void ReportRefused(ChatEnvelope envelope, Refusal reason, string message)
        {
            if (TryResolve(envelope.Sender, out IChatEndpoint sender))
            {
                sender.Refused(envelope, reason, message);
            }
        }

        public void ReportFailed(ChatEnvelope envelope, Refusal reason, string message)
        {
            if (TryResolve(envelope.Sender, out IChatEndpoint sender))
            {
                sender.Failed(envelope, reason, message);
            }
        }

        // A sender of another server is not this table's to tell (a cluster router forwards those).
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        private bool TryResolve(SenderAddress address, out IChatEndpoint sender)
        {
            if (address.IsNone || address.ServerId != ServerId)
            {
                sender = null;
                return false;
            }

            return _byConnection.TryGetValue(address.ConnectionId, out sender);
        }
    }
}
