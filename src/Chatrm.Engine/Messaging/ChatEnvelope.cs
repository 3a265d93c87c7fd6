using System;
using Chatrm.Engine.Protocol.Native;
using Chatrm.Engine.Routing;

namespace Chatrm.Engine.Messaging
{
    /// <summary>One message on its way through the server. The server, never the client, says who sent it.</summary>
    internal sealed class ChatEnvelope
    {
        private string _id;
        private string _text;
        private string _senderRef;

        public ChatEnvelope(string id, string from, string to, string text, DateTime sentAt, string senderRef = null, SenderAddress sender = default, bool senderHearsStatus = false)
        {
            _id = id;
            Number = NativeProtocol.TryParseMessageId(id, out long number) ? number : 0;
            From = from;
            To = to;
            _text = text;
            SentAt = sentAt;
            _senderRef = senderRef;
            Sender = sender;
            SenderHearsStatus = senderHearsStatus;
        }

        /// <summary>
        /// A message the server numbered: its id is written out only when asked for. <paramref name="textJson"/>
        /// and <paramref name="senderRefJson"/>, when not null, are the text and ref as a native frame writes them,
        /// quotes included (see <see cref="TextJson"/>).
        /// </summary>
        internal ChatEnvelope(long number, string from, string to, string text, byte[] textJson, DateTime sentAt, string senderRef = null, byte[] senderRefJson = null, SenderAddress sender = default, bool senderHearsStatus = false)
        {
            Number = number;
            From = from;
            To = to;
            _text = text;
            TextJson = textJson;
            SentAt = sentAt;
            _senderRef = senderRef;
            SenderRefJson = senderRefJson;
            Sender = sender;
            SenderHearsStatus = senderHearsStatus;
        }

        /// <summary>
        /// The message a native send frame (read <see cref="NativeFrame.KeepsWireBytes"/>) asks for: text and ref kept as
        /// they came go on as they came, and become strings only if something, such as a classic recipient, asks.
        /// </summary>
        internal static ChatEnvelope FromSend(NativeFrame send, long number, string from, DateTime sentAt, SenderAddress sender) =>
            new ChatEnvelope(
                number, from, send.To, send.TextJson == null ? send.Text : null, send.TextJson, sentAt,
                send.RefJson == null ? send.Ref : null, send.RefJson, sender, senderHearsStatus: true);

        /// <summary>Unique for the server's run.</summary>
        public string Id => _id ?? (_id = NativeProtocol.MessageIdText(Number));

        /// <summary>The id as a number, 0 when it is none: what the server keeps and looks up unconfirmed messages by.</summary>
        internal long Number { get; }

        public string From { get; }
        public string To { get; }

        public string Text => _text ?? (TextJson == null ? null : _text = NativeProtocol.TextOfJson(TextJson));

        /// <summary>
        /// The text as the native sender wrote it, quotes included, when that is exactly what a frame would write
        /// (see <see cref="NativeProtocol"/>): it goes to native recipients as it came, never becoming a string.
        /// </summary>
        internal byte[] TextJson { get; }

        /// <summary>When the server accepted it, UTC.</summary>
        public DateTime SentAt { get; }

        /// <summary>The sender's own reference for the message, echoed in its status.</summary>
        public string SenderRef => _senderRef ?? (SenderRefJson == null ? null : _senderRef = NativeProtocol.TextOfJson(SenderRefJson));

        /// <summary>The sender's ref as it wrote it, quotes included, when that is what a frame writes (see <see cref="TextJson"/>).</summary>
        internal byte[] SenderRefJson { get; }

        /// <summary>Where reports of this message's fate go: the sender's server and connection, by value.</summary>
        public SenderAddress Sender { get; }

        /// <summary>
        /// The sender awaits a status (native): it is told forwarded, delivered and never-confirmed. Every sender is
        /// told a refusal.
        /// </summary>
        public bool SenderHearsStatus { get; }

        /// <summary>The room this message was posted to (then <see cref="To"/> is the room too), or null for a direct message.</summary>
        public string Room => RoomNames.IsRoom(To) ? To : null;

        /// <summary>
        /// A room message's place in its room: one more than the room's message before it. Set by the room, under its
        /// lock, before any member gets the message; 0 for a direct message.
        /// </summary>
        public long Seq { get; internal set; }

        /// <summary>
        /// The store's ticket for this direct message's line of history (0: none yet): a Delivered report waits for it to
        /// be committed. Set by the recipient's side before the message is queued to it, so before any ack of it.
        /// </summary>
        internal long HistoryTicket { get; set; }

        /// <summary>
        /// Kept in its recipient's inbox while it was offline: its ack takes it out of the inbox and sends its sender a
        /// receipt, and it is in the history already.
        /// </summary>
        internal bool FromInbox { get; private set; }

        /// <summary>A message from <paramref name="stored"/>'s inbox, as it was sent: same id, sender, time and ref.</summary>
        internal static ChatEnvelope OfInbox(Storage.StoredMessage stored) =>
            new ChatEnvelope(stored.Id, stored.From, stored.To, stored.Text, null, stored.SentAt, stored.SenderRef) { FromInbox = true };

        /// <summary>This message as the store keeps it: with the sender's ref for an inbox (its receipt names it), without for history.</summary>
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        internal Storage.StoredMessage ToStored(bool forInbox) =>
            new Storage.StoredMessage
            {
                Id = Number, From = From, To = To, Text = TextJson == null ? Text : null, TextJson = TextJson, SentAt = SentAt, Seq = Seq,
                SenderRef = forInbox ? SenderRef : null,
            };

        /// <summary><see cref="From"/> encoded for a native frame, when the sender's connection had it at hand.</summary>
        internal System.Text.Json.JsonEncodedText EncodedFrom { get; set; }
    }
}
