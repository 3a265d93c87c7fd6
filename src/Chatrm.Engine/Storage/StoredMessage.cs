using System;

namespace Chatrm.Engine.Storage
{
    /// <summary>A message as the store keeps it: in an offline inbox, or as a line of history.</summary>
    internal sealed class StoredMessage
    {
        /// <summary>The server's number for it (<see cref="Messaging.ChatEnvelope.Number"/>): a stored message keeps its id.</summary>
        public long Id { get; set; }

        public string From { get; set; }

        /// <summary>A user name, or a room's name.</summary>
        public string To { get; set; }

        private string _text;

        /// <summary>The text; made from <see cref="TextJson"/> only when something asks.</summary>
        public string Text
        {
            get => _text ?? (TextJson == null ? null : _text = Protocol.Native.NativeProtocol.TextOfJson(TextJson));
            set => _text = value;
        }

        /// <summary>
        /// The text as a native sender wrote it (see <see cref="Messaging.ChatEnvelope.TextJson"/>: printable ASCII, in
        /// quotes, nothing escaped), when it came so: kept as it came, so a line of history costs no string until read.
        /// </summary>
        internal byte[] TextJson { get; set; }

        /// <summary>The text's length in characters, without making it.</summary>
        internal int TextLength => _text?.Length ?? (TextJson == null ? 0 : TextJson.Length - 2);

        /// <summary>When the server accepted it, UTC.</summary>
        public DateTime SentAt { get; set; }

        /// <summary>Its place in its conversation (a room's Seq, or a direct conversation's own); 0 in an inbox.</summary>
        public long Seq { get; set; }

        /// <summary>The sender's ref, kept in an inbox so the receipt can name it; null in history.</summary>
        public string SenderRef { get; set; }
    }
}
