using System;
using Chatrm.Engine;
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
    /// The store's one writer: writes are numbered (their tickets) as they are queued, published many at a time (the
    /// lines of history of one conversation queued together in one JetStream message), and committed in ticket order
    /// as JetStream acknowledges them (it has them in its file then); a write's callback, and what waits for its
    /// ticket, run after that, on the writer. Cut off from NATS, an offline message is refused at
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

        public long CommittedTicket => Volatile.Read(ref _committed);

        public void StoreOffline(StoredMessage message, Action<StoreResult> completed)
        {
            if (!Connected || Enqueue(Write.Offline(message, completed)) == 0)
            {
                completed?.Invoke(new StoreResult(StoreOutcome.Failed, "cluster unavailable: the cluster's store cannot be reached"));
            }
        }

        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        public long AppendHistory(StoredMessage message) =>
            _limits.KeepHistory && Connected ? Enqueue(Write.History(message)) : 0;

        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
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
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
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
            // Every write taken, in ticket order, until committed; and the publishes carrying them, in the order started.
            var taken = new Queue<Write>();
            var inFlight = new Queue<Publish>();
            var batches = new Dictionary<string, Publish>(StringComparer.Ordinal);
            var started = new List<Publish>();
            ChannelReader<Write> queued = _writes.Reader;
            while (true)
            {
                // What is queued now goes out together: lines of one conversation in one message of history.
                batches.Clear();
                started.Clear();
                while (inFlight.Count + started.Count < MaxInFlight && queued.TryRead(out Write write))
                {
                    taken.Enqueue(write);
                    Publish publish;
                    if (write.Kind == WriteKind.History)
                    {
                        string subject = HistorySubjectOf(write.Message);
                        if (!batches.TryGetValue(subject, out publish) || publish.IsFull)
                        {
                            publish = new Publish(subject);
                            batches[subject] = publish;
                            started.Add(publish);
                        }
                    }
                    else
                    {
                        publish = new Publish(null);
                        started.Add(publish);
                    }

                    publish.Add(write);
                }

                foreach (Publish publish in started)
                {
                    publish.Pending = Start(publish);
                    inFlight.Enqueue(publish);
                }

                if (inFlight.Count == 0)
                {
                    if (!await queued.WaitToReadAsync().ConfigureAwait(false))
                    {
                        return;
                    }

                    continue;
                }

                await FinishAsync(inFlight.Dequeue()).ConfigureAwait(false);

                // Committed up to the first write whose publish is still out: tickets commit in their order.
                long committed = 0;
                while (taken.Count > 0 && taken.Peek().Done)
                {
                    Write write = taken.Dequeue();
                    Tell(write);
                    committed = write.Ticket;
                }

                if (committed != 0)
                {
                    Commit(committed);
                }
            }
        }

        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        private Task<PubAckResponse> Start(Publish publish)
        {
            try
            {
                Write first = publish.Writes[0];
                switch (first.Kind)
                {
                    case WriteKind.Offline:
                        return _js.PublishAsync(InboxSubject(first.Message.To), StoredMessageCodec.Encode(first.Message)).AsTask();
                    case WriteKind.History:
                        var lines = new List<StoredMessage>(publish.Writes.Count);
                        foreach (Write line in publish.Writes)
                        {
                            lines.Add(line.Message);
                        }

                        return _js.PublishAsync(publish.Subject, StoredMessageCodec.EncodeLines(lines)).AsTask();
                    case WriteKind.Confirm:
                        return NoAck(_js.DeleteMessageAsync(InboxStream, new StreamMsgDeleteRequest { Seq = first.Seq, NoErase = true }).AsTask());
                    default:
                        return NoAck(_store.PutAsync(UserKey(first.Name), "1").AsTask());
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

        /// <summary>Waits for JetStream's answer to one publish and marks its writes done, with what failed; never throws.</summary>
        private async Task FinishAsync(Publish publish)
        {
            string failure;
            ulong streamSeq = 0;
            try
            {
                PubAckResponse ack = await publish.Pending.ConfigureAwait(false);
                failure = ack?.Error == null ? null : ack.Error.Description ?? "error " + ack.Error.ErrCode;
                streamSeq = ack?.Seq ?? 0;
            }
            catch (NatsJSApiException e)
            {
                failure = e.Error?.Description ?? e.Message;
            }
            catch (Exception e)
            {
                failure = e.Message;
            }

            MarkDone(publish, streamSeq, failure);
        }

        // Per line, so out of the async method: its state machine cannot be marked a hot path, and would run this
        // loop unoptimised until the JIT got round to it.
        [System.Runtime.CompilerServices.MethodImpl(Engine.HotPath.Options)]
        private static void MarkDone(Publish publish, ulong streamSeq, string failure)
        {
            List<Write> writes = publish.Writes;
            for (int i = 0; i < writes.Count; i++)
            {
                Write write = writes[i];
                if (failure == null && publish.Subject != null && !Engine.RoomNames.IsRoom(write.Message.To))
                {
                    // A direct line's place in its conversation is made from its place in the stream.
                    write.Message.Seq = DirectSeq(streamSeq, i);
                }

                write.Failure = failure;
                write.Done = true;
            }
        }

        /// <summary>An offline message's sender hears its fate once it and every write before it are committed.</summary>
        private void Tell(Write write)
        {
            if (write.Kind != WriteKind.Offline || write.Completed == null)
            {
                return;
            }

            string failure = write.Failure;
            StoreResult result = failure == null ? new StoreResult(StoreOutcome.Stored)
                : failure.IndexOf("per subject", StringComparison.OrdinalIgnoreCase) >= 0
                    ? new StoreResult(StoreOutcome.InboxFull, $"{write.Message.To}'s inbox is full ({_limits.MaxInboxMessages} messages wait there)")
                    : new StoreResult(StoreOutcome.Failed, "the cluster's store did not keep it: " + failure);
            Tell(() => write.Completed(result));
        }

        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
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

            /// <summary>Answered by JetStream (set on the writer only).</summary>
            public bool Done { get; set; }

            /// <summary>Why JetStream did not keep it; null when it did.</summary>
            public string Failure { get; set; }

            public static Write Offline(StoredMessage message, Action<StoreResult> completed) => new Write(WriteKind.Offline) { Message = message, Completed = completed };

            public static Write History(StoredMessage message) => new Write(WriteKind.History) { Message = message };

            public static Write Confirm(ulong seq) => new Write(WriteKind.Confirm) { Seq = seq };

            public static Write User(string name) => new Write(WriteKind.User) { Name = name };
        }

        /// <summary>One publish to JetStream: a write, or the lines of history of one conversation that were queued together.</summary>
        private sealed class Publish
        {
            // Well under NATS's 1 MiB message: a line is at most a few hundred bytes plus its text.
            private const int MaxBytes = 256 * 1024;

            private int _bytes;

            public Publish(string historySubject) => Subject = historySubject;

            /// <summary>The history subject for a batch of lines; null for any other write.</summary>
            public string Subject { get; }

            public List<Write> Writes { get; } = new List<Write>(1);

            public bool IsFull => Writes.Count >= LinesPerMessage || _bytes >= MaxBytes;

            public Task<PubAckResponse> Pending { get; set; }

            public void Add(Write write)
            {
                Writes.Add(write);
                _bytes += 128 + (write.Message?.TextJson?.Length ?? (write.Message?.TextLength ?? 0) * 3);
            }
        }
    }
}
