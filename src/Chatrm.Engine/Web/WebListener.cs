using System;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Chatrm.Engine.Transport;

namespace Chatrm.Engine.Web
{
    /// <summary>
    /// One web port connection: TLS when the server has a certificate, one HTTP request, then either a file of
    /// the web client or, at /ws, a WebSocket that carries the native protocol as a TCP connection does.
    /// </summary>
    internal sealed class WebListener
    {
        public const string WebSocketPath = "/ws";

        // No inline script or style anywhere: an injected tag could run nothing even if one were ever rendered.
        internal const string ContentSecurityPolicy = "default-src 'self'; connect-src 'self' ws: wss:; script-src 'self'; style-src 'self'";

        /// <summary>Native keepalive already runs inside the WebSocket; this keeps idle proxies from cutting it.</summary>
        private static readonly TimeSpan WebSocketKeepAlive = TimeSpan.FromSeconds(30);

        /// <summary>How long a client may take to send its request head.</summary>
        private static readonly TimeSpan HeadTimeout = TimeSpan.FromSeconds(10);

        private readonly ChatServer _server;

        public WebListener(ChatServer server)
        {
            _server = server;
        }

        private bool Secure => _server.Options.Certificate != null;

        /// <summary>Refuses a connection over the server's limits, in words a browser shows.</summary>
        public static void RefuseFull(Socket socket, string why)
        {
            try
            {
                socket.Blocking = false;
                socket.Send(Response(503, "Service Unavailable", "text/plain; charset=utf-8", Encoding.UTF8.GetBytes("server-full: " + why + "\n"), null));
                socket.Shutdown(SocketShutdown.Send);
            }
            catch (SocketException)
            {
                // Its buffer is full or it is gone: closing says enough.
            }
            finally
            {
                socket.Dispose();
            }
        }

        /// <summary>Serves the connection; true when a WebSocket took it over (its socket then closes with it).</summary>
        public async Task<bool> ServeAsync(Socket socket, long id, IPAddress address, CancellationToken stopping)
        {
            Stream stream;
            if (Secure)
            {
                stream = await Tls.AuthenticateAsServerAsync(socket, _server.Options.Certificate, _server.Options.TlsHandshakeTimeout, stopping).ConfigureAwait(false);
                if (stream == null)
                {
                    _server.Raise(ServerEventKind.HandshakeRefused, null, "TLS handshake failed from " + address + " (web)");
                    return false;
                }
            }
            else
            {
                stream = new NetworkStream(socket, ownsSocket: false);
            }

            HttpRequestHead.ReadResult result;
            HttpRequestHead head;
            try
            {
                using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stopping);
                deadline.CancelAfter(HeadTimeout);
                (result, head) = await HttpRequestHead.ReadAsync(stream, deadline.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException || e is OperationCanceledException || e is SocketException || e is ObjectDisposedException)
            {
                stream.Dispose();
                return false;
            }

            try
            {
                switch (result)
                {
                    case HttpRequestHead.ReadResult.Closed:
                        return false;
                    case HttpRequestHead.ReadResult.TooLarge:
                        await AnswerAsync(stream, 431, "Request Header Fields Too Large", "the request head is over 8 KB").ConfigureAwait(false);
                        return false;
                    case HttpRequestHead.ReadResult.Malformed:
                        await AnswerAsync(stream, 400, "Bad Request", "not an HTTP/1.1 request").ConfigureAwait(false);
                        return false;
                }

                if (head.Path == WebSocketPath)
                {
                    WebSocket webSocket = await UpgradeAsync(stream, head, address).ConfigureAwait(false);
                    if (webSocket == null)
                    {
                        return false;
                    }

                    Stream underlying = stream;
                    stream = null;
                    await _server.ServeWebSocketAsync(webSocket, () => { underlying.Dispose(); socket.Dispose(); }, id, address).ConfigureAwait(false);
                    return true;
                }

                await ServeFileAsync(stream, head).ConfigureAwait(false);
                return false;
            }
            catch (Exception e) when (e is IOException || e is SocketException || e is ObjectDisposedException)
            {
                // The browser went away mid-answer.
                return false;
            }
            finally
            {
                stream?.Dispose();
            }
        }

        private static async Task ServeFileAsync(Stream stream, HttpRequestHead head)
        {
            if (head.Method != "GET" && head.Method != "HEAD")
            {
                await AnswerAsync(stream, 405, "Method Not Allowed", "only GET is served here").ConfigureAwait(false);
                return;
            }

            if (!WebAssets.TryGet(head.Path, out byte[] content, out string contentType))
            {
                await AnswerAsync(stream, 404, "Not Found", "no such page; the chat is at /").ConfigureAwait(false);
                return;
            }

            byte[] response = Response(200, "OK", contentType, content, null, headOnly: head.Method == "HEAD");
            await stream.WriteAsync(response).ConfigureAwait(false);
            await stream.FlushAsync().ConfigureAwait(false);
        }

        /// <summary>Checks the upgrade and answers 101 with a WebSocket over the stream, or answers why not and returns null.</summary>
        private async Task<WebSocket> UpgradeAsync(Stream stream, HttpRequestHead head, IPAddress address)
        {
            if (!WebSocketHandshake.IsUpgrade(head))
            {
                await AnswerAsync(stream, 400, "Bad Request", "/ws takes a WebSocket upgrade").ConfigureAwait(false);
                return null;
            }

            if (head["Sec-WebSocket-Version"] != "13")
            {
                await AnswerAsync(stream, 426, "Upgrade Required", "WebSocket version 13 only", "Sec-WebSocket-Version: 13\r\n").ConfigureAwait(false);
                return null;
            }

            string key = head["Sec-WebSocket-Key"];
            if (!WebSocketHandshake.IsValidKey(key))
            {
                await AnswerAsync(stream, 400, "Bad Request", "Sec-WebSocket-Key is not 16 bytes in base64").ConfigureAwait(false);
                return null;
            }

            string origin = head["Origin"];
            if (!WebSocketHandshake.AllowsOrigin(origin, head["Host"], Secure, _server.Options.WebAllowedOrigins))
            {
                // A page elsewhere must not chat as the person whose browser it runs in (cross-site WebSocket hijacking).
                _server.Raise(ServerEventKind.HandshakeRefused, null, "web origin " + origin + " refused from " + address);
                await AnswerAsync(stream, 403, "Forbidden", "pages of " + origin + " may not open this WebSocket (see -WebAllowedOrigin)").ConfigureAwait(false);
                return null;
            }

            string switching = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
                WebSocketHandshake.AcceptFor(key) + "\r\n\r\n";
            await stream.WriteAsync(Encoding.ASCII.GetBytes(switching)).ConfigureAwait(false);
            await stream.FlushAsync().ConfigureAwait(false);
            return WebSocket.CreateFromStream(stream, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = WebSocketKeepAlive });
        }

        private static async Task AnswerAsync(Stream stream, int status, string reason, string text, string extraHeaders = null)
        {
            await stream.WriteAsync(Response(status, reason, "text/plain; charset=utf-8", Encoding.UTF8.GetBytes(text + "\n"), extraHeaders)).ConfigureAwait(false);
            await stream.FlushAsync().ConfigureAwait(false);
        }

        /// <summary>A whole response, one request per connection (Connection: close), with the headers every answer carries.</summary>
        internal static byte[] Response(int status, string reason, string contentType, byte[] body, string extraHeaders, bool headOnly = false)
        {
            string headers =
                $"HTTP/1.1 {status} {reason}\r\n" +
                $"Content-Type: {contentType}\r\n" +
                $"Content-Length: {body.Length}\r\n" +
                $"Content-Security-Policy: {ContentSecurityPolicy}\r\n" +
                "X-Content-Type-Options: nosniff\r\n" +
                "X-Frame-Options: DENY\r\n" +
                "Referrer-Policy: no-referrer\r\n" +
                "Cache-Control: no-cache\r\n" +
                "Connection: close\r\n" +
                extraHeaders +
                "\r\n";
            byte[] head = Encoding.ASCII.GetBytes(headers);
            if (headOnly)
            {
                return head;
            }

            byte[] response = new byte[head.Length + body.Length];
            head.CopyTo(response, 0);
            body.CopyTo(response, head.Length);
            return response;
        }
    }
}
