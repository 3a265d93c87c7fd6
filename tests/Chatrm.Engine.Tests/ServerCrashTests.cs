using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Net;
using System.Text.Json.Nodes;
using System.Threading;
using System.Threading.Tasks;
using Xunit;
using static Chatrm.Engine.Tests.NativePeer;

namespace Chatrm.Engine.Tests
{
    /// <summary>
    /// A server with a store file, killed with SIGKILL during a burst (issue 16): every message its sender was told
    /// was stored is in its recipient's inbox after a restart, once; every one told delivered is in the history, once.
    /// </summary>
    public sealed class ServerCrashTests : IDisposable
    {
        // Messages to bob, the offline one: fewer than an inbox holds, so the restart reads them all.
        private const int ToBob = 8000;
        private const int SeenBeforeKill = 300;
        private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
        private readonly TempStoreFile _file = new TempStoreFile();

        private readonly Xunit.Abstractions.ITestOutputHelper _output;
        private readonly Stopwatch _clock = Stopwatch.StartNew();

        public ServerCrashTests(Xunit.Abstractions.ITestOutputHelper output) => _output = output;

        private void Say(string what) => _output.WriteLine($"{_clock.Elapsed.TotalSeconds:F1}s {what}");

        public void Dispose() => _file.Dispose();

        [Fact]
        public async Task EveryMessageReportedStoredOrDeliveredBeforeAKillIsThereExactlyOnceAfterARestart()
        {
            var stored = new ConcurrentQueue<string>();
            var delivered = new ConcurrentQueue<string>();

            var start = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Chatrm.ServerDriver.dll"));
            start.ArgumentList.Add("serve");
            start.ArgumentList.Add(_file.Path);
            using (Process child = Process.Start(start))
            {
                try
                {
                    string first = await child.StandardOutput.ReadLineAsync().WaitAsync(Deadline);
                    Assert.True(first != null && first.StartsWith("port ", StringComparison.Ordinal), "the server did not start: " + first);
                    var endPoint = new IPEndPoint(IPAddress.Loopback, int.Parse(first.Substring(5), System.Globalization.CultureInfo.InvariantCulture));

                    // bob is known and away; carol is here and acks everything at once.
                    using (NativePeer bob = await NativePeer.JoinAsync(endPoint, "bob"))
                    {
                        await bob.SendAsync("{\"type\":\"bye\"}");
                    }

                    using NativePeer carol = await NativePeer.JoinAsync(endPoint, "carol");
                    using NativePeer alice = await NativePeer.JoinAsync(endPoint, "alice");
                    using var stop = new CancellationTokenSource();

                    // A window of messages without a fate yet: the test's own reading is slower than the server, and
                    // without one alice or carol would fall behind and be dropped as too slow.
                    using var window = new SemaphoreSlim(256);
                    Task acking = Task.Run(async () =>
                    {
                        while (!stop.IsCancellationRequested)
                        {
                            JsonObject frame = await carol.ReadAsync();
                            if (Type(frame) == "message")
                            {
                                await carol.AckAsync(Str(frame, "id"));
                            }
                        }
                    });
                    // The reader that hears the fates kills the server itself once enough are in: the test's busy readers
                    // may keep the thread pool from running a poll on time, and the burst must still be going on.
                    var killed = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
                    Task sending = null;
                    Task hearing = Task.Run(async () =>
                    {
                        while (!stop.IsCancellationRequested)
                        {
                            if (!killed.Task.IsCompleted && stored.Count >= SeenBeforeKill && delivered.Count >= SeenBeforeKill)
                            {
                                string during = sending?.IsCompleted == true ? "the burst had ended: " + sending.Exception?.GetBaseException().Message : null;
                                child.Kill();
                                killed.TrySetResult(during);
                            }

                            JsonObject frame = await alice.ReadAsync();
                            if (Type(frame) == "status")
                            {
                                window.Release();
                            }

                            if (Type(frame) == "status" && Str(frame, "status") == "stored")
                            {
                                stored.Enqueue(Str(frame, "id"));
                            }
                            else if (Type(frame) == "status" && Str(frame, "status") == "delivered")
                            {
                                delivered.Enqueue(Str(frame, "id"));
                            }
                        }
                    });

                    // The burst goes on until the kill (carol's part of it, once bob's is done), so the kill is in its middle.
                    sending = Task.Run(async () =>
                    {
                        for (int i = 0; !stop.IsCancellationRequested && i < 200_000; i++)
                        {
                            if (i < ToBob)
                            {
                                await window.WaitAsync(stop.Token);
                                await alice.SendMessageAsync("bob", "kept " + i, "b" + i);
                            }

                            await window.WaitAsync(stop.Token);
                            await alice.SendMessageAsync("carol", "live " + i, "c" + i);
                        }
                    });

                    Task done = await Task.WhenAny(killed.Task, hearing, Task.Delay(Deadline));
                    Assert.True(done == killed.Task, $"not killed in time: stored {stored.Count}, delivered {delivered.Count}, {hearing.Exception?.GetBaseException().Message}");
                    Assert.Null(await killed.Task);
                    Say($"killed at stored {stored.Count}, delivered {delivered.Count}");
                    Assert.True(child.WaitForExit((int)Deadline.TotalMilliseconds));
                    stop.Cancel();

                    // The readers end when the connections do (the server is gone); what they heard by then counts.
                    await Task.WhenAny(Task.WhenAll(acking, hearing, sending), Task.Delay(Deadline)).ContinueWith(_ => { }, TaskScheduler.Default);
                }
                finally
                {
                    if (!child.HasExited)
                    {
                        child.Kill();
                    }
                }
            }

            Say("restart");
            await using var server = new TestServer(o => o.StorePath = _file.Path);
            Say("restarted");

            using NativePeer bobAgain = await server.JoinNativeAsync("bob");
            var inbox = new List<string>();
            List<JsonObject> share;
            while ((share = await bobAgain.DrainAsync()).Count > 0)
            {
                inbox.AddRange(share.Select(f => Str(f, "id")));
                await bobAgain.AckThroughAsync(inbox[inbox.Count - 1]);
            }

            Say($"inbox of {inbox.Count} read");
            Assert.Equal(inbox.Count, inbox.Distinct().Count());
            Assert.Empty(stored.Except(inbox));

            var history = new List<string>();
            long before = 0;
            IReadOnlyList<ChatMessage> page;
            while ((page = server.Server.ReadHistory("alice", "carol", last: 1000, before: before)).Count > 0)
            {
                history.AddRange(page.Select(m => m.Id));
                before = page[0].Seq.Value;
            }

            Say($"history of {history.Count} read");
            Assert.Equal(history.Count, history.Distinct().Count());
            Assert.Empty(delivered.Except(history));
        }
    }
}
