using System;
using System.Globalization;

namespace Chatrm.Engine.Routing
{
    /// <summary>
    /// Where a message's sender is, by value: the server it is connected to and its connection there. Delivery
    /// reports travel to this, so a router that spans servers can carry them; only the sender's own server
    /// resolves it to a session.
    /// </summary>
    internal readonly struct SenderAddress : IEquatable<SenderAddress>
    {
        public SenderAddress(int serverId, long connectionId)
        {
            ServerId = serverId;
            ConnectionId = connectionId;
        }

        /// <summary>0 for a lone server.</summary>
        public int ServerId { get; }

        /// <summary>Unique on its server for the server's run; 0 is no connection (see <see cref="None"/>).</summary>
        public long ConnectionId { get; }

        /// <summary>No sender to tell: a message the server made up, or one in a test.</summary>
        public static SenderAddress None => default;

        public bool IsNone => ConnectionId == 0;

        public bool Equals(SenderAddress other) => ConnectionId == other.ConnectionId && ServerId == other.ServerId;

        public override bool Equals(object obj) => obj is SenderAddress other && Equals(other);

        public override int GetHashCode() => ConnectionId.GetHashCode() ^ (ServerId * 397);

        public static bool operator ==(SenderAddress left, SenderAddress right) => left.Equals(right);

        public static bool operator !=(SenderAddress left, SenderAddress right) => !left.Equals(right);

        public override string ToString() => ServerId.ToString(CultureInfo.InvariantCulture) + "/" + ConnectionId.ToString(CultureInfo.InvariantCulture);
    }
}
