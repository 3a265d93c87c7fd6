using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Chatrm.Engine.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Chatrm.Engine.Tests
{
    /// <summary>
    /// Issue 17's proof: 10,000 messages, direct both ways and in a room, through a proxy that cuts links at random
    /// points (mid-frame included), with one server restart on its store file meanwhile. Every conversation's received
    /// sequence equals its sent one: no duplicate, no gap. Bounded: 10,000 messages, two minutes at most.
    /// </summary>
    public sealed class ResumeChaosTests
    {
        private const int DirectEachWay = 4_000;
        private const int RoomEach = 1_000;
        private const int Total = 2 * DirectEachWay + 2 * RoomEach;
        private const int CutEvery = Total / 28;
        private const int MinCuts = 20;
        private const int InFlight = 64;
        private const string Room = "#chaos";
        private static readonly TimeSpan Deadline = TimeSpan.FromMinutes(2);

        private readonly ITestOutputHelper _output;

        public ResumeChaosTests(ITestOutputHelper output) => _output = output;

        [Fact]
        public Task TenThousandMessagesThroughCutsArriveOnceAndInOrder() => RunAsync(restart: false);

        [Fact]
        public Task TenThousandMessagesThroughCutsAndARestartArriveOnceAndInOrder() => RunAsync(restart: true);

        private async Task RunAsync(bool restart)
        {
            int seed = Environment.GetEnvironmentVariable("CHATRM_CHAOS_SEED") is string given ? int.Parse(given) : 17;
            using var file = new TempStoreFile();
            var server = new TestServer(o => o.StorePath = file.Path);
            await using var proxy = new ChaosProxy(server.EndPoint.Port, seed);
            var options = new ClientOptions { Reconnect = true, ReconnectTimeout = TimeSpan.FromMinutes(1) };
            using ChatClient alice = await ChatClient.ConnectAsync("127.0.0.1", proxy.Port, "alice", ChatProtocol.Chatrm, options);
            using ChatClient bob = await ChatClient.ConnectAsync("127.0.0.1", proxy.Port, "bob", ChatProtocol.Chatrm, options);
            await alice.JoinRoomAsync(Room, TimeSpan.FromSeconds(10));
            await bob.JoinRoomAsync(Room, TimeSpan.FromSeconds(10));

            using var stop = new CancellationTokenSource(Deadline);
            var aliceGot = new List<ChatMessage>();
            var bobGot = new List<ChatMessage>();
            var aliceEvents = new ConcurrentQueue<ConnectionEvent>();
            var bobEvents = new ConcurrentQueue<ConnectionEvent>();
            Task aliceReading = ReadAsync(alice, aliceGot, aliceEvents, DirectEachWay + RoomEach, stop.Token);
            Task bobReading = ReadAsync(bob, bobGot, bobEvents, DirectEachWay + RoomEach, stop.Token);

            // The chaos: a cut every CutEvery settled messages, half at once and half armed to fall mid-frame, made as
            // the fate settles (a loop's timer, late on a busy machine, would miss some); the server restarts on its
            // store file halfway.
            int settled = 0;
            var fates = new ConcurrentQueue<SentMessage>();
            void Settled(SentMessage fate)
            {
                fates.Enqueue(fate);
                if (Interlocked.Increment(ref settled) % CutEvery == 0)
                {
                    if (proxy.Next(2) == 0)
                    {
                        proxy.CutAtRandom(300);
                    }
                    else
                    {
                        proxy.Links.FirstOrDefault()?.Cut();
                    }
                }
            }

            Task aliceSending = SendAsync(alice, "bob", "a", Settled, stop.Token);
            Task bobSending = SendAsync(bob, "alice", "b", Settled, stop.Token);

            bool restarted = false;
            var clock = Stopwatch.StartNew();
            while (!(aliceSending.IsCompleted && bobSending.IsCompleted) && !stop.IsCancellationRequested)
            {
                if (restart && !restarted && Volatile.Read(ref settled) >= Total / 2)
                {
                    restarted = true;

                    // Nowhere while it is down: a freed port may be some other test's server by the time a link reaches it.
                    proxy.TargetPort = 0;
                    await server.DisposeAsync();
                    server = new TestServer(o => o.StorePath = file.Path);
                    proxy.TargetPort = server.EndPoint.Port;
                }

                await Task.WhenAny(aliceSending, bobSending, Task.Delay(5));
            }

            try
            {
                await Task.WhenAll(aliceSending, bobSending, aliceReading, bobReading);
            }
            finally
            {
                _output.WriteLine($"seed {seed}: {Volatile.Read(ref settled)} of {Total} sent with a fate, {proxy.Cuts} cuts, {proxy.Accepted} links, " +
                    $"restarted {restarted}, alice took {aliceGot.Count}, bob took {bobGot.Count}, " +
                    $"reconnects {aliceEvents.Count(e => e.Change == ConnectionChange.Reconnected)}+{bobEvents.Count(e => e.Change == ConnectionChange.Reconnected)}, " +
                    $"gaps {aliceEvents.Count(e => e.Change == ConnectionChange.Gap) + bobEvents.Count(e => e.Change == ConnectionChange.Gap)}, {clock.Elapsed.TotalSeconds:0.0} s; " +
                    $"fates {string.Join(" ", fates.GroupBy(f => f.Status + (f.Reason == null ? string.Empty : "/" + f.Reason)).Select(g => g.Key + " " + g.Count()))}; " +
                    $"alice {alice.State} {alice.MessagesWaiting} waiting {alice.CloseReason}, bob {bob.State} {bob.MessagesWaiting} waiting {bob.CloseReason}");
                await server.DisposeAsync();
            }

            Assert.Equal(restart, restarted);
            Assert.True(proxy.Cuts >= MinCuts, $"only {proxy.Cuts} cuts");
            Assert.All(fates, f => Assert.True(f.Status == SendStatus.Delivered || f.Status == SendStatus.Stored || f.Status == SendStatus.Posted, $"{f.To} {f.Text}: {f.Status} {f.Reason} {f.Detail}"));
            Assert.DoesNotContain(aliceEvents, e => e.Change == ConnectionChange.Gap);
            Assert.DoesNotContain(bobEvents, e => e.Change == ConnectionChange.Gap);
            AssertSequence(bobGot, "a", DirectEachWay, RoomEach);
            AssertSequence(aliceGot, "b", DirectEachWay, RoomEach);
        }

        /// <summary>One sender's messages: direct and room posts interleaved, at most <see cref="InFlight"/> without a fate.</summary>
        private static async Task SendAsync(ChatClient client, string to, string tag, Action<SentMessage> settled, CancellationToken stop)
        {
            using var window = new SemaphoreSlim(InFlight);
            var waiting = new List<Task>();
            int direct = 0, room = 0;
            while (direct < DirectEachWay || room < RoomEach)
            {
                await window.WaitAsync(stop);
                bool toRoom = room < RoomEach && (direct >= DirectEachWay || (direct + room) % 5 == 4);
                string text = toRoom ? $"{tag} room {room++}" : $"{tag} direct {direct++}";
                Task<SentMessage> fate = client.SendAsync(toRoom ? Room : to, text);
                waiting.Add(fate.ContinueWith(t =>
                {
                    settled(t.Result);
                    window.Release();
                }, TaskScheduler.Default));
            }

            await Task.WhenAll(waiting).WaitAsync(stop);
        }

        private static async Task ReadAsync(ChatClient client, List<ChatMessage> got, ConcurrentQueue<ConnectionEvent> events, int expected, CancellationToken stop)
        {
            while (got.Count < expected)
            {
                Task arrival = client.NextArrival();
                List<object> items = client.Take(10_000, includePresence: true);
                foreach (object item in items)
                {
                    if (item is ChatMessage message)
                    {
                        got.Add(message);
                    }
                    else if (item is ConnectionEvent change)
                    {
                        events.Enqueue(change);
                    }
                }

                if (items.Count == 0)
                {
                    if (client.State == ConnectionState.Closed)
                    {
                        throw new InvalidOperationException($"{client.UserName} closed: {client.CloseReason}");
                    }

                    try
                    {
                        await arrival.WaitAsync(stop);
                    }
                    catch (OperationCanceledException)
                    {
                        // Past the deadline: what was taken is checked, so the failure says what is missing.
                        return;
                    }
                }
            }
        }

        /// <summary>What one reader took from the other's conversation and room: exactly the numbers sent, in order.</summary>
        private static void AssertSequence(List<ChatMessage> got, string from, int direct, int room)
        {
            AssertNumbered(got.Where(m => m.Room.Length == 0).ToList(), $"{from} direct ", direct);
            List<ChatMessage> posts = got.Where(m => m.Room == Room).ToList();
            AssertNumbered(posts, $"{from} room ", room);
            List<long> seqs = posts.Select(m => m.Seq ?? 0).ToList();
            Assert.True(seqs.Zip(seqs.Skip(1), (a, b) => b > a).All(up => up), "room Seqs rise");
        }

        /// <summary>Exactly prefix 0 to count - 1, in order; a failure names the messages with their ids, which say which server run and when.</summary>
        private static void AssertNumbered(List<ChatMessage> messages, string prefix, int count)
        {
            static string Named(ChatMessage m) => m.Text + " #" + m.Id;
            List<string> texts = messages.Select(m => m.Text).ToList();
            var duplicates = messages.GroupBy(m => m.Text).Where(g => g.Count() > 1).Select(g => string.Join("/", g.Select(Named))).Take(5).ToList();
            Assert.True(duplicates.Count == 0, $"duplicates of {prefix}: {string.Join(", ", duplicates)}");
            var missing = Enumerable.Range(0, count).Select(i => prefix + i).Except(texts).Take(5).ToList();
            Assert.True(missing.Count == 0, $"missing {prefix}: {string.Join(", ", missing)}");
            int wrong = Enumerable.Range(0, count).FirstOrDefault(i => texts[i] != prefix + i, -1);
            Assert.True(wrong < 0, wrong < 0 ? null : $"{prefix}out of order at {wrong}: {string.Join(", ", messages.Skip(Math.Max(0, wrong - 2)).Take(8).Select(Named))}");
        }
    }
}
