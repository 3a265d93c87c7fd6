using System;
using System.Threading;
using Chatrm.Engine.Messaging;
using Chatrm.Engine.Storage;

namespace Chatrm.Engine
{
    /// <summary>
    /// The resend memory across a graceful restart of a server with a store file: the start takes what the last stop
    /// kept; the stop, once every connection has ended and every fate is known, keeps what is still within the window.
    /// A crash keeps nothing. The memory store keeps nothing either (docs/protocol.md, "Reconnect and resume").
    /// </summary>
    public sealed partial class ChatServer
    {
        // Reports of unacked messages kept at leave, told off the store's writer: a stop waits for them.
        private readonly object _keptReportsGate = new object();
        private int _keptReportsQueued;

        /// <summary>A report of a message kept at leave is queued to be told (see <see cref="KeptReportTold"/>).</summary>
        internal void KeptReportQueued() => Interlocked.Increment(ref _keptReportsQueued);

        /// <summary>That report was told (or failed): a stop waiting for the last one goes on.</summary>
        internal void KeptReportTold()
        {
            if (Interlocked.Decrement(ref _keptReportsQueued) == 0)
            {
                lock (_keptReportsGate)
                {
                    Monitor.PulseAll(_keptReportsGate);
                }
            }
        }

        /// <summary>At start, the store just opened: the refs the last graceful stop kept wait for their tokens.</summary>
        private void RestoreResumeStates(IMessageStore store) =>
            ResumeStates.Restore(store.TakeKeptRefs(), Clock.GetUtcNow().UtcTicks);

        /// <summary>
        /// At stop, no connection left: takes no more writes, waits until every fate they tell is recorded (the writer's
        /// callbacks, then the reports they queued), and keeps every ref within the window in the file.
        /// </summary>
        private void KeepResumeStates(IMessageStore store)
        {
            store.FinishWrites();
            if (store.Path == null)
            {
                return;
            }

            if (!WaitForKeptReports(StoreFlushTime))
            {
                Raise(ServerEventKind.ServerError, null, "not every stored message's fate was known within " + Durations.Describe(StoreFlushTime) + "; those refs are not kept");
            }

            try
            {
                store.KeepRefs(ResumeStates.Keep(Clock.GetUtcNow().UtcTicks));
            }
            catch (Exception e)
            {
                // A stop goes on: after the restart a resend whose fate its client never heard may be delivered twice.
                Raise(ServerEventKind.ServerError, null, "the resend memory could not be kept in the store: " + e.Message);
            }
        }

        private bool WaitForKeptReports(TimeSpan timeout)
        {
            DateTime deadline = DateTime.UtcNow + timeout;
            lock (_keptReportsGate)
            {
                while (Volatile.Read(ref _keptReportsQueued) > 0)
                {
                    TimeSpan left = deadline - DateTime.UtcNow;
                    if (left <= TimeSpan.Zero || !Monitor.Wait(_keptReportsGate, left))
                    {
                        return Volatile.Read(ref _keptReportsQueued) == 0;
                    }
                }
            }

            return true;
        }
    }
}
