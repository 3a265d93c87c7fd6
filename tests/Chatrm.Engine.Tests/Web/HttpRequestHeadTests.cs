using System;
using System.IO;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Chatrm.Engine.Web;
using Xunit;

namespace Chatrm.Engine.Tests.Web
{
    /// <summary>The web port's minimal HTTP/1.1 request head parser, without sockets.</summary>
    public class HttpRequestHeadTests
    {
        private static HttpRequestHead Parse(string head) => HttpRequestHead.Parse(Encoding.ASCII.GetBytes(head));

        [Fact]
        public void AWebSocketUpgradeIsReadWithItsHeadersCaseInsensitively()
        {
            HttpRequestHead head = Parse("GET /ws?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nupgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n" +
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1:8080");

            Assert.Equal(("GET", "/ws?x=1", "/ws", "HTTP/1.1"), (head.Method, head.Target, head.Path, head.Version));
            Assert.Equal("127.0.0.1:8080", head["host"]);
            Assert.True(head.HasToken("Connection", "upgrade"));
            Assert.True(head.HasToken("Upgrade", "websocket"));
            Assert.False(head.HasToken("Connection", "close"));
            Assert.Null(head["Cookie"]);
            Assert.True(WebSocketHandshake.IsUpgrade(head));
        }

        [Fact]
        public void RepeatedHeadersAreJoinedAndValuesTrimmed()
        {
            HttpRequestHead head = Parse("GET / HTTP/1.1\r\nAccept:  text/html \r\naccept: text/css\r\nX-Empty:");
            Assert.Equal("text/html, text/css", head["Accept"]);
            Assert.Equal(string.Empty, head["X-Empty"]);
        }

        [Theory]
        [InlineData("GET /\r\nHost: a")]                       // no version
        [InlineData("GET / HTTP/2\r\nHost: a")]                // not HTTP/1.x
        [InlineData("GET  / HTTP/1.1\r\nHost: a")]             // an empty part
        [InlineData("GET / HTTP/1.1\r\nNo colon here")]
        [InlineData("GET / HTTP/1.1\r\n: no name")]
        [InlineData("GET / HTTP/1.1\r\nHost : a")]             // white space before the colon
        [InlineData("GET / HTTP/1.1\r\nHost: a\r\n folded")]   // obsolete line folding
        [InlineData("")]
        public void WhatIsNotAnHttp11HeadIsRefused(string head)
        {
            Assert.Null(Parse(head));
        }

        [Fact]
        public void TheAcceptKeyIsRfc6455s()
        {
            // The example of RFC 6455, section 1.3.
            Assert.Equal("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", WebSocketHandshake.AcceptFor("dGhlIHNhbXBsZSBub25jZQ=="));
            Assert.True(WebSocketHandshake.IsValidKey("dGhlIHNhbXBsZSBub25jZQ=="));
            Assert.False(WebSocketHandshake.IsValidKey("c2hvcnQ="));
            Assert.False(WebSocketHandshake.IsValidKey(null));
        }

        [Theory]
        [InlineData("http://127.0.0.1:8080", "127.0.0.1:8080", false, true)]
        [InlineData("http://127.0.0.1:8080/", "127.0.0.1:8080", false, true)]
        [InlineData("HTTP://LOCALHOST:8080", "localhost:8080", false, true)]
        [InlineData("https://127.0.0.1:8080", "127.0.0.1:8080", false, false)] // another scheme is another origin
        [InlineData("http://127.0.0.1:8080", "127.0.0.1:8080", true, false)]
        [InlineData("http://evil.example", "127.0.0.1:8080", false, false)]
        [InlineData("https://chat.example.com", "127.0.0.1:8080", false, true)] // allowed by the operator
        [InlineData("null", "127.0.0.1:8080", false, false)]
        [InlineData(null, "127.0.0.1:8080", false, true)] // no Origin: not a browser's page
        public void AnOriginIsThePagesOwnOrOneAllowed(string origin, string host, bool secure, bool allowed)
        {
            Assert.Equal(allowed, WebSocketHandshake.AllowsOrigin(origin, host, secure, new[] { "https://chat.example.com/" }));
        }

        [Fact]
        public async Task AHeadIsReadAcrossReadsAndNeverPastItsEnd()
        {
            var stream = new TrickleStream(Encoding.ASCII.GetBytes("GET /app.js HTTP/1.1\r\nHost: a\r\n\r\n"));
            (HttpRequestHead.ReadResult result, HttpRequestHead head) = await HttpRequestHead.ReadAsync(stream, CancellationToken.None);
            Assert.Equal(HttpRequestHead.ReadResult.Read, result);
            Assert.Equal("/app.js", head.Path);

            var early = new MemoryStream(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: a\r\n\r\nmore"));
            Assert.Equal(HttpRequestHead.ReadResult.Malformed, (await HttpRequestHead.ReadAsync(early, CancellationToken.None)).Result);
        }

        [Fact]
        public async Task AHeadOverEightKilobytesIsTooLargeAndAnEarlyCloseIsClosed()
        {
            var huge = new MemoryStream(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nX: " + new string('a', HttpRequestHead.MaxHeadBytes) + "\r\n\r\n"));
            Assert.Equal(HttpRequestHead.ReadResult.TooLarge, (await HttpRequestHead.ReadAsync(huge, CancellationToken.None)).Result);

            var cut = new MemoryStream(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost"));
            Assert.Equal(HttpRequestHead.ReadResult.Closed, (await HttpRequestHead.ReadAsync(cut, CancellationToken.None)).Result);
        }

        /// <summary>Hands out one byte a read, so the end of the head straddles reads.</summary>
        private sealed class TrickleStream : MemoryStream
        {
            public TrickleStream(byte[] bytes) : base(bytes) { }

            public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
                base.ReadAsync(buffer.Slice(0, Math.Min(1, buffer.Length)), cancellationToken);
        }
    }
}
