using System;
using System.Collections.Generic;
using System.Security.Cryptography;
using System.Text;

namespace Chatrm.Engine.Web
{
    /// <summary>The server's half of the WebSocket opening handshake (RFC 6455, section 4.2), short of the framing.</summary>
    internal static class WebSocketHandshake
    {
        // Fixed by RFC 6455: the server proves it read the key by hashing it with this.
        private const string KeyGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

        /// <summary>Whether the head asks for a WebSocket: GET with Upgrade: websocket and Connection: upgrade.</summary>
        public static bool IsUpgrade(HttpRequestHead head) =>
            head.Method == "GET" && head.HasToken("Upgrade", "websocket") && head.HasToken("Connection", "Upgrade");

        /// <summary>A key is 16 random bytes in base64.</summary>
        public static bool IsValidKey(string key)
        {
            if (string.IsNullOrEmpty(key) || key.Length != 24)
            {
                return false;
            }

            Span<byte> bytes = stackalloc byte[18];
            return Convert.TryFromBase64String(key, bytes, out int written) && written == 16;
        }

        /// <summary>Sec-WebSocket-Accept for a Sec-WebSocket-Key.</summary>
        public static string AcceptFor(string key) =>
            Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + KeyGuid)));

        /// <summary>
        /// Whether a page of <paramref name="origin"/> may open the WebSocket: the page's own origin (the scheme this
        /// port speaks and the Host it was asked for) or one the operator allowed. No Origin is a program, not a
        /// browser page; it may, as it could speak to the TCP port anyway.
        /// </summary>
        public static bool AllowsOrigin(string origin, string host, bool secure, IReadOnlyCollection<string> allowed)
        {
            if (origin == null)
            {
                return true;
            }

            string own = (secure ? "https://" : "http://") + host;
            if (host != null && SameOrigin(origin, own))
            {
                return true;
            }

            if (allowed != null)
            {
                foreach (string other in allowed)
                {
                    if (other != null && SameOrigin(origin, other))
                    {
                        return true;
                    }
                }
            }

            return false;
        }

        private static bool SameOrigin(string a, string b) =>
            string.Equals(a.TrimEnd('/'), b.Trim().TrimEnd('/'), StringComparison.OrdinalIgnoreCase);
    }
}
