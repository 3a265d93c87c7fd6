using System;
using Chatrm.Engine;

namespace Chatrm.PowerShell
{
    /// <summary>A connection as PowerShell users see it: Connect-ChatrmServer's output, -Connection's input.</summary>
    public sealed class ChatrmConnection
    {
        private long _reportedDrops;

        internal ChatrmConnection(int id, ChatClient client, ClientOptions options)
        {
            Id = id;
            Client = client;
            Reconnects = options.Reconnect;
            ReconnectTimeout = options.Reconnect ? options.ReconnectTimeout : TimeSpan.Zero;
        }

        public int Id { get; }
        public string UserName => Client.UserName;
        public string ComputerName => Client.ComputerName;
        public int Port => Client.Port;
        public ChatProtocol Protocol => Client.Protocol;
        public ConnectionState State => Client.State;
        public int MessagesWaiting => Client.MessagesWaiting;

        /// <summary>Messages lost because the inbox was full (the oldest go first).</summary>
        public long MessagesDropped => Client.MessagesDropped;

        /// <summary>In local time, as Get-Date and every time on Chatrm's objects.</summary>
        public DateTime ConnectedAt => Client.ConnectedAt.ToLocalTime();

        /// <summary>Why the connection closed, once it has.</summary>
        public string CloseReason => Client.CloseReason;

        /// <summary>Whether a dropped connection is made again by itself (State Reconnecting meanwhile); -NoReconnect turns it off.</summary>
        public bool Reconnects { get; }

        /// <summary>How long reconnecting goes on before the connection closes; zero when it does not reconnect.</summary>
        public TimeSpan ReconnectTimeout { get; }

        internal ChatClient Client { get; }

        /// <summary>How many drops happened since the last call, so each is reported once.</summary>
        internal long TakeUnreportedDrops()
        {
            long total = Client.MessagesDropped;
            long before = System.Threading.Interlocked.Exchange(ref _reportedDrops, total);
            return total - before;
        }

        public override string ToString() => $"{Id}: {UserName}@{ComputerName}:{Port} ({State})";
    }
}
