using System;
using System.Collections.Generic;
using Chatrm.Engine.Messaging;

namespace Chatrm.Engine.Server.Inbox
{
    /// <summary>
    /// Direct messages that reach a user while its inbox is still being read and written to it: they wait here, in the
    /// order they came, and go once the inbox has (see <see cref="Release"/>), so a message never reaches its recipient
    /// ahead of an older one from the same sender. Thread-safe: senders hold from their readers.
    /// </summary>
    internal sealed class HeldDeliveries
    {
        private readonly object _gate = new object();
        private readonly int _limit;
        private List<ChatEnvelope> _held = new List<ChatEnvelope>();

        // Read without the lock on every delivery: once false it stays false.
        private volatile bool _holding = true;

        /// <param name="limit">At most this many wait; one more is refused (see <see cref="TryHold"/>).</param>
        public HeldDeliveries(int limit) => _limit = limit;

        /// <summary>Whether deliveries are held still.</summary>
        public bool IsHolding => _holding;

        /// <summary>
        /// Holds <paramref name="envelope"/> when deliveries are held: <see cref="HoldResult.Held"/>, or
        /// <see cref="HoldResult.Full"/> when the limit waits already; <see cref="HoldResult.NotHolding"/> after release.
        /// </summary>
        public HoldResult TryHold(ChatEnvelope envelope)
        {
            lock (_gate)
            {
                if (!_holding)
                {
                    return HoldResult.NotHolding;
                }

                if (_held.Count >= _limit)
                {
                    return HoldResult.Full;
                }

                _held.Add(envelope);
                return HoldResult.Held;
            }
        }

        /// <summary>
        /// Ends the holding: each held message goes to <paramref name="deliver"/> in order, under the lock, so a sender who
        /// comes meanwhile waits and goes after them. Once only; later calls do nothing.
        /// </summary>
        public void Release(Action<ChatEnvelope> deliver)
        {
            lock (_gate)
            {
                if (!_holding)
                {
                    return;
                }

                foreach (ChatEnvelope envelope in _held)
                {
                    deliver(envelope);
                }

                _held = null;
                _holding = false;
            }
        }

        /// <summary>Ends the holding with nothing delivered, as the session ends: what was held, for its senders to hear of.</summary>
        public IReadOnlyList<ChatEnvelope> TakeAll()
        {
            lock (_gate)
            {
                List<ChatEnvelope> held = _held ?? new List<ChatEnvelope>();
                _held = null;
                _holding = false;
                return held;
            }
        }
    }

    /// <summary>What <see cref="HeldDeliveries.TryHold"/> did.</summary>
    internal enum HoldResult
    {
        NotHolding,
        Held,
        Full,
    }
}
