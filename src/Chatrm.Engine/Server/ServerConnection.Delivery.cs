using System;
using System.Text;
using System.Text.Json;
using Chatrm.Engine.Messaging;
using Chatrm.Engine.Protocol.Classic;
using Chatrm.Engine.Protocol.Native;
using Chatrm.Engine.Routing;
using Chatrm.Engine.Transport;

namespace Chatrm.Engine.Server
{
    /// <summary>Messages to this user: delivery in its protocol, presence, confirmations, and the too-slow policy.</summary>
    internal sealed partial class ServerConnection
    {
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        public DeliveryStatus Deliver(ChatEnvelope envelope)
        {
            if (!_welcomed)
            {
                // Registered a moment ago: wait for the welcome to be queued first.
                lock (_welcomeGate)
                {
                }
            }

            if (_native)
            {
                return DeliverNative(envelope);
            }

            // A classic client reads one line per message: text with line breaks goes as a line per line,
            // queued at once so no other sender's line comes between them.
            SendResult sent;
            if (envelope.Text.IndexOf('\n') < 0 && envelope.Text.IndexOf('\r') < 0)
            {
                // The usual case, written as ClassicProtocol.FormatDelivery would write it, without making the string.
                sent = _transport.SendJoined(ClassicProtocol.Separator, UserName, envelope.From, envelope.Text);
            }
            else
            {
                var lines = new StringBuilder();
                foreach (string line in ClassicProtocol.SplitLines(envelope.Text))
                {
                    lines.Append(ClassicProtocol.FormatDelivery(UserName, envelope.From, line));
                }

                sent = _transport.Send(lines.ToString());
            }

            if (Queued(sent))
            {
                // The classic path's hot case: a classic sender awaits no status, so nothing to look up.
                if (envelope.SenderHearsStatus)
                {
                    _server.Router.ReportForwarded(envelope);
                }

                return DeliveryStatus.Accepted;
            }

            return TooSlowOrGone(envelope);
        }

        /// <summary>Tells a native user that someone joined or left.</summary>
        public void SendPresence(PresenceChange change, string userName, DateTime time)
        {
            if (_native && _welcomed && !UserNames.AreSame(userName, UserName))
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

        void IDeliveryReceipt.Forwarded(ChatEnvelope envelope)
        {
            if (_native)
            {
                SendStatus(envelope, "forwarded");
            }
        }

        void IDeliveryReceipt.Refused(ChatEnvelope envelope, Refusal reason, string message) => TellRefused(envelope, reason, message);

        void IDeliveryReceipt.Delivered(ChatEnvelope envelope) =>
            Queued(_transport.Send(NativeProtocol.FormatDelivered(envelope)));

        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        void IDeliveryReceipt.Delivered(ReadOnlySpan<ChatEnvelope> envelopes)
        {
            if (!_batch)
            {
                foreach (ChatEnvelope envelope in envelopes)
                {
                    ((IDeliveryReceipt)this).Delivered(envelope);
                }

                return;
            }

            while (envelopes.Length > 0)
            {
                int taken = NativeProtocol.FormatDelivered(envelopes, out ReadOnlySpan<byte> frame);
                if (!Queued(_transport.Send(frame)))
                {
                    return;
                }

                envelopes = envelopes.Slice(taken);
            }
        }

        void IDeliveryReceipt.Failed(ChatEnvelope envelope, Refusal reason, string message) =>
            SendStatus(envelope, "refused", reason, message);

        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        private DeliveryStatus DeliverNative(ChatEnvelope envelope)
        {
            JsonEncodedText from = !envelope.EncodedFrom.EncodedUtf8Bytes.IsEmpty ? envelope.EncodedFrom : NativeProtocol.EncodeName(envelope.From);
            ReadOnlySpan<byte> frame = NativeProtocol.FormatMessage(envelope, from, _encodedName);
            int limit = _server.Options.MaxUnconfirmedPerConnection;
            if (!Unconfirmed.TryAddAndSend(envelope, frame, limit, out SendResult sent))
            {
                // It reads but does not confirm: keeping everything sent to it would let one client eat the server's memory.
                DropAsTooSlow("it did not confirm the messages sent to it", $"you did not confirm the messages sent to you; {limit} waited for your ack");
                return TooSlowOrGone(envelope);
            }

            // Queued: the recipient's ack reports it delivered.
            return Queued(sent) ? DeliveryStatus.Accepted : TooSlowOrGone(envelope);
        }

        /// <summary>Whether a send was queued; a full queue drops this user as too slow.</summary>
        private bool Queued(SendResult result)
        {
            switch (result)
            {
                case SendResult.Queued:
                    return true;
                case SendResult.QueueFull:
                    // It has stopped reading; holding more for it would let one client eat the server's memory.
                    DropAsTooSlow("its send queue was full", $"you did not read what was sent to you; more than {_server.Options.MaxQueuedBytesPerConnection} bytes waited");
                    return false;
                default:
                    return false;
            }
        }

        /// <summary>Drops this user as too slow, once, telling it why.</summary>
        private void DropAsTooSlow(string why, string told)
        {
            if (!_tooSlow)
            {
                _tooSlow = true;
                _leaveReason = "too slow: " + why;
                Tell(Refusal.RecipientTooSlow, told, evenIfFull: true);
                _transport.StopReading();
            }
        }

        /// <summary>Not queued: a too-slow drop is reported to the sender (it was accepted, then refused here); otherwise this user is gone.</summary>
        private DeliveryStatus TooSlowOrGone(ChatEnvelope envelope)
        {
            if (!_tooSlow)
            {
                return DeliveryStatus.UserOffline;
            }

            _server.Router.ReportRefused(envelope, Refusal.RecipientTooSlow, SendRefusals.TooSlow(envelope.To));
            return DeliveryStatus.Accepted;
        }
    }
}
