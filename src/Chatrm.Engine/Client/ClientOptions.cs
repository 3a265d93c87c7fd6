using System;

namespace Chatrm.Engine
{
    public sealed class ClientOptions
    {
        /// <summary>Items kept for the user between reads; past this the oldest is dropped (and counted when a message).</summary>
        public int InboxCapacity { get; set; } = 10_000;

        /// <summary>
        /// Classic: how long to wait for a Chatrm server's welcome after the handshake. An original server
        /// sends none, so when this passes the connection is taken as open.
        /// </summary>
        public TimeSpan GreetingTimeout { get; set; } = TimeSpan.FromSeconds(2);

        /// <summary>Native: how long the server has to answer the opening frame before it is taken for a classic server.</summary>
        public TimeSpan NativeOpeningTimeout { get; set; } = TimeSpan.FromSeconds(5);

        public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

        /// <summary>Native: after this long without a frame from the server, ping it; as long again without one, give up.</summary>
        public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(60);

        /// <summary>What keepalive measures silence by: the system's clock, or one a test drives.</summary>
        internal TimeProvider Clock { get; set; } = TimeProvider.System;

        /// <summary>Longest line accepted from the server.</summary>
        public int MaxLineBytes { get; set; } = 1024 * 1024;

        public long MaxQueuedBytes { get; set; } = 4 * 1024 * 1024;

        /// <summary>Native protocol: the password, for a server that asks for one.</summary>
        public string Password { get; set; }

        /// <summary>
        /// Native protocol: hear who joins and leaves. False tells the server not to send presence frames at all,
        /// which on a server with many users saves both ends a frame per join and leave.
        /// </summary>
        public bool ReceivePresence { get; set; } = true;

        /// <summary>
        /// Native protocol: ask for batched confirmations. Messages that arrive in one read are acked with one frame,
        /// and this client's delivered messages are told in frames that list them. Off: one frame each way per message.
        /// </summary>
        public bool BatchConfirmations { get; set; } = true;

        /// <summary>
        /// Native protocol: the ids of messages already shown, so one the server sends again is dropped. Null gives the
        /// connection a set of its own; give a user's connections to one server one set and a message an earlier
        /// connection showed, whose confirmation a disconnect lost, is not shown again by a later one. Only for a server
        /// with a store file: a server that keeps its store in memory hands out the same ids again after a restart.
        /// </summary>
        public ShownMessageIds ShownIds { get; set; }

        /// <summary>
        /// Make a dropped connection again by itself (ChatClient.Reconnecting.cs): off unless asked for, so a program that
        /// handles drops itself is not surprised; Connect-ChatrmServer turns it on.
        /// </summary>
        public bool Reconnect { get; set; }

        /// <summary>How long reconnecting goes on before it gives up and the client closes.</summary>
        public TimeSpan ReconnectTimeout { get; set; } = DefaultReconnectTimeout;

        /// <summary>Five minutes: a server restart or a network's hiccup, not an outage of hours.</summary>
        public static readonly TimeSpan DefaultReconnectTimeout = TimeSpan.FromMinutes(5);

        /// <summary>Speak TLS, checking the server's certificate as these say; null for plain TCP.</summary>
        public TlsClientOptions Tls { get; set; }

        public void Validate()
        {
            if (InboxCapacity < 1) throw new ArgumentOutOfRangeException(nameof(InboxCapacity), InboxCapacity, "The inbox holds at least one message.");
            if (KeepAliveInterval < TimeSpan.FromMilliseconds(10)) throw new ArgumentOutOfRangeException(nameof(KeepAliveInterval), KeepAliveInterval, "The keepalive interval is at least 10 ms.");
            if (ReconnectTimeout < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(ReconnectTimeout), ReconnectTimeout, "The reconnect timeout is 0 or more.");
            if (MaxLineBytes < 64) throw new ArgumentOutOfRangeException(nameof(MaxLineBytes), MaxLineBytes, "The longest line is at least 64 bytes.");
        }
    }
}
