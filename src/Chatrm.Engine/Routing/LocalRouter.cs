using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using Chatrm.Engine.Messaging;
using Chatrm.Engine.Routing.Rooms;

namespace Chatrm.Engine.Routing
{
    /// <summary>
    /// The user table of one server process: thread-safe, case-insensitive names, the table of connection id to
    /// session that delivery reports are addressed through, and the rooms (<see cref="RoomTable"/>).
    /// </summary>
    internal sealed class LocalRouter : IMessageRouter
    {
        // Remembering every name ever seen would grow without bound; past this many, a gone user reads as unknown.
        private const int MaxRememberedNames = 100_000;

        private readonly ConcurrentDictionary<string, IChatEndpoint> _online = new ConcurrentDictionary<string, IChatEndpoint>(UserNames.Comparer);
        private readonly ConcurrentDictionary<string, byte> _seen = new ConcurrentDictionary<string, byte>(UserNames.Comparer);

        // Every registered session until its connection closes, by connection id: where reports to a sender go. A
        // resume token's state has an id of its own here too, for as long as the server remembers the token.
        private readonly ConcurrentDictionary<long, IDeliveryReceipt> _byConnection = new ConcurrentDictionary<long, IDeliveryReceipt>();

        private readonly RoomTable _rooms;

        /// <param name="roomLimits">Rooms per user, members per room and rooms in all; the defaults when null.</param>
        /// <param name="roomHistory">Where rooms keep their posts; none when null.</param>
        public LocalRouter(int serverId = 0, RoomLimits roomLimits = null, IRoomHistory roomHistory = null)
        {
            ServerId = serverId;
            _rooms = new RoomTable(roomLimits, roomHistory);
        }

        /// <summary>The rooms: for tests that look inside, and for a cluster's router, whose rooms have members on other servers too.</summary>
        internal RoomTable Rooms => _rooms;

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

        public bool KeepsInboxes => true;

        // A login here waits for every write into its inbox (Server/Inbox/InboxWritesInFlight): none comes late.
        public void InboxWritten(string userName)
        {
        }

        // Every name is this table's to give.
        public System.Threading.Tasks.Task<bool> ClaimName(IChatEndpoint endpoint, bool takeOver) => null;

        public void AbandonClaim(IChatEndpoint endpoint)
        {
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
                // The same client coming back (its token) takes its own old session over; anyone else is refused.
                string token = endpoint.ResumeToken;
                if (token == null || !_online.TryGetValue(endpoint.UserName, out IChatEndpoint held)
                    || !string.Equals(held.ResumeToken, token, StringComparison.Ordinal)
                    || !_online.TryUpdate(endpoint.UserName, endpoint, held))
                {
                    return false;
                }

                displaced = held;
                _byConnection[endpoint.Address.ConnectionId] = endpoint;
                return true;
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
            // Rooms are the session's, whether or not it still holds the name (a session displaced by a login
            // elsewhere leaves its rooms too).
            _rooms.LeaveAll(endpoint, DateTime.UtcNow);
            var entry = new KeyValuePair<string, IChatEndpoint>(endpoint.UserName, endpoint);
            if (((ICollection<KeyValuePair<string, IChatEndpoint>>)_online).Remove(entry))
            {
                PresenceChanged?.Invoke(this, new PresenceEventArgs(PresenceChange.Left, endpoint.UserName));
            }
        }

        public void Detach(IChatEndpoint endpoint) => DetachReports(endpoint.Address, endpoint);

        public void AttachReports(SenderAddress address, IDeliveryReceipt receipt) => _byConnection[address.ConnectionId] = receipt;

        public void DetachReports(SenderAddress address, IDeliveryReceipt receipt) =>
            ((ICollection<KeyValuePair<long, IDeliveryReceipt>>)_byConnection).Remove(new KeyValuePair<long, IDeliveryReceipt>(address.ConnectionId, receipt));

        public bool Disconnect(string userName, Refusal why, string text)
        {
            if (userName == null || !_online.TryGetValue(userName, out IChatEndpoint endpoint))
            {
                return false;
            }

            endpoint.Disconnect(why, text);
            return true;
        }

        /// <summary>The session holding the name on this server, if any.</summary>
        internal bool TryGetOnline(string userName, out IChatEndpoint endpoint) => _online.TryGetValue(userName, out endpoint);

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

        public RoomJoin Join(IChatEndpoint member, string room) => _rooms.Join(member, room, DateTime.UtcNow);

        public RoomLeave Leave(IChatEndpoint member, string room) => _rooms.Leave(member, room, DateTime.UtcNow);

        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        public RoomPost Post(ChatEnvelope envelope)
        {
            // The sender is the session holding the name now: rooms are per session, so one displaced by a login
            // elsewhere, or the new one before it joins, is not taken for a member.
            _online.TryGetValue(envelope.From ?? string.Empty, out IChatEndpoint sender);
            return _rooms.Post(sender, envelope);
        }

        public IReadOnlyList<RoomInfo> ListRooms(IChatEndpoint asking) => _rooms.List(asking);

        public RoomInfo GetRoom(string room, IChatEndpoint asking) => _rooms.Get(room, asking);

        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        public void ReportForwarded(ChatEnvelope envelope)
        {
            if (TryResolve(envelope.Sender, out IDeliveryReceipt sender))
            {
                sender.Forwarded(envelope);
            }
        }

        public void ReportDelivered(ChatEnvelope envelope)
        {
            if (TryResolve(envelope.Sender, out IDeliveryReceipt sender))
            {
                sender.Delivered(envelope);
            }
        }

        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        public void ReportDelivered(ReadOnlySpan<ChatEnvelope> envelopes)
        {
            // One sender's: one lookup for the batch.
            if (envelopes.Length > 0 && TryResolve(envelopes[0].Sender, out IDeliveryReceipt sender))
            {
                sender.Delivered(envelopes);
            }
        }

        public void ReportReceipt(string senderName, ChatEnvelope envelope)
        {
            if (senderName != null && _online.TryGetValue(senderName, out IChatEndpoint sender))
            {
                sender.Delivered(envelope);
            }
        }

        public void ReportRefused(ChatEnvelope envelope, Refusal reason, string message)
        {
            if (TryResolve(envelope.Sender, out IDeliveryReceipt sender))
            {
                sender.Refused(envelope, reason, message);
            }
        }

        public void ReportFailed(ChatEnvelope envelope, Refusal reason, string message)
        {
            if (TryResolve(envelope.Sender, out IDeliveryReceipt sender))
            {
                sender.Failed(envelope, reason, message);
            }
        }

        public void ReportStored(ChatEnvelope envelope)
        {
            if (TryResolve(envelope.Sender, out IDeliveryReceipt sender))
            {
                sender.Stored(envelope);
            }
        }

        // A sender of another server is not this table's to tell (a cluster router forwards those).
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        private bool TryResolve(SenderAddress address, out IDeliveryReceipt sender)
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
