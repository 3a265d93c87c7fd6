using System;
using Chatrm.Engine.Messaging;
using Chatrm.Engine.Server.Resume;
using Chatrm.Engine.Routing;
using Chatrm.Engine.Transport;

namespace Chatrm.Engine.Server
{
    /// <summary>
    /// This user in rooms: posts go to the router's room, whose answer is the sender's whole news (a room's
    /// members do not confirm one by one), and room presence reaches the session once it is welcomed.
    /// </summary>
    internal sealed partial class ServerConnection
    {
        /// <summary>Someone joined or left a room this user is in (called inside the room's lock: it only queues).</summary>
        public void RoomPresence(string room, string userName, PresenceChange change, DateTime time)
        {
            if (_welcomed)
            {
                _session.SendRoomPresence(room, userName, change, time);
            }
        }

        /// <summary>
        /// Posts a numbered room message (its envelope has no sender address, so no member's fate is reported) and
        /// tells the sender: posted, with the room's Seq and how many it went to, or refused. With
        /// <paramref name="joining"/> (a classic user, who joins a room by writing to it) a post from a non-member
        /// joins first.
        /// </summary>
        internal void PostAndTell(ChatEnvelope envelope, bool joining)
        {
            if (!RoomNames.IsValid(envelope.To))
            {
                TellRefused(envelope, Refusal.InvalidRoom, RoomNames.Problem(envelope.To));
                return;
            }

            RoomPost post = Post(envelope);
            if (!post.Posted && post.Refusal == Refusal.NotInRoom && joining)
            {
                // Post first and join only when refused: the usual line, from a member, pays for no member list.
                RoomJoin join = _server.Router.Join(this, envelope.To);
                if (join.IsPending)
                {
                    AfterAnswer(join.Answer, joined => PostJoined(envelope, joined));
                    return;
                }

                PostJoined(envelope, join);
                return;
            }

            PostAnswered(envelope, post);
        }

        private void PostJoined(ChatEnvelope envelope, RoomJoin join)
        {
            if (!join.Joined)
            {
                TellRefused(envelope, join.Refusal, join.Message);
                return;
            }

            PostAnswered(envelope, Post(envelope));
        }

        /// <summary>The router's post, with its members' drains handed to the thread pool together.</summary>
        private RoomPost Post(ChatEnvelope envelope)
        {
            using (LineTransport.DeferDrains())
            {
                return _server.Router.Post(envelope);
            }
        }

        /// <summary>Tells the sender what became of its post; a post another server's room answers later comes here then.</summary>
        public void PostAnswered(ChatEnvelope envelope, RoomPost post)
        {
            if (post.IsPending)
            {
                return;
            }

            if (post.Posted)
            {
                _resume?.Record(envelope, RefFate.Posted(post.Seq, post.Recipients));
                _session.TellPosted(envelope, post.Seq, post.Recipients);
            }
            else
            {
                TellRefused(envelope, post.Refusal, post.Message);
            }
        }
    }
}
