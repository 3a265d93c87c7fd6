using System;

namespace Chatrm.Engine.Routing
{
    internal sealed class PresenceEventArgs : EventArgs
    {
        public PresenceEventArgs(PresenceChange change, string userName)
        {
            Change = change;
            UserName = userName;
        }

        public PresenceChange Change { get; }
        public string UserName { get; }
    }
}
