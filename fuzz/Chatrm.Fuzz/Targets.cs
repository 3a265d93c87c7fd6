using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Chatrm.Engine;
using Chatrm.Engine.Messaging;
using Chatrm.Engine.Protocol.Classic;
using Chatrm.Engine.Protocol.Native;
using Chatrm.Engine.Routing;
using Chatrm.Engine.Transport;

namespace Chatrm.Fuzz
{
    /// <summary>An invariant of the engine that an input broke: a real finding, never an expected outcome.</summary>
    public sealed class InvariantException : Exception
    {
        public InvariantException(string message) : base(message) { }
    }

    /// <summary>
    /// The harnesses. None of the engine's parsers documents an exception (they are Try* methods, or total), so
    /// any exception is a finding, and so is any broken invariant: a formatted line that is not one line, a
    /// parse of a format that does not give back what was formatted, framing that differs from docs/protocol.md.
    /// </summary>
    public static class Targets
    {
        // As the transport decodes: invalid UTF-8 becomes U+FFFD, never an exception.
        private static readonly UTF8Encoding Utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);

        private static readonly string[] Codes =
            Enum.GetValues(typeof(Refusal)).Cast<Refusal>().Where(r => r != Refusal.None).Select(r => r.ToCode()).ToArray();

        private static readonly DateTime SomeTime = new DateTime(2026, 11, 26, 9, 12, 3, DateTimeKind.Utc).AddTicks(1234567);

        // ---- (a) classic ----

        /// <summary>
        /// The classic protocol: ParseHandshake, ParseClientLine (for several senders), TryParseDelivery,
        /// TryParseNotice and SplitLines on the decoded input as a whole and on each of its lines.
        /// </summary>
        public static void Classic(byte[] data)
        {
            string input = Utf8.GetString(data);
            ClassicLine(input);
            if (input.IndexOf('\n') >= 0)
            {
                foreach (string line in input.Split('\n'))
                {
                    ClassicLine(line.EndsWith("\r", StringComparison.Ordinal) ? line.Substring(0, line.Length - 1) : line);
                }
            }

            ClassicSplitLines(input);
        }

        private static void ClassicLine(string line)
        {
            // Handshake: NAME, NAME_ or NAME_PORT.
            string name = ClassicProtocol.ParseHandshake(line);
            Check(name != null, "ParseHandshake returned null");
            Check(name.IndexOf('_') < 0, "a handshake name holds '_'");
            Check(line.Trim().StartsWith(name, StringComparison.Ordinal), "the handshake name is not the start of the line");
            bool validName = UserNames.Problem(name) == null;
            if (NativeProtocol.IsNativeOpening(line))
            {
                Check(!validName, "a line that opens the native protocol also names a valid classic user");
            }

            if (validName)
            {
                string handshake = ClassicProtocol.FormatHandshake(name);
                CheckOneLine(handshake, "FormatHandshake");
                Check(ClassicProtocol.ParseHandshake(Chop(handshake)) == name, "handshake round trip");
                CheckNoticeRoundTrip(name, ClassicProtocol.WelcomeCode, "you are " + name + " on this Chatrm server");
            }

            // Client lines, from a fixed sender and from whoever the line names in its first two fields.
            var senders = new List<string> { "alice" };
            if (validName) senders.Add(name);
            if (ClassicProtocol.TrySplit(line, out string first, out string second, out _))
            {
                if (UserNames.IsValid(first.Trim())) senders.Add(first.Trim());
                if (UserNames.IsValid(second.Trim())) senders.Add(second.Trim());
            }

            foreach (string sender in senders)
            {
                ClassicClientLine(line, sender);
            }

            // What a client receives.
            if (ClassicProtocol.TryParseDelivery(line, out string to, out string from, out string text))
            {
                Check(to.IndexOf('_') < 0 && from.IndexOf('_') < 0, "a delivery's DEST or SOURCE holds '_'");
                Check(ClassicProtocol.FormatDelivery(to, from, text) == line + "\n", "delivery round trip");
                ClassicNotice(text);
            }
            else
            {
                Check(line.Count(c => c == '_') < 2, "TryParseDelivery refused a line with two '_'");
            }

            ClassicNotice(line);

            // Every notice the server sends carries text it made, sometimes with what the client sent in it.
            foreach (string code in Codes)
            {
                CheckNoticeRoundTrip("bob", code, line);
            }
        }

        private static void ClassicClientLine(string line, string sender)
        {
            ClassicLine parsed = ClassicProtocol.ParseClientLine(line, sender);
            string trimmed = line.Trim();
            bool split = ClassicProtocol.TrySplit(line, out string first, out string second, out string rest);
            switch (parsed.Kind)
            {
                case ClassicLineKind.Blank:
                    Check(trimmed.Length == 0, "Blank for a line that is not blank");
                    return;
                case ClassicLineKind.Exit:
                    Check(trimmed == ClassicProtocol.ExitLine, "Exit for a line that is not EXIT");
                    return;
            }

            Check(trimmed.Length != 0 && trimmed != ClassicProtocol.ExitLine, "a blank line or EXIT read as " + parsed.Kind);
            switch (parsed.Kind)
            {
                case ClassicLineKind.Malformed:
                    Check(!split, "Malformed for a line with two '_'");
                    return;
                case ClassicLineKind.Forged:
                    Check(split, "Forged for a line without two '_'");
                    Check(!UserNames.AreSame(first.Trim(), sender) && !UserNames.AreSame(second.Trim(), sender), "Forged for a line that names its sender");
                    Check(parsed.ClaimedSender == first.Trim(), "the claimed sender is not the first field");
                    return;
                case ClassicLineKind.Message:
                    Check(split, "Message for a line without two '_'");
                    Check(parsed.To != null && parsed.Text != null, "Message without To or Text");
                    Check(parsed.Text == rest, "the text is not everything after the second '_'");
                    string expectedTo = UserNames.AreSame(first.Trim(), sender) ? second.Trim() : first.Trim();
                    Check(parsed.To == expectedTo, "To is not the field that is not the sender");
                    Check(UserNames.AreSame(first.Trim(), sender) || UserNames.AreSame(second.Trim(), sender), "Message for a line that does not name its sender");
                    ClassicLine again = ClassicProtocol.ParseClientLine(line, sender, new string(parsed.To.ToCharArray()));
                    Check(again.Kind == parsed.Kind && again.To == parsed.To && again.Text == parsed.Text, "the previous recipient changed how the line reads");
                    break;
                default:
                    throw new InvariantException("unknown kind " + parsed.Kind);
            }

            // Round trips: what the original client would send for this message, and what the server delivers.
            // (Only to a valid name: Chatrm's client checks the name before it formats, and the server refuses others.)
            if (UserNames.IsValid(parsed.To) && parsed.Text.IndexOf('\n') < 0 && parsed.Text.IndexOf('\r') < 0)
            {
                string again = ClassicProtocol.FormatClientMessage(sender, parsed.To, parsed.Text);
                CheckOneLine(again, "FormatClientMessage");
                ClassicLine reparsed = ClassicProtocol.ParseClientLine(Chop(again), sender);
                Check(reparsed.Kind == ClassicLineKind.Message && reparsed.To == parsed.To && reparsed.Text == parsed.Text, "client message round trip");
            }

            CheckDelivery(parsed.To, sender, parsed.Text);
        }

        /// <summary>The server writes a message to a classic recipient as one DEST_SOURCE_line per line of text.</summary>
        private static void CheckDelivery(string to, string from, string text)
        {
            if (!UserNames.IsValid(to) || !UserNames.IsValid(from))
            {
                return;
            }

            foreach (string line in ClassicProtocol.SplitLines(text))
            {
                string delivery = ClassicProtocol.FormatDelivery(to, from, line);
                CheckOneLine(delivery, "FormatDelivery");
                Check(ClassicProtocol.TryParseDelivery(Chop(delivery), out string t, out string f, out string x) && t == to && f == from && x == line,
                    "delivery round trip");
            }
        }

        private static void ClassicNotice(string text)
        {
            if (!ClassicProtocol.TryParseNotice(text, out string code, out string message))
            {
                Check(code == null && message == null, "a refused notice left values behind");
                return;
            }

            Check(code.Length > 0 && code.All(c => (c >= 'a' && c <= 'z') || c == '-'), "a notice code that is not lower-case words and '-'");
            int colon = text.IndexOf(':');
            Check(colon == code.Length && text.StartsWith(code, StringComparison.Ordinal), "the code is not what stands before the first ':'");
            Check(message == text.Substring(colon + 1).TrimStart(), "the notice text is not what follows the ':'");
            CheckNoticeRoundTrip("bob", code, message);
        }

        /// <summary>FormatNotice is one line, a valid delivery from chatrm, and its code and text read back.</summary>
        private static void CheckNoticeRoundTrip(string to, string code, string text)
        {
            string notice = ClassicProtocol.FormatNotice(to, code, text);
            CheckOneLine(notice, "FormatNotice");
            Check(ClassicProtocol.TryParseDelivery(Chop(notice), out string t, out string from, out string body), "a notice is not a delivery");
            Check(t == to && from == UserNames.Server, "a notice's DEST or SOURCE");
            Check(body.IndexOf('_') < 0, "a notice's text holds '_', which an original client would cut");
            Check(ClassicProtocol.TryParseNotice(body, out string c, out string m), "a notice does not read back as a notice");
            string expected = text.Replace('_', '-').Replace('\n', ' ').Replace('\r', ' ').TrimStart();
            Check(c == code, "notice code round trip");
            Check(m == expected, "notice text round trip");
        }

        private static void ClassicSplitLines(string text)
        {
            List<string> lines = ClassicProtocol.SplitLines(text).ToList();
            Check(lines.Count >= 1, "SplitLines gave no line");
            Check(lines.All(l => l.IndexOf('\n') < 0 && l.IndexOf('\r') < 0), "SplitLines gave a line with a line break");
            string normal = text.Replace("\r\n", "\n").Replace('\r', '\n');
            if (normal.EndsWith("\n", StringComparison.Ordinal))
            {
                normal = normal.Substring(0, normal.Length - 1);
            }

            Check(string.Join("\n", lines) == normal, "SplitLines lost or added text");
        }

        // ---- (b) native ----

        /// <summary>
        /// The native protocol: TryParse, and for whatever parses, Format is one line that parses back to the
        /// same frame (and formats to the same line). What the server answers is checked the same way: the
        /// error frame naming the problem, the status and message frames built from a send, and the classic
        /// lines a send becomes for a classic recipient.
        /// </summary>
        public static void Native(byte[] data)
        {
            string line = Utf8.GetString(data);
            bool ok = NativeProtocol.TryParse(line, out NativeFrame frame, out string problem);

            // The server reads the line's bytes as they came, into one frame it reuses: the same verdict and frame.
            NativeFrame reused = t_reusedFrame ?? (t_reusedFrame = new NativeFrame { KeepsWireBytes = true });
            bool okFromBytes = NativeProtocol.TryParse(data, reused, out string problemFromBytes);
            Check(okFromBytes == ok, $"the bytes parse says {okFromBytes} ({problemFromBytes}), the string parse {ok} ({problem})");
            if (ok && okFromBytes)
            {
                string differs = Difference(frame, reused);
                Check(differs == null, "the bytes parse differs from the string parse: " + differs);
            }

            if (!ok)
            {
                Check(frame == null, "a refused frame came back anyway");
                Check(!string.IsNullOrEmpty(problem), "a refused frame without a problem");
                CheckFrameRoundTrip(new NativeFrame { Type = FrameType.Error, Code = Refusal.MalformedFrame.ToCode(), Message = problem });
                return;
            }

            Check(frame != null && !string.IsNullOrEmpty(frame.Type), "a parsed frame without a type");
            Check(problem == null, "a parsed frame with a problem");
            Check(NativeProtocol.IsNativeOpening(line), "a line that parses as a frame does not open the native protocol");
            CheckFrameRoundTrip(frame);

            // What a server answers, carrying what the client sent.
            CheckFrameRoundTrip(new NativeFrame { Type = FrameType.Error, Ref = frame.Ref, Code = Refusal.MalformedFrame.ToCode(), Message = "unknown frame type \"" + frame.Type + "\"" });
            CheckFrameRoundTrip(new NativeFrame { Type = FrameType.Status, Ref = frame.Ref, Id = "42", To = frame.To, SentAt = SomeTime, Status = "refused", Reason = Refusal.UnknownUser.ToCode(), Message = "no user named " + frame.To + " is known here" });
            CheckFrameRoundTrip(new NativeFrame { Type = FrameType.Pong, Ref = frame.Ref });

            // The server cuts a long unknown name to 32 characters for its refusal, which may split a surrogate pair:
            // Format must still give one line (the writer puts U+FFFD for the half), never throw.
            if (frame.To != null && frame.To.Length > UserNames.MaxLength)
            {
                string cut = frame.To.Substring(0, UserNames.MaxLength) + "...";
                CheckOneLine(NativeProtocol.Format(new NativeFrame { Type = FrameType.Status, Ref = frame.Ref, To = frame.To, Status = "refused", Reason = Refusal.UnknownUser.ToCode(), Message = "no user named " + cut + " is known here" }), "Format of a refusal naming a cut name");
                CheckOneLine(ClassicProtocol.FormatNotice("bob", Refusal.UnknownUser.ToCode(), "no user named " + cut + " is known here"), "FormatNotice naming a cut name");
            }
            if (frame.Type == FrameType.Send && frame.To != null && frame.Text != null)
            {
                CheckFrameRoundTrip(new NativeFrame { Type = FrameType.Message, Id = "42", From = "alice", To = frame.To, Text = frame.Text, SentAt = SomeTime });

                // The server's own formatters for the two frames of every message write what the general one writes.
                string message = NativeProtocol.Format(new NativeFrame { Type = FrameType.Message, Id = "42", From = "alice", To = frame.To, Text = frame.Text, SentAt = SomeTime });
                var asString = new ChatEnvelope("42", "alice", frame.To, frame.Text, SomeTime, frame.Ref);
                Check(Utf8.GetString(NativeProtocol.FormatMessage(asString, NativeProtocol.EncodeName("alice"), NativeProtocol.EncodeName(frame.To)).ToArray()) == message, "FormatMessage differs from Format");
                if (okFromBytes)
                {
                    // As the server routes it: text kept as it came, when it was kept, must still write the same bytes.
                    var routed = ChatEnvelope.FromSend(reused, 42, "alice", SomeTime, SenderAddress.None);
                    Check(Utf8.GetString(NativeProtocol.FormatMessage(routed, NativeProtocol.EncodeName("alice"), NativeProtocol.EncodeName(reused.To)).ToArray()) == message, "FormatMessage of a routed send differs from Format");

                    // Its confirmation, ref kept as it came, twice over: put together from pieces, or by the writer.
                    var routedTwice = new[] { routed, ChatEnvelope.FromSend(reused, 43, "alice", SomeTime, SenderAddress.None) };
                    int routedTaken = NativeProtocol.FormatDelivered(routedTwice, out ReadOnlySpan<byte> routedBatch);
                    var routedListed = new List<DeliveredMessage>();
                    for (int i = 0; i < routedTaken; i++) routedListed.Add(new DeliveredMessage(routedTwice[i].SenderRef, routedTwice[i].Id, routedTwice[i].SentAt));
                    Check(routedTaken >= 1 && Utf8.GetString(routedBatch.ToArray()) == NativeProtocol.Format(new NativeFrame { Type = FrameType.Delivered, Messages = routedListed }), "the batched FormatDelivered of routed sends differs from Format");
                }

                string delivered = NativeProtocol.Format(new NativeFrame { Type = FrameType.Status, Ref = frame.Ref, Id = "42", To = frame.To, SentAt = SomeTime, Status = "delivered" });
                Check(Utf8.GetString(NativeProtocol.FormatDelivered(asString).ToArray()) == delivered, "FormatDelivered differs from Format");

                // And the batched confirmation, with the send's ref twice.
                var envelopes = new[] { new ChatEnvelope("42", "alice", frame.To, frame.Text, SomeTime, frame.Ref), new ChatEnvelope("43", "alice", frame.To, frame.Text, SomeTime, frame.Ref) };
                int taken = NativeProtocol.FormatDelivered(envelopes, out ReadOnlySpan<byte> batched);
                var listed = new List<DeliveredMessage>();
                for (int i = 0; i < taken; i++) listed.Add(new DeliveredMessage(envelopes[i].SenderRef, envelopes[i].Id, envelopes[i].SentAt));
                Check(taken >= 1 && Utf8.GetString(batched.ToArray()) == NativeProtocol.Format(new NativeFrame { Type = FrameType.Delivered, Messages = listed }), "the batched FormatDelivered differs from Format");
                CheckDelivery(frame.To, "alice", frame.Text);
            }

            if (frame.Type == FrameType.Hello && frame.User != null)
            {
                CheckFrameRoundTrip(new NativeFrame { Type = FrameType.Welcome, Protocol = NativeProtocol.ProtocolName, Version = NativeProtocol.Version, User = frame.User, KeepAlive = 60, MaxFrameBytes = ServerOptions.DefaultMaxLineBytes });
                CheckFrameRoundTrip(new NativeFrame { Type = FrameType.Presence, Event = "joined", User = frame.User, Time = SomeTime });
            }
        }

        [ThreadStatic] private static NativeFrame t_reusedFrame;

        private static void CheckFrameRoundTrip(NativeFrame frame)
        {
            string text = NativeProtocol.Format(frame);
            CheckOneLine(text, "Format");
            Check(NativeProtocol.IsNativeOpening(text), "a formatted frame does not open the native protocol");
            Check(NativeProtocol.TryParse(Chop(text), out NativeFrame again, out string problem), "a formatted frame does not parse: " + problem + ": " + text);
            string difference = Difference(frame, again);
            Check(difference == null, "frame round trip: " + difference + " in " + text.TrimEnd('\n'));
            Check(NativeProtocol.Format(again) == text, "format of a reparsed frame differs: " + text.TrimEnd('\n'));
        }

        private static string Difference(NativeFrame a, NativeFrame b)
        {
            if (a.Type != b.Type) return "type";
            if (a.Protocol != b.Protocol) return "protocol";
            if (a.Version != b.Version) return "version";
            if (a.User != b.User) return "user";
            if (a.Password != b.Password) return "password";
            if (a.Presence != b.Presence) return "presence";
            if (a.Ref != b.Ref) return "ref";
            if (a.Id != b.Id) return "id";
            if (a.From != b.From) return "from";
            if (a.To != b.To) return "to";
            if (a.Text != b.Text) return "text";
            if (a.SentAt != b.SentAt) return $"sentAt {a.SentAt:o} became {b.SentAt:o}";
            if (a.Status != b.Status) return "status";
            if (a.Reason != b.Reason) return "reason";
            if (a.Message != b.Message) return "message";
            if (a.Code != b.Code) return "code";
            if (a.Event != b.Event) return "event";
            if (a.Time != b.Time) return $"time {a.Time:o} became {b.Time:o}";
            if (a.KeepAlive != b.KeepAlive) return "keepAlive";
            if (a.MaxFrameBytes != b.MaxFrameBytes) return "maxFrameBytes";
            if ((a.Users == null) != (b.Users == null)) return "users";
            if (a.Users != null)
            {
                if (a.Users.Count != b.Users.Count) return "users count";
                for (int i = 0; i < a.Users.Count; i++)
                {
                    UserInfo x = a.Users[i], y = b.Users[i];
                    if (x.Name != y.Name) return $"users[{i}].name";
                    if (x.Protocol != y.Protocol) return $"users[{i}].protocol";
                    if (x.ConnectedAt != y.ConnectedAt) return $"users[{i}].connectedAt {x.ConnectedAt:o} ({x.ConnectedAt.Kind}) became {y.ConnectedAt:o}";
                }
            }

            return null;
        }

        // ---- (c) framing ----

        private static Socket s_listener;
        private static UnixDomainSocketEndPoint s_endPoint;
        private static string s_socketPath;

        /// <summary>
        /// The line framing of <see cref="LineTransport"/>, for real: the input is written, as a peer would, into
        /// one end of a connected pair of Unix-domain stream sockets (loopback TCP would leave a TIME_WAIT port per
        /// run), the other end is read by a LineTransport, and what it hands over (lines, and lines refused as too
        /// long) must be what docs/protocol.md says, worked out here independently. Each line is echoed back through
        /// LineTransport.Send, as a server answers, and the peer must read exactly those bytes, in order. The line
        /// limit is 64 bytes, or the server's default when the first byte is odd; inputs past 4 KiB cross the
        /// transport's buffer segments.
        /// </summary>
        public static void Framing(byte[] data)
        {
            int max = data.Length > 0 && (data[0] & 1) == 1 ? ServerOptions.DefaultMaxLineBytes : 64;
            List<string> expected = FramingModel(data, max);

            (Socket near, Socket far) = ConnectedPair();
            try
            {
                using var transport = new LineTransport(near, max, long.MaxValue);
                using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(5));

                // What fits the socket's buffer is written before reading starts, so that how the transport's reads
                // fall is the same every run (afl-fuzz wants the same path for the same input); more is written as
                // the transport reads.
                far.SendTimeout = far.ReceiveTimeout = 5000;
                Task written = data.Length <= SocketBufferBytes ? Task.CompletedTask : Task.Run(() => Write(far, data));
                if (data.Length <= SocketBufferBytes) Write(far, data);

                var events = new List<string>();
                ReadEnd end = transport.ReadLinesAsync(
                    line =>
                    {
                        Check(line != null, "a null line");
                        events.Add(line);
                        return true;
                    },
                    () => events.Add(null),
                    deadline.Token).GetAwaiter().GetResult();
                Check(!deadline.IsCancellationRequested, "reading did not end within 5 s of the peer closing");
                Check(end == ReadEnd.PeerClosed, "reading ended as " + end + ", not PeerClosed");
                Check(written.Wait(TimeSpan.FromSeconds(5)), "the peer could not write within 5 s");

                Check(events.Count == expected.Count, $"{events.Count} lines or refusals, expected {expected.Count}");
                for (int i = 0; i < events.Count; i++)
                {
                    Check(events[i] == expected[i], $"line {i}: {Show(events[i])}, expected {Show(expected[i])}");
                }

                // Echo: every line back through Send, as a server answers, and the peer reads exactly those bytes.
                Task<byte[]> echoed = Task.Run(() => ReadToEnd(far));
                foreach (string e in events)
                {
                    Check(transport.Send(e == null ? "#too-long\n" : e + "\n") == SendResult.Queued, "Send did not queue");
                }

                transport.CloseAsync(TimeSpan.FromSeconds(5)).GetAwaiter().GetResult();
                Check(echoed.Wait(TimeSpan.FromSeconds(5)), "the peer did not read the echo within 5 s");
                byte[] echoExpected = Utf8.GetBytes(string.Concat(expected.Select(e => e == null ? "#too-long\n" : e + "\n")));
                Check(echoed.Result.AsSpan().SequenceEqual(echoExpected), $"the peer read {echoed.Result.Length} bytes back, expected {echoExpected.Length} (or other bytes)");
            }
            finally
            {
                far.Dispose();
                near.Dispose();
            }
        }

        /// <summary>docs/protocol.md's framing: lines end in \n, a \r before it is dropped, longer than the limit is refused.</summary>
        private static List<string> FramingModel(byte[] data, int max)
        {
            var events = new List<string>();
            int start = 0;
            for (int i = 0; i < data.Length; i++)
            {
                if (data[i] == (byte)'\n')
                {
                    int length = i - start;
                    if (length > 0 && data[i - 1] == (byte)'\r') length--;
                    events.Add(length > max ? null : Utf8.GetString(data, start, length));
                    start = i + 1;
                }
            }

            // An unterminated last line is never handed over, but one already over the limit is refused.
            int tail = data.Length - start;
            if (tail > 0 && data[data.Length - 1] == (byte)'\r') tail--;
            if (tail > max) events.Add(null);
            return events;
        }

        // A Unix-domain stream socket's default buffer (Linux) takes this much without a reader.
        private const int SocketBufferBytes = 64 * 1024;

        private static void Write(Socket socket, byte[] data)
        {
            int sent = 0;
            while (sent < data.Length)
            {
                sent += socket.Send(data, sent, data.Length - sent, SocketFlags.None);
            }

            socket.Shutdown(SocketShutdown.Send);
        }

        private static byte[] ReadToEnd(Socket socket)
        {
            var back = new MemoryStream();
            var buffer = new byte[16384];
            int n;
            while ((n = socket.Receive(buffer)) > 0)
            {
                back.Write(buffer, 0, n);
            }

            return back.ToArray();
        }

        private static (Socket, Socket) ConnectedPair()
        {
            if (s_listener == null)
            {
                // On Linux an abstract name (a leading NUL), which leaves no file behind; elsewhere a file in temp.
                string name = $"chatrm-fuzz-{Environment.ProcessId}-{Guid.NewGuid():N}.sock";
                if (OperatingSystem.IsLinux())
                {
                    s_endPoint = new UnixDomainSocketEndPoint("\0" + name);
                }
                else
                {
                    s_socketPath = Path.Combine(Path.GetTempPath(), name);
                    s_endPoint = new UnixDomainSocketEndPoint(s_socketPath);
                }

                s_listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                s_listener.Bind(s_endPoint);
                s_listener.Listen(8);
            }

            var far = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            far.Connect(s_endPoint);
            Socket near = s_listener.Accept();
            return (near, far);
        }

        /// <summary>
        /// Ends every run at the same instrumented place. SharpFuzz traces edges from the last place reached, and
        /// does not reset it between runs: without this, a run's first edge would depend on where the run before
        /// it ended, and afl-fuzz would see the same input take different paths.
        /// </summary>
        public static void EndTrace() => UserNames.IsValid("x");

        /// <summary>Removes the framing target's socket file.</summary>
        public static void Shutdown()
        {
            if (s_listener != null)
            {
                s_listener.Dispose();
                s_listener = null;
                if (s_socketPath != null)
                {
                    try { File.Delete(s_socketPath); } catch (IOException) { }
                }
            }
        }

        // ---- Shared ----

        private static void Check(bool condition, string what)
        {
            if (!condition)
            {
                throw new InvariantException(what);
            }
        }

        private static void CheckOneLine(string text, string what)
        {
            Check(text.Length > 0 && text[text.Length - 1] == '\n', what + " does not end its line");
            Check(text.IndexOf('\n') == text.Length - 1, what + " is more than one line");
            Check(text.IndexOf('\r') < 0, what + " holds a carriage return");
        }

        private static string Chop(string line) => line.Substring(0, line.Length - 1);

        private static string Show(string line) => line == null ? "(too long)" : "\"" + (line.Length > 40 ? line.Substring(0, 40) + "..." : line) + "\"";
    }
}
