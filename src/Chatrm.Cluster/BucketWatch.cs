using System;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using NATS.Client.Core;
using NATS.Client.KeyValueStore;

namespace Chatrm.Cluster
{
    /// <summary>What the three buckets' watchers share: a watch kept up for as long as the node runs, and the keys made of names.</summary>
    internal static class BucketWatch
    {
        /// <summary>
        /// Hands every entry of the bucket, then every change, to <paramref name="onEntry"/>, watching again whenever NATS
        /// drops the watch, until <paramref name="stopping"/>. <paramref name="caughtUp"/> is called once the entries there
        /// were at the start have all come (at once for an empty bucket).
        /// </summary>
        public static async Task RunAsync(INatsKVStore bucket, Action<NatsKVEntry<string>> onEntry, Action caughtUp, CancellationToken stopping)
        {
            var opts = new NatsKVWatchOpts { OnNoData = _ => { caughtUp?.Invoke(); return new ValueTask<bool>(true); } };
            while (!stopping.IsCancellationRequested)
            {
                try
                {
                    await foreach (NatsKVEntry<string> entry in bucket.WatchAsync<string>(opts: opts, cancellationToken: stopping).ConfigureAwait(false))
                    {
                        onEntry(entry);
                        if (entry.Delta == 0)
                        {
                            caughtUp?.Invoke();
                        }
                    }
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                catch (Exception e) when (e is NatsException || e is TimeoutException)
                {
                    // NATS is away: watch again in a moment, from the start (the entries come again, in full).
                    await Task.Delay(TimeSpan.FromMilliseconds(500), stopping).ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
                }
            }
        }

        /// <summary>A bucket's key for a user or room name: hex of its upper-case UTF-8 after a prefix, so nothing a user types becomes part of a key.</summary>
        public static string KeyOf(string prefix, string name) => prefix + Convert.ToHexString(Encoding.UTF8.GetBytes(name.ToUpperInvariant()));
    }
}
