using System.Collections.Concurrent;
using System.Collections.Generic;
using Chatrm.Engine.Messaging;

namespace Chatrm.Cluster.Routing
{
    /// <summary>
    /// Direct messages handed to another server whose sender still waits to hear what became of them. Any report
    /// about one answers it; if that server is found gone first, what it never answered is taken back here (and
    /// kept for its recipient), so a server's death loses no message its sender was not told of.
    /// </summary>
    internal sealed class ForwardedMessages
    {
        private readonly ConcurrentDictionary<long, Forwarded> _awaiting = new ConcurrentDictionary<long, Forwarded>();

        public int Count => _awaiting.Count;

        public void Add(int node, ChatEnvelope envelope) => _awaiting[envelope.Number] = new Forwarded(node, envelope);

        public void Answered(long number) => _awaiting.TryRemove(number, out _);

        /// <summary>Takes out everything handed to <paramref name="node"/> and never answered.</summary>
        public List<ChatEnvelope> TakeFor(int node)
        {
            var taken = new List<ChatEnvelope>();
            foreach (KeyValuePair<long, Forwarded> pair in _awaiting)
            {
                if (pair.Value.Node == node && _awaiting.TryRemove(pair.Key, out Forwarded forwarded))
                {
                    taken.Add(forwarded.Envelope);
                }
            }

            return taken;
        }

        private readonly struct Forwarded
        {
            public Forwarded(int node, ChatEnvelope envelope)
            {
                Node = node;
                Envelope = envelope;
            }

            public int Node { get; }

            public ChatEnvelope Envelope { get; }
        }
    }
}
