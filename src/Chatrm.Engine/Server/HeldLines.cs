using System;
using System.Collections.Generic;
using Chatrm.Engine.Transport;

namespace Chatrm.Engine.Server
{
    /// <summary>
    /// The lines a client sent after its opening while the cluster decides whose its name is: copied as they are read,
    /// handed on in the same order once it has, and only then does the reader hand lines on itself.
    /// </summary>
    internal sealed class HeldLines
    {
        private readonly object _gate = new object();
        private readonly Queue<byte[]> _lines = new Queue<byte[]>();
        private bool _done;
        private bool _dropped;

        /// <summary>
        /// Keeps a copy of the line, true (or drops it, true, when the opening was refused); false once the held lines
        /// have all been handed on: hand it on yourself.
        /// </summary>
        public bool TryHold(ReadOnlySpan<byte> line)
        {
            lock (_gate)
            {
                if (_done)
                {
                    return _dropped;
                }

                _lines.Enqueue(line.ToArray());
                return true;
            }
        }

        /// <summary>
        /// Hands every held line to <paramref name="onLine"/>, those held meanwhile too, and then lets the reader go
        /// on; false when a line stopped reading (the lines after it are dropped).
        /// </summary>
        public bool Drain(LineHandler onLine)
        {
            while (true)
            {
                byte[] next;
                lock (_gate)
                {
                    if (_lines.Count == 0)
                    {
                        _done = true;
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

        /// <summary>The opening was refused: what came after it is never handled.</summary>
        public void Drop()
        {
            lock (_gate)
            {
                _lines.Clear();
                _done = true;
                _dropped = true;
            }
        }
    }
}
