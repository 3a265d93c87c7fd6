using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using Chatrm.Engine.Messaging;

namespace Chatrm.Engine.Routing
{
    /// <summary>The user table of one server process: thread-safe, case-insensitive names.</summary>
    internal sealed class LocalRouter : IMessageRouter
    {
        // Remembering every name ever seen would grow without bound; past this many, a gone user reads as unknown.
        private const int MaxRememberedNames = 100_000;

        private readonly ConcurrentDictionary<string, IChatEndpoint> _online = new ConcurrentDictionary<string, IChatEndpoint>(UserNames.Comparer);
        private readonly ConcurrentDictionary<string, byte> _seen = new ConcurrentDictionary<string, byte>(UserNames.Comparer);

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

        public bool TryRegister(IChatEndpoint endpoint) => TryRegister(endpoint, takeOver: false, out _);

        public bool TryRegister(IChatEndpoint endpoint, bool takeOver, out IChatEndpoint displaced)
        {
            displaced = null;
            if (takeOver)
            {
                IChatEndpoint previous = null;
                _online.AddOrUpdate(endpoint.UserName, endpoint, (_, old) => { previous = old; return endpoint; });
                displaced = previous;
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

        public IReadOnlyList<UserInfo> ListUsers()
        {
            var users = new List<UserInfo>();
            foreach (var pair in _online)
            {
                users.Add(new UserInfo(pair.Value.UserName, pair.Value.Protocol, pair.Value.ConnectedAt));
            }

            return users;
        }

        public bool TryFind(string userName, out IChatEndpoint endpoint) => _online.TryGetValue(userName, out endpoint);

        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        public DeliveryStatus Deliver(ChatEnvelope envelope)
        {
            if (_online.TryGetValue(envelope.To, out IChatEndpoint endpoint))
            {
                return endpoint.Deliver(envelope);
            }

            return _seen.ContainsKey(envelope.To) ? DeliveryStatus.UserOffline : DeliveryStatus.UnknownUser;
        }
    }
}
