using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Chatrm.Engine.Protocol.Native;

namespace Chatrm.Engine
{
    /// <summary>
    /// Rooms, as a member sees them (native protocol): join, leave, list, and one room with its members. Each is a
    /// question with a ref that its answer (a room or rooms frame, or an error with that ref) settles
    /// (ChatClient.Asking.cs), as a users frame settles <see cref="GetUsersAsync"/>. Posting is
    /// <see cref="SendAsync"/> to the room's name.
    /// </summary>
    public sealed partial class ChatClient
    {
        /// <summary>
        /// Joins a room, creating it when nobody is in it; joining a room this user is in answers the same. The
        /// answer lists the members. Throws <see cref="ChatException"/> with the refusal (invalid-room, too-many-rooms,
        /// room-full, no-more-rooms), and on a classic connection, where rooms are joined by sending to them.
        /// </summary>
        public Task<RoomInfo> JoinRoomAsync(string room, TimeSpan timeout, CancellationToken cancellationToken = default)
        {
            CheckRoomName(room);
            if (Protocol != ChatProtocol.Chatrm)
            {
                throw new ChatException(Refusal.ProtocolMismatch,
                    $"Over the classic protocol a room is joined by sending to it: the first message to {room} joins it (Send-ChatrmMessage -To '{room}').");
            }

            return Remembered(AskForRoomAsync(reference => NativeProtocol.JoinFrame(reference, room), "join " + room, timeout, cancellationToken), room);
        }

        // A joined room is remembered with its last Seq, so a reconnect joins it again and fetches what it said meanwhile.
        private async Task<RoomInfo> Remembered(Task<RoomInfo> joining, string room)
        {
            RoomInfo joined = await joining.ConfigureAwait(false);
            _joinedRooms.Joined(joined.Name ?? room, joined.LastSeq);
            return joined;
        }

        private async Task<RoomInfo> Forgotten(Task<RoomInfo> leaving, string room)
        {
            RoomInfo left = await leaving.ConfigureAwait(false);
            _joinedRooms.Left(room);
            return left;
        }

        /// <summary>
        /// Leaves a room; the answer says how many members it has left (the room ends with its last). Throws
        /// <see cref="ChatException"/> with not-in-room when this user is not a member.
        /// </summary>
        public Task<RoomInfo> LeaveRoomAsync(string room, TimeSpan timeout, CancellationToken cancellationToken = default)
        {
            CheckRoomName(room);
            if (Protocol != ChatProtocol.Chatrm)
            {
                throw new ChatException(Refusal.ProtocolMismatch,
                    $"Over the classic protocol a room is left by sending it the text /part (Send-ChatrmMessage -To '{room}' -Text /part).");
            }

            return Forgotten(AskForRoomAsync(reference => NativeProtocol.PartFrame(reference, room), "leave " + room, timeout, cancellationToken), room);
        }

        /// <summary>One room with its members; a room that does not exist is answered with no members.</summary>
        public Task<RoomInfo> GetRoomAsync(string room, TimeSpan timeout, CancellationToken cancellationToken = default)
        {
            CheckRoomName(room);
            RequireNativeFor("Asking about a room");
            return AskForRoomAsync(reference => NativeProtocol.WhoRoomFrame(reference, room), "describe " + room, timeout, cancellationToken);
        }

        /// <summary>Every room the server has, with member counts and whether this user is in each (not their members).</summary>
        public Task<IReadOnlyList<RoomInfo>> GetRoomsAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
        {
            RequireNativeFor("Listing rooms");
            return AskForRoomsAsync(timeout, cancellationToken);
        }

        private static void CheckRoomName(string room)
        {
            string problem = RoomNames.Problem(room);
            if (problem != null)
            {
                throw new ChatException(Refusal.InvalidRoom, $"'{room}' cannot be a room name: {problem}.");
            }
        }

        private void RequireNativeFor(string what)
        {
            if (Protocol != ChatProtocol.Chatrm)
            {
                throw new ChatException(Refusal.ProtocolMismatch, $"{what} needs the native protocol; this connection is classic.");
            }
        }
    }
}
