namespace Chatrm.Engine.Storage
{
    internal enum StoreOutcome
    {
        /// <summary>Committed: it survives a crash of the server process.</summary>
        Stored,
        /// <summary>The recipient's inbox holds as many messages or bytes as it may.</summary>
        InboxFull,
        /// <summary>The store could not write it (a full disk, a broken file): nothing was kept.</summary>
        Failed,
    }

    /// <summary>What became of a message handed to <see cref="IMessageStore.StoreOffline"/>.</summary>
    internal readonly struct StoreResult
    {
        public StoreResult(StoreOutcome outcome, string reason = null)
        {
            Outcome = outcome;
            Reason = reason;
        }

        public StoreOutcome Outcome { get; }

        /// <summary>Why it was not stored, in words a user reads; null when it was.</summary>
        public string Reason { get; }
    }
}
