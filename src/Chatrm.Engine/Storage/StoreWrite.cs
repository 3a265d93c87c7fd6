using System;

namespace Chatrm.Engine.Storage
{
    internal enum StoreWriteKind : byte
    {
        RememberUser,
        Inbox,
        ConfirmInbox,
        History,
    }

    /// <summary>One queued write of the SQLite store: what the writer puts in its next transaction.</summary>
    internal readonly struct StoreWrite
    {
        public StoreWrite(StoreWriteKind kind, StoredMessage message, string key, long id, long bytes, Action<StoreResult> completed)
        {
            Kind = kind;
            Message = message;
            Key = key;
            Id = id;
            Bytes = bytes;
            Completed = completed;
        }

        public StoreWriteKind Kind { get; }

        /// <summary>The message of an inbox or history write.</summary>
        public StoredMessage Message { get; }

        /// <summary>The user's key (lower-cased name) for a user, inbox or confirm write; the conversation for history.</summary>
        public string Key { get; }

        /// <summary>The message id a confirm takes out.</summary>
        public long Id { get; }

        /// <summary>Text bytes (UTF-8) of an inbox write, counted in its inbox's quota.</summary>
        public long Bytes { get; }

        public Action<StoreResult> Completed { get; }

        /// <summary>About what the write holds in memory while queued, for the queue's bound.</summary>
        public long QueuedBytes => 64 + (Message == null ? 0 : Message.TextLength * 2L);
    }
}
