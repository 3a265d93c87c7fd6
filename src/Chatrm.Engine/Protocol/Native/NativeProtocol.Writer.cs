using System;
using System.Buffers.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Chatrm.Engine.Messaging;

namespace Chatrm.Engine.Protocol.Native
{
    /// <summary>The frame writers: one pooled UTF-8 JSON writer per thread, hot frames byte by byte.</summary>
    internal static partial class NativeProtocol
    {
        [ThreadStatic] private static FrameBuffer t_buffer;
        [ThreadStatic] private static Utf8JsonWriter t_writer;

        private static readonly JsonWriterOptions WriterOptions = new JsonWriterOptions
        {
            // Readable in nc: non-ASCII text stays as it is, emoji too (see Utf8JsonEncoder); control characters
            // and quotes are always escaped.
            Encoder = Utf8JsonEncoder.Instance,
            Indented = false,
            // Validation is for hand-written JSON; every frame here is written by the one method below.
            SkipValidation = true,
        };

        // Field names, encoded once.
        private static readonly JsonEncodedText TypeName = JsonEncodedText.Encode("type");
        private static readonly JsonEncodedText ProtocolField = JsonEncodedText.Encode("protocol");
        private static readonly JsonEncodedText VersionField = JsonEncodedText.Encode("version");
        private static readonly JsonEncodedText UserField = JsonEncodedText.Encode("user");
        private static readonly JsonEncodedText PasswordField = JsonEncodedText.Encode("password");
        private static readonly JsonEncodedText PresenceField = JsonEncodedText.Encode("presence");
        private static readonly JsonEncodedText BatchField = JsonEncodedText.Encode("batch");
        private static readonly JsonEncodedText ResumeField = JsonEncodedText.Encode("resume");
        private static readonly JsonEncodedText IdsField = JsonEncodedText.Encode("ids");
        private static readonly JsonEncodedText ThroughField = JsonEncodedText.Encode("through");
        private static readonly JsonEncodedText MessagesField = JsonEncodedText.Encode("messages");
        private static readonly JsonEncodedText RefField = JsonEncodedText.Encode("ref");
        private static readonly JsonEncodedText IdField = JsonEncodedText.Encode("id");
        private static readonly JsonEncodedText FromField = JsonEncodedText.Encode("from");
        private static readonly JsonEncodedText ToField = JsonEncodedText.Encode("to");
        private static readonly JsonEncodedText TextField = JsonEncodedText.Encode("text");
        private static readonly JsonEncodedText SentAtField = JsonEncodedText.Encode("sentAt");
        private static readonly JsonEncodedText StatusField = JsonEncodedText.Encode("status");
        private static readonly JsonEncodedText ReasonField = JsonEncodedText.Encode("reason");
        private static readonly JsonEncodedText CodeField = JsonEncodedText.Encode("code");
        private static readonly JsonEncodedText MessageField = JsonEncodedText.Encode("message");
        private static readonly JsonEncodedText EventField = JsonEncodedText.Encode("event");
        private static readonly JsonEncodedText TimeField = JsonEncodedText.Encode("time");
        private static readonly JsonEncodedText KeepAliveField = JsonEncodedText.Encode("keepAlive");
        private static readonly JsonEncodedText MaxFrameBytesField = JsonEncodedText.Encode("maxFrameBytes");
        private static readonly JsonEncodedText UsersField = JsonEncodedText.Encode("users");
        private static readonly JsonEncodedText NameField = JsonEncodedText.Encode("name");
        private static readonly JsonEncodedText ConnectedAtField = JsonEncodedText.Encode("connectedAt");
        private static readonly JsonEncodedText NodeField = JsonEncodedText.Encode("node");
        private static readonly JsonEncodedText RoomField = JsonEncodedText.Encode("room");
        private static readonly JsonEncodedText SeqField = JsonEncodedText.Encode("seq");
        private static readonly JsonEncodedText RecipientsField = JsonEncodedText.Encode("recipients");
        private static readonly JsonEncodedText JoinedField = JsonEncodedText.Encode("joined");
        private static readonly JsonEncodedText MemberCountField = JsonEncodedText.Encode("memberCount");
        private static readonly JsonEncodedText MembersField = JsonEncodedText.Encode("members");
        private static readonly JsonEncodedText JoinedAtField = JsonEncodedText.Encode("joinedAt");
        private static readonly JsonEncodedText RoomsField = JsonEncodedText.Encode("rooms");
        private static readonly JsonEncodedText WithField = JsonEncodedText.Encode("with");
        private static readonly JsonEncodedText LastField = JsonEncodedText.Encode("last");
        private static readonly JsonEncodedText BeforeField = JsonEncodedText.Encode("before");
        private static readonly JsonEncodedText AfterField = JsonEncodedText.Encode("after");

        public static string Format(NativeFrame frame)
        {
            ReadOnlySpan<byte> utf8 = FormatUtf8(frame);
            return Utf8.GetString(utf8.ToArray());
        }

        /// <summary>
        /// The frame as UTF-8, newline included, in a buffer of this thread's that the next call on it reuses:
        /// copy it (as <see cref="LineTransport.Send(ReadOnlySpan{byte}, bool)"/> does) before formatting another.
        /// </summary>
        /// <remarks>
        /// Field order is part of the wire (docs/protocol.md). The room fields stand where the frames of issue 15 show
        /// them: <c>room</c> after <c>to</c> (join, part, who, room and message frames), except in a presence frame,
        /// where it follows <c>event</c>; <c>seq</c> after <c>room</c> in a message, after <c>status</c> in a posted
        /// status (which has no room); the room frame's own fields after <c>room</c>.
        /// </remarks>
        public static ReadOnlySpan<byte> FormatUtf8(NativeFrame frame)
        {
            Utf8JsonWriter writer = BeginFrame();
            writer.WriteString(TypeName, frame.Type);
            WriteIf(writer, ProtocolField, frame.Protocol);
            if (frame.Version.HasValue) writer.WriteNumber(VersionField, frame.Version.Value);
            WriteIf(writer, UserField, frame.User);
            WriteIf(writer, PasswordField, frame.Password);
            if (frame.Presence.HasValue) writer.WriteBoolean(PresenceField, frame.Presence.Value);
            if (frame.Batch.HasValue) writer.WriteBoolean(BatchField, frame.Batch.Value);
            WriteIf(writer, ResumeField, frame.ResumeToken);
            if (frame.Resume.HasValue) writer.WriteBoolean(ResumeField, frame.Resume.Value);
            WriteIf(writer, IdsField, frame.Ids);
            WriteIf(writer, ThroughField, frame.Through);
            WriteIf(writer, RefField, frame.Ref);
            WriteIf(writer, IdField, frame.Id);
            WriteIf(writer, FromField, frame.From);
            WriteIf(writer, ToField, frame.To);
            WriteIf(writer, WithField, frame.With);
            bool roomAfterEvent = frame.Event != null;
            bool seqAfterRoom = frame.Room != null && !roomAfterEvent;
            if (!roomAfterEvent)
            {
                WriteIf(writer, RoomField, frame.Room);
            }

            if (seqAfterRoom && frame.Seq.HasValue) writer.WriteNumber(SeqField, frame.Seq.Value);
            if (frame.Joined.HasValue) writer.WriteBoolean(JoinedField, frame.Joined.Value);
            if (frame.MemberCount.HasValue) writer.WriteNumber(MemberCountField, frame.MemberCount.Value);
            if (frame.Members != null) WriteMembers(writer, frame.Members);
            if (frame.JoinedAt.HasValue) WriteTime(writer, JoinedAtField, frame.JoinedAt.Value);
            if (frame.Rooms != null) WriteRooms(writer, frame.Rooms);
            if (frame.Last.HasValue) writer.WriteNumber(LastField, frame.Last.Value);
            if (frame.Before.HasValue) writer.WriteNumber(BeforeField, frame.Before.Value);
            if (frame.After.HasValue) writer.WriteNumber(AfterField, frame.After.Value);
            WriteIf(writer, TextField, frame.Text);
            if (frame.SentAt.HasValue) WriteTime(writer, SentAtField, frame.SentAt.Value);
            WriteIf(writer, StatusField, frame.Status);
            if (!seqAfterRoom && frame.Seq.HasValue) writer.WriteNumber(SeqField, frame.Seq.Value);
            if (frame.Recipients.HasValue) writer.WriteNumber(RecipientsField, frame.Recipients.Value);
            WriteIf(writer, ReasonField, frame.Reason);
            WriteIf(writer, CodeField, frame.Code);
            WriteIf(writer, MessageField, frame.Message);
            WriteIf(writer, EventField, frame.Event);
            if (roomAfterEvent)
            {
                WriteIf(writer, RoomField, frame.Room);
            }

            if (frame.Time.HasValue) WriteTime(writer, TimeField, frame.Time.Value);
            if (frame.KeepAlive.HasValue) writer.WriteNumber(KeepAliveField, frame.KeepAlive.Value);
            if (frame.MaxFrameBytes.HasValue) writer.WriteNumber(MaxFrameBytesField, frame.MaxFrameBytes.Value);
            if (frame.Users != null)
            {
                writer.WriteStartArray(UsersField);
                foreach (UserInfo user in frame.Users)
                {
                    writer.WriteStartObject();
                    writer.WriteString(NameField, user.Name);
                    writer.WriteString(ProtocolField, user.ProtocolName);
                    WriteTime(writer, ConnectedAtField, user.ConnectedAtUtc);
                    if (user.Node != null)
                    {
                        writer.WriteString(NodeField, user.Node);
                    }

                    writer.WriteEndObject();
                }

                writer.WriteEndArray();
            }

            if (frame.Messages != null)
            {
                writer.WriteStartArray(MessagesField);
                foreach (DeliveredMessage message in frame.Messages)
                {
                    writer.WriteStartObject();
                    WriteIf(writer, RefField, message.Ref);
                    WriteIf(writer, IdField, message.Id);
                    WriteIf(writer, FromField, message.From);
                    WriteIf(writer, ToField, message.To);
                    WriteIf(writer, TextField, message.Text);
                    if (message.SentAt.HasValue) WriteTime(writer, SentAtField, message.SentAt.Value);
                    if (message.Seq.HasValue) writer.WriteNumber(SeqField, message.Seq.Value);
                    writer.WriteEndObject();
                }

                writer.WriteEndArray();
            }

            return EndFrame(writer);
        }

        /// <summary>A name as frames write it, encoded once: a connection keeps its user's.</summary>
        internal static JsonEncodedText EncodeName(string name) => JsonEncodedText.Encode(name, WriterOptions.Encoder);

        /// <summary>
        /// The message frame a recipient gets, the hottest frame of all: the bytes <see cref="FormatUtf8"/> writes
        /// for {type, id, from, to, text, sentAt}, with the names already encoded (<paramref name="from"/> may be default:
        /// it is encoded here then).
        /// </summary>
        /// <remarks>
        /// A room message (<see cref="ChatEnvelope.Room"/> set) is <see cref="FormatRoomMessage"/>'s frame instead, the
        /// same bytes for every member: <paramref name="to"/>, the recipient's own name, is not in it.
        /// </remarks>
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        internal static ReadOnlySpan<byte> FormatMessage(ChatEnvelope envelope, JsonEncodedText from, JsonEncodedText to)
        {
            if (envelope.Room != null)
            {
                // Written once per post, so a name to encode is encoded once too.
                return FormatRoomMessage(envelope, from).Span;
            }

            if (from.EncodedUtf8Bytes.IsEmpty)
            {
                from = EncodeName(envelope.From);
            }

            if (envelope.TextJson != null && envelope.Number > 0)
            {
                // Every piece is ready to go as it is: put them together (see Pieces).
                ReadOnlySpan<byte> fromUtf8 = from.EncodedUtf8Bytes, toUtf8 = to.EncodedUtf8Bytes;
                var pieces = new Pieces(PiecesRoom + fromUtf8.Length + toUtf8.Length + envelope.TextJson.Length);
                pieces.Put("{\"type\":\"message\",\"id\":\""u8);
                pieces.PutMessageId(envelope.Number);
                pieces.Put("\",\"from\":\""u8);
                pieces.Put(fromUtf8);
                pieces.Put("\",\"to\":\""u8);
                pieces.Put(toUtf8);
                pieces.Put("\",\"text\":"u8);
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
            writer.WriteString(ToField, to);
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

        /// <summary>The id, written from the number without a string when the server numbered the message.</summary>
        private static void WriteId(Utf8JsonWriter writer, ChatEnvelope envelope)
        {
            if (envelope.Number <= 0)
            {
                writer.WriteString(IdField, envelope.Id);
                return;
            }

            Span<byte> quoted = stackalloc byte[MaxMessageIdBytes + 2];
            quoted[0] = (byte)'"';
            int digits = FormatMessageId(envelope.Number, quoted.Slice(1));
            quoted[digits + 1] = (byte)'"';
            writer.WritePropertyName(IdField);
            writer.WriteRawValue(quoted.Slice(0, digits + 2), skipInputValidation: true);
        }

        /// <summary>
        /// The status that tells a sender its message was delivered, the other frame of every message: the bytes
        /// <see cref="FormatUtf8"/> writes for {type, ref, id, to, sentAt, status}.
        /// </summary>
        internal static ReadOnlySpan<byte> FormatDelivered(ChatEnvelope envelope)
        {
            if (TryPutStatus(envelope, "delivered\"}\n"u8, out ReadOnlySpan<byte> frame))
            {
                return frame;
            }

            Utf8JsonWriter writer = BeginFrame();
            writer.WriteString(TypeName, StatusType);
            WriteIf(writer, RefField, envelope.SenderRef);
            WriteId(writer, envelope);
            WriteIf(writer, ToField, envelope.To);
            WriteTime(writer, SentAtField, envelope.SentAt);
            writer.WriteString(StatusField, DeliveredStatus);
            return EndFrame(writer);
        }

        /// <summary>
        /// The status that tells a sender its message was stored for its offline recipient, once for every such
        /// message: the bytes <see cref="FormatUtf8"/> writes for {type, ref, id, to, sentAt, status}.
        /// </summary>
        internal static ReadOnlySpan<byte> FormatStored(ChatEnvelope envelope)
        {
            if (TryPutStatus(envelope, "stored\"}\n"u8, out ReadOnlySpan<byte> frame))
            {
                return frame;
            }

            return FormatUtf8(new NativeFrame
            {
                Type = FrameType.Status,
                Ref = envelope.SenderRef,
                Id = envelope.Id,
                To = envelope.To,
                SentAt = envelope.Id == null ? (DateTime?)null : envelope.SentAt,
                Status = StoredStatusText,
            });
        }

        /// <summary>
        /// {type, ref, id, to, sentAt, status} put together from ready pieces (as a delivered frame's entries are),
        /// when every piece is: numbered, its ref (if any) kept as it came, a name that needs no escape.
        /// </summary>
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        private static bool TryPutStatus(ChatEnvelope envelope, ReadOnlySpan<byte> statusAndEnd, out ReadOnlySpan<byte> frame)
        {
            string to = envelope.To;
            if (!IsReadyToPut(envelope) || to == null || !IsPlainName(to))
            {
                frame = default;
                return false;
            }

            var pieces = new Pieces(2 * PiecesRoom + (envelope.SenderRefJson?.Length ?? 0) + to.Length);
            pieces.Put("{\"type\":\"status\","u8);
            PutRefAndId(ref pieces, envelope);
            pieces.Put("\",\"to\":\""u8);
            pieces.PutAscii(to);
            pieces.Put("\",\"sentAt\":\""u8);
            pieces.PutTime(envelope.SentAt);
            pieces.Put("\",\"status\":\""u8);
            pieces.Put(statusAndEnd);
            frame = pieces.End();
            return true;
        }

        /// <summary>
        /// A delivered frame for the first of <paramref name="envelopes"/>, one sender's, as many as fit in about
        /// <see cref="DeliveredFrameBytes"/> (at least one): the bytes <see cref="FormatUtf8"/> writes for
        /// {type, messages: [{ref, id, sentAt}]}. Returns how many it took.
        /// </summary>
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        internal static int FormatDelivered(ReadOnlySpan<ChatEnvelope> envelopes, out ReadOnlySpan<byte> frame)
        {
            if (AreAllReadyToPut(envelopes))
            {
                var pieces = new Pieces(PiecesRoom);
                pieces.Put("{\"type\":\"delivered\",\"messages\":["u8);
                int count = 0;
                while (count < envelopes.Length && (count == 0 || pieces.Length < DeliveredFrameBytes))
                {
                    ChatEnvelope envelope = envelopes[count];
                    pieces.Reserve(PiecesRoom + (envelope.SenderRefJson?.Length ?? 0));
                    pieces.Put(count == 0 ? "{"u8 : ",{"u8);
                    PutRefAndId(ref pieces, envelope);
                    pieces.Put("\",\"sentAt\":\""u8);
                    pieces.PutTime(envelope.SentAt);
                    pieces.Put("\"}"u8);
                    count++;
                }

                pieces.Put("]}\n"u8);
                frame = pieces.End();
                return count;
            }

            Utf8JsonWriter writer = BeginFrame();
            writer.WriteString(TypeName, DeliveredType);
            writer.WriteStartArray(MessagesField);
            int taken = 0;
            while (taken < envelopes.Length && (taken == 0 || writer.BytesPending + writer.BytesCommitted < DeliveredFrameBytes))
            {
                ChatEnvelope envelope = envelopes[taken++];
                writer.WriteStartObject();
                WriteIf(writer, RefField, envelope.SenderRef);
                WriteId(writer, envelope);
                WriteTime(writer, SentAtField, envelope.SentAt);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            frame = EndFrame(writer);
            return taken;
        }

        /// <summary>Where a delivered frame stops taking messages: well under any client's line limit.</summary>
        internal const int DeliveredFrameBytes = 8 * 1024;

        /// <summary>Whether every entry can be put together from ready pieces: numbered, its ref (if any) kept as it came.</summary>
        private static bool AreAllReadyToPut(ReadOnlySpan<ChatEnvelope> envelopes)
        {
            foreach (ChatEnvelope envelope in envelopes)
            {
                if (!IsReadyToPut(envelope))
                {
                    return false;
                }
            }

            return true;
        }

        private static bool IsReadyToPut(ChatEnvelope envelope) =>
            envelope.Number > 0 && (envelope.SenderRefJson != null || envelope.SenderRef == null);

        /// <summary><c>"ref":…,"id":"…</c> (no ref when the sender gave none), of a message <see cref="IsReadyToPut"/>.</summary>
        private static void PutRefAndId(ref Pieces pieces, ChatEnvelope envelope)
        {
            byte[] reference = envelope.SenderRefJson;
            if (reference != null)
            {
                pieces.Put("\"ref\":"u8);
                pieces.Put(reference);
                pieces.Put(","u8);
            }

            pieces.Put("\"id\":\""u8);
            pieces.PutMessageId(envelope.Number);
        }

        // Room for a frame's fixed pieces, a number and a time, beside its variable ones.
        private const int PiecesRoom = 128;

        /// <summary>
        /// A frame put together from pieces that need no escaping (names encoded once, text and refs kept as they
        /// came, numbers, times), into this thread's frame buffer. The two frames of every message are written so:
        /// the JSON writer spent more on its bookkeeping than on their bytes. What a piece cannot be ready for goes
        /// through the writer, and tests and fuzzing check both write the same bytes.
        /// </summary>
        private ref struct Pieces
        {
            private readonly FrameBuffer _buffer;
            private Span<byte> _room;
            private int _used;

            public Pieces(int room)
            {
                _buffer = t_buffer ?? (t_buffer = new FrameBuffer());
                _buffer.Clear();
                _room = _buffer.GetSpan(room);
                _used = 0;
            }

            public int Length => _buffer.Written.Length + _used;

            /// <summary>Makes sure <paramref name="room"/> more bytes fit.</summary>
            public void Reserve(int room)
            {
                if (_room.Length - _used < room)
                {
                    _buffer.Advance(_used);
                    _room = _buffer.GetSpan(room);
                    _used = 0;
                }
            }

            public void Put(ReadOnlySpan<byte> piece)
            {
                piece.CopyTo(_room.Slice(_used));
                _used += piece.Length;
            }

            public void PutMessageId(long number) => _used += FormatMessageId(number, _room.Slice(_used));

            public void PutTime(DateTime time) => _used += FormatTime(time, _room.Slice(_used));

            public void PutNumber(long number)
            {
                Utf8Formatter.TryFormat(number, _room.Slice(_used), out int written);
                _used += written;
            }

            /// <summary>Text the caller knows to be ASCII that needs no escape, a byte a character.</summary>
            public void PutAscii(string text)
            {
                Span<byte> into = _room.Slice(_used, text.Length);
                for (int i = 0; i < text.Length; i++)
                {
                    into[i] = (byte)text[i];
                }

                _used += text.Length;
            }

            public ReadOnlySpan<byte> End()
            {
                _buffer.Advance(_used);
                return _buffer.Written;
            }
        }

        private static readonly JsonEncodedText DeliveredType = JsonEncodedText.Encode(FrameType.Delivered);
        private static readonly JsonEncodedText MessageType = JsonEncodedText.Encode(FrameType.Message);
        private static readonly JsonEncodedText StatusType = JsonEncodedText.Encode(FrameType.Status);
        private static readonly JsonEncodedText DeliveredStatus = JsonEncodedText.Encode("delivered");

        /// <summary>A writer of this thread's, reset onto its emptied buffer, with the frame's object opened.</summary>
        private static Utf8JsonWriter BeginFrame()
        {
            FrameBuffer buffer = t_buffer ?? (t_buffer = new FrameBuffer());
            buffer.Clear();
            Utf8JsonWriter writer = t_writer;
            if (writer == null)
            {
                writer = t_writer = new Utf8JsonWriter(buffer, WriterOptions);
            }
            else
            {
                writer.Reset(buffer);
            }

            writer.WriteStartObject();
            return writer;
        }

        private static ReadOnlySpan<byte> EndFrame(Utf8JsonWriter writer)
        {
            writer.WriteEndObject();
            writer.Flush();
            FrameBuffer buffer = t_buffer;
            buffer.Append((byte)'\n');
            return buffer.Written;
        }

        private static void WriteIf(Utf8JsonWriter writer, JsonEncodedText name, string value)
        {
            if (value != null)
            {
                writer.WriteString(name, value);
            }
        }
    }
}
