using System;
using System.Threading;
using System.Threading.Tasks;

namespace Chatrm.Engine.Server
{
    /// <summary>
    /// A line whose answer another server gives (a join of a room homed there): the connection's later lines wait
    /// for it, then go on in order, so a client's post after its join is handled after the join.
    /// </summary>
    internal sealed partial class ServerConnection
    {
        /// <summary>
        /// Runs <paramref name="then"/> with the answer, and until it has, holds the lines read meanwhile; called from
        /// this connection's line handling only. The answer must not fault (a router answers a refusal instead).
        /// </summary>
        internal void AfterAnswer<T>(Task<T> answer, Action<T> then)
        {
            HeldLines held = HoldLines();
            held.Wait();
            answer.ContinueWith(
                (done, state) =>
                {
                    var connection = (ServerConnection)state;
                    if (done.Status == TaskStatus.RanToCompletion)
                    {
                        then(done.Result);
                    }

                    if (!connection._heldLines.Release(connection._session.OnLine))
                    {
                        connection._transport.StopReading();
                    }
                },
                this,
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
        }

        private HeldLines HoldLines() => _heldLines ?? (_heldLines = new HeldLines());
    }
}
