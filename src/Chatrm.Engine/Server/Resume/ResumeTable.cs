using System;
using System.Collections.Generic;
using Chatrm.Engine.Routing;
using Chatrm.Engine.Storage;

namespace Chatrm.Engine.Server.Resume
{
    /// <summary>
    /// The server's resume states, by name and token: found or made at a hello, held by its connection, and forgotten
    /// once no connection has held it for the resend window. Their number is bounded: when full, the state let go
    /// longest ago goes first, so a flood of tokens cannot eat the server's memory. Only hellos, connection ends and
    /// the keepalive sweep come here, never a send: one lock is enough. A server with a store file starts with the
    /// refs its last graceful stop kept (<see cref="Restore"/>), each token's waiting for its first hello, and keeps
    /// what it remembers at its own stop (<see cref="Keep"/>).
    /// </summary>
    internal sealed class ResumeTable
    {
        private readonly ChatServer _server;
        private readonly object _gate = new object();
        private readonly Dictionary<ResumeKey, ResumeState> _states = new Dictionary<ResumeKey, ResumeState>();

        // States let go, in the order they were: an entry is stale once its state is held again, let go again later,
        // or forgotten. Entries are in time order, so the front is the next to forget.
        private readonly Queue<Released> _released = new Queue<Released>();
        private readonly long _windowTicks;
        private readonly int _maxStates;

        // The last run's refs, by name and token hash, until the token's first hello here takes them (or the window
        // since the start passes): a restart counts as every token's connection ending at the start.
        private Dictionary<ResumeKey, List<KeptRef>> _restored = new Dictionary<ResumeKey, List<KeptRef>>();
        private long _restoredAt;

        public ResumeTable(ChatServer server)
        {
            _server = server;
            _windowTicks = server.Options.ResendWindow.Ticks;

            // Held states are at most one per connection; as many again may wait for their clients to come back.
            _maxStates = (int)Math.Min(int.MaxValue, 2L * server.Options.MaxConnections);
        }

        /// <summary>States kept, held or not (for tests).</summary>
        internal int Count
        {
            get
            {
                lock (_gate)
                {
                    return _states.Count;
                }
            }
        }

        /// <summary>States a connection holds now (for tests).</summary>
        internal int HeldCount
        {
            get
            {
                lock (_gate)
                {
                    int held = 0;
                    foreach (ResumeState state in _states.Values)
                    {
                        held += state.Current != null ? 1 : 0;
                    }

                    return held;
                }
            }
        }

        /// <summary>Tokens whose last run's refs wait for their first hello (for tests).</summary>
        internal int RestoredCount
        {
            get
            {
                lock (_gate)
                {
                    return _restored.Count;
                }
            }
        }

        /// <summary>The most states kept at once.</summary>
        internal int MaxStates => _maxStates;

        /// <summary>
        /// The state of <paramref name="userName"/>'s <paramref name="token"/>, made if there is none, now held by
        /// <paramref name="connection"/>; null (no dedup for the session) only when every state kept is held.
        /// </summary>
        public ResumeState Attach(string userName, string token, ServerConnection connection, long now)
        {
            lock (_gate)
            {
                ForgetExpired(now);
                var key = new ResumeKey(userName, token);
                if (!_states.TryGetValue(key, out ResumeState state))
                {
                    if (_states.Count >= _maxStates && !ForgetOldestReleased())
                    {
                        return null;
                    }

                    state = new ResumeState(_server, key, new SenderAddress(_server.Router.ServerId, _server.NewConnectionId()));
                    TakeRestored(userName, token, state);

                    _states.Add(key, state);
                    _server.Router.AttachReports(state.Address, state);
                }

                state.Attach(connection);
                return state;
            }
        }

        /// <summary>The connection ended; if it held the state, the window for forgetting it starts now.</summary>
        public void Release(ResumeState state, ServerConnection connection, long now)
        {
            lock (_gate)
            {
                if (!state.IsForgotten && state.Release(connection))
                {
                    state.ReleasedAt = now;
                    _released.Enqueue(new Released(state, now));
                }

                ForgetExpired(now);
            }
        }

        /// <summary>
        /// At start: the refs the last graceful stop kept, waiting for their tokens' hellos; at most as many tokens as
        /// the table keeps states, and none already past the window.
        /// </summary>
        public void Restore(IReadOnlyList<KeptRef> kept, long now)
        {
            lock (_gate)
            {
                _restoredAt = now;
                foreach (KeyValuePair<ResumeKey, List<KeptRef>> token in KeptRefs.ByToken(kept))
                {
                    List<KeptRef> rows = token.Value.FindAll(row => now - row.SentAt.Ticks < _windowTicks);
                    if (rows.Count > 0 && _restored.Count < _maxStates)
                    {
                        _restored[token.Key] = rows;
                    }
                }
            }
        }

        /// <summary>
        /// At stop, once no connection is left and every fate is known: every ref still within the window whose fate
        /// is known, as rows for the store file. Refs whose fate is not known are left out (a resend of one is routed
        /// again after the restart).
        /// </summary>
        public List<KeptRef> Keep(long now)
        {
            var rows = new List<KeptRef>();
            lock (_gate)
            {
                ForgetExpired(now);
                foreach (ResumeState state in _states.Values)
                {
                    state.Keep(now, rows);
                }

                foreach (List<KeptRef> waiting in _restored.Values)
                {
                    rows.AddRange(waiting.FindAll(row => now - row.SentAt.Ticks < _windowTicks));
                }
            }

            return rows;
        }

        /// <summary>Forgets the states let go a whole window ago: the keepalive sweep calls this, so a quiet server forgets too.</summary>
        public void ForgetExpired(long now)
        {
            lock (_gate)
            {
                if (_restored.Count > 0 && now - _restoredAt >= _windowTicks)
                {
                    _restored = new Dictionary<ResumeKey, List<KeptRef>>();
                }

                while (_released.Count > 0)
                {
                    Released first = _released.Peek();
                    if (first.IsStale)
                    {
                        _released.Dequeue();
                        continue;
                    }

                    if (now - first.At < _windowTicks)
                    {
                        return;
                    }

                    _released.Dequeue();
                    Forget(first.State);
                }
            }
        }

        /// <summary>A token's first hello since the start: the last run's refs of it, if kept, become the new state's.</summary>
        private void TakeRestored(string userName, string token, ResumeState state)
        {
            if (_restored.Count == 0)
            {
                return;
            }

            var hashed = new ResumeKey(userName, KeptRefs.HashOf(token));
            if (_restored.TryGetValue(hashed, out List<KeptRef> kept))
            {
                _restored.Remove(hashed);
                state.Restore(kept);
            }
        }

        private bool ForgetOldestReleased()
        {
            while (_released.Count > 0)
            {
                Released first = _released.Dequeue();
                if (!first.IsStale)
                {
                    Forget(first.State);
                    return true;
                }
            }

            return false;
        }

        private void Forget(ResumeState state)
        {
            state.IsForgotten = true;
            _states.Remove(state.Key);
            _server.Router.DetachReports(state.Address, state);
        }

        private readonly struct Released
        {
            public Released(ResumeState state, long at)
            {
                State = state;
                At = at;
            }

            public ResumeState State { get; }

            public long At { get; }

            public bool IsStale => State.IsForgotten || State.Current != null || State.ReleasedAt != At;
        }
    }
}
