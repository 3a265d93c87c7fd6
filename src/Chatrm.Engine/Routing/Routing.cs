using System;
using System.Collections.Concurrent;
using System.Collections.Generic;

namespace Chatrm.Engine
{
    /// <summary>A user who can be delivered to: a connection on this server, or, later, one reached through a fabric.</summary>
    public interface IChatEndpoint
    {
        string UserName { get; }

        /// <summary>The protocol the user speaks: chatrm or classic.</summary>
        string Protocol { get; }

        DateTime ConnectedAt { get; }

        /// <summary>Hands a message to the user without waiting for the network.</summary>
        DeliveryStatus Deliver(ChatEnvelope envelope);

        /// <summary>Ends the user's session, telling them why.</summary>
        void Disconnect(Refusal why, string text);
    }

    /// <summary>Tells a message's sender what became of it after the router handed it on.</summary>
    public interface IDeliveryReceipt
    {
        /// <summary>The recipient's client confirmed receiving it.</summary>
        void Delivered(ChatEnvelope envelope);

        /// <summary>The recipient's client confirmed receiving these, in the order sent, with one ack.</summary>
        void Delivered(ReadOnlySpan<ChatEnvelope> envelopes);

        /// <summary>It was handed on but never confirmed: the recipient left or was dropped first.</summary>
        void Failed(ChatEnvelope envelope, Refusal reason, string message);
    }

    /// <summary>One message on its way through the server. The server, never the client, says who sent it.</summary>
    public sealed class ChatEnvelope
    {
        private string _id;
        private string _text;
        private string _senderRef;

        public ChatEnvelope(string id, string from, string to, string text, DateTime sentAt, string senderRef = null, IDeliveryReceipt receipt = null)
        {
            _id = id;
            Number = NativeProtocol.TryParseMessageId(id, out long number) ? number : 0;
            From = from;
            To = to;
            _text = text;
            SentAt = sentAt;
            _senderRef = senderRef;
            Receipt = receipt;
        }

        /// <summary>
        /// A message the server numbered: its id is written out only when asked for. <paramref name="textJson"/>
        /// and <paramref name="senderRefJson"/>, when not null, are the text and ref as a native frame writes them,
        /// quotes included (see <see cref="TextJson"/>).
        /// </summary>
        internal ChatEnvelope(long number, string from, string to, string text, byte[] textJson, DateTime sentAt, string senderRef = null, byte[] senderRefJson = null, IDeliveryReceipt receipt = null)
        {
            Number = number;
            From = from;
            To = to;
            _text = text;
            TextJson = textJson;
            SentAt = sentAt;
            _senderRef = senderRef;
            SenderRefJson = senderRefJson;
            Receipt = receipt;
        }

        /// <summary>
        /// The message a native send frame (read <see cref="NativeFrame.KeepsWireBytes"/>) asks for: text and ref kept as
        /// they came go on as they came, and become strings only if something, such as a classic recipient, asks.
        /// </summary>
        internal static ChatEnvelope FromSend(NativeFrame send, long number, string from, DateTime sentAt, IDeliveryReceipt receipt) =>
            new ChatEnvelope(
                number, from, send.To, send.TextJson == null ? send.Text : null, send.TextJson, sentAt,
                send.RefJson == null ? send.Ref : null, send.RefJson, receipt);

        /// <summary>Unique for the server's run.</summary>
        public string Id => _id ?? (_id = NativeProtocol.MessageIdText(Number));

        /// <summary>The id as a number, 0 when it is none: what the server keeps and looks up unconfirmed messages by.</summary>
        internal long Number { get; }

        public string From { get; }
        public string To { get; }

        public string Text => _text ?? (TextJson == null ? null : _text = NativeProtocol.TextOfJson(TextJson));

        /// <summary>
        /// The text as the native sender wrote it, quotes included, when that is exactly what a frame would write
        /// (see <see cref="NativeProtocol"/>): it goes to native recipients as it came, never becoming a string.
        /// </summary>
        internal byte[] TextJson { get; }

        /// <summary>When the server accepted it, UTC.</summary>
        public DateTime SentAt { get; }

        /// <summary>The sender's own reference for the message, echoed in its status.</summary>
        public string SenderRef => _senderRef ?? (SenderRefJson == null ? null : _senderRef = NativeProtocol.TextOfJson(SenderRefJson));

        /// <summary>The sender's ref as it wrote it, quotes included, when that is what a frame writes (see <see cref="TextJson"/>).</summary>
        internal byte[] SenderRefJson { get; }

        /// <summary>Who to tell of a later confirmation; null when the sender cannot hear it (classic).</summary>
        public IDeliveryReceipt Receipt { get; }

        /// <summary><see cref="From"/> encoded for a native frame, when the sender's connection had it at hand.</summary>
        internal System.Text.Json.JsonEncodedText EncodedFrom { get; set; }
    }

    /// <summary>The fate of one message at the router.</summary>
    public enum DeliveryStatus
    {
        /// <summary>Queued for a classic recipient, which cannot confirm.</summary>
        Forwarded,
        /// <summary>Queued for a native recipient; its confirmation goes to the envelope's receipt.</summary>
        Pending,
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

        /// <summary>
        /// Adds the user; with <paramref name="takeOver"/> (an authenticated login) a holder of the name is
        /// displaced and returned, so the caller can end its session.
        /// </summary>
        bool TryRegister(IChatEndpoint endpoint, bool takeOver, out IChatEndpoint displaced);

        /// <summary>Removes the user, if this endpoint is the one holding the name.</summary>
        void Unregister(IChatEndpoint endpoint);

        bool TryFind(string userName, out IChatEndpoint endpoint);

        DeliveryStatus Deliver(ChatEnvelope envelope);

        IReadOnlyCollection<string> OnlineUsers { get; }

        /// <summary>Who is online, with their protocol and since when.</summary>
        IReadOnlyList<UserInfo> ListUsers();

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
