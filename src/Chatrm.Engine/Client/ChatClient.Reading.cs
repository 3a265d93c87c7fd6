using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Chatrm.Engine.Client;
using Chatrm.Engine.Protocol.Classic;
using Chatrm.Engine.Protocol.Native;
using Chatrm.Engine.Transport;

namespace Chatrm.Engine
{
    /// <summary>The read loop, for both protocols: messages, notices, presence and confirmations into the inbox.</summary>
    public sealed partial class ChatClient
    {
        // The link read last: a close acks what it brought before saying bye (see CloseAsync).
        private volatile ReadingLink _reading;

        /// <summary>Reads one link until it ends; then the link is made again (ChatClient.Reconnecting.cs) or the client closes.</summary>
        private async Task ReadLoopAsync(LineTransport transport, TaskCompletionSource<Greeting> greeting)
        {
            var link = new ReadingLink(transport, greeting);
            _reading = link;
            ReadEnd end = await transport.ReadLinesAsync(line => OnLine(line, link), () => { }, () => AckReceived(link), CancellationToken.None).ConfigureAwait(false);
            OnLinkEnded(transport, end == ReadEnd.Failed ? "the connection failed" : "the server closed the connection");
            greeting.TrySetException(new ChatException(Refusal.ConnectionClosed, "The server closed the connection before greeting " + UserName + "."));

            // Our side closes too, so the socket is not held until the user disposes of us.
            transport.Dispose();
        }

        private bool OnLine(ReadOnlySpan<byte> line, ReadingLink link)
        {
            if (!_heard)
            {
                _heard = true;
            }

            if (Protocol == ChatProtocol.Chatrm && NativeProtocol.IsNativeOpening(line))
            {
                return OnFrame(line, link);
            }

            return OnClassicLine(LineTransport.Decode(line), link);
        }

        private bool OnClassicLine(string line, ReadingLink link)
        {
            if (!ClassicProtocol.TryParseDelivery(line, out string to, out string from, out string text))
            {
                // Not a DEST_SOURCE_TEXT line: nothing a Chatrm or original server sends. Ignore it.
                return true;
            }

            // A classic line, even a notice, in answer to the native hello: the server read the hello as a
            // classic handshake (an original server, or a Chatrm server without the native protocol, which
            // refuses the "name" {"type":"hello",... as invalid). That is a protocol mismatch, not a bad name.
            // Except "server full" and "line too long", which a Chatrm server says before it knows the protocol
            // (an original server sends no notices).
            if (Protocol == ChatProtocol.Chatrm && !link.Greeting.Task.IsCompleted)
            {
                string earlyCode = null, earlyText = null;
                bool notice = UserNames.AreSame(from, UserNames.Server) && ClassicProtocol.TryParseNotice(text, out earlyCode, out earlyText);
                Greeting early = !notice ? Greeting.ClassicAnswer
                    : earlyCode == Refusal.ServerFull.ToCode() ? new Greeting(Refusal.ServerFull, earlyText)
                    : earlyCode == Refusal.LineTooLong.ToCode() ? new Greeting(Refusal.LineTooLong, "the opening line was too long (" + earlyText + ")")
                    : Greeting.ClassicAnswer;
                if (link.Greeting.TrySetResult(early))
                {
                    return true;
                }
            }

            DateTime now = DateTime.UtcNow;
            if (UserNames.AreSame(from, UserNames.Server) && ClassicProtocol.TryParseNotice(text, out string code, out string noticeText))
            {
                var notice = new ServerNotice(code, noticeText, now);
                if (code == ClassicProtocol.WelcomeCode)
                {
                    // A welcome that comes after the greeting wait still tells us what the server is.
                    ServerIsChatrm = true;
                    link.Greeting.TrySetResult(Greeting.Welcome);
                    return true;
                }

                if (link.Greeting.TrySetResult(new Greeting(notice.Refusal == Refusal.None ? Refusal.InvalidName : notice.Refusal, noticeText)))
                {
                    return true;
                }

                if (notice.Refusal == Refusal.ServerStopping)
                {
                    EndingBecause(link, Refusal.ServerStopping, "the server is stopping", overriding: true);
                    return true;
                }

                if (EndsSession(notice.Refusal))
                {
                    EndingBecause(link, notice.Refusal, noticeText);
                }

                Enqueue(notice);
                return true;
            }

            // A classic line to a native client is from an original server: it did not speak our protocol.
            if (!link.Greeting.TrySetResult(Protocol == ChatProtocol.Chatrm ? Greeting.ClassicAnswer : Greeting.Silence) || Protocol != ChatProtocol.Chatrm)
            {
                // DEST_#room_FROM: TEXT is a room's message: from FROM, to the room.
                Enqueue(ClassicProtocol.TryParseRoomText(from, text, out string room, out string sender, out string body)
                    ? new ChatMessage(SameSender(sender), room, body, now) { Room = room }
                    : new ChatMessage(SameSender(from), ToMe(to), text, now));
            }

            return true;
        }

        private string SameSender(string from) => from == _lastSender ? _lastSender : _lastSender = from;

        // A message's recipient: this user's own name string when it names this user (or nobody), so waiting
        // messages share it.
        private string ToMe(string to) => to == null || to == UserName ? UserName : to;

        private bool OnFrame(ReadOnlySpan<byte> line, ReadingLink link)
        {
            NativeFrame frame = link.Frame;
            if (!NativeProtocol.TryParse(line, frame, out _))
            {
                // A server that sends what we cannot read is not worth dying over: skip the frame.
                return true;
            }

            switch (frame.Type)
            {
                case FrameType.Welcome:
                    if (frame.MaxFrameBytes.HasValue && frame.MaxFrameBytes.Value > 0)
                    {
                        MaxFrameBytes = frame.MaxFrameBytes.Value;
                    }

                    link.BatchGranted = frame.Batch == true;
                    ForgetShownIdsOfAnotherScope(frame.Ids);
                    link.Greeting.TrySetResult(Greeting.Welcome);
                    break;
                case FrameType.Message:
                    // The text stays as it came when it can (asking frame.Text would make the string now).
                    byte[] textJson = frame.TextJson;
                    var message = new ChatMessage(
                        SameSender(frame.From), ToMe(frame.To),
                        textJson == null ? frame.Text ?? string.Empty : null, textJson, DateTime.UtcNow, frame.Id, frame.SentAt);
                    if (frame.Id != null)
                    {
                        link.NewestShown = frame.Id;
                    }

                    if (frame.Room != null)
                    {
                        // A room's message: to the room, with its place in the room's one order. While a reconnect
                        // fetches what the room said meanwhile, it waits behind that.
                        message.Room = frame.Room;
                        message.Seq = frame.Seq;
                        _joinedRooms.HoldOrShow(message, _showOnce);
                    }
                    else
                    {
                        ShowOnce(message);
                    }

                    if (frame.Id != null)
                    {
                        // The confirmation that makes the sender's status Delivered: now, or for the whole read. A room
                        // message needs none, but an ack through it confirms the direct ones before it.
                        if (link.BatchGranted)
                        {
                            link.AckThrough = frame.Id;
                            link.AckOwed |= frame.Room == null;
                        }
                        else if (frame.Room == null)
                        {
                            link.Transport.Send(NativeProtocol.FormatUtf8(new NativeFrame { Type = FrameType.Ack, Id = frame.Id }));
                        }
                    }

                    break;
                case FrameType.Status:
                    OnStatus(frame);
                    break;
                case FrameType.Delivered:
                    OnDelivered(frame);
                    break;
                case FrameType.Users:
                    if (frame.Ref != null && _pendingWho.TryGetValue(frame.Ref, out var who))
                    {
                        who.TrySetResult(frame.Users ?? new List<UserInfo>());
                    }

                    break;
                case FrameType.Room:
                    if (frame.Ref != null && _pendingRoom.TryGetValue(frame.Ref, out var room))
                    {
                        room.TrySetResult(frame.ToRoomInfo());
                    }

                    break;
                case FrameType.Rooms:
                    if (frame.Ref != null && _pendingRooms.TryGetValue(frame.Ref, out var rooms))
                    {
                        rooms.TrySetResult(frame.Rooms ?? new List<RoomInfo>());
                    }

                    break;
                case FrameType.Presence:
                    if (frame.User != null)
                    {
                        PresenceChange change = frame.Event == "left" ? PresenceChange.Left : PresenceChange.Joined;
                        Enqueue(new PresenceEvent(change, frame.User, frame.Time ?? DateTime.UtcNow) { Room = frame.Room ?? string.Empty });
                    }

                    break;
                case FrameType.Ping:
                    link.Transport.Send(NativeProtocol.Format(new NativeFrame { Type = FrameType.Pong, Ref = frame.Ref }));
                    break;
                case FrameType.Bye:
                    EndingBecause(link, Refusals.FromCode(frame.Reason),
                        frame.Reason == Refusal.ServerStopping.ToCode() ? "the server is stopping" : (frame.Message ?? "the server said goodbye"), overriding: true);
                    break;
                case FrameType.Error:
                    OnError(frame, link);
                    break;
                case FrameType.History:
                    OnHistory(frame);
                    break;
            }

            return true;
        }

        /// <summary>After each read that brought a direct message: one ack for every message it brought, through the newest.</summary>
        private void AckReceived(ReadingLink link)
        {
            if (link.AckOwed)
            {
                AckThrough(link.Transport, link.AckThrough);
            }

            link.AckThrough = null;
            link.AckOwed = false;
        }

        /// <summary>Confirms message <paramref name="id"/> and every one the link brought before it.</summary>
        private static void AckThrough(LineTransport transport, string id) =>
            transport.Send(NativeProtocol.FormatUtf8(new NativeFrame { Type = FrameType.Ack, Through = id }));

        private void OnDelivered(NativeFrame frame)
        {
            foreach (DeliveredMessage delivered in frame.Messages ?? new List<DeliveredMessage>())
            {
                if (delivered.Ref != null && _pendingSends.TryRemove(delivered.Ref, out PendingSend pending))
                {
                    pending.Fate.TrySetResult(new SentMessage(UserName, pending.To, pending.Text, delivered.SentAt ?? DateTime.UtcNow,
                        SendStatus.Delivered, id: delivered.Id));
                }
            }
        }

        private void OnStatus(NativeFrame frame)
        {
            // A status for a send this client no longer waits on (it heard Stored) is the recipient's receipt. One that
            // names another recipient than the waiting send with its ref is a receipt too, never that send's fate.
            if (frame.Ref == null || !_pendingSends.TryGetValue(frame.Ref, out PendingSend pending) ||
                (frame.To != null && !SameRecipient(frame.To, pending.To)) || !_pendingSends.TryRemove(frame.Ref, out pending))
            {
                if (frame.Status == "delivered" && frame.Id != null)
                {
                    Enqueue(new DeliveryReceipt(frame.Id, frame.To, DateTime.UtcNow));
                }

                return;
            }

            SendStatus status;
            switch (frame.Status)
            {
                case "delivered": status = SendStatus.Delivered; break;
                case "forwarded": status = SendStatus.Forwarded; break;
                case NativeProtocol.StoredStatusText: status = SendStatus.Stored; break;
                case NativeProtocol.PostedStatusText: status = SendStatus.Posted; break;
                default: status = SendStatus.Refused; break;
            }

            var sent = new SentMessage(UserName, pending.To, pending.Text, frame.SentAt ?? DateTime.UtcNow, status,
                status == SendStatus.Refused ? (frame.Reason ?? "refused") : null, frame.Id, frame.Message);
            if (status == SendStatus.Posted)
            {
                sent.Seq = frame.Seq;
                sent.Recipients = frame.Recipients;
            }

            pending.Fate.TrySetResult(sent);
        }

        private static bool SameRecipient(string one, string other) =>
            RoomNames.IsRoom(one) ? RoomNames.AreSame(one, other) : UserNames.AreSame(one, other);

        private void OnError(NativeFrame frame, ReadingLink link)
        {
            var notice = new ServerNotice(frame.Code ?? "error", frame.Message ?? string.Empty, DateTime.UtcNow);
            if (link.Greeting.TrySetResult(new Greeting(notice.Refusal == Refusal.None ? Refusal.MalformedFrame : notice.Refusal, notice.Text)))
            {
                return;
            }

            if (EndsSession(notice.Refusal))
            {
                EndingBecause(link, notice.Refusal, notice.Text);
            }

            if (frame.Ref != null && _pendingSends.TryRemove(frame.Ref, out PendingSend pending))
            {
                pending.Fate.TrySetResult(new SentMessage(UserName, pending.To, pending.Text, DateTime.UtcNow, SendStatus.Refused, notice.Code, detail: notice.Text));
                return;
            }

            // A refused join, part or look at a room (invalid-room, not-in-room, too-many-rooms, ...): its request fails.
            if (frame.Ref != null && _pendingRoom.TryGetValue(frame.Ref, out var room))
            {
                room.TrySetException(new ChatException(notice.Refusal == Refusal.None ? Refusal.MalformedFrame : notice.Refusal, notice.Text));
                return;
            }

            if (frame.Ref != null && _pendingRooms.TryGetValue(frame.Ref, out var rooms))
            {
                rooms.TrySetException(new ChatException(notice.Refusal == Refusal.None ? Refusal.MalformedFrame : notice.Refusal, notice.Text));
                return;
            }

            // A refused history question (access-denied, history-off): its request fails with the server's words.
            if (frame.Ref != null && _pendingHistory.TryGetValue(frame.Ref, out var history))
            {
                history.TrySetException(new ChatException(notice.Refusal == Refusal.None ? Refusal.MalformedFrame : notice.Refusal, notice.Text));
                return;
            }

            Enqueue(notice);
        }
    }
}
