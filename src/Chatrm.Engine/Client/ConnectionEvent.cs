using System;

namespace Chatrm.Engine
{
    /// <summary>What a reconnecting client tells its reader (see <see cref="ConnectionEvent"/>).</summary>
    public enum ConnectionChange
    {
        /// <summary>The connection dropped; the client is making it again.</summary>
        Reconnecting,

        /// <summary>The connection is back: rooms rejoined, missed room messages fetched, waiting sends sent again.</summary>
        Reconnected,

        /// <summary>Messages that were sent while the client was away cannot be fetched (history off or expired, or a server restarted without its store).</summary>
        Gap,
    }

    /// <summary>
    /// A change of the connection itself, in the inbox between messages where it happened. Reconnecting and
    /// Reconnected are taken with presence; a gap is taken always, so that a loss is never silent.
    /// </summary>
    public sealed class ConnectionEvent
    {
        private readonly DateTime _time;

        internal ConnectionEvent(ConnectionChange change, string reason, DateTime time)
        {
            Change = change;
            Reason = reason ?? string.Empty;
            _time = time;
        }

        public ConnectionChange Change { get; }

        /// <summary>Why the connection dropped, why reconnecting took what it took, or what a gap lost.</summary>
        public string Reason { get; }

        /// <summary>Reconnected: how many attempts it took.</summary>
        public int Attempts { get; internal set; }

        /// <summary>A gap in a room: the room; empty for a gap in everything (a server restarted without its store).</summary>
        public string Room { get; internal set; } = string.Empty;

        /// <summary>A gap in a room: the first and last Seq that cannot be fetched (0 when not known).</summary>
        public long MissedFrom { get; internal set; }

        public long MissedTo { get; internal set; }

        /// <summary>In local time.</summary>
        public DateTime Time => _time.ToLocalTime();

        public override string ToString() => Change + (Room.Length == 0 ? string.Empty : " " + Room) + ": " + Reason;
    }
}
