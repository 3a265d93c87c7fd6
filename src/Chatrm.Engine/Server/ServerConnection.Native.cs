using System;
using System.Collections.Generic;
using System.Threading;
using Chatrm.Engine.Messaging;
using Chatrm.Engine.Protocol.Native;
using Chatrm.Engine.Routing;

namespace Chatrm.Engine.Server
{
    /// <summary>The native session: frame dispatch, sends and their status, acks (one or through).</summary>
    internal sealed partial class ServerConnection
    {
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
                    SendFrame(new NativeFrame { Type = FrameType.Users, Ref = frame.Ref, Users = new List<UserInfo>(_server.Router.ListUsers()) });
                    return true;
                case FrameType.Ping:
                    SendFrame(new NativeFrame { Type = FrameType.Pong, Ref = frame.Ref });
                    return true;
                case FrameType.Pong:
                    return true;
                case FrameType.Bye:
                    _leaveReason = "bye";
                    return false;
                case FrameType.Hello:
                    SendError(Refusal.MalformedFrame, "already greeted as " + UserName, frame.Ref);
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
                        _server.Router.ReportDelivered(new ReadOnlySpan<ChatEnvelope>(_acked, start, end - start));
                    }

                    start = end;
                }

                Array.Clear(_acked, 0, count);
            }
            else if (NativeProtocol.TryParseMessageId(frame.Id, out long id) && unconfirmed.TryTake(id, out ChatEnvelope envelope) && envelope.SenderHearsStatus)
            {
                _server.Router.ReportDelivered(envelope);
            }
        }

        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        private void OnSend(NativeFrame frame)
        {
            if (frame.To == null || !frame.HasText)
            {
                var missing = new ChatEnvelope(null, UserName, frame.To, frame.Text, DateTime.UtcNow, frame.Ref);
                SendStatus(missing, "refused", Refusal.MalformedFrame, "a send needs \"to\" and \"text\"");
                return;
            }

            long now = _transport.ReadTicks;
            if (AdmitSend(now, frame.To, frame.Ref))
            {
                ChatEnvelope envelope = ChatEnvelope.FromSend(frame, NextMessageId(), UserName, new DateTime(now, DateTimeKind.Utc), Address);
                envelope.EncodedFrom = _encodedName;
                RouteAndTell(envelope);
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
            _server.Raise(ServerEventKind.LineRefused, UserName, Refusal.MalformedFrame.ToCode() + ": " + problem);
        }

        private void SendError(Refusal refusal, string message, string reference = null) =>
            SendFrame(new NativeFrame { Type = FrameType.Error, Ref = reference, Code = refusal.ToCode(), Message = message });

        // Through Queued, as deliveries go: a native client whose queue is full is dropped as too slow. Dropping
        // the frame alone would lose a status silently, and its sender would wait for that fate forever.
        private void SendFrame(NativeFrame frame) => Queued(_transport.Send(NativeProtocol.FormatUtf8(frame)));
    }
}
