using System;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Chatrm.Engine.Web;
using Xunit;

namespace Chatrm.Engine.Tests.Web
{
    /// <summary>The stream of lines over a WebSocket, against a WebSocket of .NET's own at the other end, without HTTP.</summary>
    public sealed class WebSocketLineStreamTests : IAsyncLifetime
    {
        private static readonly TimeSpan Deadline = RawClient.Deadline;
        private TcpListener _listener;
        private TcpClient _serverSide;
        private TcpClient _clientSide;
        private WebSocket _server;
        private WebSocket _client;
        private int _limit = 64;
        private WebSocketLineStream _lines;

        public async Task InitializeAsync()
        {
            _listener = new TcpListener(IPAddress.Loopback, 0);
            _listener.Start();
            _clientSide = new TcpClient();
            Task connecting = _clientSide.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)_listener.LocalEndpoint).Port);
            _serverSide = await _listener.AcceptTcpClientAsync();
            await connecting;
            _server = WebSocket.CreateFromStream(_serverSide.GetStream(), new WebSocketCreationOptions { IsServer = true });
            _client = WebSocket.CreateFromStream(_clientSide.GetStream(), new WebSocketCreationOptions { IsServer = false });
            _lines = new WebSocketLineStream(_server, () => _limit, () => _serverSide.Dispose());
        }

        public Task DisposeAsync()
        {
            _lines.Dispose();
            _client.Dispose();
            _clientSide.Dispose();
            _listener.Stop();
            return Task.CompletedTask;
        }

        private Task SendAsync(string text, bool endOfMessage = true) =>
            _client.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, endOfMessage, CancellationToken.None);

        private async Task<string> ReadAsync(int max = 4096)
        {
            byte[] buffer = new byte[max];
            int read = await _lines.ReadAsync(buffer, 0, buffer.Length).WaitAsync(Deadline);
            return Encoding.UTF8.GetString(buffer, 0, read);
        }

        private async Task<(WebSocketMessageType Type, string Text, bool End)> ReceiveAsync()
        {
            byte[] buffer = new byte[4096];
            WebSocketReceiveResult result = await _client.ReceiveAsync(buffer, CancellationToken.None).WaitAsync(Deadline);
            return (result.MessageType, Encoding.UTF8.GetString(buffer, 0, result.Count), result.EndOfMessage);
        }

        [Fact]
        public async Task EachTextMessageIsOneLineAndAFragmentedOneIsWhole()
        {
            await SendAsync("{\"type\":\"ping\"}");
            Assert.Equal(0, await _lines.ReadAsync(Array.Empty<byte>(), 0, 0).WaitAsync(Deadline)); // waits for data, reads none
            Assert.Equal("{\"type\":\"ping\"}\n", await ReadAsync());

            await SendAsync("{\"a\":", endOfMessage: false);
            await SendAsync("\"é\"}");
            Assert.Equal("{\"a\":", (await ReadAsync(5)));
            Assert.Equal("\"é\"}\n", await ReadAsync());

            await SendAsync(string.Empty);
            Assert.Equal("\n", await ReadAsync()); // a blank line, as over TCP
        }

        [Fact]
        public async Task EachWrittenLineIsOneTextMessageThoughWritesSplitLines()
        {
            byte[] bytes = Encoding.UTF8.GetBytes("{\"one\":1}\n{\"two\":2}\n{\"thr");
            await _lines.WriteAsync(bytes, 0, bytes.Length);
            bytes = Encoding.UTF8.GetBytes("ee\":3}\n");
            await _lines.WriteAsync(bytes, 0, bytes.Length);

            Assert.Equal((WebSocketMessageType.Text, "{\"one\":1}", true), await ReceiveAsync());
            Assert.Equal((WebSocketMessageType.Text, "{\"two\":2}", true), await ReceiveAsync());
            Assert.Equal((WebSocketMessageType.Text, "{\"three\":3}", true), await ReceiveAsync());
        }

        [Fact]
        public async Task AMessageOverTheLimitClosesWith1009()
        {
            await SendAsync(new string('x', _limit)); // at the limit: a line
            Assert.Equal(new string('x', _limit) + "\n", await ReadAsync());

            _limit = 70; // read at each message, as the server's limit changes after the opening
            await SendAsync(new string('y', 71));
            Assert.Equal(string.Empty, await ReadAsync());
            Assert.Equal(WebSocketCloseStatus.MessageTooBig, _lines.ClosedWith);
            (WebSocketMessageType type, _, _) = await ReceiveAsync();
            Assert.Equal(WebSocketMessageType.Close, type);
            Assert.Equal(WebSocketCloseStatus.MessageTooBig, _client.CloseStatus);
        }

        [Fact]
        public async Task ABinaryMessageClosesWith1003()
        {
            await _client.SendAsync(new byte[] { 1, 2 }, WebSocketMessageType.Binary, true, CancellationToken.None);
            Assert.Equal(string.Empty, await ReadAsync());
            (WebSocketMessageType type, _, _) = await ReceiveAsync();
            Assert.Equal(WebSocketMessageType.Close, type);
            Assert.Equal(WebSocketCloseStatus.InvalidMessageType, _client.CloseStatus);
        }

        [Fact]
        public async Task AMessageWithALineBreakIsRefusedAsTwoFramesInOne()
        {
            await SendAsync("{\"type\":\"ping\"}\n{\"type\":\"ping\"}");
            Assert.Equal(string.Empty, await ReadAsync());
            Assert.Equal(WebSocketCloseStatus.InvalidPayloadData, _lines.ClosedWith);
        }

        [Fact]
        public async Task ThePeersCloseIsTheEndAndDisposingClosesProperly()
        {
            await _client.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
            Assert.Equal(string.Empty, await ReadAsync());
            _lines.Dispose();
            (WebSocketMessageType type, _, _) = await ReceiveAsync();
            Assert.Equal(WebSocketMessageType.Close, type);
            Assert.Equal(WebSocketCloseStatus.NormalClosure, _client.CloseStatus);
        }
    }
}
