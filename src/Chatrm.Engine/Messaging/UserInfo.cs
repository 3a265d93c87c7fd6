using System;

namespace Chatrm.Engine
{
    /// <summary>Who is online, as the native protocol lists them.</summary>
    public sealed class UserInfo
    {
        public UserInfo(string name, string protocol, DateTime connectedAt)
        {
            Name = name;
            Protocol = protocol;
            ConnectedAt = connectedAt;
        }

        public string Name { get; }

        /// <summary>chatrm or classic.</summary>
        public string Protocol { get; }

        public DateTime ConnectedAt { get; }
    }
}
