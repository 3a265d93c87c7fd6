using System;
using System.Collections.Generic;
using System.Threading;
using Chatrm.Engine.Storage;

namespace Chatrm.Engine.Tests
{
    /// <summary>
    /// A store double over a real one that can hold back what a slow disk would: offline writes (neither kept nor
    /// answered until released) and commits (tickets wait), so a test can put the server's steps in the order it wants.
    /// </summary>
    internal sealed class HeldStore : IMessageStore
    {
        private readonly IMessageStore _inner;
        private readonly object _gate = new object();
        private readonly List<Action> _heldOffline = new List<Action>();
        private readonly List<Action> _heldCommits = new List<Action>();
        private bool _holdingOffline;
        private long _committedWhenHeld = -1;
        private long _ticket;

        public HeldStore(IMessageStore inner) => _inner = inner;

        public int HeldOffline
        {
            get { lock (_gate) return _heldOffline.Count; }
        }

        public int HeldCommits
        {
            get { lock (_gate) return _heldCommits.Count; }
        }

        public void HoldOffline()
        {
            lock (_gate) _holdingOffline = true;
        }

        public void ReleaseOffline()
        {
            List<Action> held;
            lock (_gate)
            {
                _holdingOffline = false;
                held = new List<Action>(_heldOffline);
                _heldOffline.Clear();
            }

            held.ForEach(a => a());
        }

        /// <summary>From now on an offline write fails, as on a full disk, with these words.</summary>
        public string FailOffline { get; set; }

        public void HoldCommits()
        {
            lock (_gate) _committedWhenHeld = Interlocked.Read(ref _ticket);
        }

        public void ReleaseCommits()
        {
            List<Action> held;
            lock (_gate)
            {
                _committedWhenHeld = -1;
                held = new List<Action>(_heldCommits);
                _heldCommits.Clear();
            }

            held.ForEach(a => a());
        }

        public string Path => _inner.Path;

        public bool KeepsHistory => _inner.KeepsHistory;

        public string IdScope => _inner.IdScope;

        public long CommittedTicket
        {
            get
            {
                lock (_gate)
                {
                    return _committedWhenHeld >= 0 ? _committedWhenHeld : Interlocked.Read(ref _ticket);
                }
            }
        }

        /// <summary>How many times the server asked for a block of ids.</summary>
        public int Reservations => Volatile.Read(ref _reservations);

        private int _reservations;
        private readonly ManualResetEventSlim _reservationsFree = new ManualResetEventSlim(true);

        /// <summary>From now on a reservation of ids waits (as a slow durable write would) until <see cref="ReleaseReservations"/>.</summary>
        public void HoldReservations() => _reservationsFree.Reset();

        public void ReleaseReservations() => _reservationsFree.Set();

        public long ReserveIds(long count)
        {
            Interlocked.Increment(ref _reservations);
            _reservationsFree.Wait(TimeSpan.FromSeconds(30));
            return _inner.ReserveIds(count);
        }

        public bool IsKnownUser(string name) => _inner.IsKnownUser(name);

        public void RememberUser(string name) => _inner.RememberUser(name);

        public void StoreOffline(StoredMessage message, Action<StoreResult> completed)
        {
            if (FailOffline != null)
            {
                completed(new StoreResult(StoreOutcome.Failed, FailOffline));
                return;
            }

            lock (_gate)
            {
                if (_holdingOffline)
                {
                    _heldOffline.Add(() => _inner.StoreOffline(message, completed));
                    return;
                }
            }

            _inner.StoreOffline(message, completed);
        }

        public IReadOnlyList<StoredMessage> ReadInbox(string user, int max) => _inner.ReadInbox(user, max);

        public void ConfirmInbox(string user, long id) => _inner.ConfirmInbox(user, id);

        // Its own tickets, one per line, so commits can be held back from a given line on (the memory store inside has one
        // ticket for all, every write being committed when it returns).
        public long AppendHistory(StoredMessage message) => _inner.AppendHistory(message) == 0 ? 0 : Interlocked.Increment(ref _ticket);

        public long LastRoomSeq(string room) => _inner.LastRoomSeq(room);

        public IReadOnlyList<StoredMessage> ReadHistory(string conversation, int last, long before, long after) =>
            _inner.ReadHistory(conversation, last, before, after);

        public void WhenCommitted(long ticket, Action action)
        {
            lock (_gate)
            {
                if (_committedWhenHeld >= 0 && ticket > _committedWhenHeld)
                {
                    _heldCommits.Add(action);
                    return;
                }
            }

            action();
        }

        public bool Flush(TimeSpan timeout) => _inner.Flush(timeout);

        public IReadOnlyList<KeptRef> TakeKeptRefs() => _inner.TakeKeptRefs();

        public void FinishWrites() => _inner.FinishWrites();

        public void KeepRefs(IReadOnlyCollection<KeptRef> refs) => _inner.KeepRefs(refs);

        public void Dispose() => _inner.Dispose();
    }
}
