using System;
using System.Collections.Generic;
using Chatrm.Engine.Storage;

namespace Chatrm.Engine.Protocol.Native
{
    /// <summary>
    /// The frames of the message store (issue 16; docs/protocol.md, "Offline messages and history"): the stored status
    /// a sender hears when its message waits in an offline recipient's inbox, and the history request and its answer.
    /// </summary>
    internal static partial class NativeProtocol
    {
        /// <summary>The status of a direct message kept, committed, in its offline recipient's inbox.</summary>
        internal const string StoredStatusText = "stored";

        /// <summary>Lines a history request gets when it does not say <c>last</c>.</summary>
        internal const int DefaultHistoryLines = 50;

        /// <summary>The most lines one history request may ask for.</summary>
        internal const int MaxHistoryLines = 1000;

        /// <summary>The longest history answer: well inside the line a client reads (1 MiB by default).</summary>
        internal const int MaxHistoryFrameBytes = 512 * 1024;

        /// <summary>
        /// <c>{"type":"history","ref":"h1","with":"bob","last":50,"before":120,"after":80}</c> (or <c>"room":"#ops"</c>
        /// instead of <c>with</c>): a conversation's history; the bounds are Seq numbers, each optional.
        /// </summary>
        internal static NativeFrame HistoryRequestFrame(string reference, string with, string room, int? last = null, long? before = null, long? after = null) =>
            new NativeFrame { Type = FrameType.History, Ref = reference, With = with, Room = room, Last = last, Before = before, After = after };

        /// <summary>
        /// The answer: <c>{"type":"history","ref":"h1","with":"bob","messages":[{"id":…,"from":…,"to":…,"text":…,"sentAt":…,"seq":…},…]}</c>,
        /// ascending by seq; <c>room</c> instead of <c>with</c> for a room's.
        /// </summary>
        internal static NativeFrame HistoryFrame(string reference, string with, string room, IReadOnlyList<StoredMessage> lines)
        {
            var messages = new List<DeliveredMessage>(lines.Count);
            foreach (StoredMessage line in lines)
            {
                messages.Add(new DeliveredMessage(MessageIdText(line.Id), line.From, line.To, line.Text, line.SentAt, line.Seq));
            }

            return new NativeFrame { Type = FrameType.History, Ref = reference, With = with, Room = with == null ? room : null, Messages = messages };
        }

        /// <summary>
        /// <see cref="HistoryFrame"/>'s bytes, in this thread's buffer (as <see cref="FormatUtf8"/>), at most
        /// <paramref name="maxBytes"/>: lines that do not fit are left out from the oldest on (the asker pages back for them).
        /// </summary>
        internal static ReadOnlySpan<byte> FormatHistory(string reference, string with, string room, IReadOnlyList<StoredMessage> lines, int maxBytes = MaxHistoryFrameBytes)
        {
            NativeFrame frame = HistoryFrame(reference, with, room, lines);
            while (true)
            {
                ReadOnlySpan<byte> written = FormatUtf8(frame);
                List<DeliveredMessage> messages = frame.Messages;
                if (written.Length <= maxBytes || messages.Count == 0)
                {
                    return written;
                }

                // Drop about the share that is too much, at least one line, and write it again.
                long excess = written.Length - maxBytes;
                int drop = (int)Math.Min(messages.Count, Math.Max(1, (excess * messages.Count / written.Length) + 1));
                messages.RemoveRange(0, drop);
            }
        }
    }
}
