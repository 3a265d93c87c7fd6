using System;
using System.Collections.Generic;
using System.Text.Json;
using System.Threading;
using Chatrm.Engine.Messaging;
using Chatrm.Engine.Protocol;
using Chatrm.Engine.Protocol.Native;
using Chatrm.Engine.Routing;
using Chatrm.Engine.Transport;

namespace Chatrm.Engine.Server.Sessions
{
    /// <summary>
    /// The native session: the hello and welcome, frame dispatch, sends and their statuses, acks (one or
    /// through) and what waits for them, presence, pings. Every frame it writes goes through
    /// <see cref="ServerConnection.Queued"/>, so a full queue drops the user as too slow.
    /// </summary>
    internal sealed class NativeSession : ProtocolSession
    {
        // Messages handed to this user and not yet confirmed. Made on the first one, so an idle user holds none.
        private UnconfirmedMessages _unconfirmed;

        // What one ack "through" confirmed, reused by this connection's reader.
        private ChatEnvelope[] _acked = Array.Empty<ChatEnvelope>();
        private List<ChatEnvelope> _ackedOthers;

        // The hello asked for batched confirmations: this user's delivered messages are told in delivered frames.
        private bool _batch;

        // The hello did not opt out of presence.
        private bool _hearsPresence;

        // The frame every incoming line is parsed into (only this connection's reader uses it).
        private NativeFrame _frame;

        // This user's name as frames write it: encoded once, in the welcome, before the welcome lets deliveries in
        // (see ServerConnection.Register), and never written again.
        private JsonEncodedText _encodedName;

        public NativeSession(ServerConnection connection, ChatServer server, LineTransport transport)
            : base(connection, server, transport)
        {
        }

        internal override string Protocol => ProtocolNames.Chatrm;

        internal override bool KeepsAlive => true;

        internal override bool HearsPresence => _hearsPresence;

        private UnconfirmedMessages Unconfirmed => Volatile.Read(ref _unconfirmed) ?? CreateUnconfirmed();

        private UnconfirmedMessages CreateUnconfirmed()
        {
            Interlocked.CompareExchange(ref _unconfirmed, new UnconfirmedMessages(Transport), null);
            return _unconfirmed;
        }

        internal override bool Open(string opening)
        {
            if (!NativeProtocol.TryParse(opening, out NativeFrame hello, out string problem))
            {
                return Connection.RefuseHandshake(null, Refusal.MalformedFrame, problem);
            }

            if (hello.Type != FrameType.Hello)
            {
                return Connection.RefuseHandshake(null, Refusal.MalformedFrame, "the first frame must be a hello");
            }

            // Absent, the hello is taken as ours (as hellos typed by hand always were); another name is another protocol.
            if (hello.Protocol != null && hello.Protocol != NativeProtocol.ProtocolName)
            {
                string named = hello.Protocol.Length > 40 ? hello.Protocol.Substring(0, 40) + "..." : hello.Protocol;
                return Connection.RefuseHandshake(hello.User, Refusal.UnsupportedVersion,
                    $"this server speaks the protocol {NativeProtocol.ProtocolName}, not \"{named}\"");
            }

            if (hello.Version != NativeProtocol.Version)
            {
                return Connection.RefuseHandshake(hello.User, Refusal.UnsupportedVersion,
                    $"this server speaks version {NativeProtocol.Version} of the native protocol, not {(hello.Version?.ToString() ?? "none")}");
            }

            string problemWithName = UserNames.Problem(hello.User);
            if (problemWithName != null)
            {
                return Connection.RefuseHandshake(hello.User, Refusal.InvalidName, problemWithName);
            }

            bool authenticated = false;
            CredentialStore credentials = Server.Options.Credentials;
            if (credentials != null)
            {
                if (!credentials.Verify(hello.User, hello.Password))
                {
                    Connection.RefuseLoginLater(hello.User);
                    return true;
                }

                Connection.ForgetLoginFailures();
                authenticated = true;
            }

            // A token is the client's own secret-ish handle on its session; anything shorter is no token.
            if (hello.ResumeToken != null && (hello.ResumeToken.Length < 16 || hello.ResumeToken.Length > 64))
            {
                return Connection.RefuseHandshake(hello.User, Refusal.MalformedFrame, "\"resume\" is a token of 16 to 64 characters");
            }

            Connection.ResumeToken = hello.ResumeToken;
            _batch = hello.Batch == true;
            _hearsPresence = hello.Presence != false;
            return Connection.Register(hello.User, takeOver: authenticated);
        }

        internal override void Welcome(string name)
        {
            _encodedName = NativeProtocol.EncodeName(name);
            SendFrame(new NativeFrame
            {
                Type = FrameType.Welcome,
                Protocol = NativeProtocol.ProtocolName,
                Version = NativeProtocol.Version,
                User = name,
                KeepAlive = Server.Options.KeepAliveInterval.TotalSeconds,
                MaxFrameBytes = Server.Options.MaxLineBytes,
                Batch = _batch ? true : (bool?)null,
                Resume = true,
                Ids = Server.Store?.IdScope,
            });
        }

        // A person pressing Enter in nc sends a blank line: nothing to answer, as in the classic protocol.
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        internal override bool OnLine(ReadOnlySpan<byte> line) => NativeProtocol.IsBlank(line) || OnFrame(line);

        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        private bool OnFrame(ReadOnlySpan<byte> line)
        {
            // One frame at a time, on this connection's reader: every frame is parsed into the same instance.
            NativeFrame frame = _frame ?? (_frame = new NativeFrame { KeepsWireBytes = true });
            if (!NativeProtocol.TryParse(line, frame, out string problem))
            {
                RefuseFrame(problem, frame.Ref);
                return true;
            }

            switch (frame.Type)
            {
                case FrameType.Send:
                    OnSend(frame);
                    return true;
                case FrameType.Ack:
                    OnAck(frame);
                    return true;
                case FrameType.Who:
                    if (frame.Room != null)
                    {
                        OnWhoRoom(frame);
                        return true;
                    }

                    SendFrame(new NativeFrame { Type = FrameType.Users, Ref = frame.Ref, Users = new List<UserInfo>(Server.Router.ListUsers()) });
                    return true;
                case FrameType.Join:
                    OnJoin(frame);
                    return true;
                case FrameType.Part:
                    OnPart(frame);
                    return true;
                case FrameType.Rooms:
                    SendFrame(NativeProtocol.RoomsFrame(frame.Ref, Server.Router.ListRooms(Connection)));
                    return true;
                case FrameType.History:
                    OnHistory(frame);
                    return true;
                case FrameType.Ping:
                    SendFrame(new NativeFrame { Type = FrameType.Pong, Ref = frame.Ref });
                    return true;
                case FrameType.Pong:
                    return true;
                case FrameType.Bye:
                    Connection.LeaveReason = "bye";
                    return false;
                case FrameType.Hello:
                    SendError(Refusal.MalformedFrame, "already greeted as " + Connection.UserName, frame.Ref);
                    return true;
                default:
                    SendError(Refusal.MalformedFrame, "unknown frame type \"" + frame.Type + "\"", frame.Ref);
                    return true;
            }
        }

        /// <summary>An ack of one message (id), or of one and every message sent to this user before it (through).</summary>
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        private void OnAck(NativeFrame frame)
        {
            if ((frame.Id == null) == (frame.Through == null))
            {
                RefuseFrame(frame.Id == null ? "an ack needs \"id\" or \"through\"" : "an ack has \"id\" or \"through\", not both", frame.Ref);
                return;
            }

            UnconfirmedMessages unconfirmed = Volatile.Read(ref _unconfirmed);
            if (unconfirmed == null)
            {
                return;
            }

            if (frame.Through != null)
            {
                int count = NativeProtocol.TryParseMessageId(frame.Through, out long through) ? unconfirmed.TakeThrough(through, ref _acked) : 0;

                // Each sender hears of all its own messages at once, in the order sent: in one delivered frame when
                // it asked for batches. Senders are taken in turn; each turn moves the next sender's to the front.
                int start = 0;
                while (start < count)
                {
                    SenderAddress sender = _acked[start].Sender;
                    int end = start + 1;
                    int others = 0;
                    for (int i = start + 1; i < count; i++)
                    {
                        if (_acked[i].Sender == sender)
                        {
                            _acked[end++] = _acked[i];
                        }
                        else
                        {
                            (_ackedOthers ?? (_ackedOthers = new List<ChatEnvelope>())).Add(_acked[i]);
                            others++;
                        }
                    }

                    if (others > 0)
                    {
                        _ackedOthers.CopyTo(0, _acked, end, others);
                        _ackedOthers.Clear();
                    }

                    if (_acked[start].SenderHearsStatus)
                    {
                        Server.Router.ReportDelivered(new ReadOnlySpan<ChatEnvelope>(_acked, start, end - start));
                    }
                    else
                    {
                        // No sender to report to: room messages, and messages from this user's inbox.
                        for (int i = start; i < end; i++)
                        {
                            if (_acked[i].FromInbox)
                            {
                                Connection.ConfirmFromInbox(_acked[i]);
                            }
                        }
                    }

                    start = end;
                }

                Array.Clear(_acked, 0, count);
            }
            else if (NativeProtocol.TryParseMessageId(frame.Id, out long id) && unconfirmed.TryTake(id, out ChatEnvelope envelope))
            {
                if (envelope.SenderHearsStatus)
                {
                    Server.Router.ReportDelivered(envelope);
                }
                else if (envelope.FromInbox)
                {
                    Connection.ConfirmFromInbox(envelope);
                }
            }

            if (Connection.HasInboxLeft)
            {
                Connection.PumpInbox();
            }
        }

        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        private void OnSend(NativeFrame frame)
        {
            if (frame.To == null || !frame.HasText)
            {
                var missing = new ChatEnvelope(null, Connection.UserName, frame.To, frame.Text, DateTime.UtcNow, frame.Ref);
                SendStatus(missing, "refused", Refusal.MalformedFrame, "a send needs \"to\" and \"text\"");
                return;
            }

            long now = Transport.ReadTicks;
            if (!Connection.AdmitSend(now, frame.To, frame))
            {
                return;
            }

            // A resend of a ref this token sent within the window is answered, not routed (the id taken is skipped).
            long number = Connection.NextMessageId();
            if (Connection.IsRepeat(frame, number, now))
            {
                return;
            }

            if (RoomNames.IsRoom(frame.To))
            {
                // No sender address: a room's members do not confirm, so nobody reports per-member fates.
                ChatEnvelope post = ChatEnvelope.FromSend(frame, number, Connection.UserName, new DateTime(now, DateTimeKind.Utc), default);
                post.EncodedFrom = _encodedName;
                Connection.PostAndTell(post, joining: false);
                return;
            }

            // Reports go to the token's state when there is one, so they reach this client on its next connection too.
            ChatEnvelope envelope = ChatEnvelope.FromSend(frame, number, Connection.UserName, new DateTime(now, DateTimeKind.Utc), Connection.ReportAddress);
            envelope.EncodedFrom = _encodedName;
            Connection.RouteAndTell(envelope);
        }

        private void OnJoin(NativeFrame frame)
        {
            if (frame.Room == null)
            {
                RefuseFrame("a join needs \"room\"", frame.Ref);
                return;
            }

            RoomJoin join = Server.Router.Join(Connection, frame.Room);
            if (join.IsPending)
            {
                Connection.AfterAnswer(join.Answer, answer => AnswerJoin(frame, answer));
                return;
            }

            AnswerJoin(frame, join);
        }

        private void AnswerJoin(NativeFrame frame, RoomJoin join)
        {
            if (join.Joined)
            {
                SendFrame(NativeProtocol.RoomFrame(frame.Ref, join.Room, listMembers: true));
            }
            else
            {
                SendError(join.Refusal, join.Message, frame.Ref);
            }
        }

        private void OnPart(NativeFrame frame)
        {
            if (frame.Room == null)
            {
                RefuseFrame("a part needs \"room\"", frame.Ref);
                return;
            }

            RoomLeave leave = Server.Router.Leave(Connection, frame.Room);
            if (leave.IsPending)
            {
                Connection.AfterAnswer(leave.Answer, answer => AnswerPart(frame, answer));
                return;
            }

            AnswerPart(frame, leave);
        }

        private void AnswerPart(NativeFrame frame, RoomLeave leave)
        {
            if (leave.Left)
            {
                SendFrame(NativeProtocol.RoomFrame(frame.Ref, leave.Room, listMembers: false));
            }
            else
            {
                SendError(leave.Refusal, leave.Message, frame.Ref);
            }
        }

        /// <summary>A conversation's history: this user's own direct ones, and rooms it is a member of now.</summary>
        private void OnHistory(NativeFrame frame)
        {
            Storage.IMessageStore store = Server.Store;
            if (store == null || !store.KeepsHistory)
            {
                SendError(Refusal.HistoryOff, "this server keeps no history", frame.Ref);
                return;
            }

            if ((frame.With == null) == (frame.Room == null))
            {
                RefuseFrame("a history request needs \"with\" (a user) or \"room\", one of them", frame.Ref);
                return;
            }

            int last = frame.Last ?? NativeProtocol.DefaultHistoryLines;
            if (last > NativeProtocol.MaxHistoryLines)
            {
                RefuseFrame("\"last\" is at most " + NativeProtocol.MaxHistoryLines, frame.Ref);
                return;
            }

            string conversation;
            if (frame.Room != null)
            {
                RoomInfo room = Server.Router.GetRoom(frame.Room, Connection);
                if (room == null)
                {
                    SendError(Refusal.InvalidRoom, RoomNames.Problem(frame.Room), frame.Ref);
                    return;
                }

                if (!room.IsMember)
                {
                    SendError(Refusal.AccessDenied, "only members of " + frame.Room + " may read its history; join it first", frame.Ref);
                    return;
                }

                conversation = Storage.Conversations.Room(frame.Room);
            }
            else
            {
                if (!UserNames.IsValid(frame.With))
                {
                    SendError(Refusal.AccessDenied, "a direct conversation is with a user; " + SendRefusals.Printable(frame.With) + " is no user's name", frame.Ref);
                    return;
                }

                // The asker is one of its two people by construction: its own name is half the key.
                conversation = Storage.Conversations.Direct(Connection.UserName, frame.With);
            }

            IReadOnlyList<Storage.StoredMessage> lines = Server.ReadCommittedHistory(store, conversation, last, frame.Before ?? 0, frame.After ?? 0);
            Connection.Queued(Transport.Send(NativeProtocol.FormatHistory(frame.Ref, frame.With, frame.Room, lines)));
        }

        private void OnWhoRoom(NativeFrame frame)
        {
            RoomInfo room = Server.Router.GetRoom(frame.Room, Connection);
            if (room == null)
            {
                SendError(Refusal.InvalidRoom, RoomNames.Problem(frame.Room), frame.Ref);
                return;
            }

            SendFrame(NativeProtocol.RoomFrame(frame.Ref, room, listMembers: true));
        }

        internal override string DescribeLineTooLong(int maxLineBytes) =>
            "frames are limited to " + maxLineBytes + " bytes; that one was skipped";

        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        internal override DeliveryStatus Deliver(ChatEnvelope envelope)
        {
            // The sender's name as its connection encoded it, if it did; the writer encodes it otherwise.
            ReadOnlySpan<byte> frame = NativeProtocol.FormatMessage(envelope, envelope.EncodedFrom, _encodedName);
            int limit = Server.Options.MaxUnconfirmedPerConnection;
            if (!Unconfirmed.TryAddAndSend(envelope, frame, limit, out SendResult sent))
            {
                // It reads but does not confirm: keeping everything sent to it would let one client eat the server's memory.
                Connection.DropAsTooSlow("it did not confirm the messages sent to it", $"you did not confirm the messages sent to you; {limit} waited for your ack");
                return Connection.TooSlowOrGone(envelope);
            }

            // Queued: the recipient's ack reports it delivered.
            return Connection.Queued(sent) ? DeliveryStatus.Accepted : Connection.TooSlowOrGone(envelope);
        }

        internal override void SendPresence(PresenceChange change, string userName, DateTime time)
        {
            if (!UserNames.AreSame(userName, Connection.UserName))
            {
                SendFrame(new NativeFrame
                {
                    Type = FrameType.Presence,
                    Event = change == PresenceChange.Joined ? "joined" : "left",
                    User = userName,
                    Time = time,
                });
            }
        }

        internal override void SendRoomPresence(string room, string userName, PresenceChange change, DateTime time)
        {
            if (_hearsPresence && !UserNames.AreSame(userName, Connection.UserName))
            {
                SendFrame(NativeProtocol.RoomPresenceFrame(room, userName, change, time));
            }
        }

        internal override void TellPosted(ChatEnvelope envelope, long seq, int recipients) =>
            Connection.Queued(Transport.Send(NativeProtocol.FormatPosted(envelope, seq, recipients)));

        internal override void Tell(Refusal refusal, string text, bool evenIfFull)
        {
            ReadOnlySpan<byte> frame = NativeProtocol.FormatUtf8(new NativeFrame { Type = FrameType.Error, Code = refusal.ToCode(), Message = text });
            if (evenIfFull)
            {
                Transport.Send(frame, evenIfFull: true);
            }
            else
            {
                Connection.Queued(Transport.Send(frame));
            }
        }

        internal override void TellHandshakeRefused(string to, Refusal refusal, string text) => SendError(refusal, text);

        internal override void TellRefused(ChatEnvelope envelope, Refusal refusal, string text)
        {
            SendStatus(envelope, "refused", refusal, text);
            Server.Raise(ServerEventKind.LineRefused, Connection.UserName, refusal.ToCode() + ": " + text);
        }

        internal override void Forwarded(ChatEnvelope envelope) => SendStatus(envelope, "forwarded");

        internal override void TellStored(ChatEnvelope envelope) => Connection.Queued(Transport.Send(NativeProtocol.FormatStored(envelope)));

        internal override int UnconfirmedCount => Volatile.Read(ref _unconfirmed)?.Count ?? 0;

        internal override void Delivered(ChatEnvelope envelope) =>
            Connection.Queued(Transport.Send(NativeProtocol.FormatDelivered(envelope)));

        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        internal override void Delivered(ReadOnlySpan<ChatEnvelope> envelopes)
        {
            if (!_batch)
            {
                foreach (ChatEnvelope envelope in envelopes)
                {
                    Delivered(envelope);
                }

                return;
            }

            while (envelopes.Length > 0)
            {
                int taken = NativeProtocol.FormatDelivered(envelopes, out ReadOnlySpan<byte> frame);
                if (!Connection.Queued(Transport.Send(frame)))
                {
                    return;
                }

                envelopes = envelopes.Slice(taken);
            }
        }

        internal override void Failed(ChatEnvelope envelope, Refusal reason, string message) =>
            SendStatus(envelope, "refused", reason, message);

        internal override void Ping() => SendFrame(new NativeFrame { Type = FrameType.Ping });

        internal override void SayGoodbye(Refusal reason, string text) =>
            SendFrame(new NativeFrame { Type = FrameType.Bye, Reason = reason.ToCode(), Message = text });

        internal override void Ended()
        {
            // Whatever this user never confirmed, its senders learn it was not delivered. (Made here if need be, so a
            // sender who found this user a moment ago hears "offline" instead of waiting for an ack forever.)
            // A known user's direct messages wait in its inbox, in the order sent; without a store, recipient-left.
            foreach (ChatEnvelope envelope in Unconfirmed.TakeAll(Connection.KeepUnconfirmed))
            {
                Connection.ReportLeft(envelope);
            }
        }

        private void SendStatus(ChatEnvelope envelope, string status, Refusal reason = Refusal.None, string message = null)
        {
            SendFrame(new NativeFrame
            {
                Type = FrameType.Status,
                Ref = envelope.SenderRef,
                Id = envelope.Id,
                To = envelope.To,
                SentAt = envelope.Id == null ? (DateTime?)null : envelope.SentAt,
                Status = status,
                Reason = reason == Refusal.None ? null : reason.ToCode(),
                Message = message,
            });
        }

        /// <summary>A frame that cannot be read or makes no sense: an error naming it by its ref, and the operator told.</summary>
        private void RefuseFrame(string problem, string reference)
        {
            SendError(Refusal.MalformedFrame, problem, reference);
            Server.Raise(ServerEventKind.LineRefused, Connection.UserName, Refusal.MalformedFrame.ToCode() + ": " + problem);
        }

        private void SendError(Refusal refusal, string message, string reference = null) =>
            SendFrame(new NativeFrame { Type = FrameType.Error, Ref = reference, Code = refusal.ToCode(), Message = message });

        // Through Queued, as deliveries go: a native client whose queue is full is dropped as too slow. Dropping
        // the frame alone would lose a status silently, and its sender would wait for that fate forever.
        private void SendFrame(NativeFrame frame) => Connection.Queued(Transport.Send(NativeProtocol.FormatUtf8(frame)));
    }
}
