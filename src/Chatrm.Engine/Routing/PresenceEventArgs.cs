using System;

namespace Chatrm.Engine.Routing
{
    public sealed class PresenceEventArgs : EventArgs
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
