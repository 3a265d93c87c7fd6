using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;
using Xunit;

namespace Chatrm.Engine.Tests
{
    /// <summary>Many senders at once: every line arrives once, whole, and in each sender's order.</summary>
    public class OrderingTests
    {
        private const int Senders = 8;
        private const int LinesPerSender = 500;

        /// <summary>
        /// The text of line n from sender s. Its length varies and it carries underscores, so a line that
        /// was cut, joined with another or mixed up does not match what was sent.
        /// </summary>
        private static string Payload(int s, int n) =>
            $"{s}:{n}:" + new string((char)('a' + s), n % 37) + "_" + (s * 100003 + n * 7919);

        private static readonly Regex Received = new Regex(@"^sink_s(\d+)_(\d+):(\d+):", RegexOptions.Compiled);

        /// <summary>Checks the lines one receiver got: every line exactly once, intact, each sender's in order.</summary>
        private static void AssertCompleteAndOrdered(IReadOnlyList<string> lines)
        {
            var next = new int[Senders];
            foreach (string line in lines)
            {
                Match m = Received.Match(line);
                Assert.True(m.Success, "A corrupt or interleaved line: " + line);
                int s = int.Parse(m.Groups[1].Value);
                int n = int.Parse(m.Groups[3].Value);
                Assert.Equal(s, int.Parse(m.Groups[2].Value));

                // The next one expected from s: nothing lost, doubled or overtaken.
                Assert.Equal(next[s], n);
                Assert.Equal($"sink_s{s}_{Payload(s, n)}", line);
                next[s]++;
            }

            Assert.All(next, count => Assert.Equal(LinesPerSender, count));
        }

        /// <summary>
        /// Runs one body per sender, each on its own thread, all released at the same moment so that
        /// they really overlap (thread-pool tasks that start one after another often do not).
        /// </summary>
        private static async Task RunTogether(int count, Action<int> body)
        {
            using var gate = new Barrier(count);
            var tasks = Enumerable.Range(0, count).Select(i => Task.Factory.StartNew(
                () =>
                {
                    Assert.True(gate.SignalAndWait(RawClient.Deadline), "the sending threads did not all start");
                    body(i);
                },
                CancellationToken.None,
                TaskCreationOptions.LongRunning,
                TaskScheduler.Default)).ToArray();
            await Task.WhenAll(tasks);
        }

        [Fact]
        public async Task ConcurrentRawSendersToOneReceiver()
        {
            await using var server = new TestServer();
            using RawClient sink = await server.JoinAsync("sink");
            var senders = new RawClient[Senders];
            for (int s = 0; s < Senders; s++)
            {
                senders[s] = await server.JoinAsync("s" + s);
            }

            try
            {
                // Each sender writes its lines in irregular batches, so lines cross segment boundaries.
                Task sending = Task.WhenAll(Enumerable.Range(0, Senders).Select(s => Task.Run(async () =>
                {
                    var random = new Random(s);
                    int n = 0;
                    while (n < LinesPerSender)
                    {
                        var batch = new StringBuilder();
                        int size = random.Next(1, 20);
                        for (int i = 0; i < size && n < LinesPerSender; i++, n++)
                        {
                            // Half in each of the two forms the server accepts.
                            batch.Append(n % 2 == 0 ? $"s{s}_sink_{Payload(s, n)}\n" : $"sink_s{s}_{Payload(s, n)}\r\n");
                        }

                        await senders[s].SendAsync(batch.ToString());
                    }
                })));

                var lines = new List<string>(Senders * LinesPerSender);
                for (int i = 0; i < Senders * LinesPerSender; i++)
                {
                    lines.Add(await sink.ReadLineAsync());
                }

                await sending.WaitAsync(RawClient.Deadline);
                AssertCompleteAndOrdered(lines);
                Assert.DoesNotContain(server.Events, e => e.Kind == ServerEventKind.LineRefused);
            }
            finally
            {
                foreach (RawClient c in senders)
                {
                    c.Dispose();
                }
            }
        }

        [Fact]
        public async Task ConcurrentChatClientsToOneChatClient()
        {
            await using var server = new TestServer();
            using ChatClient sink = await server.ConnectAsync("sink");
            var senders = await Task.WhenAll(Enumerable.Range(0, Senders).Select(s => server.ConnectAsync("s" + s)));

            try
            {
                Task sending = RunTogether(Senders, s =>
                {
                    for (int n = 0; n < LinesPerSender; n++)
                    {
                        senders[s].Send("sink", Payload(s, n));
                    }
                });

                // Drain the inbox as items arrive: take the arrival task first so nothing slips between.
                var lines = new List<string>();
                while (lines.Count < Senders * LinesPerSender)
                {
                    Task arrival = sink.NextArrival();
                    List<object> items = sink.Take(int.MaxValue);
                    if (items.Count == 0)
                    {
                        await arrival.WaitAsync(RawClient.Deadline);
                        continue;
                    }

                    foreach (object item in items)
                    {
                        var message = Assert.IsType<ChatMessage>(item);
                        lines.Add($"{message.To}_{message.From}_{message.Text}");
                    }
                }

                await sending.WaitAsync(RawClient.Deadline);
                AssertCompleteAndOrdered(lines);
                Assert.Equal(0, sink.MessagesDropped);
            }
            finally
            {
                foreach (ChatClient c in senders)
                {
                    c.Dispose();
                }
            }
        }

        [Fact]
        public async Task ManyThreadsSendingOnOneClientNeverInterleaveLines()
        {
            await using var server = new TestServer();
            using ChatClient alice = await server.ConnectAsync("alice");
            using RawClient sink = await server.JoinAsync("sink");

            // Send is called from many threads at once on one connection. Lines may mix in any order
            // between threads, but each must arrive whole, and each thread's in its own order.
            await RunTogether(Senders, t =>
            {
                for (int n = 0; n < LinesPerSender; n++)
                {
                    alice.Send("sink", $"s{t}_{Payload(t, n)}");
                }
            }).WaitAsync(RawClient.Deadline);

            var lines = new List<string>();
            for (int i = 0; i < Senders * LinesPerSender; i++)
            {
                // "sink_alice_sT_payload" read as if sT had sent it, to reuse the checker.
                string line = await sink.ReadLineAsync();
                Assert.StartsWith("sink_alice_", line);
                lines.Add("sink_" + line.Substring("sink_alice_".Length));
            }

            AssertCompleteAndOrdered(lines);
        }

        [Fact]
        public async Task OneSenderFansOutToManyReceiversInOrder()
        {
            await using var server = new TestServer();
            using RawClient hub = await server.JoinAsync("hub");
            var receivers = new RawClient[Senders];
            for (int r = 0; r < Senders; r++)
            {
                receivers[r] = await server.JoinAsync("r" + r);
            }

            try
            {
                // Round robin, all in one stream of writes.
                var all = new StringBuilder();
                for (int n = 0; n < LinesPerSender; n++)
                {
                    for (int r = 0; r < Senders; r++)
                    {
                        all.Append($"hub_r{r}_{n}\n");
                    }
                }

                Task sending = hub.SendAsync(all.ToString());

                // Every receiver, read concurrently, sees exactly its own lines in order.
                await Task.WhenAll(receivers.Select((receiver, r) => Task.Run(async () =>
                {
                    for (int n = 0; n < LinesPerSender; n++)
                    {
                        Assert.Equal($"r{r}_hub_{n}", await receiver.ReadLineAsync());
                    }
                })));
                await sending.WaitAsync(RawClient.Deadline);
            }
            finally
            {
                foreach (RawClient c in receivers)
                {
                    c.Dispose();
                }
            }
        }
    }
}
