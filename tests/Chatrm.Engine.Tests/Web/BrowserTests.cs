using System;
using System.IO;
using System.Linq;
using System.Text.Json.Nodes;
using System.Threading;
using System.Threading.Tasks;
using Xunit;
using static Chatrm.Engine.Tests.NativePeer;

namespace Chatrm.Engine.Tests.Web
{
    /// <summary>
    /// The web client in a real headless Chromium, against a real server: people in browsers chat with each other,
    /// with native and classic clients, in rooms, across a restart, and nothing they type ever runs.
    /// </summary>
    public sealed class BrowserTests : IClassFixture<BrowserFixture>
    {
        private static readonly TimeSpan Deadline = RawClient.Deadline;
        private readonly BrowserFixture _browser;

        public BrowserTests(BrowserFixture browser)
        {
            _browser = browser;
        }

        private static TestServer WebServer(Action<ServerOptions> configure = null) =>
            new TestServer(o => { o.WebPort = 0; configure?.Invoke(o); });

        [ChromiumFact]
        public async Task TwoBrowserUsersChat()
        {
            await using TestServer server = WebServer();
            Uri uri = WebPortTests.WebUri(server);
            await using ChatPage alice = await ChatPage.SignInAsync(_browser.Require(), uri, "alice");
            await using ChatPage bob = await ChatPage.SignInAsync(_browser.Require(), uri, "bob");

            // Who is online: each sees the other.
            await alice.WaitForAsync("() => !!document.querySelector('#people li.person[data-name=\"bob\"]')");
            await alice.OpenAsync("bob");
            await alice.SendAsync("hello bob");
            await alice.WaitForMessageAsync("hello bob");

            await bob.WaitForUnreadAsync("alice", 1);
            await bob.ClickConversationAsync("alice");
            await bob.WaitForMessageAsync("hello bob");
            await bob.SendAsync("hi alice, from a browser");

            await alice.WaitForMessageAsync("hi alice, from a browser");
            // alice's own message was confirmed by bob's page.
            await alice.WaitForAsync("() => [...document.querySelectorAll('#lines .message.mine .state')].some(e => e.textContent === 'delivered')");
            Assert.Empty(alice.Errors.Concat(bob.Errors));
        }

        [ChromiumFact]
        public async Task ABrowserUserAndANativeClientChatBothWays()
        {
            await using TestServer server = WebServer();
            await using ChatPage alice = await ChatPage.SignInAsync(_browser.Require(), WebPortTests.WebUri(server), "alice");
            using ChatClient carol = await server.ConnectNativeAsync("carol"); // the client the cmdlets use

            await alice.OpenAsync("carol");
            await alice.SendAsync("hi carol");
            await Eventually.TrueAsync(() => carol.MessagesWaiting == 1, "carol receives alice's message");
            ChatMessage atCarol = Assert.IsType<ChatMessage>(Assert.Single(carol.Take(10)));
            Assert.Equal(("alice", "hi carol"), (atCarol.From, atCarol.Text));

            SentMessage reply = await carol.SendAsync("alice", "hi alice\nsecond line_with underscore").WaitAsync(Deadline);
            Assert.Equal(SendStatus.Delivered, reply.Status); // the page acked it
            await alice.WaitForMessageAsync("hi alice\nsecond line_with underscore");
        }

        [ChromiumFact]
        public async Task ABrowserUserAndAnOriginalGoClientsBytesChat()
        {
            await using TestServer server = WebServer();
            await using ChatPage alice = await ChatPage.SignInAsync(_browser.Require(), WebPortTests.WebUri(server), "alice");
            using RawClient gopher = await server.JoinAsync("gopher"); // handshake "gopher_\n", as the Go client sends

            await gopher.SendAsync("gopher_alice_hi from go\n"); // SOURCE_DEST_TEXT
            await alice.WaitForUnreadAsync("gopher", 1);
            await alice.ClickConversationAsync("gopher");
            await alice.WaitForMessageAsync("hi from go");

            await alice.SendAsync("hi gopher");
            Assert.Equal("gopher_alice_hi gopher", await gopher.ReadLineAsync());
            await alice.WaitForAsync("() => [...document.querySelectorAll('#lines .message.mine .state')].some(e => e.textContent === 'forwarded')");
        }

        [ChromiumFact]
        public async Task ARoomWithABrowserABotAndAnotherClient()
        {
            await using TestServer server = WebServer();
            await using ChatPage alice = await ChatPage.SignInAsync(_browser.Require(), WebPortTests.WebUri(server), "alice");
            using ChatClient bot = await server.ConnectNativeAsync("bot");
            await bot.JoinRoomAsync("#ops", Deadline);
            using var stopBot = new CancellationTokenSource();
            Task answering = AnswerInRoomAsync(bot, "#ops", stopBot.Token);

            await alice.OpenAsync("#ops");
            using NativePeer dave = await server.JoinNativeAsync("dave");
            await dave.SendFrameAsync(new JsonObject { ["type"] = "join", ["ref"] = "j", ["room"] = "#ops" });
            await dave.ExpectAsync("room");
            await alice.WaitForNoticeAsync("dave joined #ops");

            await alice.SendAsync("status?");
            await alice.WaitForMessageAsync("bot heard: status?");
            JsonObject atDave = await dave.ExpectAsync("message");
            Assert.Equal(("alice", "#ops", "status?"), (Str(atDave, "from"), Str(atDave, "room"), Str(atDave, "text")));

            await dave.SendMessageAsync("#ops", "dave here", "d1");
            await alice.WaitForMessageAsync("dave here");
            await alice.WaitForAsync("() => document.getElementById('members').textContent.includes('dave')");

            stopBot.Cancel();
            await answering;
        }

        /// <summary>A bot: answers every post in the room but its own.</summary>
        private static async Task AnswerInRoomAsync(ChatClient bot, string room, CancellationToken stop)
        {
            while (!stop.IsCancellationRequested)
            {
                foreach (ChatMessage message in bot.Take(100, room: room).OfType<ChatMessage>())
                {
                    if (!UserNames.AreSame(message.From, "bot"))
                    {
                        await bot.SendAsync(room, "bot heard: " + message.Text);
                    }
                }

                await Task.WhenAny(bot.NextArrival(), Task.Delay(Timeout.Infinite, stop));
            }
        }

        [ChromiumFact]
        public async Task ThePageSaysItIsReconnectingAndResumesAfterTheServerRestarts()
        {
            using var store = new TempStoreFile();
            var first = WebServer(o => o.StorePath = store.Path);
            int webPort = first.Server.WebEndPoint.Port;
            await using ChatPage alice = await ChatPage.SignInAsync(_browser.Require(), WebPortTests.WebUri(first), "alice");
            using (ChatClient bob = await first.ConnectNativeAsync("bob"))
            {
                await bob.SendAsync("alice", "before the restart").WaitAsync(Deadline);
                await alice.ClickConversationAsync("bob");
                await alice.WaitForMessageAsync("before the restart");
            }

            await first.DisposeAsync();
            await alice.WaitForAsync("() => document.getElementById('connection').textContent === 'reconnecting…'");
            // Sent while there is no server: it waits in the page, and goes once the page is back.
            await alice.SendAsync("typed while the server was down");

            await using TestServer second = WebServer(o => { o.WebPort = webPort; o.StorePath = store.Path; });
            await alice.WaitForAsync("() => document.getElementById('connection').textContent === 'online'");
            await Eventually.TrueAsync(() => second.IsOnline("alice"), "alice is back");

            using ChatClient bobAgain = await second.ConnectNativeAsync("bob");
            await Eventually.TrueAsync(() => bobAgain.Take(10).OfType<ChatMessage>().Any(m => m.Text == "typed while the server was down"), "bob gets what alice typed while the server was down");
            await alice.WaitForAsync("() => [...document.querySelectorAll('#lines .message.mine')].some(e => e.querySelector('.text').textContent === 'typed while the server was down' && e.querySelector('.state').textContent === 'delivered')");
            await bobAgain.SendAsync("alice", "after the restart").WaitAsync(Deadline);
            await alice.WaitForMessageAsync("after the restart");
            await alice.SendAsync("still here");
            await Eventually.TrueAsync(() => bobAgain.Take(10).OfType<ChatMessage>().Any(m => m.Text == "still here"), "bob hears alice after the restart");

            // A page opened afresh reads the conversation from history, both sides of it.
            await using ChatPage again = await ChatPage.OpenAsync(_browser.Require(), WebPortTests.WebUri(second));
            await alice.DisposeAsync();
            await Eventually.TrueAsync(() => !second.IsOnline("alice"), "the first page's alice left");
            await again.SignInAsync("alice");
            await again.OpenAsync("bob");
            await again.WaitForMessageAsync("before the restart");
            await again.WaitForMessageAsync("still here");
        }

        [ChromiumFact]
        public async Task OverHttpsThePageAsksForAPasswordWhenTheServerHasCredentials()
        {
            var users = new CredentialStore();
            users.Add("alice", "s3cret", iterations: 1_000);
            await using TestServer server = WebServer(o => { o.Credentials = users; o.Certificate = WebPortTests.MakeCertificate(); });
            await using ChatPage alice = await ChatPage.OpenAsync(_browser.Require(), WebPortTests.WebUri(server, "https"));

            await alice.Page.TypeAsync("#name", "alice");
            await alice.Page.ClickAsync("#signin-button");
            await alice.WaitForAsync("() => !document.getElementById('password-row').hidden && document.getElementById('signin-error').textContent.startsWith('This server needs a password')");

            await alice.Page.TypeAsync("#password", "s3cret");
            await alice.Page.ClickAsync("#signin-button");
            await alice.WaitForAsync("() => document.getElementById('connection').textContent === 'online'");
            Assert.True(server.IsOnline("alice"));
        }

        [ChromiumFact]
        public async Task AMessageOverTheServersLimitIsRefusedOnThePageAndTheConnectionStays()
        {
            await using TestServer server = WebServer(o => o.MaxLineBytes = 256);
            await using ChatPage alice = await ChatPage.SignInAsync(_browser.Require(), WebPortTests.WebUri(server), "alice");
            using ChatClient bob = await server.ConnectNativeAsync("bob");

            await alice.OpenAsync("bob");
            await alice.Page.EvaluateExpressionAsync("document.getElementById('text').value = 'x'.repeat(300)");
            await alice.Page.ClickAsync("#send");
            await alice.WaitForAsync("() => [...document.querySelectorAll('#lines .message.mine .state')].some(e => e.textContent.startsWith('not sent: too long'))");

            await alice.SendAsync("short");
            await Eventually.TrueAsync(() => bob.Take(10).OfType<ChatMessage>().Any(m => m.Text == "short"), "the next message goes");
            Assert.Equal("online", await alice.Page.EvaluateExpressionAsync<string>("document.getElementById('connection').textContent"));
        }

        [ChromiumFact]
        public async Task ScriptInTextStaysLiteralAndRunsNothing()
        {
            const string Injection = "<img src=x onerror=alert(1)>";
            await using TestServer server = WebServer();
            await using ChatPage alice = await ChatPage.SignInAsync(_browser.Require(), WebPortTests.WebUri(server), "alice");
            using ChatClient mallory = await server.ConnectNativeAsync("mallory");

            await mallory.SendAsync("alice", Injection).WaitAsync(Deadline);
            await mallory.SendAsync("alice", "<script>alert(2)</script>").WaitAsync(Deadline);
            await alice.WaitForUnreadAsync("mallory", 2);
            await alice.ClickConversationAsync("mallory");
            await alice.WaitForMessageAsync(Injection);
            await alice.WaitForMessageAsync("<script>alert(2)</script>");
            await alice.SendAsync(Injection);
            await Eventually.TrueAsync(() => mallory.Take(10).OfType<ChatMessage>().Any(m => m.Text == Injection), "mallory gets the text back as text");

            Assert.Equal(0, await alice.Page.EvaluateExpressionAsync<int>("document.querySelectorAll('#lines img, #lines script').length"));
            Assert.Empty(alice.Dialogs);
        }

        [ChromiumFact]
        public async Task OfflineMessagesArriveUnreadAndOlderHistoryLoadsOnScrollingUp()
        {
            await using TestServer server = WebServer();
            Uri uri = WebPortTests.WebUri(server);
            await using (ChatPage first = await ChatPage.SignInAsync(_browser.Require(), uri, "alice"))
            {
            }

            await Eventually.TrueAsync(() => !server.IsOnline("alice"), "alice left");
            using ChatClient bob = await server.ConnectNativeAsync("bob");
            for (int i = 0; i < 60; i++)
            {
                SentMessage sent = await bob.SendAsync("alice", "m" + i).WaitAsync(Deadline);
                Assert.Equal(SendStatus.Stored, sent.Status);
            }

            // Phone width: the list, then the conversation alone, with a way back.
            await using ChatPage alice = await ChatPage.SignInAsync(_browser.Require(), uri, "alice", width: 390, height: 780);
            await alice.WaitForUnreadAsync("bob", 60);
            await alice.ClickConversationAsync("bob");
            Assert.Equal("none", await alice.Page.EvaluateExpressionAsync<string>("getComputedStyle(document.getElementById('sidebar')).display"));
            Assert.True(await alice.Page.EvaluateExpressionAsync<bool>("document.documentElement.scrollWidth <= 390"), "nothing wider than the phone");
            await alice.WaitForMessageAsync("m59");
            await alice.WaitForAsync("() => !document.getElementById('older').hidden");

            await alice.Page.EvaluateExpressionAsync("document.getElementById('messages').scrollTop = 0");
            await alice.WaitForMessageAsync("m0");
            string[] texts = await alice.TextsAsync();
            Assert.Equal(Enumerable.Range(0, 60).Select(i => "m" + i), texts);
            await alice.Page.ClickAsync("#back");
            Assert.NotEqual("none", await alice.Page.EvaluateExpressionAsync<string>("getComputedStyle(document.getElementById('sidebar')).display"));
        }

        /// <summary>
        /// The README's picture, from a real run: alice in a room with bob and a bot. Written where
        /// CHATRM_WEB_SCREENSHOT says (./build.ps1 Screenshot sets it to docs/images/web-client.png).
        /// </summary>
        [ChromiumFact]
        public async Task WebClientScreenshot()
        {
            await using TestServer server = WebServer();
            Uri uri = WebPortTests.WebUri(server);
            await using ChatPage alice = await ChatPage.SignInAsync(_browser.Require(), uri, "alice");
            await using ChatPage bob = await ChatPage.SignInAsync(_browser.Require(), uri, "bob");
            using ChatClient bot = await server.ConnectNativeAsync("deploy-bot");
            await bot.JoinRoomAsync("#ops", Deadline);

            await alice.OpenAsync("#ops");
            await bob.OpenAsync("#ops");
            await bob.SendAsync("Is the 2.4 release out?");
            await alice.WaitForMessageAsync("Is the 2.4 release out?");
            await bot.SendAsync("#ops", "Deployed 2.4.0 to staging: 42 tests passed, 0 failed.").WaitAsync(Deadline);
            await alice.WaitForMessageAsync("Deployed 2.4.0 to staging: 42 tests passed, 0 failed.");
            await alice.SendAsync("Thanks! Promoting it to production after lunch.");
            await bob.WaitForMessageAsync("Thanks! Promoting it to production after lunch.");
            await bob.OpenAsync("alice");
            await bob.SendAsync("<b>not bold</b>, just text");
            await alice.WaitForUnreadAsync("bob", 1);

            string path = Environment.GetEnvironmentVariable("CHATRM_WEB_SCREENSHOT");
            path = string.IsNullOrEmpty(path) ? Path.Combine(Path.GetTempPath(), "chatrm-web-client.png") : path;
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path)));
            await alice.Page.ScreenshotAsync(path);
            Assert.True(new FileInfo(path).Length > 10_000, "the screenshot has a picture in it");
        }
    }
}
