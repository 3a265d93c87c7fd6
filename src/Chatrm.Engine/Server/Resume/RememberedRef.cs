using System;

namespace Chatrm.Engine.Server.Resume
{
    /// <summary>
    /// One send remembered by its ref: the message it became (id, recipient, time) and the fate it was last told.
    /// A struct in its table's dictionary, so remembering a send allocates nothing of its own.
    /// </summary>
    internal struct RememberedRef
    {
        public RememberedRef(long number, string to, DateTime sentAt)
        {
            Number = number;
            To = to;
            SentAt = sentAt;
            Fate = default;
        }

        /// <summary>The message's id as a number: a fate is recorded only for this message, not a later one that reused the ref.</summary>
        public long Number { get; }

        public string To { get; }

        public DateTime SentAt { get; }

        public RefFate Fate { get; set; }
    }
}
