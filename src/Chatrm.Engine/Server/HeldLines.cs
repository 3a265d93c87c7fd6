using System;
using System.Collections.Generic;
using System.Threading;
using Chatrm.Engine.Transport;

namespace Chatrm.Engine.Server
{
    /// <summary>
    /// A connection's lines while it waits for another server's answer (whose a name is, a room's join): copied as
    /// they are read, and handed on in the same order once the answer is in; only then does the reader hand lines on
    /// itself again. A held line may start another wait, and the lines after it wait for that one. One per connection.
    /// </summary>
    internal sealed class HeldLines
    {
        private const int Idle = 0;
        private const int Active = 1;

        private readonly object _gate = new object();
        private readonly Queue<byte[]> _lines = new Queue<byte[]>();
        private bool _waiting;
        private bool _draining;
        private bool _dropped;

        // Idle whenever nothing waits, nothing is handed on and nothing was dropped: the reader's one volatile read.
        private int _state;

        /// <summary>Whether lines are held now. Only the connection's own line handling starts a wait, so Idle read by the reader stays so.</summary>
        public bool IsActive => Volatile.Read(ref _state) == Active;

        /// <summary>An answer is awaited: the lines read from now on are held, after any held already.</summary>
        public void Wait()
        {
            lock (_gate)
            {
                _waiting = true;
                Volatile.Write(ref _state, Active);
            }
        }

        /// <summary>
        /// Keeps a copy of the line, true (or drops it, true, after <see cref="Drop"/>); false when nothing is held now:
        /// hand it on yourself.
        /// </summary>
        public bool TryHold(ReadOnlySpan<byte> line)
        {
            lock (_gate)
            {
                if (_dropped)
                {
                    return true;
                }

                if (!_waiting && !_draining)
                {
                    return false;
                }

                _lines.Enqueue(line.ToArray());
                return true;
            }
        }

        /// <summary>
        /// The answer is in: hands the held lines to <paramref name="onLine"/>, those held meanwhile too, until none is
        /// left or one starts another wait. False when a line stopped reading (the lines after it are dropped).
        /// </summary>
        public bool Release(LineHandler onLine)
        {
            lock (_gate)
            {
                _waiting = false;
                if (_draining)
                {
                    // Called from a line being handed on: the loop below carries on after it.
                    return true;
                }

                _draining = true;
            }

            while (true)
            {
                byte[] next;
                lock (_gate)
                {
                    if (_waiting || _lines.Count == 0 || _dropped)
                    {
                        _draining = false;
                        if (!_waiting && !_dropped)
                        {
                            Volatile.Write(ref _state, Idle);
                        }

                        return true;
                    }

                    next = _lines.Dequeue();
                }

                if (!onLine(next))
                {
                    Drop();
                    return false;
                }
            }
        }

        /// <summary>Reading is over (an opening refused, a line that stopped it): what is held, and what comes, is never handled.</summary>
        public void Drop()
        {
            lock (_gate)
            {
                _lines.Clear();
                _dropped = true;
                _waiting = false;
                Volatile.Write(ref _state, Active);
            }
        }
    }
}
