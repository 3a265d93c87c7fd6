namespace Chatrm.Engine.Routing
{
    /// <summary>
    /// What <see cref="IMessageRouter.Post"/> answers: the message's place in its room and how many members took it,
    /// or why it was not posted. The sender hears nothing more of a room message: no per-member reports.
    /// </summary>
    internal readonly struct RoomPost
    {
        private RoomPost(Refusal refusal, string message, long seq, int recipients, bool pending = false)
        {
            IsPending = pending;
            Refusal = refusal;
            Message = message;
            Seq = seq;
            Recipients = recipients;
        }

        /// <summary><see cref="Refusal.None"/> when posted: else invalid-room or not-in-room.</summary>
        public Refusal Refusal { get; }

        /// <summary>The refusal's words; null when posted.</summary>
        public string Message { get; }

        /// <summary>The message's <see cref="Messaging.ChatEnvelope.Seq"/> in the room; 0 when refused.</summary>
        public long Seq { get; }

        /// <summary>The other members whose sessions took the message (those too slow or gone are not counted).</summary>
        public int Recipients { get; }

        public bool Posted => Refusal == Refusal.None && !IsPending;

        /// <summary>The room is another server's: the answer comes later, to the sender's <see cref="IChatEndpoint.PostAnswered"/>.</summary>
        public bool IsPending { get; }

        internal static RoomPost Pending => new RoomPost(Refusal.None, null, 0, 0, pending: true);

        internal static RoomPost Done(long seq, int recipients) => new RoomPost(Refusal.None, null, seq, recipients);

        internal static RoomPost Refused(Refusal refusal, string message) => new RoomPost(refusal, message, 0, 0);
    }
}
