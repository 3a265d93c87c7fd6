using System;
using Chatrm.Engine.Messaging;
using Chatrm.Engine.Server.Resume;

namespace Chatrm.Engine.Server
{
    /// <summary>
    /// The send path both protocols share: rate limit, id, envelope, route, and the one place that turns the
    /// outcome into what the sender is told (a native status frame or a classic notice, in the same words).
    /// </summary>
    internal sealed partial class ServerConnection
    {
        /// <summary>
        /// Takes a token for a message to <paramref name="to"/> read at <paramref name="now"/>; when over the limit the
        /// sender is told (a native one by its frame's ref, made into a string only then), and false.
        /// </summary>
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        internal bool AdmitSend(long now, string to, Protocol.Native.NativeFrame send = null)
        {
            if (WithinRate(now))
            {
                return true;
            }

            TellRefused(new ChatEnvelope(null, UserName, to, null, DateTime.UtcNow, send?.Ref), Refusal.RateLimited, SendRefusals.RateLimited(_server.Options.MaxMessagesPerSecond));
            return false;
        }

        /// <summary>
        /// Routes a numbered envelope; a refusal is told here, every later fate arrives as a delivery report (see
        /// <see cref="Routing.IDeliveryReceipt"/>).
        /// </summary>
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        internal void RouteAndTell(ChatEnvelope envelope)
        {
            DeliveryStatus status = Route(envelope);
            if (status == DeliveryStatus.Accepted)
            {
                return;
            }

            // A recipient on a server that cannot be reached is online there: refused at once, never kept here.
            if (status != DeliveryStatus.ClusterUnavailable && UserNames.IsValid(envelope.To) && !UserNames.IsReserved(envelope.To)
                && _server.KeepsInboxes && _server.IsKnownUser(envelope.To))
            {
                // Offline, or never here in this run, but known: it waits in the recipient's inbox.
                StoreOffline(envelope);
                return;
            }

            TellRefused(envelope, SendRefusals.RefusalOf(status), SendRefusals.TextOf(status, envelope.To));
        }

        /// <summary>
        /// Tells this user that a message of theirs was refused, in its protocol (a native status frame, a classic
        /// notice), and the operator too; recorded for a resend of its ref.
        /// </summary>
        private void TellRefused(ChatEnvelope envelope, Refusal refusal, string text)
        {
            _resume?.Record(envelope, RefFate.Refused(refusal, text));
            _session.TellRefused(envelope, refusal, text);
        }

        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        private DeliveryStatus Route(ChatEnvelope envelope) =>
            UserNames.IsValid(envelope.To) && !UserNames.IsReserved(envelope.To)
                ? _server.Router.Deliver(envelope)
                : DeliveryStatus.UnknownUser;
    }
}
