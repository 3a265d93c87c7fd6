using System;

namespace Chatrm.Engine
{
    public enum ServerEventKind
    {
        ServerStarted,
        ServerStopped,
        UserJoined,
        UserLeft,
        /// <summary>A new connection that did not become a user: bad or taken name, or no handshake in time.</summary>
        HandshakeRefused,
        /// <summary>A line from a user that was not delivered, with the reason in Detail.</summary>
        LineRefused,
        /// <summary>Something went wrong inside the server that it survived.</summary>
        ServerError,
    }

    /// <summary>Something that happened on a server, for its operator.</summary>
    public sealed class ServerEvent
    {
        public ServerEvent(ServerEventKind kind, string userName, string detail)
        {
            _time = DateTime.UtcNow;
            Kind = kind;
            UserName = userName;
            Detail = detail;
        }

        private readonly DateTime _time;

        /// <summary>In local time, as Get-Date is.</summary>
        public DateTime Time => _time.ToLocalTime();
        public ServerEventKind Kind { get; }
        public string UserName { get; }
        public string Detail { get; }

        public override string ToString() => $"{Time:HH:mm:ss} {Kind} {UserName} {Detail}".TrimEnd();
    }
}
