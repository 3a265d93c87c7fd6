using System;
using System.Buffers.Text;
using System.Collections.Generic;
using System.Text.Json;
using Chatrm.Engine.Messaging;

namespace Chatrm.Engine.Protocol.Native
{
    /// <summary>
    /// The frames of rooms (issue 15; docs/protocol.md, "Rooms"): what a client sends to join, leave, list and look
    /// into rooms, and what a server answers and delivers. Every frame here is a <see cref="NativeFrame"/> that
    /// <see cref="FormatUtf8"/> writes in the documented field order, except the room message, which is written once
    /// per post for every member (<see cref="FormatRoomMessage"/>).
    /// </summary>
    internal static partial class NativeProtocol
    {
        /// <summary>The status of a room message the server accepted and handed to every other member.</summary>
        internal const string PostedStatusText = "posted";

        // ---- Client to server ----

        /// <summary><c>{"type":"join","ref":"1","room":"#ops"}</c>: join a room, creating it when it does not exist.</summary>
        internal static NativeFrame JoinFrame(string reference, string room) =>
            new NativeFrame { Type = FrameType.Join, Ref = reference, Room = room };

        /// <summary><c>{"type":"part","ref":"2","room":"#ops"}</c>: leave a room.</summary>
        internal static NativeFrame PartFrame(string reference, string room) =>
            new NativeFrame { Type = FrameType.Part, Ref = reference, Room = room };

        /// <summary><c>{"type":"rooms","ref":"3"}</c>: every room the server has.</summary>
        internal static NativeFrame RoomsRequestFrame(string reference) =>
            new NativeFrame { Type = FrameType.Rooms, Ref = reference };

        /// <summary><c>{"type":"who","ref":"4","room":"#ops"}</c>: one room, with its members.</summary>
        internal static NativeFrame WhoRoomFrame(string reference, string room) =>
            new NativeFrame { Type = FrameType.Who, Ref = reference, Room = room };

        // ---- Server to client ----

        /// <summary>
        /// The answer to a join, part or who with a room: <c>{"type":"room","ref":…,"room":…,"joined":…,"memberCount":…,
        /// "members":[…],"joinedAt":…}</c>. <paramref name="listMembers"/> writes <c>members</c> (a join's and a who's
        /// answer do, even when empty; a part's does not); <c>joinedAt</c> is written only when the asker is a member.
        /// </summary>
        internal static NativeFrame RoomFrame(string reference, RoomInfo room, bool listMembers) =>
            new NativeFrame
            {
                Type = FrameType.Room,
                Ref = reference,
                Room = room.Name,
                Joined = room.IsMember,
                MemberCount = room.MemberCount,
                Members = listMembers ? room.Members : null,
                JoinedAt = room.IsMember ? room.JoinedAtUtc : null,
                Seq = room.LastSeq > 0 ? room.LastSeq : (long?)null, // absent: 0, no post yet (a seq is never 0 on the wire)
            };

        /// <summary>The answer to a rooms frame: <c>{"type":"rooms","ref":…,"rooms":[{"name":…,"memberCount":…,"joined":…},…]}</c>.</summary>
        internal static NativeFrame RoomsFrame(string reference, IReadOnlyList<RoomInfo> rooms) =>
            new NativeFrame { Type = FrameType.Rooms, Ref = reference, Rooms = rooms };

        /// <summary>
        /// Room presence: <c>{"type":"presence","user":…,"event":"joined"|"left","room":…,"time":…}</c>, to the other
        /// native members that hear presence.
        /// </summary>
        internal static NativeFrame RoomPresenceFrame(string room, string userName, PresenceChange change, DateTime time) =>
            new NativeFrame
            {
                Type = FrameType.Presence,
                User = userName,
                Event = change == PresenceChange.Joined ? "joined" : "left",
                Room = room,
                Time = time,
            };

        /// <summary>
        /// What a sender hears of its room message: <c>{"type":"status","ref":…,"id":…,"to":"#ops","sentAt":…,
        /// "status":"posted","seq":17,"recipients":3}</c>. A refused post (<c>not-in-room</c>, <c>invalid-room</c>) is a
        /// refused status as any other.
        /// </summary>
        internal static NativeFrame PostedFrame(ChatEnvelope envelope, long seq, int recipients) =>
            new NativeFrame
            {
                Type = FrameType.Status,
                Ref = envelope.SenderRef,
                Id = envelope.Id,
                To = envelope.To,
                SentAt = envelope.SentAt,
                Status = PostedStatusText,
                Seq = seq,
                Recipients = recipients,
            };

        /// <summary><see cref="PostedFrame"/>'s bytes, in this thread's buffer (as <see cref="FormatUtf8"/>).</summary>
        internal static ReadOnlySpan<byte> FormatPosted(ChatEnvelope envelope, long seq, int recipients) =>
            FormatUtf8(PostedFrame(envelope, seq, recipients));

        // The room message this thread wrote last, and for which envelope and seq: every member of a post is handed
        // the message on the posting thread, inside the room's lock, so each member after the first finds it here.
        // Its array is this thread's and is written over by the next room message: a post allocates nothing.
        [ThreadStatic] private static ChatEnvelope t_roomEnvelope;
        [ThreadStatic] private static long t_roomSeq;
        [ThreadStatic] private static byte[] t_roomFrame;
        [ThreadStatic] private static int t_roomFrameLength;

        /// <summary>
        /// A room message, newline included: <c>{"type":"message","id":…,"from":…,"to":"#ops","room":"#ops","seq":17,
        /// "text":…,"sentAt":…}</c>, the bytes <see cref="FormatUtf8"/> writes for it. The same for every member, so
        /// written once per post: on one thread, asking again for the same envelope (and seq) gives the same bytes
        /// without writing them, and frames written for a member in between (its status, a notice) leave them be.
        /// They stay as they are until this thread writes the next room message: hand them to every member's
        /// transport (each copies them into its queue) before posting the next, and keep no reference past that.
        /// </summary>
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        internal static ReadOnlyMemory<byte> FormatRoomMessage(ChatEnvelope envelope, JsonEncodedText from = default)
        {
            byte[] frame = t_roomFrame;
            if (frame != null && ReferenceEquals(t_roomEnvelope, envelope) && t_roomSeq == envelope.Seq)
            {
                return new ReadOnlyMemory<byte>(frame, 0, t_roomFrameLength);
            }

            if (from.EncodedUtf8Bytes.IsEmpty)
            {
                from = !envelope.EncodedFrom.EncodedUtf8Bytes.IsEmpty ? envelope.EncodedFrom : EncodeName(envelope.From);
            }

            ReadOnlySpan<byte> written = WriteRoomMessage(envelope, from);
            if (frame == null || frame.Length < written.Length || (frame.Length > 64 * 1024 && written.Length <= 1024))
            {
                // Grown for a long one, given back after it, as the frame buffer does.
                frame = t_roomFrame = new byte[Math.Max(written.Length, 512)];
            }

            written.CopyTo(frame);
            t_roomFrameLength = written.Length;
            t_roomEnvelope = envelope;
            t_roomSeq = envelope.Seq;
            return new ReadOnlyMemory<byte>(frame, 0, written.Length);
        }

        /// <summary>The room message into this thread's buffer: from pieces when every one is ready, else through the writer.</summary>
        private static ReadOnlySpan<byte> WriteRoomMessage(ChatEnvelope envelope, JsonEncodedText from)
        {
            string room = envelope.To;
            if (envelope.TextJson != null && envelope.Number > 0 && IsPlainName(room))
            {
                ReadOnlySpan<byte> fromUtf8 = from.EncodedUtf8Bytes;
                // Its fixed pieces, a seq and an id are more than PiecesRoom holds for a direct message.
                var pieces = new Pieces(2 * PiecesRoom + fromUtf8.Length + 2 * room.Length + envelope.TextJson.Length);
                pieces.Put("{\"type\":\"message\",\"id\":\""u8);
                pieces.PutMessageId(envelope.Number);
                pieces.Put("\",\"from\":\""u8);
                pieces.Put(fromUtf8);
                pieces.Put("\",\"to\":\""u8);
                pieces.PutAscii(room);
                pieces.Put("\",\"room\":\""u8);
                pieces.PutAscii(room);
                pieces.Put("\",\"seq\":"u8);
                pieces.PutNumber(envelope.Seq);
                pieces.Put(",\"text\":"u8);
                pieces.Put(envelope.TextJson);
                pieces.Put(",\"sentAt\":\""u8);
                pieces.PutTime(envelope.SentAt);
                pieces.Put("\"}\n"u8);
                return pieces.End();
            }

            Utf8JsonWriter writer = BeginFrame();
            writer.WriteString(TypeName, MessageType);
            WriteId(writer, envelope);
            writer.WriteString(FromField, from);
            writer.WriteString(ToField, room);
            writer.WriteString(RoomField, room);
            writer.WriteNumber(SeqField, envelope.Seq);
            if (envelope.TextJson != null)
            {
                writer.WritePropertyName(TextField);
                writer.WriteRawValue(envelope.TextJson, skipInputValidation: true);
            }
            else
            {
                writer.WriteString(TextField, envelope.Text);
            }

            WriteTime(writer, SentAtField, envelope.SentAt);
            return EndFrame(writer);
        }

        /// <summary>Whether a name is printable ASCII without a quote or backslash: written as it is, as a valid room name always is.</summary>
        private static bool IsPlainName(string name)
        {
            if (name.Length > 64)
            {
                return false;
            }

            foreach (char c in name)
            {
                if (c < 0x20 || c >= 0x7F || c == '"' || c == '\\')
                {
                    return false;
                }
            }

            return true;
        }

        private static void WriteMembers(Utf8JsonWriter writer, IReadOnlyList<string> members)
        {
            writer.WriteStartArray(MembersField);
            foreach (string member in members)
            {
                writer.WriteStringValue(member);
            }

            writer.WriteEndArray();
        }

        private static void WriteRooms(Utf8JsonWriter writer, IReadOnlyList<RoomInfo> rooms)
        {
            writer.WriteStartArray(RoomsField);
            foreach (RoomInfo room in rooms)
            {
                writer.WriteStartObject();
                writer.WriteString(NameField, room.Name);
                writer.WriteNumber(MemberCountField, room.MemberCount);
                writer.WriteBoolean(JoinedField, room.IsMember);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
        }
    }
}
