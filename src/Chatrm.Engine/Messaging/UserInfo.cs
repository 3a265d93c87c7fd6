using System;
using Chatrm.Engine.Protocol;

namespace Chatrm.Engine
{
    /// <summary>Who is online, as the native protocol lists them.</summary>
    public sealed class UserInfo
    {
        public UserInfo(string name, string protocol, DateTime connectedAt)
        {
            Name = name;
            ProtocolName = protocol;
            ConnectedAtUtc = connectedAt;
        }

        public string Name { get; }

        /// <summary>The cluster node the user is connected to; null on a server that is not in a cluster.</summary>
        public string Node { get; internal set; }

        /// <summary>Chatrm or Classic, as ChatrmConnection.Protocol says; null for a protocol this client does not know.</summary>
        public ChatProtocol? Protocol =>
            ProtocolName == ProtocolNames.Chatrm ? ChatProtocol.Chatrm : ProtocolName == ProtocolNames.Classic ? ChatProtocol.Classic : (ChatProtocol?)null;

        /// <summary>As the wire carries it: chatrm or classic.</summary>
        internal string ProtocolName { get; }

        /// <summary>In local time, as Get-Date is, so a script can compare and subtract the two in any zone.</summary>
        public DateTime ConnectedAt => ConnectedAtUtc.ToLocalTime();

        /// <summary>As the wire carries it.</summary>
        internal DateTime ConnectedAtUtc { get; }
    }
}
