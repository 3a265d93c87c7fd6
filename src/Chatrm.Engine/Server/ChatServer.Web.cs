using System;
using System.Net;
using System.Net.Sockets;
using System.Threading.Tasks;

namespace Chatrm.Engine
{
    /// <summary>The web port (<see cref="ServerOptions.WebPort"/>): the browser client's page and its WebSocket.</summary>
    public sealed partial class ChatServer
    {
#if NET
        private Socket _webListener;
        private Task _webAcceptLoop;
#endif

        /// <summary>Where the web client is served, when <see cref="ServerOptions.WebPort"/> asked for it; null otherwise.</summary>
        public IPEndPoint WebEndPoint { get; private set; }

        private void ListenForWeb()
        {
            if (!Options.WebPort.HasValue)
            {
                return;
            }

#if NET
            _webListener = Listen(Options.WebPort.Value);
            WebEndPoint = (IPEndPoint)_webListener.LocalEndPoint;
#else
            // WebSocket.CreateFromStream with server options is .NET Core's; Windows PowerShell runs .NET Framework.
            throw new PlatformNotSupportedException("The web client (WebPort) needs PowerShell 7 (.NET 10); Windows PowerShell's .NET Framework cannot serve it.");
#endif
        }

        private void StartWebAcceptLoop()
        {
#if NET
            if (_webListener != null)
            {
                var web = new Web.WebListener(this);
                _webAcceptLoop = Task.Run(() => AcceptLoopAsync(_webListener, "web accept", socket => AcceptWeb(web, socket)));
            }
#endif
        }

        private async Task StopWebAcceptLoopAsync()
        {
#if NET
            try { _webListener?.Dispose(); }
            catch (SocketException) { }

            if (_webAcceptLoop != null)
            {
                await _webAcceptLoop.ConfigureAwait(false);
            }
#else
            await Task.CompletedTask.ConfigureAwait(false);
#endif
        }

#if NET
        private void AcceptWeb(Web.WebListener web, Socket socket)
        {
            // A web connection counts as any other towards the server's and the address's limits.
            if (Admit(socket, RefuseWeb, out long id, out IPAddress address))
            {
                _ = RunWebConnectionAsync(web, socket, id, address);
            }
        }

        private void RefuseWeb(Socket socket, string why)
        {
            Raise(ServerEventKind.HandshakeRefused, null, Refusal.ServerFull.ToCode() + ": " + why + " (web)");
            Web.WebListener.RefuseFull(socket, why);
        }

        private async Task RunWebConnectionAsync(Web.WebListener web, Socket socket, long id, IPAddress address)
        {
            await Task.Yield();
            bool handedOver = false;
            try
            {
                handedOver = await web.ServeAsync(socket, id, address, _stopping.Token).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                Raise(ServerEventKind.ServerError, null, "web connection from " + address + " failed: " + e.GetType().Name + ": " + e.Message);
            }
            finally
            {
                // A WebSocket's socket closes after its close handshake, which may outlast the session.
                if (!handedOver)
                {
                    socket.Dispose();
                }

                Release(id, address);
            }
        }

        /// <summary>
        /// A WebSocket's lines, served as a TCP connection's: the same sessions, limits, authentication and name
        /// checks. <paramref name="closeUnderlying"/> closes what it runs over, once the WebSocket is closed.
        /// </summary>
        internal Task ServeWebSocketAsync(System.Net.WebSockets.WebSocket socket, Action closeUnderlying, long id, IPAddress address)
        {
            Transport.LineTransport transport = null;
            // A message is held to the transport's line limit of the moment: the opening's first, then the lines'.
            var lines = new Web.WebSocketLineStream(socket, () => transport.MaxLineBytes, closeUnderlying);
            transport = new Transport.LineTransport(lines, Options.MaxOpeningBytes, Options.MaxQueuedBytesPerConnection, stopsAfterReadBatch: true);
            return ServeAsync(new Server.ServerConnection(this, transport, address, id));
        }
#endif
    }
}
