using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Chatrm.Engine.Client;
using Chatrm.Engine.Protocol.Native;
using Chatrm.Engine.Transport;

namespace Chatrm.Engine
{
    /// <summary>
    /// A link that drops for any reason but the user's own close or a final refusal is made again, with backoff and
    /// jitter (<see cref="ReconnectBackoff"/>), for up to <see cref="ClientOptions.ReconnectTimeout"/>. Native, the new
    /// link resumes: the same resume token takes over a session the server still holds, rooms are rejoined and what they
    /// said meanwhile is fetched from history ahead of their live posts, and sends without a fate go again with their
    /// ref, which the server does not deliver twice. Classic re-sends its handshake and resumes nothing.
    /// </summary>
    public sealed partial class ChatClient
    {
        // Guards the link's swap and its state against SendAsync, so no send goes to a link that is not open yet and
        // the sends a reconnect repeats keep their order with new ones.
        private readonly object _sendGate = new object();
        private readonly CancellationTokenSource _reconnectStop = new CancellationTokenSource();
        private readonly JoinedRooms _joinedRooms = new JoinedRooms();

        // ShowOnce as a delegate made once: the reader hands it over per room message.
        private readonly Action<ChatMessage> _showOnce;

        // The current link's end: why (a bye's or an error's words) and the refusal that says whether it is final.
        private string _linkEnd;
        private Refusal _linkEndRefusal;
        private bool _linkUp;
        private bool _linkEnded;

        // The new link is welcomed and the reconnect is rejoining rooms: its questions may go out, user sends still wait.
        private volatile bool _resuming;

        // The welcome's ids scope; another one means the server's ids (and room Seqs) started afresh.
        private string _idsScope;
        private volatile bool _scopeChanged;

        private int _timesDropped;
        private int _timesReconnected;

        /// <summary>How often the connection dropped and began reconnecting; counted before its Reconnecting event is queued.</summary>
        public int TimesDropped => Volatile.Read(ref _timesDropped);

        /// <summary>How often a reconnect finished (Open again); counted before its Reconnected event is queued.</summary>
        public int TimesReconnected => Volatile.Read(ref _timesReconnected);

        /// <summary>True when a dropped link would be made again now.</summary>
        private bool WillReconnect => _options.Reconnect && Volatile.Read(ref _closing) == 0 && !IsFinal(_linkEndRefusal);

        /// <summary>
        /// Refusals that a new attempt would only hear again, or that the user must act on: no reconnect. An idle cut by
        /// the server is its operator's policy for users who send nothing, which coming back would defeat.
        /// </summary>
        internal static bool IsFinal(Refusal refusal) =>
            refusal == Refusal.Replaced || refusal == Refusal.Disconnected || refusal == Refusal.IdleTimeout || refusal == Refusal.AuthFailed ||
            refusal == Refusal.AuthRequired || refusal == Refusal.InvalidName || refusal == Refusal.NameTaken ||
            refusal == Refusal.ProtocolMismatch || refusal == Refusal.UnsupportedVersion || refusal == Refusal.TlsFailed;

        /// <summary>
        /// What the server said as it ended <paramref name="link"/> (null: the current one); the first words stay unless
        /// <paramref name="overriding"/>. A link given up on before its welcome may still read its end (a `replaced` from
        /// the attempt that took its session over): that is not the current link's, and must not make it final.
        /// </summary>
        private void EndingBecause(ReadingLink link, Refusal refusal, string text, bool overriding = false)
        {
            if (link != null && link.Transport != _transport)
            {
                return;
            }

            if (overriding || _linkEnd == null)
            {
                _linkEnd = text;
                _linkEndRefusal = refusal;
            }
        }

        /// <summary>After the opening succeeded: the link is up unless it ended already; a reconnect's then resumes.</summary>
        private void MarkLinkUp(bool resuming)
        {
            lock (_sendGate)
            {
                if (_linkEnded)
                {
                    throw new ChatException(Refusal.ConnectionClosed, $"The server closed the connection: {_linkEnd ?? "closed"}.");
                }

                _linkUp = true;
                _resuming = resuming;
            }
        }

        /// <summary>A link's reader ended: the current link is made again, or the client closes.</summary>
        private void OnLinkEnded(LineTransport transport, string reason)
        {
            bool reconnect;
            lock (_sendGate)
            {
                if (transport != _transport || _linkEnded)
                {
                    return;
                }

                _linkEnded = true;
                bool wasUp = _linkUp;
                _linkUp = false;
                reconnect = wasUp && WillReconnect && _state != ConnectionState.Closed;
                if (reconnect)
                {
                    _state = ConnectionState.Reconnecting;
                    _resuming = false;
                }
                else if (_state == ConnectionState.Reconnecting && !wasUp)
                {
                    // A reconnect attempt's link: its opening fails, and the attempts go on.
                    return;
                }
            }

            _keepAliveTimer?.Dispose();
            if (!reconnect)
            {
                MarkClosed(reason);
                return;
            }

            string why = _linkEnd ?? reason;
            _joinedRooms.HoldAll();
            FailQuestions();
            Interlocked.Increment(ref _timesDropped);
            Enqueue(new ConnectionEvent(ConnectionChange.Reconnecting, why, DateTime.UtcNow));
            _ = Task.Run(() => ReconnectAsync(why));
        }

        private async Task ReconnectAsync(string why)
        {
            var clock = Stopwatch.StartNew();
            var random = new Random();
            CancellationToken stop = _reconnectStop.Token;
            string problem = why;
            for (int attempt = 0; ; attempt++)
            {
                TimeSpan left = _options.ReconnectTimeout - clock.Elapsed;
                if (left <= TimeSpan.Zero)
                {
                    GiveUp($"reconnecting gave up after {attempt} attempts in {clock.Elapsed.TotalSeconds:0} s; the last said: {problem}");
                    return;
                }

                TimeSpan wait = ReconnectBackoff.Wait(attempt, random.NextDouble());
                LineTransport link;
                try
                {
                    await Task.Delay(wait < left ? wait : left, stop).ConfigureAwait(false);
                    link = await OpenLinkAsync(stop, resuming: true).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    return;
                }
                catch (ChatException e) when (IsFinal(e.Refusal))
                {
                    GiveUp($"reconnecting ended: {e.Message}");
                    return;
                }
                catch (Exception e)
                {
                    problem = e.Message;
                    continue;
                }

                if (Volatile.Read(ref _closing) != 0)
                {
                    link.Dispose();
                    return;
                }

                try
                {
                    await ResumeAsync(link, attempt + 1).ConfigureAwait(false);
                }
                catch (Exception)
                {
                    // A resume that failed on a link still up (an answer that never came) must not leave the client
                    // reconnecting for ever: the link is dropped, and the next reconnect resumes again.
                    link.StopReading();
                }

                return;
            }
        }

        /// <summary>
        /// On a welcomed new link: rooms first (a waiting post needs its room), then every send still without a fate, in
        /// ref order, before any new one. A link that drops meanwhile has started the next reconnect, which does it all again.
        /// </summary>
        private async Task ResumeAsync(LineTransport link, int attempts)
        {
            if (Protocol == ChatProtocol.Chatrm)
            {
                if (_scopeChanged)
                {
                    _scopeChanged = false;
                    _joinedRooms.ForgetSeqs();
                    Enqueue(new ConnectionEvent(ConnectionChange.Gap,
                        "the server started afresh without its store: what was sent while this client was away is lost", DateTime.UtcNow));
                }

                foreach (KeyValuePair<string, long> room in _joinedRooms.Snapshot())
                {
                    try
                    {
                        await RejoinAsync(link, room.Key, room.Value).ConfigureAwait(false);
                    }
                    catch (ChatException) when (_transport != link || _linkEnded)
                    {
                        return;
                    }
                }
            }

            lock (_sendGate)
            {
                if (_transport != link || _linkEnded || _state != ConnectionState.Reconnecting)
                {
                    return;
                }

                foreach (PendingSend waiting in _pendingSends.Values.OrderBy(pending => pending.Number))
                {
                    link.Send(waiting.Frame);
                }

                _state = ConnectionState.Open;
                _resuming = false;
            }

            Interlocked.Increment(ref _timesReconnected);
            Enqueue(new ConnectionEvent(ConnectionChange.Reconnected, $"connected again to {ComputerName}:{Port}", DateTime.UtcNow) { Attempts = attempts });
        }

        /// <summary>Joins a room again and shows what it said after <paramref name="lastSeq"/>, then its held live posts.</summary>
        private async Task RejoinAsync(LineTransport link, string room, long lastSeq)
        {
            TimeSpan timeout = TimeSpan.FromSeconds(30);
            RoomInfo answer;
            try
            {
                answer = await AskForRoomAsync(reference => NativeProtocol.JoinFrame(reference, room), "join " + room, timeout).ConfigureAwait(false);
            }
            catch (ChatException e) when (e.Refusal != Refusal.ConnectionClosed && e.Refusal != Refusal.NotConnected)
            {
                _joinedRooms.Left(room);
                Enqueue(new ConnectionEvent(ConnectionChange.Gap, $"{room} could not be joined again: {e.Message}", DateTime.UtcNow) { Room = room });
                return;
            }

            long upTo = answer.LastSeq;
            var fetched = new List<ChatMessage>();
            long after = lastSeq;
            while (after < upTo)
            {
                IReadOnlyList<ChatMessage> page;
                try
                {
                    // The first messages after `after`: below after + 1001 there are at most 1000.
                    page = await GetHistoryAsync(room, NativeProtocol.MaxHistoryLines, after + NativeProtocol.MaxHistoryLines + 1, after, timeout).ConfigureAwait(false);
                }
                catch (ChatException e) when (e.Refusal == Refusal.HistoryOff || e.Refusal == Refusal.AccessDenied)
                {
                    ReportGap(room, after + 1, upTo, $"the server keeps no history of {room}");
                    break;
                }

                if (page.Count == 0 || !page[0].Seq.HasValue)
                {
                    ReportGap(room, after + 1, upTo, $"the history of {room} no longer holds them");
                    break;
                }

                if (page[0].Seq.Value > after + 1)
                {
                    ReportGap(room, after + 1, page[0].Seq.Value - 1, $"the history of {room} no longer holds them");
                }

                // The room's history holds this user's own posts too, which live it never gets back.
                fetched.AddRange(page.Where(message => !UserNames.AreSame(message.From, UserName)));
                after = page[page.Count - 1].Seq ?? upTo;
            }

            // A link that ended meanwhile was told under _sendGate before its end held the rooms again.
            _joinedRooms.Release(room, fetched, _showOnce, () => _transport == link && !Volatile.Read(ref _linkEnded));
        }

        /// <summary>A message with an id comes again after a connection that did not confirm it (from the inbox, from history): shown once.</summary>
        private void ShowOnce(ChatMessage message)
        {
            if (message.Id == null || _shownIds.Add(message.Id))
            {
                Enqueue(message);
            }
        }

        private void ReportGap(string room, long from, long to, string why) =>
            Enqueue(new ConnectionEvent(ConnectionChange.Gap, $"{to - from + 1} messages of {room} sent while away cannot be shown: {why}", DateTime.UtcNow)
            {
                Room = room,
                MissedFrom = from,
                MissedTo = to,
            });

        /// <summary>On the welcome (reading thread, before any message after it): another ids scope forgets the old ids.</summary>
        private void ForgetShownIdsOfAnotherScope(string scope)
        {
            if (_idsScope != null && scope != null && !string.Equals(scope, _idsScope, StringComparison.Ordinal))
            {
                _shownIds.Clear();
                _scopeChanged = true;
            }

            _idsScope = scope ?? _idsScope;
        }

        /// <summary>
        /// One link as its reader sees it: its transport (acks and pongs answer on the link the frame came on), its
        /// opening's greeting and the frame it reads into. A link given up on may still be read for a moment beside the
        /// next one, so none of these is the client's.
        /// </summary>
        private sealed class ReadingLink
        {
            public ReadingLink(LineTransport transport, TaskCompletionSource<Greeting> greeting)
            {
                Transport = transport;
                Greeting = greeting;
            }

            public LineTransport Transport { get; }

            public TaskCompletionSource<Greeting> Greeting { get; }

            // Native: every frame is read into this one, on the link's reading thread, which keeps texts as they came.
            public NativeFrame Frame { get; } = new NativeFrame { KeepsWireBytes = true };

            // Native, once the welcome granted batched confirmations: the newest message id not yet acked. An ack owed
            // on a link that dropped is not the next link's: what it named comes again from the inbox and is acked then.
            public bool BatchGranted { get; set; }

            public string AckThrough { get; set; }

            // Whether the read brought a message that waits for its ack (a direct one); room messages need none.
            public bool AckOwed { get; set; }

            // The newest message id this link brought, set before the message is shown: a close acks through it
            // before its bye (from the closing thread, so volatile).
            private volatile string _newestShown;

            public string NewestShown
            {
                get => _newestShown;
                set => _newestShown = value;
            }
        }

        private void GiveUp(string why)
        {
            _linkEnd = why;
            MarkClosed(why);
        }

        private void StopReconnecting()
        {
            try
            {
                _reconnectStop.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }
}
