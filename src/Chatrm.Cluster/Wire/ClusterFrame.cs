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

        public static FrameKind KindOf(ReadOnlySpan<byte> frame) => frame.Length == 0 ? 0 : (FrameKind)frame[0];

        /// <summary>A reader of the frame's body, after its kind.</summary>
        public static BinaryReader Open(byte[] buffer, int offset, int count) =>
            new BinaryReader(new MemoryStream(buffer, offset + 1, count - 1, writable: false), Encoding.UTF8);

        public static ChatEnvelope ReadEnvelope(BinaryReader r)
        {
            long number = r.ReadInt64();
            string from = r.ReadString();
            string to = r.ReadString();
            string text = ReadNullable(r);
            var sentAt = new DateTime(r.ReadInt64(), DateTimeKind.Utc);
            string senderRef = ReadNullable(r);
            var sender = new SenderAddress(r.ReadInt32(), r.ReadInt64());
            bool hearsStatus = r.ReadBoolean();
            long seq = r.ReadInt64();
            if (!UserNames.IsValid(from) || !(UserNames.IsValid(to) || RoomNames.IsValid(to)))
            {
                throw new InvalidDataException("a frame from another node names no valid sender or recipient");
            }

            return new ChatEnvelope(number, from, to, text, null, sentAt, senderRef, null, sender, hearsStatus) { Seq = seq };
        }

        public static string ReadNullable(BinaryReader r) => r.ReadBoolean() ? r.ReadString() : null;

        public static Refusal ReadRefusal(BinaryReader r)
        {
            int code = r.ReadInt32();
            return Enum.IsDefined(typeof(Refusal), code) ? (Refusal)code : Refusal.None;
        }

        private static void WriteEnvelope(BinaryWriter w, ChatEnvelope envelope, bool withText = true)
        {
            w.Write(envelope.Number);
            w.Write(envelope.From ?? string.Empty);
            w.Write(envelope.To ?? string.Empty);
            WriteNullable(w, withText ? envelope.Text : null);
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

        private static byte[] Write(FrameKind kind, Action<BinaryWriter> body)
        {
            using var stream = new MemoryStream(128);
            using (var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
            {
                w.Write((byte)kind);
                body(w);
            }

            return stream.ToArray();
        }
    }
}
