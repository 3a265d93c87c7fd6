using System;
using System.Buffers;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json;

namespace Chatrm.Engine.Protocol.Native
{
    /// <summary>The frame reader: System.Text.Json's reader, a frame's fields, and the words they often hold (the fast path for plain sends and the array readers are beside it).</summary>
    internal static partial class NativeProtocol
    {
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
            if (frame.KeepsWireBytes && (TryReadPlainSend(line, frame) || TryReadPlainAck(line, frame)))
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
                byte[] decoded = Utf8.GetBytes(Utf8.GetString(line.ToArray()));
                if (TryRead(decoded, frame, out problem))
                {
                    return true;
                }

                frame.Ref = ReadableRef(decoded);
                return false;
            }

            // The error that answers the frame names it, whenever its ref can be read.
            frame.Ref = ReadableRef(line);
            return false;
        }

        /// <summary>
        /// The ref of a frame that could not be read: the last "ref" at the object's top level that reads as a
        /// string, up to where the line stops being JSON (null when there is none).
        /// </summary>
        private static string ReadableRef(ReadOnlySpan<byte> line)
        {
            string found = null;
            try
            {
                var reader = new Utf8JsonReader(line, isFinalBlock: true, state: default);
                if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                {
                    return null;
                }

                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    bool isRef = reader.ValueTextEquals("ref"u8);
                    reader.Read();
                    if (isRef)
                    {
                        found = null;
                        if (reader.TokenType == JsonTokenType.String)
                        {
                            found = reader.GetString();
                        }
                    }

                    reader.Skip();
                }
            }
            catch (JsonException)
            {
                // What came before the line stopped being JSON stands.
            }
            catch (InvalidOperationException)
            {
                // A ref, or a name, that is no text (a lone surrogate): that ref is not readable.
                return found;
            }

            return found;
        }

        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
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
                    Field field = Field.Unknown;
                    try
                    {
                        field = FieldOf(ref reader);
                        reader.Read();
                        fieldProblem = fieldProblem ?? ReadField(ref reader, frame, field);
                    }
                    catch (InvalidOperationException)
                    {
                        // Valid JSON that is no text, such as a lone "\ud800": reading it as a string throws.
                        // Uncaught, it would end the connection instead of being answered as a malformed frame.
                        // The reader may be anywhere inside the value now: check the line is JSON from the start.
                        problem = fieldProblem ?? LoneSurrogate(field);
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

            if (frame.Room == null && (frame.Type == FrameType.Join || frame.Type == FrameType.Part))
            {
                // Without a room there is nothing to join or leave: a frame that makes no sense, answered as one.
                problem = "a " + frame.Type + " needs a \"room\", such as \"#ops\"";
                return false;
            }

            return true;
        }

        /// <summary>What is wrong with a string that holds half a surrogate pair: it is no character, so no UTF-8 can carry it.</summary>
        private static string LoneSurrogate(Field field)
        {
            string name = field == Field.Unknown ? "a field name" : "\"" + char.ToLowerInvariant(field.ToString()[0]) + field.ToString().Substring(1) + "\"";
            return name + " holds a lone surrogate (an escape such as \\ud800 without its other half), which is no character and cannot be UTF-8";
        }

        /// <summary>
        /// A user listed without a readable connectedAt: the earliest time, in UTC. (A plain default(DateTime) has no
        /// kind, so FormatTime took it for local time and wrote it back shifted in any zone west of UTC.)
        /// </summary>
        private static readonly DateTime UnknownTime = new DateTime(0, DateTimeKind.Utc);

        private enum Field
        {
            Unknown, Type, Protocol, User, Password, Ref, Id, From, To, Text, Status, Reason, Code, Message, Event,
            Version, KeepAlive, MaxFrameBytes, SentAt, Time, Users, Presence, Batch, Through, Messages,
            Room, Seq, Recipients, Joined, MemberCount, Members, JoinedAt, Rooms,
            With, Last, Before, After, Resume, Ids,
        }

        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
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
                    if (name.SequenceEqual("seq"u8)) return Field.Seq;
                    if (name.SequenceEqual("ids"u8)) return Field.Ids;
                    break;
                case 4:
                    if (name.SequenceEqual("type"u8)) return Field.Type;
                    if (name.SequenceEqual("text"u8)) return Field.Text;
                    if (name.SequenceEqual("from"u8)) return Field.From;
                    if (name.SequenceEqual("user"u8)) return Field.User;
                    if (name.SequenceEqual("code"u8)) return Field.Code;
                    if (name.SequenceEqual("time"u8)) return Field.Time;
                    if (name.SequenceEqual("room"u8)) return Field.Room;
                    if (name.SequenceEqual("with"u8)) return Field.With;
                    if (name.SequenceEqual("last"u8)) return Field.Last;
                    break;
                case 5:
                    if (name.SequenceEqual("event"u8)) return Field.Event;
                    if (name.SequenceEqual("users"u8)) return Field.Users;
                    if (name.SequenceEqual("batch"u8)) return Field.Batch;
                    if (name.SequenceEqual("rooms"u8)) return Field.Rooms;
                    if (name.SequenceEqual("after"u8)) return Field.After;
                    break;
                case 6:
                    if (name.SequenceEqual("status"u8)) return Field.Status;
                    if (name.SequenceEqual("reason"u8)) return Field.Reason;
                    if (name.SequenceEqual("resume"u8)) return Field.Resume;
                    if (name.SequenceEqual("sentAt"u8)) return Field.SentAt;
                    if (name.SequenceEqual("joined"u8)) return Field.Joined;
                    if (name.SequenceEqual("before"u8)) return Field.Before;
                    break;
                case 7:
                    if (name.SequenceEqual("message"u8)) return Field.Message;
                    if (name.SequenceEqual("version"u8)) return Field.Version;
                    if (name.SequenceEqual("through"u8)) return Field.Through;
                    if (name.SequenceEqual("members"u8)) return Field.Members;
                    break;
                case 8:
                    if (name.SequenceEqual("protocol"u8)) return Field.Protocol;
                    if (name.SequenceEqual("password"u8)) return Field.Password;
                    if (name.SequenceEqual("presence"u8)) return Field.Presence;
                    if (name.SequenceEqual("messages"u8)) return Field.Messages;
                    if (name.SequenceEqual("joinedAt"u8)) return Field.JoinedAt;
                    break;
                case 9:
                    if (name.SequenceEqual("keepAlive"u8)) return Field.KeepAlive;
                    break;
                case 10:
                    if (name.SequenceEqual("recipients"u8)) return Field.Recipients;
                    break;
                case 11:
                    if (name.SequenceEqual("memberCount"u8)) return Field.MemberCount;
                    break;
                case 13:
                    if (name.SequenceEqual("maxFrameBytes"u8)) return Field.MaxFrameBytes;
                    break;
            }

            return Field.Unknown;
        }

        /// <summary>Reads the value the reader is on into the frame; returns what is wrong with it, or null.</summary>
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
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
                case Field.Resume:
                    // A string in a hello (the token), true in a welcome (what the server does).
                    if (reader.TokenType == JsonTokenType.String) frame.ResumeToken = reader.GetString();
                    else if (reader.TokenType == JsonTokenType.True || reader.TokenType == JsonTokenType.False) frame.Resume = reader.GetBoolean();
                    else problem = "\"resume\" must be a token or true or false";
                    break;
                case Field.Ids:
                    if (reader.TokenType == JsonTokenType.String) frame.Ids = reader.GetString();
                    else problem = "\"ids\" must be a string";
                    break;
                case Field.Presence:
                    if (reader.TokenType == JsonTokenType.True || reader.TokenType == JsonTokenType.False) frame.Presence = reader.GetBoolean();
                    else problem = "\"presence\" must be true or false";
                    break;
                case Field.Room: if (IsString(ref reader, "room", ref problem)) frame.Room = frame.KeepsWireBytes ? ReadRoom(ref reader, frame) : reader.GetString(); break;
                case Field.Seq:
                    if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out long seq) && seq > 0) frame.Seq = seq;
                    else problem = "\"seq\" must be a whole number above 0";
                    break;
                case Field.Recipients:
                    if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out int recipients) && recipients >= 0) frame.Recipients = recipients;
                    else problem = "\"recipients\" must be a whole number, 0 or more";
                    break;
                case Field.MemberCount:
                    if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out int memberCount) && memberCount >= 0) frame.MemberCount = memberCount;
                    else problem = "\"memberCount\" must be a whole number, 0 or more";
                    break;
                case Field.Joined:
                    if (reader.TokenType == JsonTokenType.True || reader.TokenType == JsonTokenType.False) frame.Joined = reader.GetBoolean();
                    else problem = "\"joined\" must be true or false";
                    break;
                case Field.JoinedAt:
                    if (reader.TokenType == JsonTokenType.String && TryParseTime(reader.GetString(), out DateTime joinedAt)) frame.JoinedAt = joinedAt;
                    else problem = "\"joinedAt\" must be an ISO 8601 UTC time";
                    break;
                case Field.Members:
                    problem = ReadMembers(ref reader, frame);
                    break;
                case Field.Rooms:
                    problem = ReadRooms(ref reader, frame);
                    break;
                case Field.With: if (IsString(ref reader, "with", ref problem)) frame.With = reader.GetString(); break;
                case Field.Last:
                    if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out int last) && last > 0) frame.Last = last;
                    else problem = "\"last\" must be a whole number above 0";
                    break;
                case Field.Before:
                    if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out long before) && before > 0) frame.Before = before;
                    else problem = "\"before\" must be a whole number above 0";
                    break;
                case Field.After:
                    if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out long after) && after >= 0) frame.After = after;
                    else problem = "\"after\" must be a whole number, 0 or more";
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

        /// <summary>A room's name in a frame a connection routes: the previous frame's name is reused, as a recipient's is.</summary>
        private static string ReadRoom(ref Utf8JsonReader reader, NativeFrame frame)
        {
            if (reader.ValueIsEscaped)
            {
                return reader.GetString();
            }

            return frame.PreviousRecipient(reader.ValueSpan) ?? frame.RememberRecipient(reader.ValueSpan, reader.GetString());
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

        private static readonly KnownWords FrameTypes = new KnownWords(
            FrameType.Send, FrameType.Ack, FrameType.Message, FrameType.Status, FrameType.Hello, FrameType.Welcome,
            FrameType.Who, FrameType.Users, FrameType.Presence, FrameType.Ping, FrameType.Pong, FrameType.Bye, FrameType.Error,
            FrameType.Delivered, FrameType.Join, FrameType.Part, FrameType.Room, FrameType.Rooms, FrameType.History);

        private static readonly KnownWords Statuses = new KnownWords("delivered", "forwarded", "refused", PostedStatusText, StoredStatusText);

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
    }
}
