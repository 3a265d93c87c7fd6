using System;
using System.Collections.Concurrent;
using System.Collections.Generic;

namespace Chatrm.Engine
{
    /// <summary>A user who can be delivered to: a connection on this server, or, later, one reached through a fabric.</summary>
    public interface IChatEndpoint
    {
        string UserName { get; }

        /// <summary>Hands a message to the user without waiting for the network.</summary>
        DeliveryStatus Deliver(string from, string text);
    }

    /// <summary>The fate of one message at the router.</summary>
    public enum DeliveryStatus
    {
        /// <summary>Queued for the recipient's connection.</summary>
        Forwarded,
        /// <summary>No such user has been seen by this server.</summary>
        UnknownUser,
        /// <summary>The user was here, and is gone.</summary>
        UserOffline,
        /// <summary>The recipient's send queue is full: it stopped reading.</summary>
        RecipientTooSlow,
    }

    public enum PresenceChange
    {
        Joined,
        Left,
    }

    public sealed class PresenceEventArgs : EventArgs
    {
        public PresenceEventArgs(PresenceChange change, string userName)
        {
            Change = change;
            UserName = userName;
        }

        public PresenceChange Change { get; }
        public string UserName { get; }
    }

    /// <summary>
    /// Who is online and how to reach them. The protocol code talks only to this, so a router that spans
    /// several servers can replace <see cref="LocalRouter"/> without touching it.
    /// </summary>
    public interface IMessageRouter
    {
        /// <summary>Adds the user, or returns false when the name is held by someone else (the holder keeps it).</summary>
        bool TryRegister(IChatEndpoint endpoint);

        /// <summary>Removes the user, if this endpoint is the one holding the name.</summary>
        void Unregister(IChatEndpoint endpoint);

        bool TryFind(string userName, out IChatEndpoint endpoint);

        DeliveryStatus Deliver(string from, string to, string text);

        IReadOnlyCollection<string> OnlineUsers { get; }

        event EventHandler<PresenceEventArgs> PresenceChanged;
    }

    /// <summary>The user table of one server process: thread-safe, case-insensitive names.</summary>
    public sealed class LocalRouter : IMessageRouter
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

        public bool TryRegister(IChatEndpoint endpoint)
        {
            if (!_online.TryAdd(endpoint.UserName, endpoint))
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

        public bool TryFind(string userName, out IChatEndpoint endpoint) => _online.TryGetValue(userName, out endpoint);

        public DeliveryStatus Deliver(string from, string to, string text)
        {
            if (_online.TryGetValue(to, out IChatEndpoint endpoint))
            {
                return endpoint.Deliver(from, text);
            }

            return _seen.ContainsKey(to) ? DeliveryStatus.UserOffline : DeliveryStatus.UnknownUser;
        }
    }
}
