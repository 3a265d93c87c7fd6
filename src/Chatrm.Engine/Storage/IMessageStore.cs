using System;
using System.Collections.Generic;

namespace Chatrm.Engine.Storage
{
    /// <summary>
    /// What the server keeps beyond a connection: offline inboxes, history, the names it has seen and the ids it has
    /// handed out. Writes are queued and committed in groups on one background writer, so no message waits for a disk
    /// round trip; a caller that must not report a fate before it is durable asks <see cref="WhenCommitted"/>.
    /// Thread-safe. The memory store and the SQLite store pass the same tests.
    /// </summary>
    internal interface IMessageStore : IDisposable
    {
        /// <summary>Null for memory; the file otherwise.</summary>
        string Path { get; }

        /// <summary>
        /// Returns the end of a new block of <paramref name="count"/> message ids, all above every id this store (in
        /// this run or any earlier one) handed out, so ids stay unique across restarts. Durable before it returns;
        /// called rarely (blocks are large).
        /// </summary>
        long ReserveIds(long count);

        /// <summary>Whether this name has ever logged in to a server using this store (compared as user names are).</summary>
        bool IsKnownUser(string name);

        /// <summary>Remembers a name that logged in; queued like every write.</summary>
        void RememberUser(string name);

        /// <summary>
        /// Keeps a direct message for its offline recipient (<see cref="StoredMessage.To"/>). <paramref name="completed"/>
        /// runs once, on the writer's thread after the commit (<see cref="StoreOutcome.Stored"/>), or at once when the
        /// inbox is full (<see cref="StoreOutcome.InboxFull"/>) or the write failed (<see cref="StoreOutcome.Failed"/>, such
        /// as a full disk); its text says why in words a user reads.
        /// </summary>
        void StoreOffline(StoredMessage message, Action<StoreResult> completed);

        /// <summary>The messages waiting for <paramref name="user"/>, in id order (oldest first, one kept late included), at most <paramref name="max"/>; committed ones only, and none confirmed already (even if that confirm is still queued).</summary>
        IReadOnlyList<StoredMessage> ReadInbox(string user, int max);

        /// <summary>Takes one message out of a user's inbox: its client confirmed it. Queued; unknown ids are ignored.</summary>
        void ConfirmInbox(string user, long id);

        /// <summary>
        /// The scope within which message ids never repeat: kept in a store file, so it outlives restarts; new for
        /// every memory store. A welcome carries it, so a client knows when ids it has seen may come again.
        /// </summary>
        string IdScope { get; }

        /// <summary>False when history is off: <see cref="AppendHistory"/> keeps nothing, <see cref="ReadHistory"/> returns nothing.</summary>
        bool KeepsHistory { get; }

        /// <summary>
        /// Adds a message to its conversation's history and returns its commit ticket (see <see cref="WhenCommitted"/>).
        /// A room message comes with its room's Seq; a direct message's Seq is given here, one more than the
        /// conversation's last, and written back into <paramref name="message"/>. 0 when history is off.
        /// </summary>
        long AppendHistory(StoredMessage message);

        /// <summary>The last Seq a room's history holds, 0 for none: a room made again carries on from it.</summary>
        long LastRoomSeq(string room);

        /// <summary>
        /// Messages of one conversation (<see cref="Conversations.Direct"/> or a room name), ascending by Seq: the last
        /// <paramref name="last"/> with Seq below <paramref name="before"/> (0: no bound) and above <paramref name="after"/>
        /// (0: no bound). Committed ones only; older than the history's days are gone.
        /// </summary>
        IReadOnlyList<StoredMessage> ReadHistory(string conversation, int last, long before, long after);

        /// <summary>The ticket of the newest write that is committed.</summary>
        long CommittedTicket { get; }

        /// <summary>Runs <paramref name="action"/> once the write with this ticket is committed: at once if it is, else on the writer's thread.</summary>
        void WhenCommitted(long ticket, Action action);

        /// <summary>Waits until everything queued so far is committed (a clean stop), at most <paramref name="timeout"/>.</summary>
        bool Flush(TimeSpan timeout);

        /// <summary>
        /// The refs the last graceful stop kept (<see cref="KeepRefs"/>), read and taken out of the file when it was
        /// opened: a start gets them once, and a crash after it finds none. None for the memory store.
        /// </summary>
        IReadOnlyList<KeptRef> TakeKeptRefs();

        /// <summary>
        /// A stop's last writes begin: takes no more writes, commits what is queued, and returns once every callback of
        /// those commits has run (so every fate they tell is known). Only <see cref="KeepRefs"/> and Dispose may follow.
        /// </summary>
        void FinishWrites();

        /// <summary>
        /// After <see cref="FinishWrites"/>: keeps these refs for the next start, in one transaction (the memory store
        /// keeps nothing). Throws when the file refuses the write (a full disk).
        /// </summary>
        void KeepRefs(IReadOnlyCollection<KeptRef> refs);
    }
}
