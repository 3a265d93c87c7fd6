namespace Chatrm.Engine.Storage
{
    /// <summary>How much a store keeps, and for how long. The server's options fill it in and validate it.</summary>
    internal sealed class StoreLimits
    {
        public const int DefaultMaxInboxMessages = 10_000;

        public const long DefaultMaxInboxBytes = 16L * 1024 * 1024;

        public const int DefaultDays = 30;

        public const long DefaultMaxMemoryHistoryBytes = 8L * 1024 * 1024;

        /// <summary>Messages one user's offline inbox may hold.</summary>
        public int MaxInboxMessages { get; set; } = DefaultMaxInboxMessages;

        /// <summary>Bytes of text (UTF-8) one user's offline inbox may hold.</summary>
        public long MaxInboxBytes { get; set; } = DefaultMaxInboxBytes;

        /// <summary>Days an offline message waits for its recipient before it is deleted unread.</summary>
        public int InboxDays { get; set; } = DefaultDays;

        /// <summary>Days a line of history is kept.</summary>
        public int HistoryDays { get; set; } = DefaultDays;

        /// <summary>
        /// The memory store's history at most (a file's is held by its days alone): past this the oldest lines go,
        /// counted as the bytes of the segments that hold the lines (see MemoryHistory).
        /// </summary>
        public long MaxMemoryHistoryBytes { get; set; } = DefaultMaxMemoryHistoryBytes;

        /// <summary>False: no history is written or read.</summary>
        public bool KeepHistory { get; set; } = true;
    }
}
