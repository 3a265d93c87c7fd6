using System.Collections.Generic;
using System.Text;

namespace Chatrm.Engine.Storage
{
    /// <summary>
    /// Counts what each offline inbox holds (messages, text bytes), queued or committed, so a full inbox is refused
    /// when the message arrives rather than after a commit. Thread-safe.
    /// </summary>
    internal sealed class InboxQuota
    {
        private readonly Dictionary<string, Usage> used = new Dictionary<string, Usage>(UserNames.Comparer);
        private readonly StoreLimits limits;

        public InboxQuota(StoreLimits limits)
        {
            this.limits = limits;
        }

        public static long BytesOf(StoredMessage message) =>
            message.TextJson != null ? message.TextJson.Length - 2 : message.Text == null ? 0 : Encoding.UTF8.GetByteCount(message.Text);

        /// <summary>Counts a message in, or says in words a user reads why its recipient's inbox cannot take it.</summary>
        public string TryTake(string user, long bytes)
        {
            lock (used)
            {
                used.TryGetValue(user, out Usage usage);
                if (usage.Messages >= limits.MaxInboxMessages)
                {
                    return $"{user}'s inbox is full: it holds {limits.MaxInboxMessages} messages, as many as it may.";
                }

                if (usage.Bytes + bytes > limits.MaxInboxBytes)
                {
                    return $"{user}'s inbox is full: it may hold {limits.MaxInboxBytes} bytes of text, and this message would pass that.";
                }

                used[user] = new Usage(usage.Messages + 1, usage.Bytes + bytes);
                return null;
            }
        }

        /// <summary>Counts a message in without a check: one already in the file when the store opens.</summary>
        public void Add(string user, int messages, long bytes)
        {
            lock (used)
            {
                used.TryGetValue(user, out Usage usage);
                used[user] = new Usage(usage.Messages + messages, usage.Bytes + bytes);
            }
        }

        /// <summary>Counts a message out: confirmed, expired, or not written after all.</summary>
        public void Release(string user, long bytes)
        {
            lock (used)
            {
                if (!used.TryGetValue(user, out Usage usage))
                {
                    return;
                }

                if (usage.Messages <= 1)
                {
                    used.Remove(user);
                }
                else
                {
                    used[user] = new Usage(usage.Messages - 1, usage.Bytes - bytes);
                }
            }
        }

        private readonly struct Usage
        {
            public Usage(int messages, long bytes)
            {
                Messages = messages;
                Bytes = bytes;
            }

            public int Messages { get; }

            public long Bytes { get; }
        }
    }
}
