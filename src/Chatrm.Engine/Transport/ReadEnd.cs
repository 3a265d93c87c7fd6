namespace Chatrm.Engine.Transport
{
    /// <summary>Why a read loop ended.</summary>
    internal enum ReadEnd
    {
        /// <summary>The peer closed its side.</summary>
        PeerClosed,
        /// <summary>The socket failed (reset, timeout found by keepalive, ...).</summary>
        Failed,
        /// <summary>We stopped it: EXIT, a refused handshake, or the server stopping.</summary>
        Stopped,
    }
}
