using System;
using Chatrm.Engine.Messaging;
using Chatrm.Engine.Routing;
using Chatrm.Engine.Transport;

namespace Chatrm.Engine.Server.Sessions
{
    /// <summary>
    /// What one protocol does for a <see cref="ServerConnection"/>: read its opening and its lines, and write
    /// everything the user is told in that protocol's form. The connection keeps the rest (transport, handshake
    /// timer, registration, rate limit, message ids, the shared send path, idle and keepalive) and calls these;
    /// one virtual call per line or message, no more.
    /// </summary>
    internal abstract class ProtocolSession
    {
        protected readonly ServerConnection Connection;
        protected readonly ChatServer Server;
        protected readonly LineTransport Transport;

        protected ProtocolSession(ServerConnection connection, ChatServer server, LineTransport transport)
        {
            Connection = connection;
            Server = server;
            Transport = transport;
        }

        /// <summary>The protocol's name, as the user list shows it.</summary>
        internal abstract string Protocol { get; }

        /// <summary>Whether the server's keepalive sweep pings this user (see <see cref="Ping"/>).</summary>
        internal abstract bool KeepsAlive { get; }

        /// <summary>Whether this user hears who joins and leaves (asked in the opening); read when it registers.</summary>
        internal abstract bool HearsPresence { get; }

        /// <summary>
        /// The opening line: checks it, then registers through <see cref="ServerConnection.Register"/> or refuses
        /// through <see cref="ServerConnection.RefuseHandshake"/>. False ends the connection.
        /// </summary>
        internal abstract bool Open(string opening);

        /// <summary>Welcomes the user just registered as <paramref name="name"/>, before anything is delivered to it.</summary>
        internal abstract void Welcome(string name);

        /// <summary>One line after the opening; false ends the connection (its leave reason set).</summary>
        internal abstract bool OnLine(ReadOnlySpan<byte> line);

        /// <summary>What a registered user is told of a line over <paramref name="maxLineBytes"/>.</summary>
        internal abstract string DescribeLineTooLong(int maxLineBytes);

        /// <summary>Writes a message to this user: accepted, or why not (see <see cref="IChatEndpoint.Deliver"/>).</summary>
        internal abstract DeliveryStatus Deliver(ChatEnvelope envelope);

        /// <summary>Tells a welcomed user that someone else joined or left.</summary>
        internal abstract void SendPresence(PresenceChange change, string userName, DateTime time);

        /// <summary>Tells a welcomed user that someone joined or left a room it is in.</summary>
        internal abstract void SendRoomPresence(string room, string userName, PresenceChange change, DateTime time);

        /// <summary>A room message of this user's was posted: its place in the room and how many members it went to.</summary>
        internal abstract void TellPosted(ChatEnvelope envelope, long seq, int recipients);

        /// <summary>
        /// Tells this user something: a refusal, a notice, an error. <paramref name="evenIfFull"/> lets the last
        /// word to a user being dropped pass a full queue.
        /// </summary>
        internal abstract void Tell(Refusal refusal, string text, bool evenIfFull);

        /// <summary>Tells an opening why it was refused; <paramref name="to"/> is the name it gave, or "unnamed".</summary>
        internal abstract void TellHandshakeRefused(string to, Refusal refusal, string text);

        /// <summary>Tells this user that a message of theirs was refused, and the operator too.</summary>
        internal abstract void TellRefused(ChatEnvelope envelope, Refusal refusal, string text);

        /// <summary>A message of this user's waits, committed, in its offline recipient's inbox.</summary>
        internal abstract void TellStored(ChatEnvelope envelope);

        /// <summary>Messages handed to this user that wait for its confirmation (0 for a protocol that cannot confirm).</summary>
        internal virtual int UnconfirmedCount => 0;

        /// <summary>A message of this user's was queued for a recipient who cannot confirm.</summary>
        internal abstract void Forwarded(ChatEnvelope envelope);

        /// <summary>A message of this user's was confirmed by its recipient.</summary>
        internal abstract void Delivered(ChatEnvelope envelope);

        /// <summary>Messages of this user's, confirmed by one recipient with one ack, in the order sent.</summary>
        internal abstract void Delivered(ReadOnlySpan<ChatEnvelope> envelopes);

        /// <summary>A message of this user's was handed on but never confirmed.</summary>
        internal abstract void Failed(ChatEnvelope envelope, Refusal reason, string message);

        /// <summary>Asks a silent user to answer (see <see cref="KeepsAlive"/>).</summary>
        internal abstract void Ping();

        /// <summary>The last word when the server stops.</summary>
        internal abstract void SayGoodbye(Refusal reason, string text);

        /// <summary>The connection has ended: whatever waits on this user is settled.</summary>
        internal abstract void Ended();
    }
}
