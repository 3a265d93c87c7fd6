using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Chatrm.Engine.Protocol.Native;

namespace Chatrm.Engine
{
    /// <summary>
    /// A conversation's history, as the server keeps it (native protocol): a question with a ref that its history
    /// answer, or an error with that ref (access-denied, history-off), settles, as a room question is settled.
    /// </summary>
    public sealed partial class ChatClient
    {
        private readonly ConcurrentDictionary<string, TaskCompletionSource<IReadOnlyList<ChatMessage>>> _pendingHistory =
            new ConcurrentDictionary<string, TaskCompletionSource<IReadOnlyList<ChatMessage>>>();

        /// <summary>
        /// The last <paramref name="last"/> messages (1 to 1000) of this user's conversation <paramref name="with"/> a user,
        /// or of a room (a name starting with '#') this user is in, ascending by Seq; only those with Seq below
        /// <paramref name="before"/> and above <paramref name="after"/> when those are above 0. Throws
        /// <see cref="ChatException"/> with the server's refusal (another's conversation, or a room this user is not in:
        /// access denied; a server that keeps no history: history off).
        /// </summary>
        public Task<IReadOnlyList<ChatMessage>> GetHistoryAsync(string with, int last, long before, long after, TimeSpan timeout, CancellationToken cancellationToken = default)
        {
            if (RoomNames.IsRoom(with))
            {
                CheckRoomName(with);
            }
            else
            {
                string problem = UserNames.Problem(with);
                if (problem != null)
                {
                    throw new ChatException(Refusal.InvalidName, $"'{with}' cannot be a user name: {problem}.");
                }
            }

            if (last < 1 || last > NativeProtocol.MaxHistoryLines)
            {
                throw new ArgumentOutOfRangeException(nameof(last), last, $"A history question asks for 1 to {NativeProtocol.MaxHistoryLines} messages.");
            }

            if (before < 0 || after < 0)
            {
                throw new ArgumentOutOfRangeException(before < 0 ? nameof(before) : nameof(after), "A Seq bound is above 0, or 0 for none.");
            }

            RequireNativeFor("Reading history");
            bool room = RoomNames.IsRoom(with);
            return AskLineAsync(_pendingHistory, reference => NativeProtocol.Format(NativeProtocol.HistoryRequestFrame(
                    reference, room ? null : with, room ? with : null, last, before > 0 ? before : (long?)null, after > 0 ? after : (long?)null)),
                "send the history of " + with, timeout, cancellationToken);
        }

        /// <summary>A history answer: the question with its ref gets its lines as messages, a room's with the room.</summary>
        private void OnHistory(NativeFrame frame)
        {
            if (frame.Ref == null || !_pendingHistory.TryGetValue(frame.Ref, out var answer))
            {
                return;
            }

            DateTime now = DateTime.UtcNow;
            var messages = new List<ChatMessage>(frame.Messages?.Count ?? 0);
            foreach (DeliveredMessage line in frame.Messages ?? new List<DeliveredMessage>())
            {
                var message = new ChatMessage(line.From, line.To, line.Text ?? string.Empty, now, line.Id, line.SentAt) { Seq = line.Seq };
                if (frame.Room != null)
                {
                    message.Room = frame.Room;
                }

                messages.Add(message);
            }

            answer.TrySetResult(messages);
        }
    }
}
