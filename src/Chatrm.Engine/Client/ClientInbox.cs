using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace Chatrm.Engine.Client
{
    /// <summary>
    /// What a client received and nobody took yet: messages, notices, presence and receipts, oldest first, bounded (the
    /// oldest goes when full). Thread-safe: the reading thread adds, any thread takes or waits for an arrival.
    /// </summary>
    internal sealed class ClientInbox
    {
        // An empty inbox that held more than this gives its array back; a smaller one keeps it, so a bot taking
        // one message at a time does not make a new array for each.
        private const int TrimAbove = 1024;

        private readonly object _lock = new object();

        // A ring buffer: taking reads one array in order, where a linked list's nodes would each be another
        // cache miss. Its array grows with a burst and is given back once a take empties it (see TrimAbove).
        private readonly Queue<object> _items = new Queue<object>();
        private readonly int _capacity;

        // The most items the inbox held since it was last trimmed.
        private int _peak;
        private TaskCompletionSource<bool> _arrival;
        private int _messagesWaiting;
        private long _dropped;
        private bool _closed;

        public ClientInbox(int capacity)
        {
            _capacity = capacity;
        }

        /// <summary>Messages waiting to be taken (not counting notices and presence).</summary>
        public int MessagesWaiting => Volatile.Read(ref _messagesWaiting);

        /// <summary>Messages dropped because the inbox was full.</summary>
        public long MessagesDropped => Interlocked.Read(ref _dropped);

        /// <summary>Adds an item, dropping the oldest when full, and wakes whoever waits for an arrival.</summary>
        public void Add(object item)
        {
            TaskCompletionSource<bool> arrival;
            lock (_lock)
            {
                if (_items.Count >= _capacity)
                {
                    object oldest = _items.Dequeue();
                    if (oldest is ChatMessage)
                    {
                        _messagesWaiting--;
                        Interlocked.Increment(ref _dropped);
                    }
                }

                _items.Enqueue(item);
                _peak = Math.Max(_peak, _items.Count);
                if (item is ChatMessage)
                {
                    _messagesWaiting++;
                }

                arrival = _arrival;
                _arrival = null;
            }

            arrival?.TrySetResult(true);
        }

        /// <summary>See <see cref="ChatClient.Take"/>.</summary>
        public List<object> Take(int max, string from, bool includePresence, string room = null, bool includeReceipts = false)
        {
            lock (_lock)
            {
                var taken = new List<object>(Math.Min(max, _items.Count));
                int unexamined = _items.Count;
                int passedOver = 0;
                while (unexamined > 0 && taken.Count < max)
                {
                    object item = _items.Dequeue();
                    unexamined--;
                    if (item is ChatMessage message)
                    {
                        if ((from == null || UserNames.AreSame(message.From, from)) && (room == null || RoomNames.AreSame(message.Room, room)))
                        {
                            taken.Add(item);
                            _messagesWaiting--;
                        }
                        else
                        {
                            _items.Enqueue(item);
                            passedOver++;
                        }
                    }
                    else if (item is PresenceEvent presence && includePresence && room != null && !RoomNames.AreSame(presence.Room, room))
                    {
                        // Another room's (or the server's) comings and goings: they wait for whoever reads those.
                        _items.Enqueue(item);
                        passedOver++;
                    }
                    else if (item is ConnectionEvent connection && connection.Change != ConnectionChange.Gap)
                    {
                        // Reconnecting and back, shown with presence; a gap always (the else below), as a loss is never silent.
                        if (includePresence)
                        {
                            taken.Add(item);
                        }
                    }
                    else if (item is DeliveryReceipt)
                    {
                        if (includeReceipts)
                        {
                            taken.Add(item);
                        }
                    }
                    else if (includePresence || !(item is PresenceEvent))
                    {
                        taken.Add(item);
                    }
                }

                // Messages passed over went to the back; move what was not examined behind them again, so the
                // inbox keeps its order.
                if (passedOver > 0)
                {
                    for (int i = 0; i < unexamined; i++)
                    {
                        _items.Enqueue(_items.Dequeue());
                    }
                }

                if (_items.Count == 0 && _peak > TrimAbove)
                {
                    _items.TrimExcess();
                    _peak = 0;
                }

                return taken;
            }
        }

        /// <summary>A task that completes when something arrives after this call, or at once once closed.</summary>
        public Task NextArrival()
        {
            lock (_lock)
            {
                if (_closed)
                {
                    return Task.CompletedTask;
                }

                if (_arrival == null)
                {
                    _arrival = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
                }

                return _arrival.Task;
            }
        }

        /// <summary>
        /// Closes the inbox to waiting, once: false when it was closed already. The caller completes
        /// <paramref name="arrival"/> after it has marked itself closed, so a woken waiter sees that.
        /// </summary>
        public bool TryClose(out TaskCompletionSource<bool> arrival)
        {
            lock (_lock)
            {
                arrival = null;
                if (_closed)
                {
                    return false;
                }

                _closed = true;
                arrival = _arrival;
                _arrival = null;
                return true;
            }
        }
    }
}
