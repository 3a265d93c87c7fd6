using System.Collections.Generic;

namespace Chatrm.Engine
{
    /// <summary>
    /// The ids of the last messages a client took in, so one the server sends again is shown once: a stored message
    /// handed over twice while its recipient logged in, or one whose confirmation a disconnect lost, which comes again
    /// at the next connect. Give one to several connections of a user to one server (<see cref="ClientOptions.ShownIds"/>)
    /// and a later connection drops what an earlier one showed; only for a server with a store file, whose ids stay
    /// unique across its restarts. Bounded: a full set forgets its oldest id. Thread-safe.
    /// </summary>
    public sealed class ShownMessageIds
    {
        /// <summary>How many ids a set keeps unless told otherwise.</summary>
        public const int DefaultCapacity = 4096;

        private readonly object _lock = new object();
        private readonly HashSet<string> _seen = new HashSet<string>(System.StringComparer.Ordinal);
        private readonly string[] _ring;
        private int _next;

        public ShownMessageIds(int capacity = DefaultCapacity)
        {
            if (capacity < 1)
            {
                throw new System.ArgumentOutOfRangeException(nameof(capacity), capacity, "A set keeps at least one id.");
            }

            _ring = new string[capacity];
        }

        /// <summary>Forgets every id: the server's ids started afresh (a new ids scope), so old ones may come again as new messages.</summary>
        internal void Clear()
        {
            lock (_lock)
            {
                _seen.Clear();
                System.Array.Clear(_ring, 0, _ring.Length);
                _next = 0;
            }
        }

        /// <summary>True the first time an id is seen (it is remembered); false for one seen among the last ones.</summary>
        internal bool Add(string id)
        {
            lock (_lock)
            {
                if (!_seen.Add(id))
                {
                    return false;
                }

                string oldest = _ring[_next];
                if (oldest != null)
                {
                    _seen.Remove(oldest);
                }

                _ring[_next] = id;
                _next = (_next + 1) % _ring.Length;
                return true;
            }
        }
    }
}
