using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Chatrm.Engine.Protocol.Native;

namespace Chatrm.Engine
{
    /// <summary>
    /// Requests answered by one frame with the request's ref: a room frame (join, part, who with a room), a rooms
    /// frame or a history frame. The read loop settles them (ChatClient.Reading.cs); an error frame with the ref fails them with its
    /// refusal, and a close fails them with connection-closed.
    /// </summary>
    public sealed partial class ChatClient
    {
        /// <summary>
        /// Sends the frame <paramref name="request"/> makes for a new ref, such as <see cref="NativeProtocol.JoinFrame"/>,
        /// and returns the room its room frame describes. <paramref name="what"/> finishes "The server did not …".
        /// </summary>
        internal Task<RoomInfo> AskForRoomAsync(Func<string, NativeFrame> request, string what, TimeSpan timeout, CancellationToken cancellationToken = default) =>
            AskAsync(_pendingRoom, request, what, timeout, cancellationToken);

        /// <summary>Every room the server has, as its rooms frame lists them.</summary>
        internal Task<IReadOnlyList<RoomInfo>> AskForRoomsAsync(TimeSpan timeout, CancellationToken cancellationToken = default) =>
            AskAsync(_pendingRooms, NativeProtocol.RoomsRequestFrame, "list its rooms", timeout, cancellationToken);

        private Task<T> AskAsync<T>(ConcurrentDictionary<string, TaskCompletionSource<T>> pending, Func<string, NativeFrame> request, string what, TimeSpan timeout, CancellationToken cancellationToken)
        {
            if (Protocol != ChatProtocol.Chatrm)
            {
                throw new ChatException(Refusal.ProtocolMismatch, "Rooms are asked about in the native protocol; this connection is classic.");
            }

            return AskLineAsync(pending, reference => NativeProtocol.Format(request(reference)), what, timeout, cancellationToken);
        }

        /// <summary>Sends the line <paramref name="request"/> makes for a new ref and waits for the answer that settles it.</summary>
        private async Task<T> AskLineAsync<T>(ConcurrentDictionary<string, TaskCompletionSource<T>> pending, Func<string, string> request, string what, TimeSpan timeout, CancellationToken cancellationToken)
        {
            string reference = NextRef();
            var answer = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
            pending[reference] = answer;
            try
            {
                SendRaw(request(reference));
                if (_state == ConnectionState.Closed)
                {
                    FailPending();
                }

                Task finished = await Task.WhenAny(answer.Task, Task.Delay(timeout, cancellationToken)).ConfigureAwait(false);
                if (finished != answer.Task)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    throw new ChatException(Refusal.NoAnswer, $"The server did not {what} within {timeout.TotalSeconds:0.#} seconds.");
                }

                return await answer.Task.ConfigureAwait(false);
            }
            finally
            {
                pending.TryRemove(reference, out _);
            }
        }
    }
}
