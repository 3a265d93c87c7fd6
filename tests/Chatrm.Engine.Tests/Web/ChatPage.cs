using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using PuppeteerSharp;
using Xunit;

namespace Chatrm.Engine.Tests.Web
{
    /// <summary>One person in the web client: a browser context of its own, driven as a person clicks and types.</summary>
    internal sealed class ChatPage : IAsyncDisposable
    {
        private const int TimeoutMs = 15_000;
        private readonly IBrowserContext _context;

        private ChatPage(IBrowserContext context, IPage page)
        {
            _context = context;
            Page = page;
            Page.DefaultTimeout = TimeoutMs;
            // Any dialog is a script that ran; none may.
            Page.Dialog += async (_, e) =>
            {
                lock (Dialogs) Dialogs.Add(e.Dialog.Message);
                await e.Dialog.Dismiss();
            };
            Page.PageError += (_, e) => { lock (Errors) Errors.Add(e.Message); };
        }

        public IPage Page { get; }

        public List<string> Dialogs { get; } = new List<string>();

        /// <summary>Script errors of the page itself, which a working page has none of.</summary>
        public List<string> Errors { get; } = new List<string>();

        public static async Task<ChatPage> OpenAsync(IBrowser browser, Uri uri, int width = 1100, int height = 720)
        {
            IBrowserContext context = await browser.CreateBrowserContextAsync();
            IPage page = await context.NewPageAsync();
            await page.SetViewportAsync(new ViewPortOptions { Width = width, Height = height });
            var chat = new ChatPage(context, page);
            await page.GoToAsync(uri.ToString());
            return chat;
        }

        public static async Task<ChatPage> SignInAsync(IBrowser browser, Uri uri, string name, int width = 1100, int height = 720)
        {
            ChatPage chat = await OpenAsync(browser, uri, width, height);
            await chat.SignInAsync(name);
            return chat;
        }

        public async Task SignInAsync(string name)
        {
            await Page.TypeAsync("#name", name);
            await Page.ClickAsync("#signin-button");
            await WaitForAsync("() => document.getElementById('connection').textContent === 'online' && !document.getElementById('chat-view').hidden");
        }

        /// <summary>Opens a conversation with a person, or joins a #room, as typed into the box above the list.</summary>
        public async Task OpenAsync(string target)
        {
            await Page.TypeAsync("#target", target);
            await Page.ClickAsync("#open");
            await WaitForAsync("t => document.getElementById('title').textContent.toLowerCase() === t.toLowerCase() && !document.getElementById('conversation').hidden", target);
        }

        /// <summary>Opens a conversation from the list, as clicking it does.</summary>
        public async Task ClickConversationAsync(string key)
        {
            await Page.ClickAsync($"li.conversation[data-key=\"{key}\"]");
            await WaitForAsync("t => document.getElementById('title').textContent.toLowerCase() === t", key);
        }

        public async Task SendAsync(string text)
        {
            await Page.TypeAsync("#text", text);
            await Page.ClickAsync("#send");
        }

        /// <summary>Waits until the open conversation shows a message whose text is exactly <paramref name="text"/>.</summary>
        public Task WaitForMessageAsync(string text) =>
            WaitForAsync("t => [...document.querySelectorAll('#lines .message .text')].some(e => e.textContent === t)", text);

        public Task WaitForNoticeAsync(string text) =>
            WaitForAsync("t => [...document.querySelectorAll('#lines .notice')].some(e => e.textContent === t)", text);

        /// <summary>Waits until a conversation is listed with this many unread messages.</summary>
        public Task WaitForUnreadAsync(string key, int unread) =>
            WaitForAsync("(k, n) => { const li = document.querySelector(`li.conversation[data-key=\"${k}\"]`); const b = li && li.querySelector('.unread'); return !!b && b.textContent === String(n); }", key, unread);

        public Task<string[]> TextsAsync() =>
            Page.EvaluateExpressionAsync<string[]>("[...document.querySelectorAll('#lines .message .text')].map(e => e.textContent)");

        public async Task WaitForAsync(string script, params object[] args)
        {
            try
            {
                await Page.WaitForFunctionAsync(script, new WaitForFunctionOptions { Timeout = TimeoutMs, PollingInterval = 50 }, args);
            }
            catch (WaitTaskTimeoutException)
            {
                string shown = await Page.EvaluateExpressionAsync<string>("document.body.innerText");
                Assert.Fail($"The page did not come to {script} ({string.Join(", ", args)}) in time. It shows:\n{shown}\nErrors: {string.Join("; ", Errors)}");
            }
        }

        private int _closed;

        /// <summary>Closes the context, once: a test may close a person's page before its end.</summary>
        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _closed, 1) == 0)
            {
                await _context.CloseAsync();
            }
        }
    }
}
