using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;
using Chatrm.Engine.Storage;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using StoredMessage = Chatrm.Engine.Storage.StoredMessage;

namespace Chatrm.Cluster.Storage
{
    /// <summary>
    /// The store's one writer: writes are numbered (their tickets) as they are queued, published many at a time, and
    /// committed in their order as JetStream acknowledges each (it has them in its file then); a write's callback, and
    /// what waits for its ticket, run after that, on the writer. Cut off from NATS, an offline message is refused at
    /// once with "cluster unavailable" and a line of history is not kept, so no local fate waits on it.
    /// </summary>
    internal sealed partial class JetStreamStore
    {
        /// <summary>Publishes awaiting JetStream's acknowledgement at once: enough to fill a loopback round trip many times over.</summary>
        private const int MaxInFlight = 256;

        private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(10);

        private readonly Channel<Write> _writes = Channel.CreateUnbounded<Write>(new UnboundedChannelOptions { SingleReader = true });
        private readonly Task _writer;

        // A ticket is taken and its write queued under one lock, so the queue's order is the tickets' order.
        private readonly object _enqueueGate = new object();
        private long _lastTicket;
        private bool _finished;

        private long _committed;
        private readonly object _waitGate = new object();
        private readonly PriorityQueue<Action, long> _waiting = new PriorityQueue<Action, long>();
        private long _failedWrites;

        public long CommittedTicket => Volatile.Read(ref _committed);

        /// <summary>Writes JetStream refused or never answered (history lines, confirms, names): counted, for tests and operators.</summary>
        internal long FailedWrites => Interlocked.Read(ref _failedWrites);

        public void StoreOffline(StoredMessage message, Action<StoreResult> completed)
        {
            if (!Connected || Enqueue(Write.Offline(message, completed)) == 0)
            {
                completed?.Invoke(new StoreResult(StoreOutcome.Failed, "cluster unavailable: the cluster's store cannot be reached"));
            }
        }

        public long AppendHistory(StoredMessage message) =>
            _limits.KeepHistory && Connected ? Enqueue(Write.History(message)) : 0;

        public void WhenCommitted(long ticket, Action action)
        {
            bool now;
            lock (_waitGate)
            {
                now = ticket <= CommittedTicket;
                if (!now)
                {
                    _waiting.Enqueue(action, ticket);
                }
            }

            if (now)
            {
                action();
            }
        }

        public bool Flush(TimeSpan timeout)
        {
            long ticket;
            lock (_enqueueGate)
            {
                ticket = _lastTicket;
            }

            if (ticket <= CommittedTicket)
            {
                return true;
            }

            var done = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            WhenCommitted(ticket, () => done.TrySetResult(true));
            return done.Task.Wait(timeout);
        }

        public void FinishWrites()
        {
            lock (_enqueueGate)
            {
                if (!_finished)
                {
                    _finished = true;
                    _writes.Writer.TryComplete();
                }
            }

            _writer.Wait(StopTimeout);
        }

        /// <summary>Queues a write and returns its ticket; 0 once writes are finished.</summary>
        private long Enqueue(Write write)
        {
            lock (_enqueueGate)
            {
                if (_finished)
                {
                    return 0;
                }

                write.Ticket = ++_lastTicket;
                _writes.Writer.TryWrite(write);
                return write.Ticket;
            }
        }

        private async Task WriteAsync()
        {
            var inFlight = new Queue<Write>();
            ChannelReader<Write> queued = _writes.Reader;
            while (true)
            {
                while (inFlight.Count < MaxInFlight && queued.TryRead(out Write write))
                {
                    write.Pending = Start(write);
                    inFlight.Enqueue(write);
                }

                if (inFlight.Count == 0)
                {
                    if (!await queued.WaitToReadAsync().ConfigureAwait(false))
                    {
                        return;
                    }

                    continue;
                }

                Write oldest = inFlight.Dequeue();
                await FinishAsync(oldest).ConfigureAwait(false);
                Commit(oldest.Ticket);
            }
        }

        private Task<PubAckResponse> Start(Write write)
        {
            try
            {
                switch (write.Kind)
                {
                    case WriteKind.Offline:
                        return _js.PublishAsync(InboxSubject(write.Message.To), StoredMessageCodec.Encode(write.Message)).AsTask();
                    case WriteKind.History:
                        return _js.PublishAsync(HistorySubject(Conversations.Of(write.Message)), StoredMessageCodec.Encode(write.Message)).AsTask();
                    case WriteKind.Confirm:
                        return NoAck(_js.DeleteMessageAsync(InboxStream, new StreamMsgDeleteRequest { Seq = write.Seq, NoErase = true }).AsTask());
                    default:
                        return NoAck(_store.PutAsync(UserKey(write.Name), "1").AsTask());
                }
            }
            catch (Exception e)
            {
                return Task.FromException<PubAckResponse>(e);
            }
        }

        private static async Task<PubAckResponse> NoAck(Task task)
        {
            await task.ConfigureAwait(false);
            return null;
        }

        /// <summary>Waits for JetStream's answer to one write and tells its fate; never throws.</summary>
        private async Task FinishAsync(Write write)
        {
            string failure;
            try
            {
                PubAckResponse ack = await write.Pending.ConfigureAwait(false);
                failure = ack?.Error == null ? null : ack.Error.Description ?? "error " + ack.Error.ErrCode;
                if (failure == null && write.Kind == WriteKind.History && !Engine.RoomNames.IsRoom(write.Message.To))
                {
                    // A direct line's place in its conversation is its place in the stream.
                    write.Message.Seq = (long)ack.Seq;
                }
            }
            catch (NatsJSApiException e)
            {
                failure = e.Error?.Description ?? e.Message;
            }
            catch (Exception e)
            {
                failure = e.Message;
            }

            if (failure != null)
            {
                Interlocked.Increment(ref _failedWrites);
            }

            if (write.Kind == WriteKind.Offline && write.Completed != null)
            {
                StoreResult result = failure == null ? new StoreResult(StoreOutcome.Stored)
                    : failure.IndexOf("per subject", StringComparison.OrdinalIgnoreCase) >= 0
                        ? new StoreResult(StoreOutcome.InboxFull, $"{write.Message.To}'s inbox is full ({_limits.MaxInboxMessages} messages wait there)")
                        : new StoreResult(StoreOutcome.Failed, "the cluster's store did not keep it: " + failure);
                Tell(() => write.Completed(result));
            }
        }

        private void Commit(long ticket)
        {
            Volatile.Write(ref _committed, ticket);
            List<Action> due = null;
            lock (_waitGate)
            {
                while (_waiting.TryPeek(out _, out long waitsFor) && waitsFor <= ticket)
                {
                    (due ??= new List<Action>()).Add(_waiting.Dequeue());
                }
            }

            if (due != null)
            {
                foreach (Action action in due)
                {
                    Tell(action);
                }
            }
        }

        // What the engine hands in must not stop the writer.
        private static void Tell(Action action)
        {
            try
            {
                action();
            }
            catch (Exception)
            {
            }
        }

        private enum WriteKind
        {
            Offline,
            History,
            Confirm,
            User,
        }

        private sealed class Write
        {
            private Write(WriteKind kind) => Kind = kind;

            public WriteKind Kind { get; }

            public StoredMessage Message { get; private init; }

            public Action<StoreResult> Completed { get; private init; }

            public ulong Seq { get; private init; }

            public string Name { get; private init; }

            public long Ticket { get; set; }

            public Task<PubAckResponse> Pending { get; set; }

            public static Write Offline(StoredMessage message, Action<StoreResult> completed) => new Write(WriteKind.Offline) { Message = message, Completed = completed };

            public static Write History(StoredMessage message) => new Write(WriteKind.History) { Message = message };

            public static Write Confirm(ulong seq) => new Write(WriteKind.Confirm) { Seq = seq };

            public static Write User(string name) => new Write(WriteKind.User) { Name = name };
        }
    }
}
