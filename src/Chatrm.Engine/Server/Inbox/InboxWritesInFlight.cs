using System;
using System.Collections.Generic;
using System.Threading;
using Chatrm.Engine.Messaging;

namespace Chatrm.Engine.Server.Inbox
{
    /// <summary>
    /// Per user name, what is still on its way into the user's inbox: writes the store has not committed, and sessions
    /// of the name displaced by a login that have not ended yet (their unconfirmed messages become such writes). A login
    /// reads its inbox only once none are left, so nothing meant for the user reaches it behind newer messages.
    /// </summary>
    internal sealed class InboxWritesInFlight
    {
        private readonly object _gate = new object();
        private readonly Dictionary<string, Entry> _byName = new Dictionary<string, Entry>(UserNames.Comparer);

        /// <summary>Something more is on its way into <paramref name="name"/>'s inbox; each call is settled by one <see cref="Done"/>.</summary>
        public void Add(string name)
        {
            lock (_gate)
            {
                if (!_byName.TryGetValue(name, out Entry entry))
                {
                    entry = new Entry();
                    _byName.Add(name, entry);
                }

                entry.Count++;
            }
        }

        /// <summary>One write (or handover) for <paramref name="name"/> is settled; when it was the last, whoever waits goes on, off this thread.</summary>
        public void Done(string name)
        {
            List<Action> waiting;
            lock (_gate)
            {
                if (!_byName.TryGetValue(name, out Entry entry) || --entry.Count > 0)
                {
                    return;
                }

                _byName.Remove(name);
                waiting = entry.Waiting;
            }

            // Done runs on the store's writer, or under a recipient's send gate: a waiter (an inbox read) runs elsewhere.
            if (waiting != null)
            {
                foreach (Action then in waiting)
                {
                    ThreadPool.UnsafeQueueUserWorkItem(state => ((Action)state)(), then);
                }
            }
        }

        /// <summary>Runs <paramref name="then"/> once nothing is on its way into <paramref name="name"/>'s inbox: at once, here, when nothing is.</summary>
        public void WhenSettled(string name, Action then)
        {
            lock (_gate)
            {
                if (_byName.TryGetValue(name, out Entry entry))
                {
                    (entry.Waiting ?? (entry.Waiting = new List<Action>())).Add(then);
                    return;
                }
            }

            then();
        }

        /// <summary>How many writes and handovers are on their way into <paramref name="name"/>'s inbox (for tests).</summary>
        internal int CountFor(string name)
        {
            lock (_gate)
            {
                return _byName.TryGetValue(name, out Entry entry) ? entry.Count : 0;
            }
        }

        private sealed class Entry
        {
            public int Count;
            public List<Action> Waiting;
        }
    }
}
