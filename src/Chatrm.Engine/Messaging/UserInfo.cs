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
            ConnectedAtUtc = connectedAt;
        }

        public string Name { get; }

        /// <summary>chatrm or classic.</summary>
        public string Protocol { get; }

        /// <summary>In local time, as Get-Date is, so a script can compare and subtract the two in any zone.</summary>
        public DateTime ConnectedAt => ConnectedAtUtc.ToLocalTime();

        /// <summary>As the wire carries it.</summary>
        internal DateTime ConnectedAtUtc { get; }
    }
}
