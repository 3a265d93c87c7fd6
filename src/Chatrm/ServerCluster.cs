using System;
using Chatrm.Engine;

namespace Chatrm.PowerShell
{
    /// <summary>
    /// The cluster a server job is in, as the job sees it: it makes the server, names it, says whether it reaches
    /// the others, and is left when the server stops. Only the PowerShell 7 build has one (NatsServerCluster), and
    /// its assembly loads only when one is made.
    /// </summary>
    internal abstract class ServerCluster : IDisposable
    {
        public abstract string NodeName { get; }

        public abstract string State { get; }

        public abstract ChatServer CreateServer(ServerOptions options);

        public abstract void Dispose();
    }
}
