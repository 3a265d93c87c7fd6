using System;

namespace Chatrm.Engine.Storage
{
    /// <summary>
    /// One ref a resume token's send gave, as a store file keeps it from a graceful stop to the next start, so a
    /// restart does not make a resend a second message (docs/store.md). The token itself is never written: only its
    /// hash, which a hello's token is compared with.
    /// </summary>
    internal sealed class KeptRef
    {
        /// <summary>The sender's name, as it logged in.</summary>
        public string UserName { get; set; }

        /// <summary>The SHA-256 of the resume token, in lower-case hex.</summary>
        public string TokenHash { get; set; }

        /// <summary>The send's ref, as its characters.</summary>
        public string Ref { get; set; }

        /// <summary>The message's id as a number.</summary>
        public long Id { get; set; }

        public string To { get; set; }

        /// <summary>When the server accepted the send, UTC: the resend window counts from it, across the restart too.</summary>
        public DateTime SentAt { get; set; }

        /// <summary>The fate last told, as the server numbers its kinds (never "not known yet": such a ref is not kept).</summary>
        public int Fate { get; set; }

        /// <summary>A refusal's code; null otherwise.</summary>
        public string Reason { get; set; }

        /// <summary>A refusal's words; null otherwise.</summary>
        public string Message { get; set; }

        /// <summary>A post's Seq; 0 otherwise.</summary>
        public long Seq { get; set; }

        /// <summary>A post's recipients; 0 otherwise.</summary>
        public int Recipients { get; set; }
    }
}
