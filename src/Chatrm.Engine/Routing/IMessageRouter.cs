using System;
using System.Collections.Generic;
using Chatrm.Engine.Messaging;

namespace Chatrm.Engine.Routing
{
    /// <summary>
    /// Who is online and how to reach them. The sessions talk only to this, and everything in it goes by value
    /// (names, envelopes, sender addresses), so a router that spans several servers can replace
    /// <see cref="LocalRouter"/> without touching them.
    /// </summary>
    internal interface IMessageRouter
    {
        /// <summary>This server's identity among servers: 0 for a lone one. Message ids and sender addresses carry it.</summary>
        int ServerId { get; }

        /// <summary>
        /// Asks the other servers whose the endpoint's name is, before <see cref="TryRegister"/>: true when it may be
        /// registered here (TryRegister can still refuse it for a holder on this server), false when a session on another
        /// server holds it. Null when there is nothing to ask: a lone server's names are all its own.
        /// </summary>
        System.Threading.Tasks.Task<bool> ClaimName(IChatEndpoint endpoint, bool takeOver);

        /// <summary>
        /// Whether this server's store may keep a message for an offline recipient: a lone server's may; a cluster's
        /// recipient may come back through any server, which this server's store does not reach.
        /// </summary>
        bool KeepsInboxes { get; }

        /// <summary>A name <see cref="ClaimName"/> granted will not be registered after all (the connection ended first).</summary>
        void AbandonClaim(IChatEndpoint endpoint);

        /// <summary>
        /// Adds the user, or returns false when the name is held by someone else (the holder keeps it); with
        /// <paramref name="takeOver"/> (an authenticated login) a holder of the name is displaced and returned, so
        /// the caller can end its session. From now on, reports to the endpoint's address reach it.
        /// </summary>
        bool TryRegister(IChatEndpoint endpoint, bool takeOver, out IChatEndpoint displaced);

        /// <summary>
        /// Removes the user, if this endpoint is the one holding the name, and in any case takes this session out of
        /// every room it is in (the other members hear it left). Reports still reach it.
        /// </summary>
        void Unregister(IChatEndpoint endpoint);

        /// <summary>The endpoint's connection is closed: reports to its address go nowhere from now on.</summary>
        void Detach(IChatEndpoint endpoint);

        /// <summary>
        /// Reports to <paramref name="address"/> (one this server gave out, as it gives connection ids) reach
        /// <paramref name="receipt"/> from now on: a resume token's state, which outlives the connections that send for it.
        /// </summary>
        void AttachReports(SenderAddress address, IDeliveryReceipt receipt);

        /// <summary>Reports to <paramref name="address"/> go nowhere from now on, if they went to <paramref name="receipt"/>.</summary>
        void DetachReports(SenderAddress address, IDeliveryReceipt receipt);

        /// <summary>Ends the session of the user holding this name, telling them why; false when nobody does.</summary>
        bool Disconnect(string userName, Refusal why, string text);

        /// <summary>Hands the message on: accepted, or refused as unknown or offline. Later fates come as reports.</summary>
        DeliveryStatus Deliver(ChatEnvelope envelope);

        /// <summary>Reports to the envelope's sender that it went to a recipient who cannot confirm.</summary>
        void ReportForwarded(ChatEnvelope envelope);

        /// <summary>Reports to the envelope's sender that its recipient confirmed it.</summary>
        void ReportDelivered(ChatEnvelope envelope);

        /// <summary>Reports to their one sender (all have the same <see cref="ChatEnvelope.Sender"/>) that these were confirmed, in send order.</summary>
        void ReportDelivered(ReadOnlySpan<ChatEnvelope> envelopes);

        /// <summary>
        /// A receipt: a message kept while its recipient was offline was confirmed by it. Goes to whichever session holds
        /// <paramref name="senderName"/> now, if any: the one that sent it may be long gone.
        /// </summary>
        void ReportReceipt(string senderName, ChatEnvelope envelope);

        /// <summary>Reports to the envelope's sender that the recipient's side refused it on arrival.</summary>
        void ReportRefused(ChatEnvelope envelope, Refusal reason, string message);

        /// <summary>Reports to the envelope's sender that it was accepted but never confirmed.</summary>
        void ReportFailed(ChatEnvelope envelope, Refusal reason, string message);

        /// <summary>Tells the sender its message, unconfirmed when its recipient left, waits in the recipient's inbox.</summary>
        void ReportStored(ChatEnvelope envelope);

        /// <summary>
        /// A message was committed to this user's inbox. On one server a login reads its inbox only once no write into
        /// it is on its way, so nothing is to be done; in a cluster the user may have logged in through another server
        /// meanwhile, which is told to look at the inbox again.
        /// </summary>
        void InboxWritten(string userName);

        /// <summary>
        /// Puts the session in the room, making the room when it does not exist: the room as the member sees it (with
        /// members and when it joined), the other members told. Already a member: the same answer, nobody told.
        /// Refused <see cref="Refusal.InvalidRoom"/>, <see cref="Refusal.TooManyRooms"/>, <see cref="Refusal.RoomFull"/>
        /// or <see cref="Refusal.NoMoreRooms"/>, with words that name the limit.
        /// </summary>
        RoomJoin Join(IChatEndpoint member, string room);

        /// <summary>
        /// Takes the session out of the room, the others told; the room ends with its last member. Refused
        /// <see cref="Refusal.NotInRoom"/> or <see cref="Refusal.InvalidRoom"/>.
        /// </summary>
        RoomLeave Leave(IChatEndpoint member, string room);

        /// <summary>
        /// Posts a message to the room its <see cref="ChatEnvelope.To"/> names, from the session that holds the name
        /// <see cref="ChatEnvelope.From"/>, which must be a member: the room gives it the next Seq and hands it to every
        /// other member, all in one order. The envelope carries no sender address (nobody reports per-member fates);
        /// the answer is the sender's whole news. Refused <see cref="Refusal.NotInRoom"/> or <see cref="Refusal.InvalidRoom"/>.
        /// </summary>
        RoomPost Post(ChatEnvelope envelope);

        /// <summary>Every room, by name, as <paramref name="asking"/> sees it (not listing members); null asking: the server's view, with members.</summary>
        IReadOnlyList<RoomInfo> ListRooms(IChatEndpoint asking);

        /// <summary>
        /// One room with its members as <paramref name="asking"/> sees it (a room that does not exist: no members);
        /// null when the name cannot be a room.
        /// </summary>
        RoomInfo GetRoom(string room, IChatEndpoint asking);

        IReadOnlyCollection<string> OnlineUsers { get; }

        /// <summary>Who is online, with their protocol and since when.</summary>
        IReadOnlyList<UserInfo> ListUsers();

        event EventHandler<PresenceEventArgs> PresenceChanged;
    }
}
