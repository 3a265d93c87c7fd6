using System;
using System.Collections.Generic;
using Chatrm.Engine.Routing;

namespace Chatrm.Engine.Server.Resume
{
    /// <summary>
    /// The server's resume states, by name and token: found or made at a hello, held by its connection, and forgotten
    /// once no connection has held it for the resend window. Their number is bounded: when full, the state let go
    /// longest ago goes first, so a flood of tokens cannot eat the server's memory. Only hellos, connection ends and
    /// the keepalive sweep come here, never a send: one lock is enough.
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

        /// <summary>Forgets the states let go a whole window ago: the keepalive sweep calls this, so a quiet server forgets too.</summary>
        public void ForgetExpired(long now)
        {
            lock (_gate)
            {
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
