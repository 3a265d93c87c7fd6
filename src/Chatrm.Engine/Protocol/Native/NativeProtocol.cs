using System;
using System.Buffers;
using System.Buffers.Text;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Runtime.InteropServices;
using System.IO;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Chatrm.Engine
{
    /// <summary>Who is online, as the native protocol lists them.</summary>
    public sealed class UserInfo
    {
        public UserInfo(string name, string protocol, DateTime connectedAt)
        {
            Name = name;
            Protocol = protocol;
            ConnectedAt = connectedAt;
        }

        public string Name { get; }

        /// <summary>chatrm or classic.</summary>
        public string Protocol { get; }

        public DateTime ConnectedAt { get; }
    }

    /// <summary>
    /// One frame of the native protocol: a JSON object on one line. One flat type for every frame, since
    /// each uses a few of the same handful of fields; unknown fields are ignored, so later versions can add.
    /// </summary>
    public sealed class NativeFrame
    {
        public string Type { get; set; }
        public string Protocol { get; set; }
        public int? Version { get; set; }
        public string User { get; set; }

        /// <summary>Only in a hello, to a server that asks for passwords.</summary>
        public string Password { get; set; }

        /// <summary>Only in a hello: false asks the server for no presence frames (absent means true).</summary>
        public bool? Presence { get; set; }

        /// <summary>
        /// In a hello, true asks for batched confirmations; in a welcome, true grants them: the client may ack with
        /// <see cref="Through"/> and hears of delivered messages in <see cref="FrameType.Delivered"/> frames.
        /// </summary>
        public bool? Batch { get; set; }

        /// <summary>In an ack: this message id and every message the server sent this client before it.</summary>
        public string Through { get; set; }

        /// <summary>In a delivered frame: the messages it confirms, in the order the client sent them.</summary>
        public List<DeliveredMessage> Messages { get; set; }

        public string Ref
        {
            get => _ref ?? (RefJson == null ? null : _ref = NativeProtocol.TextOfJson(RefJson));
            set
            {
                _ref = value;
                RefJson = null;
            }
        }

        public string Id { get; set; }
        public string From { get; set; }
        public string To { get; set; }

        public string Text
        {
            get => _text ?? (TextJson == null ? null : _text = NativeProtocol.TextOfJson(TextJson));
            set
            {
                _text = value;
                TextJson = null;
            }
        }

        public DateTime? SentAt { get; set; }
        public string Status { get; set; }
        public string Reason { get; set; }
        public string Message { get; set; }
        public string Code { get; set; }
        public string Event { get; set; }
        public DateTime? Time { get; set; }
        /// <summary>Seconds, possibly fractional.</summary>
        public double? KeepAlive { get; set; }
        public int? MaxFrameBytes { get; set; }
        public List<UserInfo> Users { get; set; }

        private string _text;
        private string _ref;

        /// <summary>
        /// Set on the frame one connection reads all its frames into (a server's, to route them; a client's, so
        /// waiting messages stay small): text and ref are kept as <see cref="TextJson"/> and <see cref="RefJson"/>
        /// when they can be, the recipient's name is reused while it is the previous one's, and a plainly written
        /// send skips the JSON reader.
        /// </summary>
        internal bool KeepsWireBytes { get; set; }

        /// <summary>The text as it came, quotes included, when it is exactly what a frame would write back.</summary>
        internal byte[] TextJson { get; private set; }

        /// <summary>The ref as it came, quotes included, as <see cref="TextJson"/>.</summary>
        internal byte[] RefJson { get; private set; }

        internal bool HasText => _text != null || TextJson != null;

        internal void SetTextJson(byte[] quoted)
        {
            _text = null;
            TextJson = quoted;
        }

        internal void SetRefJson(byte[] quoted)
        {
            _ref = null;
            RefJson = quoted;
        }

        // The previous frame's recipient, as read and as its bytes: see KeepsWireBytes.
        private string _lastTo;
        private byte[] _lastToUtf8;

        /// <summary>The previous frame's recipient when a send wrote its name as these same unescaped bytes, else null.</summary>
        internal string PreviousRecipient(ReadOnlySpan<byte> utf8) =>
            _lastToUtf8 != null && utf8.SequenceEqual(_lastToUtf8) ? _lastTo : null;

        /// <summary>Keeps <paramref name="name"/>, written as <paramref name="utf8"/>, for the next frame; returns it.</summary>
        internal string RememberRecipient(ReadOnlySpan<byte> utf8, string name)
        {
            _lastTo = name;
            _lastToUtf8 = utf8.ToArray();
            return name;
        }

        /// <summary>Empties the frame for reuse: a connection parses every frame into one instance.</summary>
        internal void Clear()
        {
            Type = Protocol = User = Password = Ref = Id = From = To = Text = Through = null;
            Status = Reason = Message = Code = Event = null;
            Version = null;
            Presence = Batch = null;
            MaxFrameBytes = null;
            SentAt = Time = null;
            KeepAlive = null;
            Users = null;
            Messages = null;
        }
    }

    /// <summary>One message a delivered frame confirms: the sender's ref, the server's id and time.</summary>
    public sealed class DeliveredMessage
    {
        public DeliveredMessage(string reference, string id, DateTime? sentAt)
        {
            Ref = reference;
            Id = id;
            SentAt = sentAt;
        }

        public string Ref { get; }
        public string Id { get; }
        public DateTime? SentAt { get; }
    }

    /// <summary>Frame types of the native protocol (docs/protocol.md).</summary>
    public static class FrameType
    {
        public const string Hello = "hello";
        public const string Welcome = "welcome";
        public const string Send = "send";
        public const string Status = "status";

        /// <summary>Batched confirmations: several messages of one sender delivered (see <see cref="NativeFrame.Batch"/>).</summary>
        public const string Delivered = "delivered";
        public const string Message = "message";
        public const string Ack = "ack";
        public const string Who = "who";
        public const string Users = "users";
        public const string Presence = "presence";
        public const string Ping = "ping";
        public const string Pong = "pong";
        public const string Bye = "bye";
        public const string Error = "error";
    }

    /// <summary>
    /// Chatrm's native protocol: one UTF-8 JSON object per line. The opening frame names the protocol as
    /// "chatrm_native": the '_' makes an original server read it as a handshake instead of crashing.
    /// Frames are read and written as UTF-8 bytes (System.Text.Json's reader and writer), never as strings
    /// on the way: only the field values a frame carries become strings.
    /// </summary>
    public static class NativeProtocol
    {
        public const int Version = 1;
        public const string ProtocolName = "chatrm_native";

        private static readonly UTF8Encoding Utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);

        [ThreadStatic] private static FrameBuffer t_buffer;
        [ThreadStatic] private static Utf8JsonWriter t_writer;

        private static readonly JsonWriterOptions WriterOptions = new JsonWriterOptions
        {
            // Readable in nc: most non-ASCII text stays as it is (emoji and other surrogate pairs are escaped);
            // control characters and quotes are always escaped.
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
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

        /// <summary>A first line that opens the native protocol: no classic name starts with '{'.</summary>
        public static bool IsNativeOpening(string line) => line.TrimStart().StartsWith("{", StringComparison.Ordinal);

        /// <summary>The same test on the line's bytes.</summary>
        public static bool IsNativeOpening(ReadOnlySpan<byte> line)
        {
            int first = SkipAsciiWhiteSpace(line);
            if (first == line.Length)
            {
                return false;
            }

            // Past non-ASCII (Unicode white space, perhaps) the string test decides, as it always has.
            return line[first] >= 0x80 ? IsNativeOpening(Utf8.GetString(line.ToArray())) : line[first] == (byte)'{';
        }

        /// <summary>A line of nothing but white space, which a person pressing Enter sends.</summary>
        internal static bool IsBlank(ReadOnlySpan<byte> line)
        {
            int first = SkipAsciiWhiteSpace(line);
            if (first == line.Length)
            {
                return true;
            }

            return line[first] >= 0x80 && Utf8.GetString(line.ToArray()).Trim().Length == 0;
        }

        /// <summary>Where the first byte that is not ASCII white space is (the length when there is none).</summary>
        private static int SkipAsciiWhiteSpace(ReadOnlySpan<byte> line)
        {
            int i = 0;
            while (i < line.Length && IsAsciiWhiteSpace(line[i]))
            {
                i++;
            }

            return i;
        }

        public static string Format(NativeFrame frame)
        {
            ReadOnlySpan<byte> utf8 = FormatUtf8(frame);
            return Utf8.GetString(utf8.ToArray());
        }

        /// <summary>
        /// The frame as UTF-8, newline included, in a buffer of this thread's that the next call on it reuses:
        /// copy it (as <see cref="LineTransport.Send(ReadOnlySpan{byte}, bool)"/> does) before formatting another.
        /// </summary>
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
            WriteIf(writer, ThroughField, frame.Through);
            WriteIf(writer, RefField, frame.Ref);
            WriteIf(writer, IdField, frame.Id);
            WriteIf(writer, FromField, frame.From);
            WriteIf(writer, ToField, frame.To);
            WriteIf(writer, TextField, frame.Text);
            if (frame.SentAt.HasValue) WriteTime(writer, SentAtField, frame.SentAt.Value);
            WriteIf(writer, StatusField, frame.Status);
            WriteIf(writer, ReasonField, frame.Reason);
            WriteIf(writer, CodeField, frame.Code);
            WriteIf(writer, MessageField, frame.Message);
            WriteIf(writer, EventField, frame.Event);
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
                    writer.WriteString(ProtocolField, user.Protocol);
                    WriteTime(writer, ConnectedAtField, user.ConnectedAt);
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
                    if (message.SentAt.HasValue) WriteTime(writer, SentAtField, message.SentAt.Value);
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
        /// for {type, id, from, to, text, sentAt}, with the names already encoded.
        /// </summary>
        internal static ReadOnlySpan<byte> FormatMessage(ChatEnvelope envelope, JsonEncodedText from, JsonEncodedText to)
        {
            if (envelope.TextJson != null && envelope.Number > 0)
            {
                // Every piece is ready to go as it is: put them together (see Pieces).
                ReadOnlySpan<byte> fromUtf8 = from.EncodedUtf8Bytes, toUtf8 = to.EncodedUtf8Bytes;
                var pieces = new Pieces(PiecesRoom + fromUtf8.Length + toUtf8.Length + envelope.TextJson.Length);
                pieces.Put("{\"type\":\"message\",\"id\":\""u8);
                pieces.PutNumber(envelope.Number);
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

            Span<byte> quoted = stackalloc byte[24];
            quoted[0] = (byte)'"';
            Utf8Formatter.TryFormat(envelope.Number, quoted.Slice(1), out int digits);
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
        /// A delivered frame for the first of <paramref name="envelopes"/>, one sender's, as many as fit in about
        /// <see cref="DeliveredFrameBytes"/> (at least one): the bytes <see cref="FormatUtf8"/> writes for
        /// {type, messages: [{ref, id, sentAt}]}. Returns how many it took.
        /// </summary>
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
                    byte[] reference = envelope.SenderRefJson;
                    pieces.Reserve(PiecesRoom + (reference?.Length ?? 0));
                    pieces.Put(count == 0 ? "{"u8 : ",{"u8);
                    if (reference != null)
                    {
                        pieces.Put("\"ref\":"u8);
                        pieces.Put(reference);
                        pieces.Put(","u8);
                    }

                    pieces.Put("\"id\":\""u8);
                    pieces.PutNumber(envelope.Number);
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
                if (envelope.Number <= 0 || (envelope.SenderRefJson == null && envelope.SenderRef != null))
                {
                    return false;
                }
            }

            return true;
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

            public void PutNumber(long number)
            {
                Utf8Formatter.TryFormat(number, _room.Slice(_used), out int written);
                _used += written;
            }

            public void PutTime(DateTime time) => _used += FormatTime(time, _room.Slice(_used));

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

        /// <summary>Reads one frame; on failure <paramref name="problem"/> says what is wrong, for an error frame.</summary>
        public static bool TryParse(string line, out NativeFrame frame, out string problem) =>
            TryParse(Utf8.GetBytes(line), out frame, out problem);

        /// <summary>Reads one frame from a line's UTF-8 bytes (without its newline).</summary>
        public static bool TryParse(ReadOnlySpan<byte> line, out NativeFrame frame, out string problem)
        {
            var parsed = new NativeFrame();
            if (TryParse(line, parsed, out problem))
            {
                frame = parsed;
                return true;
            }

            frame = null;
            return false;
        }

        /// <summary>Reads one frame into <paramref name="frame"/>, which is emptied first.</summary>
        internal static bool TryParse(ReadOnlySpan<byte> line, NativeFrame frame, out string problem)
        {
            if (frame.KeepsWireBytes && TryReadPlainSend(line, frame))
            {
                problem = null;
                return true;
            }

            if (TryRead(line, frame, out problem))
            {
                return true;
            }

            // Bytes that are not UTF-8 are read as the transport decodes them everywhere else: as U+FFFD.
            if (!IsValidUtf8(line))
            {
                return TryRead(Utf8.GetBytes(Utf8.GetString(line.ToArray())), frame, out problem);
            }

            return false;
        }

        /// <summary>
        /// Reads a send written exactly as clients write them, {"type":"send","ref":"…","to":"…","text":"…"} (the
        /// ref optional) with every value printable ASCII and nothing escaped, without the JSON reader: for a
        /// server's routing frame, where parsing sends was the largest managed cost. Anything else, even one
        /// space more, is left to <see cref="TryRead"/>; the native fuzz target checks both read the same.
        /// </summary>
        internal static bool TryReadPlainSend(ReadOnlySpan<byte> line, NativeFrame frame)
        {
            int at = 0;
            if (!Skip(line, ref at, "{\"type\":\"send\","u8))
            {
                return false;
            }

            int referenceAt = -1, referenceLength = 0;
            if (Skip(line, ref at, "\"ref\":"u8))
            {
                referenceAt = at;
                if (!SkipPlainString(line, ref at) || !Skip(line, ref at, ","u8))
                {
                    return false;
                }

                referenceLength = at - 1 - referenceAt;
            }

            if (!Skip(line, ref at, "\"to\":"u8))
            {
                return false;
            }

            int toAt = at;
            if (!SkipPlainString(line, ref at))
            {
                return false;
            }

            int toLength = at - toAt;
            if (!Skip(line, ref at, ",\"text\":"u8))
            {
                return false;
            }

            int textAt = at;
            if (!SkipPlainString(line, ref at) || at != line.Length - 1 || line[at] != (byte)'}')
            {
                return false;
            }

            frame.Clear();
            frame.Type = FrameType.Send;
            if (referenceAt >= 0)
            {
                frame.SetRefJson(line.Slice(referenceAt, referenceLength).ToArray());
            }

            ReadOnlySpan<byte> name = line.Slice(toAt + 1, toLength - 2);
            frame.To = frame.PreviousRecipient(name) ?? frame.RememberRecipient(name, Utf8.GetString(name.ToArray()));
            frame.SetTextJson(line.Slice(textAt, at - textAt).ToArray());
            return true;
        }

        private static bool Skip(ReadOnlySpan<byte> line, ref int at, ReadOnlySpan<byte> expected)
        {
            if (!line.Slice(at).StartsWith(expected))
            {
                return false;
            }

            at += expected.Length;
            return true;
        }

        /// <summary>Steps over a string value, quotes included, if it has no escape and only printable ASCII.</summary>
        private static bool SkipPlainString(ReadOnlySpan<byte> line, ref int at)
        {
            if (at >= line.Length || line[at] != (byte)'"')
            {
                return false;
            }

            ReadOnlySpan<byte> rest = line.Slice(at + 1);
            int end = rest.IndexOf((byte)'"');
            if (end < 0)
            {
                return false;
            }

            ReadOnlySpan<byte> value = rest.Slice(0, end);
            if (value.IndexOf((byte)'\\') >= 0 || !IsPrintableAscii(value))
            {
                return false;
            }

            at += end + 2;
            return true;
        }

        private static bool TryRead(ReadOnlySpan<byte> line, NativeFrame frame, out string problem)
        {
            frame.Clear();
            problem = null;

            // The first problem with a field is the answer, but only once the whole line is known to be JSON:
            // a line that is not JSON at all says so first.
            string fieldProblem = null;
            try
            {
                var reader = new Utf8JsonReader(line, isFinalBlock: true, state: default);
                if (!reader.Read())
                {
                    problem = "not valid JSON: the line holds no JSON value";
                    return false;
                }

                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    reader.Skip();
                    EndOfLine(ref reader);
                    problem = "a frame is a JSON object";
                    return false;
                }

                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    try
                    {
                        Field field = FieldOf(ref reader);
                        reader.Read();
                        fieldProblem = fieldProblem ?? ReadField(ref reader, frame, field);
                    }
                    catch (InvalidOperationException e)
                    {
                        // Valid JSON that is no text, such as a lone "\ud800": reading it as a string throws.
                        // Uncaught, it would end the connection instead of being answered as a malformed frame.
                        // The reader may be anywhere inside the value now: check the line is JSON from the start.
                        problem = fieldProblem ?? "not readable as text: " + e.Message;
                        var again = new Utf8JsonReader(line, isFinalBlock: true, state: default);
                        again.Read();
                        again.Skip();
                        EndOfLine(ref again);
                        return false;
                    }
                }

                EndOfLine(ref reader);
            }
            catch (JsonException e)
            {
                problem = "not valid JSON: " + e.Message;
                return false;
            }

            if (fieldProblem != null)
            {
                problem = fieldProblem;
                return false;
            }

            if (string.IsNullOrEmpty(frame.Type))
            {
                problem = "a frame needs a \"type\"";
                return false;
            }

            return true;
        }

        /// <summary>
        /// A user listed without a readable connectedAt: the earliest time, in UTC. (A plain default(DateTime) has no
        /// kind, so FormatTime took it for local time and wrote it back shifted in any zone west of UTC.)
        /// </summary>
        private static readonly DateTime UnknownTime = new DateTime(0, DateTimeKind.Utc);

        public static string FormatTime(DateTime time)
        {
            Span<byte> utf8 = stackalloc byte[TimeBytes];
            int length = FormatTime(time, utf8);
            return Utf8.GetString(utf8.Slice(0, length).ToArray());
        }

        // "2026-11-26T09:12:03.1234567Z"
        private const int TimeBytes = 28;

        /// <summary>ISO 8601 in UTC with seven decimals: the round-trip ("O") format of a UTC time.</summary>
        private static int FormatTime(DateTime time, Span<byte> destination)
        {
            // The messages of one read share their time (LineTransport.ReadTicks), and each is written twice (its
            // message and its confirmation): this thread's last time, as written, is mostly the one asked for.
            DateTime utc = time.ToUniversalTime();
            byte[] last = t_lastTime ?? (t_lastTime = new byte[TimeBytes]);
            if (t_lastTimeLength == 0 || utc.Ticks != t_lastTimeTicks)
            {
                Utf8Formatter.TryFormat(utc, last, out t_lastTimeLength, new StandardFormat('O'));
                t_lastTimeTicks = utc.Ticks;
            }

            new ReadOnlySpan<byte>(last, 0, t_lastTimeLength).CopyTo(destination);
            return t_lastTimeLength;
        }

        [ThreadStatic] private static byte[] t_lastTime;
        [ThreadStatic] private static int t_lastTimeLength;
        [ThreadStatic] private static long t_lastTimeTicks;

        private static void WriteTime(Utf8JsonWriter writer, JsonEncodedText name, DateTime time)
        {
            Span<byte> utf8 = stackalloc byte[TimeBytes];
            int length = FormatTime(time, utf8);
            writer.WriteString(name, utf8.Slice(0, length));
        }

        private enum Field
        {
            Unknown, Type, Protocol, User, Password, Ref, Id, From, To, Text, Status, Reason, Code, Message, Event,
            Version, KeepAlive, MaxFrameBytes, SentAt, Time, Users, Presence, Batch, Through, Messages,
        }

        private static Field FieldOf(ref Utf8JsonReader reader)
        {
            // An escaped name ("\u0074ype") is rare: unescape it and match that.
            ReadOnlySpan<byte> name = reader.ValueIsEscaped ? Utf8.GetBytes(reader.GetString()) : reader.ValueSpan;
            switch (name.Length)
            {
                case 2:
                    if (name.SequenceEqual("id"u8)) return Field.Id;
                    if (name.SequenceEqual("to"u8)) return Field.To;
                    break;
                case 3:
                    if (name.SequenceEqual("ref"u8)) return Field.Ref;
                    break;
                case 4:
                    if (name.SequenceEqual("type"u8)) return Field.Type;
                    if (name.SequenceEqual("text"u8)) return Field.Text;
                    if (name.SequenceEqual("from"u8)) return Field.From;
                    if (name.SequenceEqual("user"u8)) return Field.User;
                    if (name.SequenceEqual("code"u8)) return Field.Code;
                    if (name.SequenceEqual("time"u8)) return Field.Time;
                    break;
                case 5:
                    if (name.SequenceEqual("event"u8)) return Field.Event;
                    if (name.SequenceEqual("users"u8)) return Field.Users;
                    if (name.SequenceEqual("batch"u8)) return Field.Batch;
                    break;
                case 6:
                    if (name.SequenceEqual("status"u8)) return Field.Status;
                    if (name.SequenceEqual("reason"u8)) return Field.Reason;
                    if (name.SequenceEqual("sentAt"u8)) return Field.SentAt;
                    break;
                case 7:
                    if (name.SequenceEqual("message"u8)) return Field.Message;
                    if (name.SequenceEqual("version"u8)) return Field.Version;
                    if (name.SequenceEqual("through"u8)) return Field.Through;
                    break;
                case 8:
                    if (name.SequenceEqual("protocol"u8)) return Field.Protocol;
                    if (name.SequenceEqual("password"u8)) return Field.Password;
                    if (name.SequenceEqual("presence"u8)) return Field.Presence;
                    if (name.SequenceEqual("messages"u8)) return Field.Messages;
                    break;
                case 9:
                    if (name.SequenceEqual("keepAlive"u8)) return Field.KeepAlive;
                    break;
                case 13:
                    if (name.SequenceEqual("maxFrameBytes"u8)) return Field.MaxFrameBytes;
                    break;
            }

            return Field.Unknown;
        }

        /// <summary>Reads the value the reader is on into the frame; returns what is wrong with it, or null.</summary>
        private static string ReadField(ref Utf8JsonReader reader, NativeFrame frame, Field field)
        {
            string problem = null;
            switch (field)
            {
                case Field.Type: if (IsString(ref reader, "type", ref problem)) frame.Type = FrameTypes.Read(ref reader); break;
                case Field.Protocol: if (IsString(ref reader, "protocol", ref problem)) frame.Protocol = reader.GetString(); break;
                case Field.User: if (IsString(ref reader, "user", ref problem)) frame.User = reader.GetString(); break;
                case Field.Password: if (IsString(ref reader, "password", ref problem)) frame.Password = reader.GetString(); break;
                case Field.Ref:
                    if (IsString(ref reader, "ref", ref problem))
                    {
                        if (IsKeptAsItCame(ref reader, frame)) frame.SetRefJson(Quoted(reader.ValueSpan));
                        else frame.Ref = reader.GetString();
                    }

                    break;
                case Field.Through: if (IsString(ref reader, "through", ref problem)) frame.Through = reader.GetString(); break;
                case Field.Id: if (IsString(ref reader, "id", ref problem)) frame.Id = reader.GetString(); break;
                case Field.From: if (IsString(ref reader, "from", ref problem)) frame.From = reader.GetString(); break;
                case Field.To: if (IsString(ref reader, "to", ref problem)) frame.To = frame.KeepsWireBytes ? ReadRecipient(ref reader, frame) : reader.GetString(); break;
                case Field.Text:
                    if (IsString(ref reader, "text", ref problem))
                    {
                        if (IsKeptAsItCame(ref reader, frame)) frame.SetTextJson(Quoted(reader.ValueSpan));
                        else frame.Text = reader.GetString();
                    }

                    break;
                case Field.Status: if (IsString(ref reader, "status", ref problem)) frame.Status = Statuses.Read(ref reader); break;
                case Field.Reason: if (IsString(ref reader, "reason", ref problem)) frame.Reason = reader.GetString(); break;
                case Field.Code: if (IsString(ref reader, "code", ref problem)) frame.Code = reader.GetString(); break;
                case Field.Message: if (IsString(ref reader, "message", ref problem)) frame.Message = reader.GetString(); break;
                case Field.Event: if (IsString(ref reader, "event", ref problem)) frame.Event = Events.Read(ref reader); break;
                case Field.Version:
                    if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out int version)) frame.Version = version;
                    else problem = "\"version\" must be a whole number";
                    break;
                case Field.MaxFrameBytes:
                    if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out int maxFrameBytes)) frame.MaxFrameBytes = maxFrameBytes;
                    else problem = "\"maxFrameBytes\" must be a whole number";
                    break;
                case Field.KeepAlive:
                    if (reader.TokenType == JsonTokenType.Number && reader.TryGetDouble(out double keepAlive)) frame.KeepAlive = keepAlive;
                    else problem = "\"keepAlive\" must be a number";
                    break;
                case Field.SentAt:
                    if (reader.TokenType == JsonTokenType.String && TryParseTime(reader.GetString(), out DateTime sentAt)) frame.SentAt = sentAt;
                    else problem = "\"sentAt\" must be an ISO 8601 UTC time";
                    break;
                case Field.Time:
                    if (reader.TokenType == JsonTokenType.String && TryParseTime(reader.GetString(), out DateTime time)) frame.Time = time;
                    else problem = "\"time\" must be an ISO 8601 UTC time";
                    break;
                case Field.Users:
                    problem = ReadUsers(ref reader, frame);
                    break;
                case Field.Messages:
                    problem = ReadMessages(ref reader, frame);
                    break;
                case Field.Batch:
                    if (reader.TokenType == JsonTokenType.True || reader.TokenType == JsonTokenType.False) frame.Batch = reader.GetBoolean();
                    else problem = "\"batch\" must be true or false";
                    break;
                case Field.Presence:
                    if (reader.TokenType == JsonTokenType.True || reader.TokenType == JsonTokenType.False) frame.Presence = reader.GetBoolean();
                    else problem = "\"presence\" must be true or false";
                    break;
            }

            // Whatever was not read (an unknown field's object or array, a value of the wrong kind) is stepped over.
            if (reader.TokenType == JsonTokenType.StartObject || reader.TokenType == JsonTokenType.StartArray)
            {
                reader.Skip();
            }

            return problem;
        }

        /// <summary>
        /// Whether a frame that keeps wire bytes keeps the string value the reader is on as its bytes: written
        /// without escapes, in printable ASCII, they are what the frame writer would write back (see
        /// <see cref="IsPrintableAscii"/>).
        /// </summary>
        private static bool IsKeptAsItCame(ref Utf8JsonReader reader, NativeFrame frame) =>
            frame.KeepsWireBytes && !reader.ValueIsEscaped && IsPrintableAscii(reader.ValueSpan);

        /// <summary>A send's recipient: a sender mostly writes to one user, so the previous frame's name is reused.</summary>
        private static string ReadRecipient(ref Utf8JsonReader reader, NativeFrame frame)
        {
            if (reader.ValueIsEscaped)
            {
                return reader.GetString();
            }

            return frame.PreviousRecipient(reader.ValueSpan) ?? frame.RememberRecipient(reader.ValueSpan, reader.GetString());
        }

        /// <summary>
        /// Whether every byte is printable ASCII, 0x20 to 0x7E. A string value's bytes like that, with no quote or
        /// backslash (which the caller rules out), are what the writer writes for the same text: its encoder
        /// escapes only controls, quotes, backslash and DEL.
        /// </summary>
        internal static bool IsPrintableAscii(ReadOnlySpan<byte> bytes)
        {
            // Eight bytes at a time. A byte is 0x7F or above when it, or it plus one, has its top bit set (a carry out
            // of a byte comes only from 0xFF, caught itself); below 0x20 when, all being under 0x80, subtracting 0x20
            // borrows into its top bit (a borrow out of a byte comes only from one below 0x20, caught itself).
            ReadOnlySpan<ulong> words = MemoryMarshal.Cast<byte, ulong>(bytes);
            foreach (ulong word in words)
            {
                if (((word | (word + 0x0101010101010101UL)) & 0x8080808080808080UL) != 0 ||
                    ((word - 0x2020202020202020UL) & ~word & 0x8080808080808080UL) != 0)
                {
                    return false;
                }
            }

            for (int i = words.Length * sizeof(ulong); i < bytes.Length; i++)
            {
                if (bytes[i] < 0x20 || bytes[i] >= 0x7F)
                {
                    return false;
                }
            }

            return true;
        }

        private static byte[] Quoted(ReadOnlySpan<byte> value)
        {
            byte[] quoted = new byte[value.Length + 2];
            quoted[0] = (byte)'"';
            value.CopyTo(new Span<byte>(quoted, 1, value.Length));
            quoted[quoted.Length - 1] = (byte)'"';
            return quoted;
        }

        /// <summary>The text of a value <see cref="IsPrintableAscii"/> let through as it was, quotes included.</summary>
        internal static string TextOfJson(byte[] quoted) => Utf8.GetString(quoted, 1, quoted.Length - 2);

        /// <summary>
        /// A message id as the server writes them: digits without a leading zero, 1 or more. Anything else is no
        /// message of this server's.
        /// </summary>
        internal static bool TryParseMessageId(string id, out long number)
        {
            number = 0;
            if (string.IsNullOrEmpty(id) || id.Length > 19 || id[0] == '0')
            {
                return false;
            }

            foreach (char c in id)
            {
                if (c < '0' || c > '9')
                {
                    return false;
                }
            }

            return long.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out number);
        }

        /// <summary>The id <see cref="TryParseMessageId"/> reads as <paramref name="number"/>; null for 0, no id.</summary>
        internal static string MessageIdText(long number) => number > 0 ? number.ToString(CultureInfo.InvariantCulture) : null;

        private static string ReadUsers(ref Utf8JsonReader reader, NativeFrame frame)
        {
            if (reader.TokenType != JsonTokenType.StartArray)
            {
                return "\"users\" must be an array";
            }

            var users = new List<UserInfo>();
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    reader.Skip();
                    while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    {
                        reader.Skip();
                    }

                    return "each of \"users\" must be an object";
                }

                string name = null, protocol = null;
                DateTime connectedAt = UnknownTime;
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    bool isName = reader.ValueTextEquals("name"u8);
                    bool isProtocol = !isName && reader.ValueTextEquals("protocol"u8);
                    bool isConnectedAt = !isName && !isProtocol && reader.ValueTextEquals("connectedAt"u8);
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.String)
                    {
                        if (isName) name = reader.GetString();
                        else if (isProtocol) protocol = reader.GetString();
                        else if (isConnectedAt && TryParseTime(reader.GetString(), out DateTime t)) connectedAt = t;
                    }
                    else
                    {
                        // A field of another kind reads as absent; a later version may add fields.
                        if (isName) name = null;
                        else if (isProtocol) protocol = null;
                        else if (isConnectedAt) connectedAt = UnknownTime;
                        reader.Skip();
                    }
                }

                users.Add(new UserInfo(name, protocol, connectedAt));
            }

            frame.Users = users;
            return null;
        }

        private static string ReadMessages(ref Utf8JsonReader reader, NativeFrame frame)
        {
            if (reader.TokenType != JsonTokenType.StartArray)
            {
                return "\"messages\" must be an array";
            }

            var messages = new List<DeliveredMessage>();
            string problem = null;
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    problem = problem ?? "each of \"messages\" must be an object";
                    reader.Skip();
                    continue;
                }

                string reference = null, id = null;
                DateTime? sentAt = null;
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    bool isRef = reader.ValueTextEquals("ref"u8);
                    bool isId = !isRef && reader.ValueTextEquals("id"u8);
                    bool isSentAt = !isRef && !isId && reader.ValueTextEquals("sentAt"u8);
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.String)
                    {
                        if (isRef) reference = reader.GetString();
                        else if (isId) id = reader.GetString();
                        else if (isSentAt && TryParseTime(reader.GetString(), out DateTime t)) sentAt = t;
                    }
                    else
                    {
                        // A field of another kind reads as absent, as in "users"; a later version may add fields.
                        reader.Skip();
                    }
                }

                messages.Add(new DeliveredMessage(reference, id, sentAt));
            }

            frame.Messages = messages;
            return problem;
        }

        private static bool IsString(ref Utf8JsonReader reader, string name, ref string problem)
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.String:
                    return true;
                case JsonTokenType.Null:
                    // Null counts as absent.
                    return false;
                default:
                    problem = $"\"{name}\" must be a string";
                    return false;
            }
        }

        private static readonly KnownWords FrameTypes = new KnownWords(
            FrameType.Send, FrameType.Ack, FrameType.Message, FrameType.Status, FrameType.Hello, FrameType.Welcome,
            FrameType.Who, FrameType.Users, FrameType.Presence, FrameType.Ping, FrameType.Pong, FrameType.Bye, FrameType.Error,
            FrameType.Delivered);

        private static readonly KnownWords Statuses = new KnownWords("delivered", "forwarded", "refused");

        private static readonly KnownWords Events = new KnownWords("joined", "left");

        /// <summary>Words a field often holds, kept as strings and as their UTF-8 bytes to match against.</summary>
        private sealed class KnownWords
        {
            private readonly string[] _words;
            private readonly byte[][] _utf8;

            public KnownWords(params string[] words)
            {
                _words = words;
                _utf8 = words.Select(w => Utf8.GetBytes(w)).ToArray();
            }

            /// <summary>The string value the reader is on: one of these words' own strings when it is one, so no new string.</summary>
            public string Read(ref Utf8JsonReader reader)
            {
                if (!reader.ValueIsEscaped)
                {
                    ReadOnlySpan<byte> value = reader.ValueSpan;
                    for (int i = 0; i < _utf8.Length; i++)
                    {
                        if (value.SequenceEqual(_utf8[i]))
                        {
                            return _words[i];
                        }
                    }
                }

                return reader.GetString();
            }
        }

        /// <summary>After the frame's object: white space only. Throws a JsonException for anything else.</summary>
        private static void EndOfLine(ref Utf8JsonReader reader)
        {
            if (reader.Read())
            {
                throw new JsonException("one frame per line: more follows the frame");
            }
        }

        private static bool TryParseTime(string text, out DateTime time) =>
            DateTime.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out time);

        private static void WriteIf(Utf8JsonWriter writer, JsonEncodedText name, string value)
        {
            if (value != null)
            {
                writer.WriteString(name, value);
            }
        }

        private static bool IsAsciiWhiteSpace(byte b) => b == (byte)' ' || b == (byte)'\t' || b == (byte)'\r' || b == (byte)'\n' || b == 0x0B || b == 0x0C;

        private static bool IsValidUtf8(ReadOnlySpan<byte> bytes)
        {
            try
            {
                StrictUtf8.GetCharCount(bytes.ToArray());
                return true;
            }
            catch (DecoderFallbackException)
            {
                return false;
            }
        }

        private static readonly UTF8Encoding StrictUtf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
    }

    /// <summary>A growable byte buffer for one thread's frame writer; it keeps its array between frames.</summary>
    internal sealed class FrameBuffer : IBufferWriter<byte>
    {
        private byte[] _buffer = new byte[256];
        private int _used;

        public ReadOnlySpan<byte> Written => new ReadOnlySpan<byte>(_buffer, 0, _used);

        public void Clear()
        {
            // A huge frame (a long users list) should not pin its buffer on this thread forever.
            if (_buffer.Length > 64 * 1024)
            {
                _buffer = new byte[256];
            }

            _used = 0;
        }

        public void Append(byte b)
        {
            GetSpan(1)[0] = b;
            _used++;
        }

        public void Advance(int count) => _used += count;

        public Memory<byte> GetMemory(int sizeHint = 0)
        {
            Reserve(sizeHint);
            return new Memory<byte>(_buffer, _used, _buffer.Length - _used);
        }

        public Span<byte> GetSpan(int sizeHint = 0)
        {
            Reserve(sizeHint);
            return new Span<byte>(_buffer, _used, _buffer.Length - _used);
        }

        private void Reserve(int sizeHint)
        {
            int needed = _used + Math.Max(sizeHint, 1);
            if (needed > _buffer.Length)
            {
                Array.Resize(ref _buffer, Math.Max(needed, _buffer.Length * 2));
            }
        }
    }
}
