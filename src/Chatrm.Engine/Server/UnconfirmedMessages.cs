using System;
using System.Collections.Generic;
using Chatrm.Engine.Messaging;
using Chatrm.Engine.Transport;

namespace Chatrm.Engine.Server
{
    /// <summary>
    /// The messages a native recipient was sent and has not acked yet, in the order they went on the wire, so
    /// that one ack can confirm a message and everything before it ("through"). Room messages need no ack (nobody
    /// hears a member's fate of one, and a session's unacked ones are not kept at its end): they are kept only as
    /// places in that order, behind a message that does, so an ack through one still confirms what came before it.
    /// Thread-safe: senders add from their readers, the recipient's reader takes. It locks its recipient's send
    /// lock: one lock per message instead of two keeps the record in step with the wire.
    /// </summary>
    internal sealed class UnconfirmedMessages
    {
        private readonly LineTransport _transport;
        private readonly object _gate;

        // In wire order, a ring from _head of _used slots: messages that wait for their ack (_live of them), room
        // messages behind one as places (_places), and nulls, acked alone, until they reach the front or the ring is
        // compacted. A ring rather than a dictionary by id: every delivery adds one and every ack takes from the
        // front, so a lookup is a short walk from the front (an ack names what was read, the oldest first).
        private ChatEnvelope[] _ring = new ChatEnvelope[16];
        private int _head;
        private int _used;
        private int _live;
        private int _places;

        // The highest number added since the ring was last empty: an ack of a higher one finds nothing at once,
        // without a walk over the whole ring.
        private long _highest = long.MinValue;

        // Set by TakeAll: a sender that found the recipient just before it left hears it as offline, not never.
        private bool _ended;

        /// <param name="transport">The recipient's: the one every frame of a message kept here goes out on.</param>
        public UnconfirmedMessages(LineTransport transport)
        {
            _transport = transport;
            _gate = transport.SendGate;
        }

        /// <summary>
        /// Queues <paramref name="envelope"/>'s frame and, when it needs an ack, keeps it, under one lock, so the
        /// order here is the order on the wire; a frame that is not queued is not kept. False, with nothing sent, when
        /// <paramref name="limit"/> messages wait for their confirmation already (room messages do not count).
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

                bool needsAck = !IsPlace(envelope);
                if (needsAck && _live >= limit)
                {
                    result = SendResult.Closed;
                    return false;
                }

                result = _transport.SendHoldingGate(frame);
                if (result == SendResult.Queued)
                {
                    if (needsAck)
                    {
                        Append(envelope);
                        _live++;
                    }
                    else if (_live > 0)
                    {
                        // Behind nothing that waits, an ack through it would confirm nothing: it is not kept at all.
                        if (_places >= Math.Max(16, limit))
                        {
                            // A recipient that never acks its oldest message would grow the ring with every post: the
                            // older places go (an ack through one of those confirms nothing; the newest ones stay).
                            Compact(dropPlaces: true);
                        }

                        Append(envelope);
                        _places++;
                    }
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
                    return _live;
                }
            }
        }

        /// <summary>Slots in the wire-order ring, taken ones not yet dropped and room messages' places included (for tests).</summary>
        internal int QueuedEntries
        {
            get
            {
                lock (_gate)
                {
                    return _used;
                }
            }
        }

        /// <summary>Takes the message with this id, if it waits (a room message never does).</summary>
        public bool TryTake(long id, out ChatEnvelope envelope)
        {
            lock (_gate)
            {
                int offset = Find(id);
                int slot = offset < 0 ? -1 : Slot(offset);
                if (slot < 0 || IsPlace(_ring[slot]))
                {
                    envelope = null;
                    return false;
                }

                envelope = _ring[slot];
                _ring[slot] = null;
                _live--;
                DropTakenAtFront();
                return true;
            }
        }

        /// <summary>
        /// Takes the message with this id and every one sent before it that waits, in wire order, into
        /// <paramref name="taken"/> (grown as needed); returns how many. None when no message has this id.
        /// </summary>
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        public int TakeThrough(long id, ref ChatEnvelope[] taken)
        {
            lock (_gate)
            {
                int offset = Find(id);
                if (offset < 0)
                {
                    return 0;
                }

                if (taken.Length < _live)
                {
                    Array.Resize(ref taken, Math.Max(16, Math.Max(_live, taken.Length * 2)));
                }

                int count = 0;
                ChatEnvelope[] ring = _ring;
                for (int i = 0; i <= offset; i++)
                {
                    int slot = Slot(i);
                    ChatEnvelope envelope = ring[slot];
                    if (envelope == null)
                    {
                        continue;
                    }

                    if (IsPlace(envelope))
                    {
                        _places--;
                    }
                    else
                    {
                        taken[count++] = envelope;
                    }

                    ring[slot] = null;
                }

                _head = Slot(offset + 1);
                _used -= offset + 1;
                _live -= count;
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
                var left = new List<ChatEnvelope>(_live);
                for (int i = 0; i < _used; i++)
                {
                    ChatEnvelope envelope = _ring[Slot(i)];
                    if (envelope != null && !IsPlace(envelope) && (keep == null || !keep(envelope)))
                    {
                        left.Add(envelope);
                    }
                }

                Array.Clear(_ring, 0, _ring.Length);
                _head = _used = _live = _places = 0;
                return left;
            }
        }

        /// <summary>A room message: kept only as a place in the wire order, never waited for.</summary>
        private static bool IsPlace(ChatEnvelope envelope) => envelope.Room != null;

        private int Slot(int offset)
        {
            int slot = _head + offset;
            return slot < _ring.Length ? slot : slot - _ring.Length;
        }

        /// <summary>How far from the front the message (or place) with this number is; -1 when none is.</summary>
        private int Find(long id)
        {
            if (_live == 0 || id > _highest)
            {
                return -1;
            }

            ChatEnvelope[] ring = _ring;
            for (int i = 0; i < _used; i++)
            {
                ChatEnvelope envelope = ring[Slot(i)];
                if (envelope != null && envelope.Number == id)
                {
                    return i;
                }
            }

            return -1;
        }

        private void Append(ChatEnvelope envelope)
        {
            if (_used == _ring.Length)
            {
                Compact(dropPlaces: false);
                if (_used == _ring.Length)
                {
                    Resize(_ring.Length * 2);
                }
            }

            _ring[Slot(_used)] = envelope;
            _used++;
            if (envelope.Number > _highest)
            {
                _highest = envelope.Number;
            }
        }

        /// <summary>Squeezes the nulls (and, with <paramref name="dropPlaces"/>, the room messages' places) out, in place.</summary>
        private void Compact(bool dropPlaces)
        {
            int n = 0;
            for (int i = 0; i < _used; i++)
            {
                ChatEnvelope envelope = _ring[Slot(i)];
                if (envelope == null || (dropPlaces && IsPlace(envelope)))
                {
                    continue;
                }

                _ring[Slot(n++)] = envelope;
            }

            for (int i = n; i < _used; i++)
            {
                _ring[Slot(i)] = null;
            }

            _used = n;
            if (dropPlaces)
            {
                _places = 0;
            }
        }

        /// <summary>Copies the slots, in order, to the front of a ring of this size.</summary>
        private void Resize(int size)
        {
            var ring = new ChatEnvelope[size];
            for (int i = 0; i < _used; i++)
            {
                ring[i] = _ring[Slot(i)];
            }

            _ring = ring;
            _head = 0;
        }

        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        private void DropTakenAtFront()
        {
            // Nothing before a place at the front waits: an ack through it would confirm nothing, so it goes too.
            while (_used > 0)
            {
                ChatEnvelope front = _ring[_head];
                if (front != null)
                {
                    if (!IsPlace(front))
                    {
                        break;
                    }

                    _ring[_head] = null;
                    _places--;
                }

                _head = Slot(1);
                _used--;
            }

            if (_used == 0)
            {
                _head = 0;
                _highest = long.MinValue;
            }
            else if (_used > 2 * (_live + _places) + 16)
            {
                // Acks out of order leave taken slots behind an unacked one: past twice the kept count, squeeze them
                // out, so a client that never acks its oldest message cannot grow the ring without limit.
                Compact(dropPlaces: false);
            }
        }
    }
}
