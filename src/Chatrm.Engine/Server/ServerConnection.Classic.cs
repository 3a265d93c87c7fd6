using System;
using Chatrm.Engine.Messaging;
using Chatrm.Engine.Protocol.Classic;

namespace Chatrm.Engine.Server
{
    /// <summary>The classic session: one line per message, answered with notices.</summary>
    internal sealed partial class ServerConnection
    {
        // The recipient of this user's last classic line: a sender mostly writes to one user.
        private string _lastClassicRecipient;

        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        private bool OnClassicLine(string line)
        {
            ClassicLine parsed = ClassicProtocol.ParseClientLine(line, UserName, _lastClassicRecipient);
            switch (parsed.Kind)
            {
                case ClassicLineKind.Blank:
                    return true;
                case ClassicLineKind.Exit:
                    _leaveReason = "exit";
                    return false;
                case ClassicLineKind.Malformed:
                    Refuse(Refusal.MalformedLine, "send your name, the recipient and the text, separated by underscores");
                    return true;
                case ClassicLineKind.Forged:
                    Refuse(Refusal.ForgedSender, "you are " + UserName + "; a line must name you as its sender");
                    return true;
            }

            _lastClassicRecipient = parsed.To;
            long now = _transport.ReadTicks;
            if (AdmitSend(now, parsed.To, null))
            {
                // A classic sender cannot hear confirmations, only refusals.
                RouteAndTell(new ChatEnvelope(NextMessageId(), UserName, parsed.To, parsed.Text, null, new DateTime(now, DateTimeKind.Utc), sender: Address));
            }

            return true;
        }
    }
}
