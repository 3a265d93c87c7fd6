using Chatrm.Engine.Messaging;

namespace Chatrm.Engine.Server.Resume
{
    /// <summary>Which status a remembered send was last told; <see cref="Pending"/> until one is.</summary>
    internal enum FateKind : byte
    {
        Pending = 0,
        Delivered,
        Forwarded,
        Stored,
        Posted,
        Refused,
    }

    /// <summary>
    /// The fate a send was last told, with what its status frame says beside the message's own fields: the reason
    /// and words of a refusal, a post's seq and recipients.
    /// </summary>
    internal readonly struct RefFate
    {
        public RefFate(FateKind kind, Refusal reason = Refusal.None, string message = null, long seq = 0, int recipients = 0)
        {
            Kind = kind;
            Reason = reason;
            Message = message;
            Seq = seq;
            Recipients = recipients;
        }

        public FateKind Kind { get; }

        public Refusal Reason { get; }

        public string Message { get; }

        public long Seq { get; }

        public int Recipients { get; }

        public static RefFate Delivered => new RefFate(FateKind.Delivered);

        public static RefFate Forwarded => new RefFate(FateKind.Forwarded);

        public static RefFate Stored => new RefFate(FateKind.Stored);

        public static RefFate Posted(long seq, int recipients) => new RefFate(FateKind.Posted, seq: seq, recipients: recipients);

        public static RefFate Refused(Refusal reason, string message) => new RefFate(FateKind.Refused, reason, message);
    }
}
