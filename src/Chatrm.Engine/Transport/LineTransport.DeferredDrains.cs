using System;
using System.Collections.Generic;
using System.Threading;

namespace Chatrm.Engine.Transport
{
    /// <summary>
    /// A fan-out's drains in one hop: while a thread holds a <see cref="DeferredDrains"/> scope, the drains its sends
    /// start wait, and at the scope's end go to the thread pool as one work item that runs them one after another.
    /// A post to a room of ten members otherwise queues ten work items, each a thread to wake for one short send.
    /// </summary>
    internal sealed partial class LineTransport
    {
        private const int DrainsPerWorkItem = 16;

        // The drains held by this thread's open scope; null when none is open.
        [ThreadStatic] private static List<LineTransport> t_deferredDrains;

        // A list this thread used before, kept so a scope allocates none.
        [ThreadStatic] private static List<LineTransport> t_spareDrains;

        private static readonly WaitCallback StartDrains = state =>
        {
            foreach (LineTransport transport in (LineTransport[])state)
            {
                _ = transport.DrainAsync();
            }
        };

        /// <summary>Holds the drains this thread's sends start until the scope is disposed (a scope inside one is the outer's).</summary>
        internal static DeferredDrains DeferDrains()
        {
            if (t_deferredDrains != null)
            {
                return default;
            }

            t_deferredDrains = t_spareDrains ?? new List<LineTransport>();
            t_spareDrains = null;
            return new DeferredDrains(owns: true);
        }

        /// <summary>Starts a drain: later, with the scope's others, when this thread holds one. Under _sendLock.</summary>
        private void StartDrainSoon()
        {
            List<LineTransport> deferred = t_deferredDrains;
            if (deferred != null)
            {
                deferred.Add(this);
                return;
            }

            ThreadPool.UnsafeQueueUserWorkItem(StartDrain, this);
        }

        private static void EndDeferredDrains()
        {
            List<LineTransport> deferred = t_deferredDrains;
            t_deferredDrains = null;
            // In work items of a few each, so a large room's sends still spread over the pool's threads.
            for (int start = 0; start < deferred.Count; start += DrainsPerWorkItem)
            {
                int count = Math.Min(DrainsPerWorkItem, deferred.Count - start);
                if (count == 1)
                {
                    ThreadPool.UnsafeQueueUserWorkItem(StartDrain, deferred[start]);
                }
                else
                {
                    var drains = new LineTransport[count];
                    deferred.CopyTo(start, drains, 0, count);
                    ThreadPool.UnsafeQueueUserWorkItem(StartDrains, drains);
                }
            }

            deferred.Clear();
            t_spareDrains = deferred;
        }

        /// <summary>See <see cref="DeferDrains"/>; disposing it starts what it held.</summary>
        internal readonly struct DeferredDrains : IDisposable
        {
            private readonly bool _owns;

            internal DeferredDrains(bool owns) => _owns = owns;

            public void Dispose()
            {
                if (_owns)
                {
                    EndDeferredDrains();
                }
            }
        }
    }
}
