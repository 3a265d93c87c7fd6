using System;
using System.Collections.Generic;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Chatrm.Engine;
using Chatrm.Engine.Storage;
using NATS.Client.JetStream.Models;
using StoredMessage = Chatrm.Engine.Storage.StoredMessage;

namespace Chatrm.Cluster.Storage
{
    /// <summary>
    /// History in the stream: one subject per conversation, and in each JetStream message the lines of that
    /// conversation one commit carried (the writer puts lines of one conversation queued together in one message, so a
    /// busy conversation costs JetStream a publish per batch, not per line). A room's lines carry the Seq its home
    /// gave; a direct line's Seq is made from its place: the message's stream sequence times
    /// <see cref="LinesPerMessage"/>, plus its place in the message, so it grows with every line, though not by one.
    /// </summary>
    internal sealed partial class JetStreamStore
    {
        /// <summary>Lines one JetStream message of history holds at most; a direct line's Seq is made with it.</summary>
        internal const int LinesPerMessage = 1000;

        public long LastRoomSeq(string room)
        {
            if (!_limits.KeepHistory)
            {
                return 0;
            }

            return Run(async cancel =>
            {
                (ulong _, List<StoredMessage> lines) = await LastLinesAsync(HistorySubject(Conversations.Room(room)), room: true, cancel).ConfigureAwait(false);
                return lines.Count == 0 ? 0 : lines[lines.Count - 1].Seq;
            });
        }

        public IReadOnlyList<StoredMessage> ReadHistory(string conversation, int last, long before, long after)
        {
            if (!_limits.KeepHistory || last <= 0)
            {
                return Array.Empty<StoredMessage>();
            }

            DateTime notBefore = Now.AddDays(-_limits.HistoryDays);
            return Run(cancel => ReadHistoryAsync(conversation, last, before, after, notBefore, cancel));
        }

        // The writer's subjects of the conversations it met lately, by the two names as its lines spell them (on the
        // writer only). A line that came from another server has names decoded anew each time, so without this its
        // conversation's key and the key's hex would be made again for every line.
        private readonly Dictionary<(string From, string To), string> _subjects = new Dictionary<(string From, string To), string>();

        // The conversation's key is lower-cased already (see Conversations), so one conversation is one subject.
        private static string HistorySubject(string conversation) => HistorySubjects + Convert.ToHexString(Encoding.UTF8.GetBytes(conversation));

        /// <summary>The history subject of a line, for the writer.</summary>
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        private string HistorySubjectOf(StoredMessage line)
        {
            if (!_subjects.TryGetValue((line.From, line.To), out string subject))
            {
                if (_subjects.Count >= 4096)
                {
                    _subjects.Clear();
                }

                subject = HistorySubject(Conversations.Of(line));
                _subjects[(line.From, line.To)] = subject;
            }

            return subject;
        }

        /// <summary>A direct line's Seq, from where it is kept.</summary>
        internal static long DirectSeq(ulong streamSeq, int index) => ((long)streamSeq * LinesPerMessage) + index;

        private async Task<List<StoredMessage>> ReadHistoryAsync(string conversation, int last, long before, long after, DateTime notBefore, CancellationToken cancel)
        {
            string subject = HistorySubject(conversation);
            bool room = RoomNames.IsRoom(conversation);
            (ulong lastSeq, List<StoredMessage> _) = await LastLinesAsync(subject, room, cancel).ConfigureAwait(false);
            if (lastSeq == 0)
            {
                return new List<StoredMessage>();
            }

            // Which stream messages can hold lines inside the bounds (the lines themselves are checked after): a direct
            // Seq names its message; a room's lines come in the stream in Seq order, so their messages are found by halving.
            ulong end = lastSeq + 1;
            ulong floor = 1;
            if (before > 0)
            {
                ulong holding = room ? await FirstHoldingAsync(subject, before, lastSeq, cancel).ConfigureAwait(false) : (ulong)(before / LinesPerMessage);
                end = Math.Min(end, holding + 1);
            }

            if (after > 0)
            {
                floor = room ? await FirstHoldingAsync(subject, after + 1, lastSeq, cancel).ConfigureAwait(false) : (ulong)(after / LinesPerMessage);
            }

            // Back from the end in windows that grow fourfold, until enough lines are read or the floor is reached.
            var newestFirst = new List<StoredMessage>();
            ulong window = (ulong)Math.Max(16, last);
            while (end > floor && newestFirst.Count < last)
            {
                ulong start = end - floor > window ? end - window : floor;
                List<(ulong Seq, byte[] Data)> read = await ReadSubjectAsync(_history, subject, start, end, int.MaxValue, cancel).ConfigureAwait(false);
                for (int m = read.Count - 1; m >= 0 && newestFirst.Count < last; m--)
                {
                    List<StoredMessage> lines = LinesOf(read[m].Seq, read[m].Data, room);
                    for (int i = lines.Count - 1; i >= 0 && newestFirst.Count < last; i--)
                    {
                        StoredMessage line = lines[i];
                        if (HistoryRange.Holds(line.Seq, before, after) && line.SentAt >= notBefore)
                        {
                            newestFirst.Add(line);
                        }
                    }
                }

                end = start;
                window = window > ulong.MaxValue / 4 ? ulong.MaxValue : window * 4;
            }

            newestFirst.Reverse();
            return newestFirst;
        }

        /// <summary>The stream sequence of the first message of a room whose last line has Seq at least <paramref name="seq"/> (past the last when none).</summary>
        private async Task<ulong> FirstHoldingAsync(string subject, long seq, ulong lastSeq, CancellationToken cancel)
        {
            ulong low = 1, high = lastSeq + 1;
            while (low < high)
            {
                ulong middle = low + ((high - low) / 2);
                (ulong at, byte[] data) = await GetAsync(_history, new StreamMsgGetRequest { NextBySubj = subject, Seq = middle }, cancel).ConfigureAwait(false);
                List<StoredMessage> lines = at == 0 ? null : LinesOf(at, data, room: true);
                if (lines == null || at >= high)
                {
                    high = middle;
                }
                else if (lines.Count > 0 && lines[lines.Count - 1].Seq >= seq)
                {
                    high = at;
                }
                else
                {
                    low = at + 1;
                }
            }

            return low;
        }

        private async Task<(ulong Seq, List<StoredMessage> Lines)> LastLinesAsync(string subject, bool room, CancellationToken cancel)
        {
            (ulong seq, byte[] data) = await GetAsync(_history, new StreamMsgGetRequest { LastBySubj = subject }, cancel).ConfigureAwait(false);
            return (seq, seq == 0 ? new List<StoredMessage>() : LinesOf(seq, data, room));
        }

        /// <summary>The lines one stream message holds, a direct line's Seq made from its place.</summary>
        private static List<StoredMessage> LinesOf(ulong streamSeq, byte[] data, bool room)
        {
            List<StoredMessage> lines = StoredMessageCodec.DecodeLines(data);
            if (!room)
            {
                for (int i = 0; i < lines.Count; i++)
                {
                    lines[i].Seq = DirectSeq(streamSeq, i);
                }
            }

            return lines;
        }
    }
}
