using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Globalization;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Chatrm.Engine;
using Chatrm.Engine.Storage;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using StoredMessage = Chatrm.Engine.Storage.StoredMessage;
using NATS.Client.KeyValueStore;

namespace Chatrm.Cluster.Storage
{
    /// <summary>
    /// The store of a server in a cluster: every server's users' inboxes and history in JetStream (file storage), so an
    /// offline message sent through any server waits for its recipient on any other, and history reads the same
    /// everywhere. Inboxes are one subject per user in one stream, history one subject per conversation in another;
    /// subjects and keys are hex of names, never what a user typed. Writes are published by one writer, many at a time,
    /// and committed when JetStream acknowledges them (see JetStreamStore.Writer.cs). What the engine asks without
    /// waiting (a read, an id block) blocks here on NATS for at most <see cref="RequestTimeout"/>.
    /// </summary>
    internal sealed partial class JetStreamStore : IMessageStore
    {
        internal const string InboxStream = "CHATRM_INBOX";
        internal const string HistoryStream = "CHATRM_HISTORY";
        internal const string InboxSubjects = "chatrm.inbox.";
        internal const string HistorySubjects = "chatrm.history.";
        internal const string Bucket = "chatrm-store";

        /// <summary>How long a read or a reservation waits for NATS before it fails (the engine then serves on without it).</summary>
        internal static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(5);

        private static readonly TimeSpan InboxReadWait = TimeSpan.FromSeconds(1);

        private readonly NatsConnection _nats;
        private readonly NatsJSContext _js;
        private readonly INatsJSStream _inbox;
        private readonly INatsJSStream _history;
        private readonly INatsKVStore _store;
        private readonly StoreLimits _limits;
        private readonly TimeProvider _time;
        private readonly int _node;

        // Names known to have logged in somewhere (the bucket says so): asked of the bucket once, then remembered.
        private readonly ConcurrentDictionary<string, byte> _known = new ConcurrentDictionary<string, byte>(UserNames.Comparer);

        // Per user, the stream sequence of each message its last inbox read gave, by id: a confirm deletes that one.
        private readonly ConcurrentDictionary<string, ConcurrentDictionary<long, ulong>> _inboxSeqs =
            new ConcurrentDictionary<string, ConcurrentDictionary<long, ulong>>(UserNames.Comparer);

        private JetStreamStore(NatsConnection nats, NatsJSContext js, INatsJSStream inbox, INatsJSStream history, INatsKVStore store, StoreLimits limits, TimeProvider time, int node, string idScope)
        {
            _nats = nats;
            _js = js;
            _inbox = inbox;
            _history = history;
            _store = store;
            _limits = limits;
            _time = time;
            _node = node;
            IdScope = idScope;
            _writer = Task.Run(WriteAsync);
        }

        /// <summary>Makes (or brings up to date) the streams and the bucket; blocks, as the engine opens its store at start.</summary>
        public static JetStreamStore Open(NatsConnection nats, int node, StoreLimits limits, TimeProvider time)
        {
            return Run(async cancel =>
            {
                var js = new NatsJSContext(nats);
                int replicas = Replicas.Of(nats);
                INatsJSStream inbox = await js.CreateOrUpdateStreamAsync(new StreamConfig(InboxStream, new[] { InboxSubjects + "*" })
                {
                    Storage = StreamConfigStorage.File,
                    NumReplicas = replicas,
                    MaxAge = TimeSpan.FromDays(limits.InboxDays),
                    // A full inbox refuses the newest, as a lone server's does: nothing waiting is dropped for it.
                    MaxMsgsPerSubject = limits.MaxInboxMessages,
                    Discard = StreamConfigDiscard.New,
                    DiscardNewPerSubject = true,
                }, cancel).ConfigureAwait(false);
                INatsJSStream history = await js.CreateOrUpdateStreamAsync(new StreamConfig(HistoryStream, new[] { HistorySubjects + "*" })
                {
                    Storage = StreamConfigStorage.File,
                    NumReplicas = replicas,
                    MaxAge = TimeSpan.FromDays(limits.HistoryDays),
                }, cancel).ConfigureAwait(false);

                var kv = new NatsKVContext(js);
                INatsKVStore store = await kv.CreateOrUpdateStoreAsync(new NatsKVConfig(Bucket) { History = 1, Storage = NatsKVStorageType.File, NumberOfReplicas = replicas }, cancel).ConfigureAwait(false);

                // The first server of a cluster names the scope its ids are unique in; every later one reads it.
                string scope = Guid.NewGuid().ToString("N");
                NatsResult<ulong> created = await store.TryCreateAsync("id-scope", scope, cancellationToken: cancel).ConfigureAwait(false);
                if (!created.Success)
                {
                    scope = (await store.GetEntryAsync<string>("id-scope", cancellationToken: cancel).ConfigureAwait(false)).Value;
                }

                return new JetStreamStore(nats, js, inbox, history, store, limits, time, node, scope);
            });
        }

        public string Path => null;

        public string IdScope { get; }

        public bool KeepsHistory => _limits.KeepHistory;

        private DateTime Now => _time.GetUtcNow().UtcDateTime;

        private bool Connected => _nats.ConnectionState == NatsConnectionState.Open;

        public long ReserveIds(long count)
        {
            // Per node number: ids carry it, so blocks of different numbers never meet, and a number taken again by a
            // later server goes on above what the one before it handed out.
            string key = "ids." + _node.ToString(CultureInfo.InvariantCulture);
            return Run(async cancel =>
            {
                while (true)
                {
                    // A Try call answers a failure without throwing: without this, NATS away would spin here for good.
                    cancel.ThrowIfCancellationRequested();
                    NatsResult<NatsKVEntry<string>> read = await _store.TryGetEntryAsync<string>(key, cancellationToken: cancel).ConfigureAwait(false);
                    long end = (read.Success ? long.Parse(read.Value.Value, CultureInfo.InvariantCulture) : 0) + count;
                    string value = end.ToString(CultureInfo.InvariantCulture);
                    NatsResult<ulong> written = read.Success
                        ? await _store.TryUpdateAsync(key, value, read.Value.Revision, cancellationToken: cancel).ConfigureAwait(false)
                        : await _store.TryCreateAsync(key, value, cancellationToken: cancel).ConfigureAwait(false);
                    if (written.Success)
                    {
                        return end;
                    }
                }
            });
        }

        public bool IsKnownUser(string name)
        {
            if (_known.ContainsKey(name))
            {
                return true;
            }

            if (!Connected)
            {
                return false;
            }

            try
            {
                bool known = Run(async cancel => (await _store.TryGetEntryAsync<string>(UserKey(name), cancellationToken: cancel).ConfigureAwait(false)).Success);
                if (known)
                {
                    _known.TryAdd(name, 0);
                }

                return known;
            }
            catch (Exception e) when (IsNatsFailure(e))
            {
                return false;
            }
        }

        public void RememberUser(string name)
        {
            if (_known.TryAdd(name, 0))
            {
                Enqueue(Write.User(name));
            }
        }

        public IReadOnlyList<StoredMessage> ReadInbox(string user, int max)
        {
            // Confirms this server queued before are taken out first, so a quick login again does not get them twice.
            Flush(InboxReadWait);
            DateTime notBefore = Now.AddDays(-_limits.InboxDays);
            List<(ulong Seq, byte[] Data)> read = Run(cancel => ReadSubjectAsync(_inbox, InboxSubject(user), 1, ulong.MaxValue, max, cancel));
            var seqs = new ConcurrentDictionary<long, ulong>();
            var inbox = new List<StoredMessage>(read.Count);
            foreach ((ulong seq, byte[] data) in read)
            {
                StoredMessage message = StoredMessageCodec.Decode(data);
                if (message == null || message.SentAt < notBefore)
                {
                    continue;
                }

                if (seqs.TryAdd(message.Id, seq))
                {
                    message.Seq = 0;
                    inbox.Add(message);
                }
                else
                {
                    // Kept twice (by a server that died before it answered, and again by the sender's): one copy goes.
                    Enqueue(Write.Confirm(seq));
                }
            }

            _inboxSeqs[user] = seqs;

            // In the order sent: one kept when its recipient left, written after newer ones, goes back to its place.
            inbox.Sort((a, b) => a.SentAt != b.SentAt ? a.SentAt.CompareTo(b.SentAt) : a.Id.CompareTo(b.Id));
            return inbox;
        }

        public void ConfirmInbox(string user, long id)
        {
            if (_inboxSeqs.TryGetValue(user, out ConcurrentDictionary<long, ulong> seqs) && seqs.TryRemove(id, out ulong seq))
            {
                Enqueue(Write.Confirm(seq));
            }
        }

        public IReadOnlyList<KeptRef> TakeKeptRefs() => Array.Empty<KeptRef>();

        // Which refs a sender already sent are kept per server, in its memory: a resend through another server is new there.
        public void KeepRefs(IReadOnlyCollection<KeptRef> refs)
        {
        }

        public void Dispose()
        {
            FinishWrites();
        }

        /// <summary>
        /// The messages of one subject with stream sequence from <paramref name="from"/> up to (not with)
        /// <paramref name="until"/>, oldest first, at most <paramref name="max"/>; ones that cannot be read are skipped.
        /// Read one by one with the stream's own "next message on this subject" (its leader answers it): no consumer is
        /// made, which in a NATS cluster is an agreement of all its servers and waits on a leader a failed node took away.
        /// </summary>
        private static async Task<List<(ulong Seq, byte[] Data)>> ReadSubjectAsync(INatsJSStream stream, string subject, ulong from, ulong until, int max, CancellationToken cancel)
        {
            var read = new List<(ulong, byte[])>();
            ulong next = Math.Max(from, 1);
            while (read.Count < max && next < until)
            {
                (ulong seq, byte[] data) = await GetAsync(stream, new StreamMsgGetRequest { NextBySubj = subject, Seq = next }, cancel).ConfigureAwait(false);
                if (seq == 0 || seq >= until)
                {
                    break;
                }

                read.Add((seq, data));
                next = seq + 1;
            }

            return read;
        }

        /// <summary>One message by the request; (0, null) when there is none. JetStream busy choosing a leader is asked again until the caller's time is up.</summary>
        private static async Task<(ulong Seq, byte[] Data)> GetAsync(INatsJSStream stream, StreamMsgGetRequest request, CancellationToken cancel)
        {
            for (int attempt = 1; ; attempt++)
            {
                try
                {
                    StreamMsgGetResponse got = await stream.GetAsync(request, cancel).ConfigureAwait(false);
                    return (got.Message.Seq, got.Message.Data.ToArray());
                }
                catch (NatsJSApiException e) when (e.Error.Code == 404)
                {
                    return (0, null);
                }
                catch (Exception e) when (!cancel.IsCancellationRequested && (e is NatsJSApiException || e is NatsNoRespondersException || e is NatsJSApiNoResponseException || e is TimeoutException))
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(50 * attempt, 500)), cancel).ConfigureAwait(false);
                }
            }
        }

        private static string InboxSubject(string user) => BucketWatch.KeyOf(InboxSubjects, user);

        private static string UserKey(string name) => BucketWatch.KeyOf("user.", name);

        private static bool IsNatsFailure(Exception e) =>
            e is NatsException || e is TimeoutException || e is OperationCanceledException || e is InvalidOperationException;

        /// <summary>Runs a NATS call to its end, at most <see cref="RequestTimeout"/>, for the engine's calls that do not wait.</summary>
        private static T Run<T>(Func<CancellationToken, Task<T>> call)
        {
            using var timeout = new CancellationTokenSource(RequestTimeout);
            return Task.Run(() => call(timeout.Token)).GetAwaiter().GetResult();
        }
    }
}
