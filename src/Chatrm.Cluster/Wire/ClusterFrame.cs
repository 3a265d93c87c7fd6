using System;
using System.IO;
using System.Text;
using Chatrm.Engine;
using Chatrm.Engine.Messaging;
using Chatrm.Engine.Routing;

namespace Chatrm.Cluster.Wire
{
    /// <summary>What one server tells another, on the receiving node's subject: the first byte says which.</summary>
    internal enum FrameKind : byte
    {
        /// <summary>A direct message for a user connected to the receiving node.</summary>
        Deliver = 1,

        /// <summary>A fate of messages whose sender is on the receiving node.</summary>
        Report = 2,

        /// <summary>A receipt for a message kept while its recipient was away, for whoever holds the sender's name there.</summary>
        Receipt = 3,

        /// <summary>The operator (or a login elsewhere) ends a session on the receiving node.</summary>
        Disconnect = 4,

        /// <summary>Something was kept in the inbox of a user the receiving node holds: it looks at the inbox again.</summary>
        InboxWritten = 5,

        /// <summary>To a room's home: a session elsewhere joins (or, with no answer wanted, leaves) the room.</summary>
        RoomJoinAsk = 10,
        RoomLeaveAsk = 11,

        /// <summary>From a room's home: the answer to a join or a leave, by the asker's request number.</summary>
        RoomJoinAnswer = 12,
        RoomLeaveAnswer = 13,

        /// <summary>To a room's home: a member elsewhere posts; the home answers <see cref="RoomPostAnswer"/>.</summary>
        RoomPost = 14,
        RoomPostAnswer = 15,

        /// <summary>From a room's home: a post, with its Seq, or a member's join or leave, for a member on the receiving node.</summary>
        RoomMessage = 16,
        RoomPresence = 17,
    }

    /// <summary>Which <see cref="IDeliveryReceipt"/> call a report frame stands for.</summary>
    internal enum ReportKind : byte
    {
        Forwarded = 1,
        Delivered = 2,
        Refused = 3,
        Failed = 4,
        Stored = 5,
    }

    /// <summary>
    /// The bytes of a frame between nodes, with <see cref="BinaryWriter"/>'s length-prefixed UTF-8 strings: only
    /// servers of one cluster read them, and each checks what it reads as it would a client's (names, codes).
    /// </summary>
    internal static class ClusterFrame
    {
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        public static byte[] Deliver(ChatEnvelope envelope) => Write(FrameKind.Deliver, w => WriteEnvelope(w, envelope));

        public static byte[] Report(ReportKind kind, ChatEnvelope envelope, Refusal reason = Refusal.None, string message = null) =>
            Write(FrameKind.Report, w =>
            {
                w.Write((byte)kind);
                w.Write((int)reason);
                WriteNullable(w, message);
                w.Write(1);
                WriteEnvelope(w, envelope, withText: false);
            });

        public static byte[] Delivered(ReadOnlySpan<ChatEnvelope> envelopes)
        {
            ChatEnvelope[] copy = envelopes.ToArray();
            return Write(FrameKind.Report, w =>
            {
                w.Write((byte)ReportKind.Delivered);
                w.Write((int)Refusal.None);
                WriteNullable(w, null);
                w.Write(copy.Length);
                foreach (ChatEnvelope envelope in copy)
                {
                    WriteEnvelope(w, envelope, withText: false);
                }
            });
        }

        public static byte[] Receipt(string senderName, ChatEnvelope envelope) =>
            Write(FrameKind.Receipt, w =>
            {
                w.Write(senderName);
                WriteEnvelope(w, envelope, withText: false);
            });

        public static byte[] Disconnect(string userName, Refusal why, string text) =>
            Write(FrameKind.Disconnect, w =>
            {
                w.Write(userName);
                w.Write((int)why);
                w.Write(text ?? string.Empty);
            });

        public static byte[] InboxWritten(string userName) => Write(FrameKind.InboxWritten, w => w.Write(userName));

        public static byte[] RoomJoinAsk(long request, string room, string user, string protocol, DateTime connectedAt, long connection) =>
            Write(FrameKind.RoomJoinAsk, w =>
            {
                w.Write(request);
                w.Write(room);
                w.Write(user);
                w.Write(protocol ?? string.Empty);
                w.Write(connectedAt.Ticks);
                w.Write(connection);
            });

        public static byte[] RoomLeaveAsk(long request, string room, long connection) =>
            Write(FrameKind.RoomLeaveAsk, w =>
            {
                w.Write(request);
                w.Write(room);
                w.Write(connection);
            });

        public static byte[] RoomAnswer(FrameKind kind, long request, Refusal refusal, string message, RoomInfo room) =>
            Write(kind, w =>
            {
                w.Write(request);
                w.Write((int)refusal);
                WriteNullable(w, message);
                w.Write(room != null);
                if (room != null)
                {
                    WriteRoom(w, room);
                }
            });

        public static byte[] RoomPost(long connection, ChatEnvelope envelope) =>
            Write(FrameKind.RoomPost, w =>
            {
                w.Write(connection);
                WriteEnvelope(w, envelope);
            });

        public static byte[] RoomPostAnswer(long connection, ChatEnvelope envelope, Refusal refusal, string message, long seq, int recipients) =>
            Write(FrameKind.RoomPostAnswer, w =>
            {
                w.Write(connection);
                WriteEnvelope(w, envelope, withText: false);
                w.Write((int)refusal);
                WriteNullable(w, message);
                w.Write(seq);
                w.Write(recipients);
            });

        public static byte[] RoomMessage(long connection, ChatEnvelope envelope) =>
            Write(FrameKind.RoomMessage, w =>
            {
                w.Write(connection);
                WriteEnvelope(w, envelope);
            });

        public static byte[] RoomPresence(long connection, string room, string user, PresenceChange change, DateTime time) =>
            Write(FrameKind.RoomPresence, w =>
            {
                w.Write(connection);
                w.Write(room);
                w.Write(user);
                w.Write((int)change);
                w.Write(time.Ticks);
            });

        public static RoomInfo ReadRoom(BinaryReader r)
        {
            string name = r.ReadString();
            int count = r.ReadInt32();
            int listed = r.ReadInt32();
            if (!RoomNames.IsValid(name) || count < 0 || listed < -1 || listed > 1_000_000)
            {
                throw new InvalidDataException("a room from another node that cannot be");
            }

            string[] members = null;
            if (listed >= 0)
            {
                members = new string[listed];
                for (int i = 0; i < listed; i++)
                {
                    members[i] = r.ReadString();
                }
            }

            bool isMember = r.ReadBoolean();
            long joined = r.ReadInt64();
            long lastSeq = r.ReadInt64();
            return new RoomInfo(name, count, members, isMember, joined == 0 ? (DateTime?)null : new DateTime(joined, DateTimeKind.Utc)) { LastSeq = lastSeq };
        }

        public static DateTime ReadTime(BinaryReader r)
        {
            long ticks = r.ReadInt64();
            if (ticks < DateTime.MinValue.Ticks || ticks > DateTime.MaxValue.Ticks)
            {
                throw new InvalidDataException("a time that cannot be");
            }

            return new DateTime(ticks, DateTimeKind.Utc);
        }

        private static void WriteRoom(BinaryWriter w, RoomInfo room)
        {
            w.Write(room.Name);
            w.Write(room.MemberCount);
            w.Write(room.Members == null ? -1 : room.Members.Count);
            if (room.Members != null)
            {
                foreach (string member in room.Members)
                {
                    w.Write(member);
                }
            }

            w.Write(room.IsMember);
            w.Write(room.JoinedAtUtc?.Ticks ?? 0);
            w.Write(room.LastSeq);
        }

        public static FrameKind KindOf(ReadOnlySpan<byte> frame) => frame.Length == 0 ? 0 : (FrameKind)frame[0];

        /// <summary>A reader of the frame's body, after its kind; hand it back with <see cref="Close"/>.</summary>
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        public static BinaryReader Open(byte[] buffer, int offset, int count)
        {
            if (t_readerInUse)
            {
                // A frame read while another is (none today): a reader of its own, as before readers were reused.
                return new BinaryReader(new MemoryStream(buffer, offset + 1, count - 1, writable: false), Encoding.UTF8);
            }

            t_reader ??= new BinaryReader(new MemoryStream(256), Encoding.UTF8);
            var stream = (MemoryStream)t_reader.BaseStream;
            stream.SetLength(0);
            stream.Write(buffer, offset + 1, count - 1);
            stream.Position = 0;
            t_readerInUse = true;
            return t_reader;
        }

        /// <summary>Done with a reader of <see cref="Open"/>; one that failed mid-frame is not reused (its decoder may hold half a character).</summary>
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        public static void Close(BinaryReader r, bool failed)
        {
            if (!ReferenceEquals(r, t_reader))
            {
                r.Dispose();
                return;
            }

            t_readerInUse = false;
            if (failed || r.BaseStream.Length > 64 * 1024)
            {
                t_reader = null;
            }
        }

        // One reader per thread, reused, for the reason the writer is: a reader with its buffers per frame cost more
        // than most frames. The frame is copied into the reader's own stream, so a read past the frame's end fails as
        // it did on a stream of the frame alone, never reading into the next frame.
        [ThreadStatic]
        private static BinaryReader t_reader;

        [ThreadStatic]
        private static bool t_readerInUse;

        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        public static ChatEnvelope ReadEnvelope(BinaryReader r)
        {
            long number = r.ReadInt64();
            string from = r.ReadString();
            string to = r.ReadString();
            byte[] textJson = null;
            string text = null;
            if (r.ReadBoolean())
            {
                int length = r.ReadInt32();
                if (length < 2 || length > 16 * 1024 * 1024)
                {
                    throw new InvalidDataException("a text that cannot be");
                }

                textJson = r.ReadBytes(length);
                if (textJson.Length != length || !IsOneJsonString(textJson))
                {
                    throw new InvalidDataException("a text that is not a JSON string");
                }
            }
            else
            {
                text = ReadNullable(r);
            }

            DateTime sentAt = ReadTime(r);
            string senderRef = ReadNullable(r);
            var sender = new SenderAddress(r.ReadInt32(), r.ReadInt64());
            bool hearsStatus = r.ReadBoolean();
            long seq = r.ReadInt64();
            if (!UserNames.IsValid(from) || !(UserNames.IsValid(to) || RoomNames.IsValid(to)))
            {
                throw new InvalidDataException("a frame from another node names no valid sender or recipient");
            }

            return new ChatEnvelope(number, from, to, text, textJson, sentAt, senderRef, null, sender, hearsStatus) { Seq = seq };
        }

        // The bytes go into native frames as they are: they must be one JSON string and nothing more, or another
        // server could write fields into a client's frame.
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        private static bool IsOneJsonString(byte[] json)
        {
            try
            {
                var reader = new System.Text.Json.Utf8JsonReader(json);
                return reader.Read() && reader.TokenType == System.Text.Json.JsonTokenType.String && !reader.Read();
            }
            catch (System.Text.Json.JsonException)
            {
                return false;
            }
        }

        public static string ReadNullable(BinaryReader r) => r.ReadBoolean() ? r.ReadString() : null;

        public static Refusal ReadRefusal(BinaryReader r)
        {
            int code = r.ReadInt32();
            return Enum.IsDefined(typeof(Refusal), code) ? (Refusal)code : Refusal.None;
        }

        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        private static void WriteEnvelope(BinaryWriter w, ChatEnvelope envelope, bool withText = true)
        {
            w.Write(envelope.Number);
            w.Write(envelope.From ?? string.Empty);
            w.Write(envelope.To ?? string.Empty);
            // Text as the native sender wrote it goes on as it came, never a string in between (see ChatEnvelope.TextJson).
            byte[] textJson = withText ? envelope.TextJson : null;
            w.Write(textJson != null);
            if (textJson != null)
            {
                w.Write(textJson.Length);
                w.Write(textJson);
            }
            else
            {
                WriteNullable(w, withText ? envelope.Text : null);
            }

            w.Write(envelope.SentAt.Ticks);
            WriteNullable(w, envelope.SenderRef);
            w.Write(envelope.Sender.ServerId);
            w.Write(envelope.Sender.ConnectionId);
            w.Write(envelope.SenderHearsStatus);
            w.Write(envelope.Seq);
        }

        private static void WriteNullable(BinaryWriter w, string value)
        {
            w.Write(value != null);
            if (value != null)
            {
                w.Write(value);
            }
        }

        // One writer per thread, reused: a frame per message must not cost a stream, a writer and its encoder.
        [ThreadStatic]
        private static BinaryWriter t_writer;

        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        private static byte[] Write(FrameKind kind, Action<BinaryWriter> body)
        {
            BinaryWriter w = t_writer ??= new BinaryWriter(new MemoryStream(256), new UTF8Encoding(false), leaveOpen: false);
            var stream = (MemoryStream)w.BaseStream;
            stream.SetLength(0);
            w.Write((byte)kind);
            body(w);
            w.Flush();
            byte[] frame = stream.ToArray();
            if (stream.Capacity > 64 * 1024)
            {
                // One huge frame should not stay held by the thread.
                t_writer = null;
            }

            return frame;
        }
    }
}
