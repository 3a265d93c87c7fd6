using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace Chatrm.Engine.Web
{
    /// <summary>
    /// An HTTP/1.1 request's line and headers. Hand-written and minimal on purpose: the engine has no ASP.NET
    /// dependency, and the web port needs only GET of a few files and a WebSocket upgrade. No body is read.
    /// </summary>
    internal sealed class HttpRequestHead
    {
        /// <summary>A head larger than this is refused (431): enough for any browser's GET, little to hold.</summary>
        public const int MaxHeadBytes = 8 * 1024;

        private static readonly byte[] EndOfHead = { (byte)'\r', (byte)'\n', (byte)'\r', (byte)'\n' };

        private readonly Dictionary<string, string> _headers;

        private HttpRequestHead(string method, string target, string version, Dictionary<string, string> headers)
        {
            Method = method;
            Target = target;
            Version = version;
            _headers = headers;
        }

        public string Method { get; }

        /// <summary>The request target as sent: a path, with its query if any.</summary>
        public string Target { get; }

        /// <summary>The path of <see cref="Target"/>, without its query.</summary>
        public string Path
        {
            get
            {
                int query = Target.IndexOf('?');
                return query >= 0 ? Target.Substring(0, query) : Target;
            }
        }

        public string Version { get; }

        /// <summary>A header's value (repeated headers joined with ", "), or null; names are case-insensitive.</summary>
        public string this[string name] => _headers.TryGetValue(name, out string value) ? value : null;

        /// <summary>Whether a comma-separated header (Connection, Upgrade) holds <paramref name="token"/>, case-insensitively.</summary>
        public bool HasToken(string name, string token)
        {
            string value = this[name];
            if (value == null)
            {
                return false;
            }

            foreach (string part in value.Split(','))
            {
                if (string.Equals(part.Trim(), token, StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }
            }

            return false;
        }

        /// <summary>
        /// Parses a head (the bytes up to and without the blank line that ends it). Null when it is not HTTP/1.x:
        /// a request line of three parts, each header a name, a colon and a value, no line folding.
        /// </summary>
        public static HttpRequestHead Parse(ReadOnlySpan<byte> head)
        {
            // Headers are ASCII; anything else is kept as Latin-1, so it can never be mistaken for a delimiter.
            string text = Encoding.Latin1.GetString(head);
            string[] lines = text.Split("\r\n");
            string[] request = lines[0].Split(' ');
            if (request.Length != 3 || request[0].Length == 0 || request[1].Length == 0 || !request[2].StartsWith("HTTP/1.", StringComparison.Ordinal))
            {
                return null;
            }

            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            for (int i = 1; i < lines.Length; i++)
            {
                string line = lines[i];
                int colon = line.IndexOf(':');
                // No name, white space before the colon, or a folded line (RFC 9112 forbids all three).
                if (colon <= 0 || line[0] == ' ' || line[0] == '\t' || line[colon - 1] == ' ' || line[colon - 1] == '\t')
                {
                    return null;
                }

                string name = line.Substring(0, colon);
                string value = line.Substring(colon + 1).Trim(' ', '\t');
                headers[name] = headers.TryGetValue(name, out string earlier) ? earlier + ", " + value : value;
            }

            return new HttpRequestHead(request[0], request[1], request[2], headers);
        }

        /// <summary>What reading a head came to.</summary>
        public enum ReadResult
        {
            Read,
            TooLarge,
            Malformed,
            Closed,
        }

        /// <summary>
        /// Reads one head from <paramref name="stream"/>, never past its end: bytes after it (a client that speaks
        /// before it is answered) make the head <see cref="ReadResult.Malformed"/>, as this server answers one
        /// request per connection.
        /// </summary>
        public static async Task<(ReadResult Result, HttpRequestHead Head)> ReadAsync(Stream stream, CancellationToken cancellationToken)
        {
            byte[] buffer = new byte[MaxHeadBytes];
            int used = 0;
            while (true)
            {
                int read = await stream.ReadAsync(buffer.AsMemory(used), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    return (ReadResult.Closed, null);
                }

                // The end may straddle two reads: look from three bytes before this read's first.
                int from = Math.Max(0, used - 3);
                used += read;
                int end = buffer.AsSpan(from, used - from).IndexOf(EndOfHead);
                if (end >= 0)
                {
                    end += from;
                    if (end + EndOfHead.Length != used)
                    {
                        return (ReadResult.Malformed, null);
                    }

                    HttpRequestHead head = Parse(buffer.AsSpan(0, end));
                    return head == null ? (ReadResult.Malformed, null) : (ReadResult.Read, head);
                }

                if (used == buffer.Length)
                {
                    return (ReadResult.TooLarge, null);
                }
            }
        }
    }
}
