using System;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading;
using System.Threading.Tasks;
using Xunit;
using static Chatrm.Engine.Tests.NativePeer;

namespace Chatrm.Engine.Tests.Web
{
    /// <summary>The web port over HTTP and WebSocket, with .NET's own clients (the browser's turn is in BrowserTests).</summary>
    public class WebPortTests
    {
        private static readonly TimeSpan Deadline = RawClient.Deadline;

        internal static Uri WebUri(TestServer server, string scheme = "http") =>
            new Uri($"{scheme}://127.0.0.1:{server.Server.WebEndPoint.Port}/");

        private static async Task<ClientWebSocket> OpenAsync(TestServer server, string origin = null)
        {
            var socket = new ClientWebSocket();
            socket.Options.SetRequestHeader("Origin", origin ?? WebUri(server).GetLeftPart(UriPartial.Authority));
            using var deadline = new CancellationTokenSource(Deadline);
            await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{server.Server.WebEndPoint.Port}/ws"), deadline.Token);
            return socket;
        }

        private static Task SendAsync(WebSocket socket, string text) =>
            socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None);

        private static async Task<JsonObject> ReadAsync(WebSocket socket, string type)
        {
            byte[] buffer = new byte[64 * 1024];
            while (true)
            {
                WebSocketReceiveResult result = await socket.ReceiveAsync(buffer, CancellationToken.None).WaitAsync(Deadline);
                Assert.True(result.EndOfMessage, "one frame is one whole message");
                Assert.Equal(WebSocketMessageType.Text, result.MessageType);
                var frame = (JsonObject)JsonNode.Parse(Encoding.UTF8.GetString(buffer, 0, result.Count));
                if (Type(frame) == type)
                {
                    return frame;
                }
            }
        }

        [Fact]
        public async Task WithoutAWebPortNothingIsServed()
        {
            await using var server = new TestServer();
            Assert.Null(server.Server.WebEndPoint);
        }

        [Fact]
        public async Task ThePageIsServedWithItsPolicyAndAnythingElseIsNotFound()
        {
            await using var server = new TestServer(o => o.WebPort = 0);
            Assert.NotEqual(0, server.Server.WebEndPoint.Port);
            using var http = new HttpClient { BaseAddress = WebUri(server), Timeout = Deadline };

            using HttpResponseMessage page = await http.GetAsync("/");
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            Assert.Equal("default-src 'self'; connect-src 'self' ws: wss:; script-src 'self'; style-src 'self'",
                Assert.Single(page.Headers.GetValues("Content-Security-Policy")));
            Assert.Equal("nosniff", Assert.Single(page.Headers.GetValues("X-Content-Type-Options")));
            Assert.Equal("text/html", page.Content.Headers.ContentType.MediaType);
            string html = await page.Content.ReadAsStringAsync();
            Assert.Contains("<script src=\"app.js\" defer></script>", html);
            Assert.DoesNotContain("<script>", html); // nothing inline: the policy would refuse it anyway

            using HttpResponseMessage script = await http.GetAsync("/app.js");
            Assert.Equal("text/javascript", script.Content.Headers.ContentType.MediaType);
            Assert.DoesNotContain("innerHTML", await script.Content.ReadAsStringAsync());
            using HttpResponseMessage style = await http.GetAsync("/app.css");
            Assert.Equal("text/css", style.Content.Headers.ContentType.MediaType);

            using HttpResponseMessage missing = await http.GetAsync("/secret.txt");
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
            using HttpResponseMessage deleted = await http.SendAsync(new HttpRequestMessage(HttpMethod.Delete, "/"));
            Assert.Equal(HttpStatusCode.MethodNotAllowed, deleted.StatusCode);
        }

        [Fact]
        public async Task AWebSocketUserAndATcpUserChatBothWaysAsNativeUsers()
        {
            await using var server = new TestServer(o => o.WebPort = 0);
            using ClientWebSocket web = await OpenAsync(server);
            await SendAsync(web, Hello("alice"));
            JsonObject welcome = await ReadAsync(web, "welcome");
            Assert.Equal("alice", Str(welcome, "user"));
            Assert.Equal("chatrm", server.ProtocolOf("alice"));

            using NativePeer bob = await server.JoinNativeAsync("bob");
            await SendAsync(web, "{\"type\":\"send\",\"ref\":\"1\",\"to\":\"bob\",\"text\":\"hi bob\"}");
            JsonObject atBob = await bob.ExpectAsync("message");
            Assert.Equal(("alice", "hi bob"), (Str(atBob, "from"), Str(atBob, "text")));
            await bob.AckAsync(Str(atBob, "id"));
            Assert.Equal("delivered", Str(await ReadAsync(web, "status"), "status"));

            await bob.SendMessageAsync("alice", "hi alice", "b1");
            JsonObject atAlice = await ReadAsync(web, "message");
            Assert.Equal(("bob", "hi alice"), (Str(atAlice, "from"), Str(atAlice, "text")));
        }

        [Fact]
        public async Task AWebUserCannotSpeakAsAnotherAndMeetsTheSameNameChecks()
        {
            await using var server = new TestServer(o => o.WebPort = 0);
            using NativePeer bob = await server.JoinNativeAsync("bob");

            using ClientWebSocket taken = await OpenAsync(server);
            await SendAsync(taken, Hello("bob"));
            Assert.Equal("name-taken", Str(await ReadAsync(taken, "error"), "code"));

            using ClientWebSocket web = await OpenAsync(server);
            await SendAsync(web, Hello("mallory"));
            await ReadAsync(web, "welcome");
            // A from of its own is not the protocol's: the server sends as the session's name.
            await SendAsync(web, "{\"type\":\"send\",\"ref\":\"1\",\"to\":\"bob\",\"text\":\"pay me\",\"from\":\"alice\"}");
            JsonObject atBob = await bob.ExpectAsync("message");
            Assert.Equal("mallory", Str(atBob, "from"));
        }

        [Fact]
        public async Task AWebUserIsRateLimitedAsATcpUserIs()
        {
            await using var server = new TestServer(o => { o.WebPort = 0; o.MaxMessagesPerSecond = 1; });
            using NativePeer bob = await server.JoinNativeAsync("bob");
            using ClientWebSocket web = await OpenAsync(server);
            await SendAsync(web, Hello("alice"));
            await ReadAsync(web, "welcome");

            for (int i = 0; i < 5; i++)
            {
                await SendAsync(web, $"{{\"type\":\"send\",\"ref\":\"{i}\",\"to\":\"bob\",\"text\":\"m{i}\"}}");
            }

            JsonObject refused = await ReadAsync(web, "status");
            while (Str(refused, "status") != "refused")
            {
                refused = await ReadAsync(web, "status");
            }

            Assert.Equal("rate-limited", Str(refused, "reason"));
        }

        [Fact]
        public async Task APageOfAnotherOriginIsRefused403UnlessAllowed()
        {
            await using var server = new TestServer(o => { o.WebPort = 0; o.WebAllowedOrigins = new[] { "https://chat.example.com" }; });

            var refused = await Assert.ThrowsAsync<WebSocketException>(() => OpenAsync(server, "http://evil.example"));
            Assert.Contains("403", refused.Message);
            await server.WaitForEventAsync(ServerEventKind.HandshakeRefused);

            using ClientWebSocket allowed = await OpenAsync(server, "https://chat.example.com");
            await SendAsync(allowed, Hello("alice"));
            await ReadAsync(allowed, "welcome");
        }

        [Fact]
        public async Task AFrameOverTheLineLimitClosesTheSocketWith1009()
        {
            await using var server = new TestServer(o => { o.WebPort = 0; o.MaxLineBytes = 1024; });
            using ClientWebSocket web = await OpenAsync(server);
            await SendAsync(web, Hello("alice"));
            await ReadAsync(web, "welcome");

            await SendAsync(web, "{\"type\":\"send\",\"to\":\"alice\",\"text\":\"" + new string('x', 2000) + "\"}");
            byte[] buffer = new byte[4096];
            WebSocketReceiveResult result;
            do
            {
                result = await web.ReceiveAsync(buffer, CancellationToken.None).WaitAsync(Deadline);
            }
            while (result.MessageType != WebSocketMessageType.Close);

            Assert.Equal(WebSocketCloseStatus.MessageTooBig, web.CloseStatus);
            await Eventually.TrueAsync(() => !server.IsOnline("alice"), "alice leaves");
        }

        /// <summary>A self-signed certificate made for the test, with its private key.</summary>
        internal static System.Security.Cryptography.X509Certificates.X509Certificate2 MakeCertificate()
        {
            using var rsa = System.Security.Cryptography.RSA.Create(2048);
            var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=localhost", rsa,
                System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.RSASignaturePadding.Pkcs1);
            using var made = request.CreateSelfSigned(DateTimeOffset.Now.AddMinutes(-5), DateTimeOffset.Now.AddHours(1));
            return System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadPkcs12(
                made.Export(System.Security.Cryptography.X509Certificates.X509ContentType.Pfx), null);
        }

        [Fact]
        public async Task WithACertificateTheWebPortSpeaksHttpsAndWssOnly()
        {
            await using var server = new TestServer(o => { o.WebPort = 0; o.Certificate = MakeCertificate(); });
            int port = server.Server.WebEndPoint.Port;
            using var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true };
            using var https = new HttpClient(handler) { Timeout = Deadline };
            using HttpResponseMessage page = await https.GetAsync($"https://127.0.0.1:{port}/");
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            Assert.Contains("Content-Security-Policy", page.Headers.Select(h => h.Key));

            using var plain = new HttpClient { Timeout = Deadline };
            await Assert.ThrowsAnyAsync<HttpRequestException>(() => plain.GetAsync($"http://127.0.0.1:{port}/"));

            using var wss = new ClientWebSocket();
            wss.Options.RemoteCertificateValidationCallback = (_, _, _, _) => true;
            wss.Options.SetRequestHeader("Origin", $"https://127.0.0.1:{port}");
            using var deadline = new CancellationTokenSource(Deadline);
            await wss.ConnectAsync(new Uri($"wss://127.0.0.1:{port}/ws"), deadline.Token);
            await SendAsync(wss, Hello("alice"));
            Assert.Equal("alice", Str(await ReadAsync(wss, "welcome"), "user"));
        }

        [Fact]
        public async Task WebConnectionsCountTowardsTheConnectionLimit()
        {
            await using var server = new TestServer(o => { o.WebPort = 0; o.MaxConnectionsPerAddress = 1; });
            using NativePeer alice = await server.JoinNativeAsync("alice");
            using var http = new HttpClient { BaseAddress = WebUri(server), Timeout = Deadline };
            using HttpResponseMessage full = await http.GetAsync("/");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, full.StatusCode);
            Assert.StartsWith("server-full: ", await full.Content.ReadAsStringAsync());
            Assert.Contains(server.Events, e => e.Kind == ServerEventKind.HandshakeRefused && e.Detail.StartsWith("server-full: "));
        }

        [Fact]
        public async Task StoppingTheServerEndsItsWebSockets()
        {
            var server = new TestServer(o => o.WebPort = 0);
            using ClientWebSocket web = await OpenAsync(server);
            await SendAsync(web, Hello("alice"));
            await ReadAsync(web, "welcome");

            await server.Server.StopAsync().WaitAsync(Deadline);
            Assert.Equal("server-stopping", Str(await ReadAsync(web, "bye"), "reason"));
        }
    }
}
