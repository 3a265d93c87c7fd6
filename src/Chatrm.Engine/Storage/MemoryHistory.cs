using System;
using System.Buffers;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Text;
using System.Threading;

namespace Chatrm.Engine.Storage
{
    /// <summary>
    /// The memory store's history: each conversation's lines encoded as bytes in segments (no object per line, so
    /// the collector has a few arrays to look at instead of every line a busy server kept), held to a number of
    /// bytes by dropping the oldest segment of all, as a NATS memory stream keeps to its max_bytes. A lock per
    /// conversation; the only shared work is when a segment fills.
    /// </summary>
    internal sealed class MemoryHistory
    {
        private const int MaxSegmentBytes = 64 * 1024;
        private static readonly Encoding Utf8 = new UTF8Encoding(false);

        private readonly ConcurrentDictionary<string, Conversation> _conversations = new ConcurrentDictionary<string, Conversation>(StringComparer.Ordinal);

        // Every segment, in the order made: the first is the oldest whichever conversation it is in.
        private readonly ConcurrentQueue<Segment> _segments = new ConcurrentQueue<Segment>();
        private readonly long _maxBytes;
        private readonly int _segmentBytes;
        private long _bytes;

        public MemoryHistory(long maxBytes)
        {
            _maxBytes = maxBytes;
            _segmentBytes = (int)Math.Max(256, Math.Min(MaxSegmentBytes, maxBytes / 16));
        }

        /// <summary>The bytes the segments hold now.</summary>
        public long Bytes => Interlocked.Read(ref _bytes);

        /// <summary>
        /// Adds a line to its conversation; a direct one's Seq is given here (see <see cref="IMessageStore.AppendHistory"/>).
        /// True when it began a segment: the moment the store checks whether old lines are due to go.
        /// </summary>
        public bool Append(StoredMessage message)
        {
            bool room = RoomNames.IsRoom(message.To);
            Conversation conversation = ConversationOf(message);
            Segment made = null;
            lock (conversation)
            {
                if (!room)
                {
                    message.Seq = conversation.LastSeq + 1;
                }

                conversation.LastSeq = Math.Max(conversation.LastSeq, message.Seq);
                int most = Segment.MostBytes(message);
                Segment last = conversation.Segments.Count == 0 ? null : conversation.Segments[conversation.Segments.Count - 1];
                if (last == null || last.Room < most)
                {
                    made = last = new Segment(conversation, Math.Max(_segmentBytes, most));
                    conversation.Segments.Add(last);
                }

                last.Write(message);
            }

            if (made == null)
            {
                return false;
            }

            _segments.Enqueue(made);
            if (Interlocked.Add(ref _bytes, made.Capacity) > _maxBytes)
            {
                DropOldest();
            }

            return true;
        }

        /// <summary>
        /// The conversation's lines: a reader thread mostly carries one sender's messages to one recipient, whose key
        /// (<see cref="Conversations.Direct"/>) is the same string each time, so the one found last on this thread is kept.
        /// Conversations are never removed (each keeps its last Seq), so one kept is never stale.
        /// </summary>
        private Conversation ConversationOf(StoredMessage message)
        {
            string key = Conversations.Of(message);
            if (ReferenceEquals(key, t_key) && ReferenceEquals(this, t_history))
            {
                return t_conversation;
            }

            Conversation conversation = _conversations.GetOrAdd(key, _ => new Conversation());
            t_key = key;
            t_history = this;
            t_conversation = conversation;
            return conversation;
        }

        [ThreadStatic]
        private static string t_key;

        [ThreadStatic]
        private static MemoryHistory t_history;

        [ThreadStatic]
        private static Conversation t_conversation;

        public long LastSeq(string conversation)
        {
            if (!_conversations.TryGetValue(conversation, out Conversation kept))
            {
                return 0;
            }

            lock (kept)
            {
                return kept.LastSeq;
            }
        }

        /// <summary>A conversation's lines not older than <paramref name="notBefore"/>, ascending by Seq.</summary>
        public List<StoredMessage> Read(string conversation, DateTime notBefore)
        {
            var lines = new List<StoredMessage>();
            if (_conversations.TryGetValue(conversation, out Conversation kept))
            {
                lock (kept)
                {
                    foreach (Segment segment in kept.Segments)
                    {
                        if (segment.Newest >= notBefore)
                        {
                            segment.ReadInto(lines, notBefore);
                        }
                    }
                }
            }

            // A room's posts can reach the history a little out of order (Seq is given before the append).
            for (int i = 1; i < lines.Count; i++)
            {
                if (lines[i - 1].Seq > lines[i].Seq)
                {
                    lines.Sort((a, b) => a.Seq.CompareTo(b.Seq));
                    break;
                }
            }

            return lines;
        }

        /// <summary>Drops every segment whose newest line is older than <paramref name="cutoff"/>.</summary>
        public void Expire(DateTime cutoff)
        {
            foreach (Conversation conversation in _conversations.Values)
            {
                long freed = 0;
                lock (conversation)
                {
                    while (conversation.Segments.Count > 0 && conversation.Segments[0].Newest < cutoff)
                    {
                        Segment gone = conversation.Segments[0];
                        conversation.Segments.RemoveAt(0);
                        freed += gone.Capacity;
                        gone.Drop();
                    }
                }

                Interlocked.Add(ref _bytes, -freed);
            }
        }

        private void DropOldest()
        {
            while (Interlocked.Read(ref _bytes) > _maxBytes && _segments.TryDequeue(out Segment oldest))
            {
                Conversation owner = oldest.Owner;
                lock (owner)
                {
                    if (oldest.Dropped)
                    {
                        // Gone by age already: its bytes were counted off then.
                        continue;
                    }

                    owner.Segments.Remove(oldest);
                    Interlocked.Add(ref _bytes, -oldest.Capacity);
                    oldest.Drop();
                }
            }
        }

        private sealed class Conversation
        {
            public List<Segment> Segments { get; } = new List<Segment>();

            // The last Seq it ever had, kept when its lines go.
            public long LastSeq { get; set; }
        }

        /// <summary>
        /// Lines one after another, in <see cref="HistoryChunk"/>'s pieces: Seq, id and time as 8 bytes each, then from,
        /// to and text as a length and UTF-8. From and to are written as a length of 0 when they are the line before's
        /// (a conversation is mostly one sender's run of lines), other lengths one more than the bytes. Its bytes are
        /// pooled: given back when the segment leaves its conversation, under its lock, after which nobody reads it.
        /// </summary>
        private sealed class Segment
        {
            private byte[] _bytes;
            private int _used;
            private string _lastFrom, _lastTo;

            public Segment(Conversation owner, int capacity)
            {
                Owner = owner;
                _bytes = ArrayPool<byte>.Shared.Rent(capacity);
                Capacity = _bytes.Length;
            }

            public Conversation Owner { get; }

            public int Capacity { get; }

            public int Room => Capacity - _used;

            public DateTime Newest { get; private set; } = DateTime.MinValue;

            /// <summary>Out of its conversation (by age or for room), its bytes given back: the queue of all segments skips it.</summary>
            public bool Dropped => _bytes == null;

            public static int MostBytes(StoredMessage message) =>
                24 + 15 + Utf8.GetMaxByteCount((message.From?.Length ?? 0) + (message.To?.Length ?? 0)) +
                (message.TextJson != null ? message.TextJson.Length : Utf8.GetMaxByteCount(message.TextLength));

            /// <summary>Under the owner's lock, once out of its list.</summary>
            public void Drop()
            {
                byte[] bytes = _bytes;
                _bytes = null;
                ArrayPool<byte>.Shared.Return(bytes);
            }

            public void Write(StoredMessage message)
            {
                HistoryChunk.WriteInt64(_bytes, ref _used, message.Seq);
                HistoryChunk.WriteInt64(_bytes, ref _used, message.Id);
                HistoryChunk.WriteInt64(_bytes, ref _used, message.SentAt.Ticks);
                WriteName(message.From, ref _lastFrom);
                WriteName(message.To, ref _lastTo);
                if (message.TextJson != null)
                {
                    // ASCII as it came: its bytes are its UTF-8, between the quotes.
                    int count = message.TextJson.Length - 2;
                    HistoryChunk.WriteVarint(_bytes, ref _used, count);
                    Buffer.BlockCopy(message.TextJson, 1, _bytes, _used, count);
                    _used += count;
                }
                else
                {
                    HistoryChunk.WriteUtf8(_bytes, ref _used, message.Text ?? string.Empty);
                }

                if (message.SentAt > Newest)
                {
                    Newest = message.SentAt;
                }
            }

            public void ReadInto(List<StoredMessage> lines, DateTime notBefore)
            {
                int at = 0;
                string from = null, to = null;
                while (at < _used)
                {
                    long seq = HistoryChunk.ReadInt64(_bytes, ref at);
                    long id = HistoryChunk.ReadInt64(_bytes, ref at);
                    var sentAt = new DateTime(HistoryChunk.ReadInt64(_bytes, ref at), DateTimeKind.Utc);
                    from = ReadName(ref at, from);
                    to = ReadName(ref at, to);
                    string text = HistoryChunk.ReadString(_bytes, ref at);
                    if (sentAt >= notBefore)
                    {
                        lines.Add(new StoredMessage { Seq = seq, Id = id, SentAt = sentAt, From = from, To = to, Text = text });
                    }
                }
            }

            private void WriteName(string name, ref string last)
            {
                name = name ?? string.Empty;
                if (last != null && (ReferenceEquals(name, last) || string.Equals(name, last, StringComparison.Ordinal)))
                {
                    _bytes[_used++] = 0;
                    return;
                }

                last = name;
                int count = Utf8.GetBytes(name, 0, name.Length, _bytes, _used + 1);
                if (count >= 0x7F)
                {
                    // A name is at most 32 letters (and a room's 33): room for a one-byte length always. Anything longer
                    // takes the general way, a length one more than its bytes.
                    int lengthAt = _used;
                    HistoryChunk.WriteVarint(_bytes, ref lengthAt, count + 1);
                    _used = lengthAt;
                    _used += Utf8.GetBytes(name, 0, name.Length, _bytes, _used);
                    return;
                }

                _bytes[_used] = (byte)(count + 1);
                _used += 1 + count;
            }

            private string ReadName(ref int at, string last)
            {
                int count = HistoryChunk.ReadVarint(_bytes, ref at);
                if (count == 0)
                {
                    return last;
                }

                string name = Utf8.GetString(_bytes, at, count - 1);
                at += count - 1;
                return name;
            }
        }
    }
}
