using System;
using System.Text;
using Chatrm.Engine.Messaging;
using Chatrm.Engine.Protocol;
using Chatrm.Engine.Protocol.Classic;
using Chatrm.Engine.Protocol.Native;
using Chatrm.Engine.Routing;
using Chatrm.Engine.Transport;

namespace Chatrm.Engine.Server.Sessions
{
    /// <summary>
    /// The classic session, as the original Go server spoke it: a name for an opening, one line per message,
    /// everything told as a notice. A classic user hears refusals, never confirmations, pings or presence.
    /// </summary>
    internal sealed class ClassicSession : ProtocolSession
    {
        // The recipient of this user's last line: a sender mostly writes to one user.
        private string _lastRecipient;

        public ClassicSession(ServerConnection connection, ChatServer server, LineTransport transport)
            : base(connection, server, transport)
        {
        }

        internal override string Protocol => ProtocolNames.Classic;

        internal override bool KeepsAlive => false;

        internal override bool HearsPresence => false;

        internal override bool Open(string opening)
        {
            string name = ClassicProtocol.ParseHandshake(opening);
            string problem = UserNames.Problem(name);
            if (problem != null)
            {
                return Connection.RefuseHandshake(name, Refusal.InvalidName, problem);
            }

            CredentialStore credentials = Server.Options.Credentials;
            if (credentials != null && !Server.Options.AllowClassic)
            {
                return Connection.RefuseHandshake(name, Refusal.AuthRequired, "this server needs a password, which the classic protocol cannot give; use Chatrm's native protocol");
            }

            if (credentials != null && credentials.Contains(name))
            {
                // A classic user cannot prove who they are, so cannot take a name that has a password.
                return Connection.RefuseHandshake(name, Refusal.AuthRequired, "the name " + name + " needs a password; log in with Chatrm's native protocol");
            }

            return Connection.Register(name);
        }

        internal override void Welcome(string name) => SendNotice(ClassicProtocol.WelcomeCode, "you are " + name + " on this Chatrm server");

        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        internal override bool OnLine(ReadOnlySpan<byte> bytes)
        {
            string user = Connection.UserName;
            ClassicLine parsed = ClassicProtocol.ParseClientLine(LineTransport.Decode(bytes), user, _lastRecipient);
            switch (parsed.Kind)
            {
                case ClassicLineKind.Blank:
                    return true;
                case ClassicLineKind.Exit:
                    Connection.LeaveReason = "exit";
                    return false;
                case ClassicLineKind.Malformed:
                    Connection.Refuse(Refusal.MalformedLine, "send your name, the recipient and the text, separated by underscores");
                    return true;
                case ClassicLineKind.Forged:
                    Connection.Refuse(Refusal.ForgedSender, "you are " + user + "; a line must name you as its sender");
                    return true;
            }

            _lastRecipient = parsed.To;
            long now = Transport.ReadTicks;
            if (RoomNames.IsRoom(parsed.To))
            {
                OnRoomLine(parsed, now);
                return true;
            }

            if (Connection.AdmitSend(now, parsed.To))
            {
                // A classic sender cannot hear confirmations, only refusals.
                Connection.RouteAndTell(new ChatEnvelope(Connection.NextMessageId(), user, parsed.To, parsed.Text, null, new DateTime(now, DateTimeKind.Utc), sender: Connection.Address));
            }

            return true;
        }

        /// <summary>
        /// A line to a room: the original client joins a room by writing to it (the server joins it at its first line)
        /// and leaves it with the text /part.
        /// </summary>
        private void AnswerPart(RoomLeave leave)
        {
            if (!leave.Left)
            {
                Connection.Refuse(leave.Refusal, leave.Message);
            }
        }

        private void OnRoomLine(ClassicLine parsed, long now)
        {
            if (ClassicProtocol.IsPart(parsed.Text))
            {
                RoomLeave leave = Server.Router.Leave(Connection, parsed.To);
                if (leave.IsPending)
                {
                    Connection.AfterAnswer(leave.Answer, AnswerPart);
                }
                else
                {
                    AnswerPart(leave);
                }

                return;
            }

            if (Connection.AdmitSend(now, parsed.To))
            {
                // No sender address: a room's members do not confirm, so nobody reports per-member fates.
                Connection.PostAndTell(new ChatEnvelope(Connection.NextMessageId(), Connection.UserName, parsed.To, parsed.Text, null, new DateTime(now, DateTimeKind.Utc)), joining: true);
            }
        }

        internal override string DescribeLineTooLong(int maxLineBytes) =>
            "lines are limited to " + maxLineBytes + " bytes; that one was not delivered";

        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        internal override DeliveryStatus Deliver(ChatEnvelope envelope)
        {
            // A classic client reads one line per message: text with line breaks goes as a line per line,
            // queued at once so no other sender's line comes between them.
            SendResult sent;
            if (envelope.Room != null)
            {
                // DEST_#room_FROM: TEXT, a line per line of the text; all but DEST made once per post.
                sent = Transport.Send(ClassicProtocol.FormatRoomDelivery(Connection.UserName, envelope));
            }
            else if (envelope.Text.AsSpan().IndexOfAny('\n', '\r') < 0)
            {
                // The usual case, written as ClassicProtocol.FormatDelivery would write it, without making the string.
                sent = Transport.SendJoined(ClassicProtocol.Separator, Connection.UserName, envelope.From, envelope.Text);
            }
            else
            {
                var lines = new StringBuilder();
                foreach (string line in ClassicProtocol.SplitLines(envelope.Text))
                {
                    lines.Append(ClassicProtocol.FormatDelivery(Connection.UserName, envelope.From, line));
                }

                sent = Transport.Send(lines.ToString());
            }

            if (Connection.Queued(sent))
            {
                // The classic path's hot case: a classic sender awaits no status, so nothing to look up.
                if (envelope.SenderHearsStatus)
                {
                    Server.Router.ReportForwarded(envelope);
                }
                else if (envelope.FromInbox)
                {
                    // A classic client cannot confirm: written is as delivered as it gets.
                    Connection.ConfirmFromInbox(envelope);
                }

                return DeliveryStatus.Accepted;
            }

            return Connection.TooSlowOrGone(envelope);
        }

        // Presence is a native frame: a classic user never asks for it.
        internal override void SendPresence(PresenceChange change, string userName, DateTime time)
        {
        }

        // Room presence too: the original client would show it as a message from someone.
        internal override void SendRoomPresence(string room, string userName, PresenceChange change, DateTime time)
        {
        }

        // A posted line is silent, as a delivered direct one is: the original client expects nothing back.
        internal override void TellPosted(ChatEnvelope envelope, long seq, int recipients)
        {
        }

        internal override void Tell(Refusal refusal, string text, bool evenIfFull) =>
            Transport.Send(ClassicProtocol.FormatNotice(Connection.UserName ?? "unnamed", refusal.ToCode(), text), evenIfFull);

        internal override void TellHandshakeRefused(string to, Refusal refusal, string text) =>
            Transport.Send(ClassicProtocol.FormatNotice(to, refusal.ToCode(), text));

        internal override void TellRefused(ChatEnvelope envelope, Refusal refusal, string text) => Connection.Refuse(refusal, text);

        // Unlike the other fates, this one tells a classic sender something it could not guess: the recipient is away.
        internal override void TellStored(ChatEnvelope envelope) => SendNotice(NativeProtocol.StoredStatusText, SendRefusals.Stored(envelope.To));

        // A classic sender hears no statuses (its envelopes say so): forwarded, delivered and failed are silent.
        internal override void Forwarded(ChatEnvelope envelope)
        {
        }

        internal override void Delivered(ChatEnvelope envelope)
        {
        }

        internal override void Delivered(ReadOnlySpan<ChatEnvelope> envelopes)
        {
        }

        internal override void Failed(ChatEnvelope envelope, Refusal reason, string message)
        {
        }

        // The classic protocol has no ping; an idle classic user meets the idle limit instead.
        internal override void Ping()
        {
        }

        internal override void SayGoodbye(Refusal reason, string text) => SendNotice(reason.ToCode(), text);

        // Nothing waits on a classic user: what it was sent was forwarded as it went.
        internal override void Ended()
        {
        }

        private void SendNotice(string code, string text) =>
            Transport.Send(ClassicProtocol.FormatNotice(Connection.UserName ?? "unnamed", code, text));
    }
}
