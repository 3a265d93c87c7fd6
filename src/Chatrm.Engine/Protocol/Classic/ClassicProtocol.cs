using System;
using System.Collections.Generic;
using System.Text;
using Chatrm.Engine.Messaging;
using Chatrm.Engine.Protocol.Native;

namespace Chatrm.Engine.Protocol.Classic
{
    /// <summary>What a line from a classic client asks for.</summary>
    internal enum ClassicLineKind
    {
        /// <summary>A message to <see cref="ClassicLine.To"/>.</summary>
        Message,
        /// <summary>The line EXIT: the session ends cleanly.</summary>
        Exit,
        /// <summary>An empty line, such as a person pressing Enter in nc: ignored.</summary>
        Blank,
        /// <summary>Fewer than two '_' separated fields.</summary>
        Malformed,
        /// <summary>Neither of the first two fields is the sender's own name.</summary>
        Forged,
    }

    internal readonly struct ClassicLine
    {
        public ClassicLine(ClassicLineKind kind, string to = null, string text = null, string claimedSender = null)
        {
            Kind = kind;
            To = to;
            Text = text;
            ClaimedSender = claimedSender;
        }

        public ClassicLineKind Kind { get; }
        public string To { get; }
        public string Text { get; }
        public string ClaimedSender { get; }
    }

    /// <summary>
    /// The original Chatrm's line protocol (see docs/protocol.md). Only the first two '_' separate
    /// fields, so text keeps its underscores.
    /// </summary>
    internal static class ClassicProtocol
    {
        public const char Separator = '_';
        public const string ExitLine = "EXIT";

        /// <summary>The name in a handshake line: NAME, NAME_ or NAME_PORT.</summary>
        public static string ParseHandshake(string line)
        {
            line = line.Trim();
            int sep = line.IndexOf(Separator);
            return sep < 0 ? line : line.Substring(0, sep);
        }

        /// <summary>The handshake the original client sends: NAME_.</summary>
        public static string FormatHandshake(string userName) => userName + Separator + "\n";

        /// <summary>
        /// Reads a line from a registered user. The original client sends SOURCE_DEST_TEXT and the
        /// original README describes DEST_SOURCE_TEXT; the server knows who the sender is, so whichever
        /// of the first two fields is the sender's own name tells the two apart.
        /// </summary>
        public static ClassicLine ParseClientLine(string line, string sender) => ParseClientLine(line, sender, previousRecipient: null);

        /// <summary>
        /// As <see cref="ParseClientLine(string, string)"/>, on a server's hot path: the names are compared where
        /// they stand, and a recipient spelled as <paramref name="previousRecipient"/> comes back as that string.
        /// </summary>
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        internal static ClassicLine ParseClientLine(string line, string sender, string previousRecipient)
        {
            if (line.Length == 0 || line.Trim().Length == 0)
            {
                return new ClassicLine(ClassicLineKind.Blank);
            }

            if (line.Trim() == ExitLine)
            {
                return new ClassicLine(ClassicLineKind.Exit);
            }

            if (!FindSeparators(line, out int a, out int b))
            {
                return new ClassicLine(ClassicLineKind.Malformed);
            }

            if (IsName(line, 0, a, sender))
            {
                return new ClassicLine(ClassicLineKind.Message, NameAt(line, a + 1, b, previousRecipient), line.Substring(b + 1));
            }

            if (IsName(line, a + 1, b, sender))
            {
                return new ClassicLine(ClassicLineKind.Message, NameAt(line, 0, a, previousRecipient), line.Substring(b + 1));
            }

            return new ClassicLine(ClassicLineKind.Forged, claimedSender: NameAt(line, 0, a, null));
        }

        // Whether line[start..end], trimmed, is name in any case (as UserNames.AreSame).
        private static bool IsName(string line, int start, int end, string name)
        {
            TrimField(line, ref start, ref end);
            return name != null && end - start == name.Length &&
                string.Compare(line, start, name, 0, name.Length, StringComparison.OrdinalIgnoreCase) == 0;
        }

        // line[start..end], trimmed: previous itself when spelled the same.
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        private static string NameAt(string line, int start, int end, string previous)
        {
            TrimField(line, ref start, ref end);
            return previous != null && end - start == previous.Length && string.CompareOrdinal(line, start, previous, 0, previous.Length) == 0
                ? previous
                : line.Substring(start, end - start);
        }

        // As string.Trim() on line[start..end].
        private static void TrimField(string line, ref int start, ref int end)
        {
            while (start < end && char.IsWhiteSpace(line[start])) start++;
            while (end > start && char.IsWhiteSpace(line[end - 1])) end--;
        }

        /// <summary>Splits at the first two separators: a_b_rest.</summary>
        public static bool TrySplit(string line, out string first, out string second, out string rest)
        {
            first = second = rest = null;
            if (!FindSeparators(line, out int a, out int b))
            {
                return false;
            }

            first = line.Substring(0, a);
            second = line.Substring(a + 1, b - a - 1);
            rest = line.Substring(b + 1);
            return true;
        }

        // Where the first two separators stand; false when there are not two.
        private static bool FindSeparators(string line, out int first, out int second)
        {
            first = line.IndexOf(Separator);
            second = first < 0 ? -1 : line.IndexOf(Separator, first + 1);
            return second >= 0;
        }

        /// <summary>What a client receives: DEST_SOURCE_TEXT and a newline, always with both fields.</summary>
        public static string FormatDelivery(string to, string from, string text) =>
            to + Separator + from + Separator + text + "\n";

        /// <summary>The line a client sends for a message, as the original client does: SOURCE_DEST_TEXT.</summary>
        public static string FormatClientMessage(string from, string to, string text) =>
            from + Separator + to + Separator + text + "\n";

        /// <summary>
        /// A notice from the reserved sender: DEST_chatrm_code: text. No '_' in code or text, so an
        /// original client shows all of it as [chatrm>>] code: text.
        /// </summary>
        public static string FormatNotice(string to, string code, string text) =>
            FormatDelivery(to, UserNames.Server, code + ": " + text.Replace(Separator, '-').Replace('\n', ' ').Replace('\r', ' '));

        /// <summary>Splits a received line DEST_SOURCE_TEXT; false when it has fewer than two separators.</summary>
        public static bool TryParseDelivery(string line, out string to, out string from, out string text) =>
            TrySplit(line, out to, out from, out text);

        /// <summary>Reads the text of a notice: "code: words".</summary>
        public static bool TryParseNotice(string text, out string code, out string message)
        {
            code = message = null;
            int colon = text.IndexOf(':');
            if (colon <= 0)
            {
                return false;
            }

            for (int i = 0; i < colon; i++)
            {
                char c = text[i];
                if (!((c >= 'a' && c <= 'z') || c == '-'))
                {
                    return false;
                }
            }

            code = text.Substring(0, colon);
            message = text.Substring(colon + 1).TrimStart();
            return true;
        }

        /// <summary>
        /// The lines of a text, for a protocol that carries one line per message: \n, \r\n and \r each end
        /// a line; a final line break ends the last line rather than starting an empty one.
        /// </summary>
        public static IEnumerable<string> SplitLines(string text)
        {
            int start = 0;
            for (int i = 0; i < text.Length; i++)
            {
                char c = text[i];
                if (c == '\r' || c == '\n')
                {
                    yield return text.Substring(start, i - start);
                    if (c == '\r' && i + 1 < text.Length && text[i + 1] == '\n')
                    {
                        i++;
                    }

                    start = i + 1;
                }
            }

            if (start < text.Length || start == 0)
            {
                yield return text.Substring(start);
            }
        }

        /// <summary>The welcome a Chatrm server sends after a handshake it accepts.</summary>
        public const string WelcomeCode = "welcome";

        // ---- Rooms (docs/protocol.md, "Rooms") ----
        // A classic user takes part in a room by naming it as the one it writes to: alice_#ops_hello. Members get the
        // room's messages as DEST_#room_FROM: TEXT, which the original client shows as [#room>>] FROM: TEXT.

        /// <summary>The text that, sent to a room, leaves it: exactly this, nothing around it.</summary>
        public const string PartText = "/part";

        /// <summary>Between the sender's name and the text in a room line's text field.</summary>
        private const string RoomSenderSeparator = ": ";

        /// <summary>Whether a classic line's text, sent to a room, asks to leave it.</summary>
        public static bool IsPart(string text) => string.Equals(text, PartText, StringComparison.Ordinal);

        /// <summary>
        /// One line of a room message to a classic member: DEST_#room_FROM: TEXT and a newline, e.g.
        /// <c>bob_#ops_alice: hello\n</c>. <paramref name="text"/> is one line (see <see cref="SplitLines"/>).
        /// </summary>
        public static string FormatRoomDelivery(string to, string room, string from, string text) =>
            to + Separator + room + Separator + from + RoomSenderSeparator + text + "\n";

        // What follows DEST in every line of the room message this thread wrote last: "_#ops_alice: line\n" for each of
        // its lines, and where each line ends. The same for every member, so made once per post (the room hands a
        // post to every member on one thread), in arrays of this thread's: a post allocates nothing.
        [ThreadStatic] private static ChatEnvelope t_roomEnvelope;
        [ThreadStatic] private static FrameBuffer t_roomTail;
        [ThreadStatic] private static List<int> t_roomLineEnds;
        [ThreadStatic] private static FrameBuffer t_buffer;

        private static readonly UTF8Encoding Utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);

        /// <summary>
        /// A room message as a classic member <paramref name="to"/> gets it, as UTF-8: one
        /// <see cref="FormatRoomDelivery(string, string, string, string)"/> line per line of its text (as
        /// <see cref="SplitLines"/> splits it), in a buffer of this thread's that the next call on it reuses (copy it,
        /// as a transport's send does). Everything after DEST is encoded once per envelope on a thread; each member
        /// costs a copy.
        /// </summary>
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        internal static ReadOnlySpan<byte> FormatRoomDelivery(string to, ChatEnvelope envelope)
        {
            if (!ReferenceEquals(t_roomEnvelope, envelope))
            {
                MakeRoomTail(envelope);
            }

            ReadOnlySpan<byte> tail = t_roomTail.Written;
            List<int> ends = t_roomLineEnds;
            FrameBuffer buffer = t_buffer ?? (t_buffer = new FrameBuffer());
            buffer.Clear();
            int start = 0;
            for (int i = 0; i < ends.Count; i++)
            {
                int end = ends[i];
                PutUtf8(buffer, to, 0, to.Length);
                tail.Slice(start, end - start).CopyTo(buffer.GetSpan(end - start));
                buffer.Advance(end - start);
                start = end;
            }

            return buffer.Written;
        }

        private static void MakeRoomTail(ChatEnvelope envelope)
        {
            FrameBuffer tail = t_roomTail ?? (t_roomTail = new FrameBuffer());
            List<int> ends = t_roomLineEnds ?? (t_roomLineEnds = new List<int>());
            tail.Clear();
            ends.Clear();

            // The lines SplitLines makes, found where they stand.
            string text = envelope.Text ?? string.Empty;
            int lineStart = 0;
            for (int i = 0; i < text.Length; i++)
            {
                char c = text[i];
                if (c == '\r' || c == '\n')
                {
                    PutRoomLine(tail, envelope, text, lineStart, i);
                    ends.Add(tail.Written.Length);
                    if (c == '\r' && i + 1 < text.Length && text[i + 1] == '\n')
                    {
                        i++;
                    }

                    lineStart = i + 1;
                }
            }

            if (lineStart < text.Length || lineStart == 0)
            {
                PutRoomLine(tail, envelope, text, lineStart, text.Length);
                ends.Add(tail.Written.Length);
            }

            t_roomEnvelope = envelope;
        }

        // "_#ops_alice: " + text[start..end] + "\n".
        private static void PutRoomLine(FrameBuffer into, ChatEnvelope envelope, string text, int start, int end)
        {
            into.Append((byte)Separator);
            PutUtf8(into, envelope.To, 0, envelope.To.Length);
            into.Append((byte)Separator);
            PutUtf8(into, envelope.From, 0, envelope.From.Length);
            into.Append((byte)':');
            into.Append((byte)' ');
            PutUtf8(into, text, start, end - start);
            into.Append((byte)'\n');
        }

        private static unsafe void PutUtf8(FrameBuffer into, string text, int start, int length)
        {
            if (length == 0)
            {
                return;
            }

            Span<byte> room = into.GetSpan(Utf8.GetMaxByteCount(length));
            int written;
            fixed (char* chars = text)
            fixed (byte* bytes = room)
            {
                written = Utf8.GetBytes(chars + start, length, bytes, room.Length);
            }

            into.Advance(written);
        }

        /// <summary>
        /// Reads a room line's SOURCE and TEXT (from <see cref="TryParseDelivery"/>): SOURCE is the room (it starts with
        /// '#', as no user name does) and TEXT is "FROM: text". False when they are not a room line's.
        /// </summary>
        public static bool TryParseRoomText(string source, string text, out string room, out string from, out string body)
        {
            room = from = body = null;
            if (!RoomNames.IsRoom(source) || text == null)
            {
                return false;
            }

            int colon = text.IndexOf(':');
            if (colon <= 0)
            {
                return false;
            }

            for (int i = 0; i < colon; i++)
            {
                if (char.IsWhiteSpace(text[i]))
                {
                    return false;
                }
            }

            room = source;
            from = text.Substring(0, colon);
            int bodyAt = colon + 1 < text.Length && text[colon + 1] == ' ' ? colon + 2 : colon + 1;
            body = text.Substring(bodyAt);
            return true;
        }

        /// <summary>Splits a received room line DEST_#room_FROM: TEXT; false when it is not one.</summary>
        public static bool TryParseRoomDelivery(string line, out string to, out string room, out string from, out string text)
        {
            room = from = text = null;
            return TryParseDelivery(line, out to, out string source, out string rest) && TryParseRoomText(source, rest, out room, out from, out text);
        }
    }
}
