using System;
using System.Collections.Generic;
using System.Linq;
using Chatrm.Engine.Messaging;
using Chatrm.Engine.Transport;

namespace Chatrm.Engine.Server
{
    /// <summary>
    /// The messages a native recipient was sent and has not acked yet, in the order they went on the wire, so
    /// that one ack can confirm a message and everything before it ("through"). Thread-safe: senders add from
    /// their readers, the recipient's reader takes. It locks its recipient's send lock: one lock per message
    /// instead of two keeps the record in step with the wire.
    /// </summary>
    internal sealed class UnconfirmedMessages
    {
        private readonly LineTransport _transport;
        private readonly object _gate;
        // By number (ChatEnvelope.Number): the server numbers every message it routes.
        private readonly Dictionary<long, ChatEnvelope> _byId = new Dictionary<long, ChatEnvelope>();

        // In wire order. Entries acked one by one are removed from _byId only, and leave here once at the front.
        private readonly Queue<ChatEnvelope> _inOrder = new Queue<ChatEnvelope>();

        // Set by TakeAll: a sender that found the recipient just before it left hears it as offline, not never.
        private bool _ended;

        /// <param name="transport">The recipient's: the one every frame of a message kept here goes out on.</param>
        public UnconfirmedMessages(LineTransport transport)
        {
            _transport = transport;
            _gate = transport.SendGate;
        }

        /// <summary>
        /// Adds <paramref name="envelope"/> and queues its frame under one lock, so the order here is the order on
        /// the wire; a frame that is not queued is not kept. False, with nothing sent, when <paramref name="limit"/>
        /// messages wait for their confirmation already.
        /// </summary>
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        public bool TryAddAndSend(ChatEnvelope envelope, ReadOnlySpan<byte> frame, int limit, out SendResult result)
        {
            lock (_gate)
            {
                if (_ended)
                {
                    result = SendResult.Closed;
                    return true;
                }

                if (_byId.Count >= limit)
                {
                    result = SendResult.Closed;
                    return false;
                }

                result = _transport.SendHoldingGate(frame);
                if (result == SendResult.Queued)
                {
                    _byId[envelope.Number] = envelope;
                    _inOrder.Enqueue(envelope);
                }

                return true;
            }
        }

        /// <summary>How many messages wait for their confirmation.</summary>
        public int Count
        {
            get
            {
                lock (_gate)
                {
                    return _byId.Count;
                }
            }
        }

        /// <summary>Entries in the wire-order queue, taken ones not yet dropped included (for tests).</summary>
        internal int QueuedEntries
        {
            get
            {
                lock (_gate)
                {
                    return _inOrder.Count;
                }
            }
        }

        /// <summary>Takes the message with this id, if it waits.</summary>
        public bool TryTake(long id, out ChatEnvelope envelope)
        {
            lock (_gate)
            {
                if (!_byId.TryGetValue(id, out envelope))
                {
                    return false;
                }

                _byId.Remove(id);
                DropTakenAtFront();
                return true;
            }
        }

        /// <summary>
        /// Takes the message with this id and every one sent before it, in wire order, into
        /// <paramref name="taken"/> (grown as needed); returns how many. None when no message has this id.
        /// </summary>
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        public int TakeThrough(long id, ref ChatEnvelope[] taken)
        {
            lock (_gate)
            {
                if (!_byId.ContainsKey(id))
                {
                    return 0;
                }

                int count = 0;
                while (_inOrder.Count > 0)
                {
                    ChatEnvelope envelope = _inOrder.Dequeue();
                    if (_byId.Remove(envelope.Number))
                    {
                        if (count == taken.Length)
                        {
                            Array.Resize(ref taken, Math.Max(16, taken.Length * 2));
                        }

                        taken[count++] = envelope;
                    }

                    if (envelope.Number == id)
                    {
                        break;
                    }
                }

                DropTakenAtFront();
                return count;
            }
        }

        /// <summary>
        /// Takes every message that waits, in wire order: the recipient left. <paramref name="keep"/> runs for each under
        /// the gate, after the session is marked ended, so a message that comes later finds it ended and is kept after
        /// these; it must not take another connection's gate. Returns the ones it did not keep.
        /// </summary>
        public List<ChatEnvelope> TakeAll(Func<ChatEnvelope, bool> keep = null)
        {
            lock (_gate)
            {
                _ended = true;
                var left = new List<ChatEnvelope>(_byId.Count);
                foreach (ChatEnvelope envelope in _inOrder)
                {
                    if (_byId.Remove(envelope.Number) && (keep == null || !keep(envelope)))
                    {
                        left.Add(envelope);
                    }
                }

                _inOrder.Clear();
                return left;
            }
        }

        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        private void DropTakenAtFront()
        {
            while (_inOrder.Count > 0 && !_byId.ContainsKey(_inOrder.Peek().Number))
            {
                _inOrder.Dequeue();
            }

            // Acks out of order leave taken entries behind an unacked one: past twice the live count, drop them
            // all, so a client that never acks its oldest message cannot grow the queue without limit.
            if (_inOrder.Count > 2 * _byId.Count + 16)
            {
                ChatEnvelope[] live = _inOrder.Where(envelope => _byId.ContainsKey(envelope.Number)).ToArray();
                _inOrder.Clear();
                foreach (ChatEnvelope envelope in live)
                {
                    _inOrder.Enqueue(envelope);
                }
            }
        }
    }
}
