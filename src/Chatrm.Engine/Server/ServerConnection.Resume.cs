using System;
using Chatrm.Engine.Messaging;
using Chatrm.Engine.Protocol.Native;
using Chatrm.Engine.Routing;
using Chatrm.Engine.Server.Resume;
using Chatrm.Engine.Server.Sessions;

namespace Chatrm.Engine.Server
{
    /// <summary>
    /// This user's resume token, when its hello gave one: the token's state, held from the welcome on, remembers the
    /// refs of its sends, so a send that repeats one within the window is answered with the first one's fate instead of
    /// being routed again, and every fate of the token's sends reaches whichever connection holds it.
    /// </summary>
    internal sealed partial class ServerConnection
    {
        // Set once by the reader at the hello, before any send; read by reporters on other threads.
        private volatile ResumeState _resume;

        /// <summary>What writes this user's frames in its protocol: a resume state tells fates through it.</summary>
        internal ProtocolSession Session => _session;

        /// <summary>Where reports of this user's sends go: its token's state when it has one, else this connection.</summary>
        internal SenderAddress ReportAddress
        {
            [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
            get
            {
                ResumeState resume = _resume;
                return resume != null ? resume.Address : Address;
            }
        }

        /// <summary>Once registered and welcomed with a token: holds its state (found, or made), taking it from an older connection.</summary>
        internal void HoldResumeState(string token) =>
            _resume = _server.ResumeStates.Attach(UserName, token, this, _server.Clock.GetUtcNow().UtcTicks);

        /// <summary>
        /// Whether a send with a ref, about to be routed as message <paramref name="number"/>, repeats one this token sent
        /// within the window: then it is not routed again, and the first one's fate, if known, is told again now (if not
        /// known yet, it comes when it is, as for the first). False, and the send is remembered, otherwise.
        /// </summary>
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        internal bool IsRepeat(NativeFrame frame, long number, long now)
        {
            ResumeState resume = _resume;
            if (resume == null)
            {
                return false;
            }

            SentRef sent = SentRef.Of(frame);
            if (sent.IsNone || resume.TryRemember(sent, number, frame.To, now, out RememberedRef known))
            {
                return false;
            }

            TellAgain(sent, known);
            return true;
        }

        private void TellAgain(SentRef sent, RememberedRef known)
        {
            RefFate fate = known.Fate;
            if (fate.Kind == FateKind.Pending)
            {
                return;
            }

            // The first message as its status frames write it: same id, recipient, time and ref.
            var envelope = new ChatEnvelope(known.Number, UserName, known.To, null, null, known.SentAt, sent.Text, sent.Json, ReportAddress, senderHearsStatus: true);
            switch (fate.Kind)
            {
                case FateKind.Delivered:
                    _session.Delivered(envelope);
                    break;
                case FateKind.Forwarded:
                    _session.Forwarded(envelope);
                    break;
                case FateKind.Stored:
                    _session.TellStored(envelope);
                    break;
                case FateKind.Posted:
                    _session.TellPosted(envelope, fate.Seq, fate.Recipients);
                    break;
                default:
                    // The same refused status; the operator heard of the refusal the first time.
                    _session.Failed(envelope, fate.Reason, fate.Message);
                    break;
            }
        }

        /// <summary>The connection ended: the token's state is let go, if this still held it (its window starts).</summary>
        private void LetGoOfResumeState()
        {
            ResumeState resume = _resume;
            if (resume != null)
            {
                _server.ResumeStates.Release(resume, this, _server.Clock.GetUtcNow().UtcTicks);
            }
        }
    }
}
