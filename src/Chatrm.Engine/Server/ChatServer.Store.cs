using System;
using System.Collections.Generic;
using System.Threading;
using Chatrm.Engine.Messaging;
using Chatrm.Engine.Routing.Rooms;
using Chatrm.Engine.Storage;

namespace Chatrm.Engine
{
    /// <summary>
    /// The server's store: opened at start (a file, or memory), flushed and closed at stop; the blocks of message ids
    /// it reserves so ids stay unique across restarts; the names it knows; history as rooms and the operator see it.
    /// </summary>
    public sealed partial class ChatServer
    {
        /// <summary>Ids reserved from the store at a time: a durable write once per million messages.</summary>
        internal const long DefaultIdBlockSize = 1_000_000;

        /// <summary>Ids reserved from the store at a time; smaller in tests, set before <see cref="Start"/>.</summary>
        internal long IdBlockSize { get; set; } = DefaultIdBlockSize;

        /// <summary>How long a history read waits for what was sent before it to be committed.</summary>
        private static readonly TimeSpan HistoryReadWait = TimeSpan.FromSeconds(1);

        /// <summary>How long a stop waits for the store to commit what is queued.</summary>
        private static readonly TimeSpan StoreFlushTime = TimeSpan.FromSeconds(10);

        private readonly object _idGate = new object();

        // The last id the store reserved for this run; ids up to it may be handed out. No store: no bound.
        private long _idBlockEnd = long.MaxValue;
        private volatile IMessageStore _store;

        /// <summary>Per name, writes on their way into its inbox: a login reads the inbox once none are (see Server/Inbox/).</summary>
        internal Server.Inbox.InboxWritesInFlight InboxWrites { get; } = new Server.Inbox.InboxWritesInFlight();

        /// <summary>The store, from <see cref="Start"/> on; null before (a session tested without a started server).</summary>
        internal IMessageStore Store => _store;

        /// <summary>The limits the store keeps, from the options.</summary>
        internal StoreLimits StoreLimits => new StoreLimits
        {
            MaxInboxMessages = Options.MaxInboxMessages,
            MaxInboxBytes = Options.MaxInboxBytes,
            InboxDays = Options.InboxDays,
            HistoryDays = Options.HistoryDays,
            KeepHistory = Options.KeepHistory,
        };

        /// <summary>Opens the store instead of the options: a cluster's (JetStream), or for tests one that holds its commits back.</summary>
        internal Func<StoreLimits, IMessageStore> StoreOpener { get; set; }

        /// <summary>Opens the store the options name, and takes the first block of ids above every id it has seen.</summary>
        private void OpenStore()
        {
            IMessageStore store = StoreOpener != null ? StoreOpener(StoreLimits)
                : Options.StorePath == null ? new MemoryMessageStore(StoreLimits, Clock)
                : SqliteMessageStore.Open(Options.StorePath, StoreLimits, Clock);
            try
            {
                long end = store.ReserveIds(IdBlockSize);
                _nextMessageId = MessageIds.Compose(Router.ServerId, end - IdBlockSize);
                _idBlockEnd = MessageIds.Compose(Router.ServerId, end);
            }
            catch
            {
                store.Dispose();
                throw;
            }

            _store = store;
            RestoreResumeStates(store);
        }

        /// <summary>Commits what is queued, keeps the resend memory (a file only), and closes the store; the last thing a stop does.</summary>
        private void CloseStore()
        {
            IMessageStore store = Interlocked.Exchange(ref _store, null);
            if (store == null)
            {
                return;
            }

            if (!store.Flush(StoreFlushTime))
            {
                Raise(ServerEventKind.ServerError, null, "the store did not commit everything within " + Durations.Describe(StoreFlushTime));
            }

            KeepResumeStates(store);
            store.Dispose();
        }

        // 1 while a block is being reserved ahead of need.
        private int _reservingAhead;

        /// <summary>
        /// Half of the block is handed out: the next is reserved now, off the reader's thread, so no reader waits for the
        /// store's durable write (a cluster's is a round trip to JetStream, slow when the thread pool is busy) when this
        /// one runs out.
        /// </summary>
        private void ReserveAhead(long blockEnd)
        {
            if (Interlocked.CompareExchange(ref _reservingAhead, 1, 0) != 0)
            {
                return;
            }

            ThreadPool.UnsafeQueueUserWorkItem(_ =>
            {
                try
                {
                    EnsureIdsReserved(blockEnd + 1);
                }
                catch (Exception e)
                {
                    // The reader that reaches the block's end tries again, and fails as it would have without this.
                    Raise(ServerEventKind.ServerError, null, "the next block of message ids could not be reserved: " + e.GetType().Name + ": " + e.Message);
                }
                finally
                {
                    Volatile.Write(ref _reservingAhead, 0);
                }
            }, null);
        }

        /// <summary>Ids up to <paramref name="end"/> are handed out: past the store's block, reserve more first (rarely; durable).</summary>
        private void EnsureIdsReserved(long end)
        {
            lock (_idGate)
            {
                IMessageStore store = _store;
                while (store != null && end > _idBlockEnd)
                {
                    Volatile.Write(ref _idBlockEnd, Math.Max(_idBlockEnd, MessageIds.Compose(Router.ServerId, store.ReserveIds(IdBlockSize))));
                }
            }
        }

        /// <summary>Whether a message for an offline recipient may wait in this server's store (see <see cref="IMessageRouter.KeepsInboxes"/>).</summary>
        internal bool KeepsInboxes => _store != null && Router.KeepsInboxes;

        /// <summary>Whether a message to this name may wait for it: every name in the credentials, and every name that logged in.</summary>
        internal bool IsKnownUser(string name) =>
            (Options.Credentials != null && Options.Credentials.Contains(name)) || (_store?.IsKnownUser(name) ?? false);

        /// <summary>Keeps a direct message as a line of history, once, and notes its ticket for its Delivered report.</summary>
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        internal void AppendDirectHistory(ChatEnvelope envelope)
        {
            IMessageStore store = _store;
            if (store != null && envelope.HistoryTicket == 0 && store.KeepsHistory)
            {
                envelope.HistoryTicket = store.AppendHistory(envelope.ToStored(forInbox: false));
            }
        }

        /// <summary>The rooms' side of the store: where a room starts its Seq, and where its posts go.</summary>
        private sealed class RoomHistory : IRoomHistory
        {
            private readonly ChatServer _server;

            public RoomHistory(ChatServer server) => _server = server;

            public long LastSeq(string room) => _server._store?.LastRoomSeq(room) ?? 0;

            public void Append(ChatEnvelope post)
            {
                IMessageStore store = _server._store;
                if (store != null && store.KeepsHistory)
                {
                    store.AppendHistory(post.ToStored(forInbox: false));
                }
            }
        }

        /// <summary>
        /// History as the server sees it, with no check of who asks: a room's (<paramref name="roomOrUser"/> a room's
        /// name, <paramref name="with"/> null) or the direct conversation of two users (<paramref name="roomOrUser"/> and
        /// <paramref name="with"/>). The last <paramref name="last"/> lines with Seq below <paramref name="before"/> and
        /// above <paramref name="after"/> (0: no bound), ascending by Seq; none when history is off or the server has
        /// not started.
        /// </summary>
        public IReadOnlyList<ChatMessage> ReadHistory(string roomOrUser, string with = null, int last = 50, long before = 0, long after = 0)
        {
            if (roomOrUser == null)
            {
                throw new ArgumentNullException(nameof(roomOrUser));
            }

            if (last < 1 || last > Protocol.Native.NativeProtocol.MaxHistoryLines)
            {
                throw new ArgumentOutOfRangeException(nameof(last), last, "From 1 to " + Protocol.Native.NativeProtocol.MaxHistoryLines + " lines.");
            }

            bool room = with == null;
            if (room && !RoomNames.IsRoom(roomOrUser))
            {
                throw new ArgumentException("A room's name starts with '#'; for a direct conversation name both users.", nameof(with));
            }

            IMessageStore store = _store;
            var messages = new List<ChatMessage>();
            if (store == null || !store.KeepsHistory)
            {
                return messages;
            }

            string conversation = room ? Conversations.Room(roomOrUser) : Conversations.Direct(roomOrUser, with);
            foreach (StoredMessage line in ReadCommittedHistory(store, conversation, last, before, after))
            {
                messages.Add(ToChatMessage(line));
            }

            return messages;
        }

        /// <summary>
        /// Reads history once what was queued before the question is committed (a store reads committed lines only), so
        /// a user who posts and then asks sees the post: at most <see cref="HistoryReadWait"/>, then what is there.
        /// </summary>
        internal IReadOnlyList<StoredMessage> ReadCommittedHistory(IMessageStore store, string conversation, int last, long before, long after)
        {
            store.Flush(HistoryReadWait);
            return store.ReadHistory(conversation, last, before, after);
        }

        internal static ChatMessage ToChatMessage(StoredMessage line) =>
            new ChatMessage(line.From, line.To, line.Text, line.SentAt, Protocol.Native.NativeProtocol.MessageIdText(line.Id), line.SentAt)
            {
                Seq = line.Seq,
                Room = RoomNames.IsRoom(line.To) ? line.To : string.Empty,
            };
    }
}
