using System;
using System.Diagnostics;
using System.Threading;
using Chatrm.Engine.Storage;

namespace Chatrm.StoreDriver
{
    /// <summary>
    /// <c>burst PATH</c>: writes offline messages and history lines until killed, printing "stored ID" and
    /// "history ID" for each one once it is committed. <c>measure PATH [N]</c>: prints the store's append and commit rates.
    /// </summary>
    internal static class Program
    {
        private static int Main(string[] args)
        {
            if (args.Length >= 2 && args[0] == "burst")
            {
                return Burst(args[1]);
            }

            if (args.Length >= 2 && args[0] == "measure")
            {
                return Measure(args[1], args.Length > 2 ? int.Parse(args[2]) : 200_000);
            }

            Console.Error.WriteLine("usage: Chatrm.StoreDriver burst PATH | measure PATH [MESSAGES]");
            return 2;
        }

        private static StoreLimits Roomy() => new StoreLimits { MaxInboxMessages = int.MaxValue, MaxInboxBytes = long.MaxValue };

        private static int Burst(string path)
        {
            var store = SqliteMessageStore.Open(path, Roomy(), TimeProvider.System);
            long id = store.ReserveIds(1_000_000) - 1_000_000;
            Console.Out.WriteLine("ready");

            // Stops by itself, should the test that started it be gone.
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < TimeSpan.FromSeconds(60))
            {
                long offline = ++id;
                store.StoreOffline(
                    new StoredMessage { Id = offline, From = "alice", To = "bob" + (offline % 4), Text = "offline " + offline, SentAt = DateTime.UtcNow, SenderRef = "r" + offline },
                    result =>
                    {
                        if (result.Outcome == StoreOutcome.Stored)
                        {
                            Console.Out.WriteLine("stored " + offline);
                        }
                    });

                long line = ++id;
                long ticket = store.AppendHistory(new StoredMessage { Id = line, From = "alice", To = "carol", Text = "line " + line, SentAt = DateTime.UtcNow });
                store.WhenCommitted(ticket, () => Console.Out.WriteLine("history " + line));
                if (id % 512 == 0)
                {
                    // Lets the writer's output keep pace, so the test sees commits while the burst goes on.
                    Thread.Yield();
                }
            }

            store.Dispose();
            return 0;
        }

        private static int Measure(string path, int messages)
        {
            using (var store = SqliteMessageStore.Open(path, Roomy(), TimeProvider.System))
            {
                string text = "a message of about the length people send in a chat, 60 B";

                // History: appends from one thread over 100 conversations, then the time until the last is committed.
                var clock = Stopwatch.StartNew();
                for (int i = 0; i < messages; i++)
                {
                    store.AppendHistory(new StoredMessage { Id = i + 1, From = "user" + (i % 100), To = "peer" + (i % 100), Text = text, SentAt = DateTime.UtcNow });
                }

                double appended = clock.Elapsed.TotalSeconds;
                store.Flush(TimeSpan.FromMinutes(5));
                double committed = clock.Elapsed.TotalSeconds;
                Console.WriteLine($"history appends: {messages} messages, queued at {messages / appended:N0}/s, committed at {messages / committed:N0}/s");

                // History appends from four threads at once, as four sessions would.
                clock.Restart();
                var threads = new Thread[4];
                for (int t = 0; t < threads.Length; t++)
                {
                    int first = t * messages;
                    threads[t] = new Thread(() =>
                    {
                        for (int i = 0; i < messages / threads.Length; i++)
                        {
                            store.AppendHistory(new StoredMessage { Id = first + i, From = "user" + (i % 100), To = "peer" + (i % 100), Text = text, SentAt = DateTime.UtcNow });
                        }
                    });
                    threads[t].Start();
                }

                foreach (Thread thread in threads)
                {
                    thread.Join();
                }

                store.Flush(TimeSpan.FromMinutes(5));
                Console.WriteLine($"history appends, 4 threads: {messages} messages committed at {messages / clock.Elapsed.TotalSeconds:N0}/s");

                // Offline: StoreOffline to 1,000 users, counting completions (each one after its commit).
                int done = 0;
                var all = new ManualResetEventSlim();
                clock.Restart();
                for (int i = 0; i < messages; i++)
                {
                    store.StoreOffline(
                        new StoredMessage { Id = 10_000_000 + i, From = "alice", To = "user" + (i % 1000), Text = text, SentAt = DateTime.UtcNow, SenderRef = "r" },
                        _ =>
                        {
                            if (Interlocked.Increment(ref done) == messages)
                            {
                                all.Set();
                            }
                        });
                }

                all.Wait(TimeSpan.FromMinutes(5));
                Console.WriteLine($"StoreOffline with completion: {done} messages stored at {done / clock.Elapsed.TotalSeconds:N0}/s");

                // Drain: each user reads its inbox and confirms every message, until committed.
                clock.Restart();
                int drained = 0;
                for (int u = 0; u < 1000; u++)
                {
                    string user = "user" + u;
                    foreach (StoredMessage message in store.ReadInbox(user, 10_000))
                    {
                        store.ConfirmInbox(user, message.Id);
                        drained++;
                    }
                }

                store.Flush(TimeSpan.FromMinutes(5));
                Console.WriteLine($"ReadInbox and ConfirmInbox: {drained} messages drained at {drained / clock.Elapsed.TotalSeconds:N0}/s");
            }

            return 0;
        }
    }
}
