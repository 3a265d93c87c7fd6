using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;

namespace Chatrm.Engine.Tests
{
    /// <summary>
    /// A session for the router to deliver to, without a connection: it keeps every message and room presence it is
    /// handed, and answers deliveries as the test says (a member that is gone or too slow answers offline).
    /// </summary>
    internal sealed class FakeMember : IChatEndpoint
    {
        private static long s_nextConnection;
        private readonly object _gate = new object();
        private readonly List<ChatEnvelope> _received = new List<ChatEnvelope>();
        private readonly List<string> _presence = new List<string>();
        private readonly List<string> _events = new List<string>();

        public FakeMember(string name, int serverId = 0)
        {
            UserName = name;
            Address = new SenderAddress(serverId, Interlocked.Increment(ref s_nextConnection));
        }

        public string UserName { get; }

        public string Protocol => ProtocolNames.Chatrm;

        public DateTime ConnectedAt { get; } = DateTime.UtcNow;
        public string ResumeToken => null;

        public SenderAddress Address { get; }

        /// <summary>What <see cref="Deliver"/> answers; anything but accepted keeps nothing, as a dropped session.</summary>
        public DeliveryStatus Answer { get; set; } = DeliveryStatus.Accepted;

        public List<ChatEnvelope> Received
        {
            get
            {
                lock (_gate)
                {
                    return _received.ToList();
                }
            }
        }

        /// <summary>The Seq of each room message received, in the order received.</summary>
        public List<long> Seqs(string room = null) =>
            Received.Where(e => room == null || RoomNames.AreSame(e.Room, room)).Select(e => e.Seq).ToList();

        /// <summary>"#room user joined" or "#room user left", in the order told.</summary>
        public List<string> Presence
        {
            get
            {
                lock (_gate)
                {
                    return _presence.ToList();
                }
            }
        }

        /// <summary>Messages ("#room from: text") and presence as <see cref="Presence"/> writes it, in one list, in the order they came.</summary>
        public List<string> Events
        {
            get
            {
                lock (_gate)
                {
                    return _events.ToList();
                }
            }
        }

        public DeliveryStatus Deliver(ChatEnvelope envelope)
        {
            if (Answer != DeliveryStatus.Accepted)
            {
                return Answer;
            }

            lock (_gate)
            {
                _received.Add(envelope);
                _events.Add($"{envelope.Room} {envelope.From}: {envelope.Text}");
            }

            return DeliveryStatus.Accepted;
        }

        public void RoomPresence(string room, string userName, PresenceChange change, DateTime time)
        {
            lock (_gate)
            {
                string told = $"{room} {userName} {(change == PresenceChange.Joined ? "joined" : "left")}";
                _presence.Add(told);
                _events.Add(told);
            }
        }

        public void PostAnswered(ChatEnvelope envelope, RoomPost post)
        {
        }

        public void Disconnect(Refusal why, string text)
        {
        }

        public void Forwarded(ChatEnvelope envelope) => throw new InvalidOperationException("a room message reports nothing to its sender");

        public void Delivered(ChatEnvelope envelope) => throw new InvalidOperationException("a room message reports nothing to its sender");

        public void Delivered(ReadOnlySpan<ChatEnvelope> envelopes) => throw new InvalidOperationException("a room message reports nothing to its sender");

        public void Refused(ChatEnvelope envelope, Refusal reason, string message) => throw new InvalidOperationException("a room message reports nothing to its sender");

        public void Failed(ChatEnvelope envelope, Refusal reason, string message) => throw new InvalidOperationException("a room message reports nothing to its sender");

        public void Stored(ChatEnvelope envelope) => throw new InvalidOperationException("a room message reports nothing to its sender");

        public override string ToString() => UserName;
    }
}
