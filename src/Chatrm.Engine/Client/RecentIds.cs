using System.Collections.Generic;

namespace Chatrm.Engine.Client
{
    /// <summary>
    /// The ids of the last messages a client took in, so one the server sends again (a stored message not confirmed
    /// before a disconnect, or handed over twice while its recipient logged in) is shown once. Bounded: the oldest id
    /// is forgotten when a new one comes to a full set. Only the reading thread uses it.
    /// </summary>
    internal sealed class RecentIds
    {
        private readonly HashSet<string> _seen;
        private readonly string[] _ring;
        private int _next;

        public RecentIds(int capacity)
        {
            _seen = new HashSet<string>(System.StringComparer.Ordinal);
            _ring = new string[capacity];
        }

        /// <summary>True the first time an id is seen (it is remembered); false for one seen among the last ones.</summary>
        public bool Add(string id)
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
