using System.Collections.Concurrent;
using System.Collections.Generic;
using Chatrm.Engine;
using Chatrm.Engine.Messaging;

namespace Chatrm.Cluster.Routing
{
    /// <summary>
    /// Direct messages handed to another server whose sender still waits to hear what became of them. Any report
    /// about one answers it; if that server is found gone first, or no answer came within a lease (core NATS drops
    /// what was in flight when a connection breaks, either way), what was never answered is taken back here and kept
    /// for its recipient, so no message is lost without its sender being told.
    /// </summary>
    internal sealed class ForwardedMessages
    {
        private readonly ConcurrentDictionary<long, Forwarded> _awaiting = new ConcurrentDictionary<long, Forwarded>();

        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        public void Add(int node, ChatEnvelope envelope) => _awaiting[envelope.Number] = new Forwarded(node, envelope, System.Environment.TickCount64);

        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        public void Answered(long number) => _awaiting.TryRemove(number, out _);

        /// <summary>Takes out everything handed to <paramref name="node"/> and never answered.</summary>
        public List<ChatEnvelope> TakeFor(int node) => Take(forwarded => forwarded.Node == node);

        /// <summary>Takes out everything handed over longer ago than <paramref name="age"/> and never answered.</summary>
        public List<ChatEnvelope> TakeOlderThan(System.TimeSpan age)
        {
            long before = System.Environment.TickCount64 - (long)age.TotalMilliseconds;
            return Take(forwarded => forwarded.At < before);
        }

        private List<ChatEnvelope> Take(System.Func<Forwarded, bool> which)
        {
            var taken = new List<ChatEnvelope>();
            foreach (KeyValuePair<long, Forwarded> pair in _awaiting)
            {
                if (which(pair.Value) && _awaiting.TryRemove(pair.Key, out Forwarded forwarded))
                {
                    taken.Add(forwarded.Envelope);
                }
            }

            return taken;
        }

        private readonly struct Forwarded
        {
            public Forwarded(int node, ChatEnvelope envelope, long at)
            {
                Node = node;
                Envelope = envelope;
                At = at;
            }

            public int Node { get; }

            /// <summary>When it was handed over, in milliseconds of <see cref="System.Environment.TickCount64"/>.</summary>
            public long At { get; }

            public ChatEnvelope Envelope { get; }
        }
    }
}
