using System;
using System.Collections.Generic;

namespace Chatrm.Engine.Client
{
    /// <summary>
    /// The rooms a native client is in and the last Seq it took from each, so a reconnect can rejoin them and fetch
    /// what each said meanwhile. While that fetch runs, the room's live posts are held behind it and released in Seq
    /// order after it, each once. Thread-safe: the reading thread holds and passes, the reconnect releases.
    /// </summary>
    internal sealed class JoinedRooms
    {
        private readonly object _lock = new object();
        private readonly Dictionary<string, Place> _places = new Dictionary<string, Place>(StringComparer.OrdinalIgnoreCase);

        /// <summary>After a join's answer: the room's posts up to <paramref name="lastSeq"/> came before this member.</summary>
        public void Joined(string room, long lastSeq)
        {
            lock (_lock)
            {
                if (!_places.ContainsKey(room))
                {
                    _places[room] = new Place { LastSeq = lastSeq };
                }
            }
        }

        public void Left(string room)
        {
            lock (_lock)
            {
                _places.Remove(room);
            }
        }

        /// <summary>
        /// Holds the message while its room's fetch runs; otherwise takes it as the room's newest and hands it to
        /// <paramref name="show"/>, under the lock, so it cannot come between the posts a fetch releases.
        /// </summary>
        public void HoldOrShow(ChatMessage message, Action<ChatMessage> show)
        {
            lock (_lock)
            {
                if (_places.TryGetValue(message.Room, out Place place))
                {
                    if (place.Held != null)
                    {
                        place.Held.Add(message);
                        return;
                    }

                    if (message.Seq.HasValue && message.Seq.Value > place.LastSeq)
                    {
                        place.LastSeq = message.Seq.Value;
                    }
                }

                show(message);
            }
        }

        /// <summary>The link dropped: every room's live posts wait until its fetch is done.</summary>
        public void HoldAll()
        {
            lock (_lock)
            {
                foreach (Place place in _places.Values)
                {
                    place.Held = place.Held ?? new List<ChatMessage>();
                }
            }
        }

        /// <summary>Each room with the last Seq taken from it, to rejoin.</summary>
        public List<KeyValuePair<string, long>> Snapshot()
        {
            lock (_lock)
            {
                var rooms = new List<KeyValuePair<string, long>>(_places.Count);
                foreach (var pair in _places)
                {
                    rooms.Add(new KeyValuePair<string, long>(pair.Key, pair.Value.LastSeq));
                }

                return rooms;
            }
        }

        /// <summary>
        /// Ends a room's fetch: the fetched messages and then the held ones, each with a Seq above the last one taken, go
        /// to <paramref name="show"/> in order, under the lock, so no live post comes between them; a room the client left
        /// meanwhile shows nothing. So does a fetch whose link has ended (<paramref name="fetchedOnCurrentLink"/>, asked
        /// under the lock): that end held the room again for the next reconnect, which fetches from the same last Seq;
        /// released now, the next link's live posts would pass the ones that end lost, and they would never be shown.
        /// </summary>
        public void Release(string room, IReadOnlyList<ChatMessage> fetched, Action<ChatMessage> show, Func<bool> fetchedOnCurrentLink)
        {
            lock (_lock)
            {
                if (!_places.TryGetValue(room, out Place place) || !fetchedOnCurrentLink())
                {
                    return;
                }

                foreach (ChatMessage message in fetched)
                {
                    Take(place, message, show);
                }

                List<ChatMessage> held = place.Held ?? new List<ChatMessage>();
                place.Held = null;
                held.Sort((a, b) => (a.Seq ?? 0).CompareTo(b.Seq ?? 0));
                foreach (ChatMessage message in held)
                {
                    Take(place, message, show);
                }
            }
        }

        /// <summary>A server that started afresh numbers its rooms from 1 again: the Seqs taken before mean nothing there.</summary>
        public void ForgetSeqs()
        {
            lock (_lock)
            {
                foreach (Place place in _places.Values)
                {
                    place.LastSeq = 0;
                }
            }
        }

        private static void Take(Place place, ChatMessage message, Action<ChatMessage> show)
        {
            // A message without a Seq (a server that numbers none) cannot be placed: it is shown as it came.
            if (!message.Seq.HasValue)
            {
                show(message);
                return;
            }

            if (message.Seq.Value > place.LastSeq)
            {
                place.LastSeq = message.Seq.Value;
                show(message);
            }
        }

        private sealed class Place
        {
            public long LastSeq;

            // Non-null while a reconnect fetches what the room said meanwhile.
            public List<ChatMessage> Held;
        }
    }
}
