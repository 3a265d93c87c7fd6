using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Chatrm.Engine.Storage;
using Xunit;

namespace Chatrm.Engine.Tests.Storage
{
    /// <summary>A process writing a burst is killed with SIGKILL: every write it saw committed is in the file, once.</summary>
    public sealed class StoreCrashTests : IDisposable
    {
        private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
        private readonly StoreFolder folder = new StoreFolder();

        public void Dispose() => folder.Dispose();

        [Fact]
        public async Task Every_commit_seen_before_a_kill_is_there_exactly_once_after_it()
        {
            string path = folder.File("crash.db");
            var stored = new List<long>();
            var history = new List<long>();
            int seenStored = 0;
            int seenHistory = 0;

            string driver = Path.Combine(AppContext.BaseDirectory, "Chatrm.StoreDriver.dll");
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            start.ArgumentList.Add(driver);
            start.ArgumentList.Add("burst");
            start.ArgumentList.Add(path);
            using (Process child = Process.Start(start))
            {
                try
                {
                    Task reading = Task.Run(() =>
                    {
                        string line;
                        while ((line = child.StandardOutput.ReadLine()) != null)
                        {
                            if (line.StartsWith("stored ", StringComparison.Ordinal))
                            {
                                stored.Add(long.Parse(line.Substring(7)));
                                Interlocked.Increment(ref seenStored);
                            }
                            else if (line.StartsWith("history ", StringComparison.Ordinal))
                            {
                                history.Add(long.Parse(line.Substring(8)));
                                Interlocked.Increment(ref seenHistory);
                            }
                        }
                    });
                    Task<string> errors = child.StandardError.ReadToEndAsync();

                    // Killed in the middle of the burst, well after it has committed a good many of both.
                    await Eventually.TrueAsync(
                        () => child.HasExited || (Volatile.Read(ref seenStored) >= 3000 && Volatile.Read(ref seenHistory) >= 3000),
                        Deadline,
                        "the burst committing 3,000 of each");
                    if (child.HasExited)
                    {
                        Assert.Fail("the burst ended before it was killed: " + await errors);
                    }

                    child.Kill();
                    Assert.True(child.WaitForExit((int)Deadline.TotalMilliseconds));
                    Assert.True(await Task.WhenAny(reading, Task.Delay(Deadline)) == reading, "the killed child's output never closed");
                    Assert.NotEqual(0, child.ExitCode);
                }
                finally
                {
                    if (!child.HasExited)
                    {
                        child.Kill();
                    }
                }
            }

            using (SqliteMessageStore store = SqliteMessageStore.Open(path, new StoreLimits(), TimeProvider.System))
            {
                var inInbox = new List<long>();
                for (int i = 0; i < 4; i++)
                {
                    inInbox.AddRange(store.ReadInbox("bob" + i, int.MaxValue).Select(m => m.Id));
                }

                List<long> inHistory = store.ReadHistory(Conversations.Direct("alice", "carol"), int.MaxValue, 0, 0).Select(m => m.Id).ToList();

                Assert.Equal(inInbox.Count, inInbox.Distinct().Count());
                Assert.Equal(inHistory.Count, inHistory.Distinct().Count());
                Assert.Empty(stored.Except(inInbox));
                Assert.Empty(history.Except(inHistory));
                Assert.True(stored.Count >= 3000);
                Assert.True(history.Count >= 3000);

                // Seq numbers of what survived run on without a gap or a repeat.
                List<long> seqs = store.ReadHistory(Conversations.Direct("alice", "carol"), int.MaxValue, 0, 0).Select(m => m.Seq).ToList();
                Assert.Equal(Enumerable.Range(1, seqs.Count).Select(i => (long)i), seqs);
            }
        }
    }
}
