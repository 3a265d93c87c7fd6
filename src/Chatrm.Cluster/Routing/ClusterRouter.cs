using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using Chatrm.Cluster.Names;
using Chatrm.Cluster.Nodes;
using Chatrm.Cluster.Rooms;
using Chatrm.Cluster.Wire;
using Chatrm.Engine;
using Chatrm.Engine.Messaging;
using Chatrm.Engine.Routing;

namespace Chatrm.Cluster.Routing
{
    /// <summary>
    /// The router of a server in a cluster: its own users are in the <see cref="LocalRouter"/> it wraps, and a user on
    /// another server is one frame away on that server's subject. Names are claimed in the cluster's bucket before
    /// they are registered here. Reports about a message go to its sender's server, named in its sender address.
    /// Rooms span servers (<see cref="ClusterRooms"/>): each lives on one server, its home, which orders its posts.
    /// </summary>
    internal sealed class ClusterRouter : IMessageRouter
    {
        private readonly LocalRouter _local;
        private readonly NameDirectory _names;
        private readonly NodeDirectory _nodes;
        private readonly NodeLink _link;
        private readonly ClusterRooms _rooms;

        // This server's store, once the server has it: a delivered report to another server waits for the line of
        // history this server wrote, as one to a sender here does.
        private readonly Func<Chatrm.Engine.Storage.IMessageStore> _store;

        private readonly ForwardedMessages _forwarded = new ForwardedMessages();

        private long _badFrames;

        public ClusterRouter(LocalRouter local, NameDirectory names, NodeDirectory nodes, NodeLink link, ClusterRooms rooms, Func<Chatrm.Engine.Storage.IMessageStore> store)
        {
            _store = store;
            _rooms = rooms;
            _local = local;
            _names = names;
            _nodes = nodes;
            _link = link;
            _local.PresenceChanged += OnLocalPresence;
            _names.Changed += OnNameChanged;
            _nodes.NodeGone += node => KeepUnanswered(_forwarded.TakeFor(node));
            _nodes.Swept += () => KeepUnanswered(_forwarded.TakeOlderThan(_nodes.Lease));
        }

        public int ServerId => _local.ServerId;

        /// <summary>Frames from other nodes that could not be read (a newer version, or a bug): dropped, counted.</summary>
        public long BadFrames => Interlocked.Read(ref _badFrames);

        public event EventHandler<PresenceEventArgs> PresenceChanged;

        public IReadOnlyCollection<string> OnlineUsers
        {
            get
            {
                var names = new HashSet<string>(_local.OnlineUsers, UserNames.Comparer);
                foreach (NameEntry entry in _names.Remote())
                {
                    names.Add(entry.Name);
                }

                return names;
            }
        }

        // The cluster's store is JetStream (see Storage/JetStreamStore): what waits for a user there reaches it through any server.
        public bool KeepsInboxes => true;

        public Task<bool> ClaimName(IChatEndpoint endpoint, bool takeOver)
        {
            if (!_link.IsConnected)
            {
                // Cut off from the cluster: the server keeps serving its own users, and claims the name when NATS is
                // back (ReconcileAsync claims every name held here).
                return Task.FromResult(true);
            }

            NameEntry claim = ClaimOf(endpoint);
            return ClaimAsync(claim, takeOver);
        }

        public void AbandonClaim(IChatEndpoint endpoint)
        {
            if (!_local.TryGetOnline(endpoint.UserName, out _))
            {
                _names.Release(endpoint.UserName);
            }
        }

        public bool TryRegister(IChatEndpoint endpoint, bool takeOver, out IChatEndpoint displaced) =>
            _local.TryRegister(endpoint, takeOver, out displaced);

        public void Unregister(IChatEndpoint endpoint)
        {
            _local.Unregister(endpoint);
            _rooms.Ended(endpoint);
            if (!_local.TryGetOnline(endpoint.UserName, out _))
            {
                _names.Release(endpoint.UserName);
            }
        }

        public void Detach(IChatEndpoint endpoint) => _local.Detach(endpoint);

        public void AttachReports(SenderAddress address, IDeliveryReceipt receipt) => _local.AttachReports(address, receipt);

        public void DetachReports(SenderAddress address, IDeliveryReceipt receipt) => _local.DetachReports(address, receipt);

        public bool Disconnect(string userName, Refusal why, string text)
        {
            if (_local.Disconnect(userName, why, text))
            {
                return true;
            }

            return userName != null && _names.TryGetRemote(userName, out NameEntry entry)
                && _link.TrySend(entry.Node, ClusterFrame.Disconnect(entry.Name, why, text));
        }

        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        public DeliveryStatus Deliver(ChatEnvelope envelope)
        {
            DeliveryStatus here = _local.Deliver(envelope);
            if (here == DeliveryStatus.Accepted)
            {
                return here;
            }

            if (_names.TryGetRemote(envelope.To, out NameEntry holder))
            {
                if (envelope.SenderHearsStatus)
                {
                    _forwarded.Add(holder.Node, envelope);
                }

                if (_link.TrySend(holder.Node, ClusterFrame.Deliver(envelope)))
                {
                    return DeliveryStatus.Accepted;
                }

                _forwarded.Answered(envelope.Number);
                return DeliveryStatus.ClusterUnavailable;
            }

            // Held by a server that is gone, or by nobody now: known names are offline, the rest unknown.
            return here == DeliveryStatus.UnknownUser && _names.IsKnown(envelope.To) ? DeliveryStatus.UserOffline : here;
        }

        public void ReportForwarded(ChatEnvelope envelope)
        {
            if (IsHere(envelope.Sender))
            {
                _local.ReportForwarded(envelope);
            }
            else
            {
                _link.TrySend(envelope.Sender.ServerId, ClusterFrame.Report(ReportKind.Forwarded, envelope));
            }
        }

        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        public void ReportDelivered(ChatEnvelope envelope)
        {
            if (IsHere(envelope.Sender))
            {
                _local.ReportDelivered(envelope);
            }
            else
            {
                AfterCommit(envelope.HistoryTicket, () => _link.TrySend(envelope.Sender.ServerId, ClusterFrame.Report(ReportKind.Delivered, envelope)));
            }
        }

        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        public void ReportDelivered(ReadOnlySpan<ChatEnvelope> envelopes)
        {
            if (envelopes.Length == 0)
            {
                return;
            }

            if (IsHere(envelopes[0].Sender))
            {
                _local.ReportDelivered(envelopes);
            }
            else
            {
                // Framed now: the span is the acker's buffer, reused at its next ack.
                byte[] frame = ClusterFrame.Delivered(envelopes);
                int to = envelopes[0].Sender.ServerId;
                AfterCommit(Engine.Server.ServerConnection.LastTicket(envelopes), () => _link.TrySend(to, frame));
            }
        }

        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        private void AfterCommit(long ticket, Action report)
        {
            Chatrm.Engine.Storage.IMessageStore store = _store();
            if (Engine.Server.ServerConnection.IsCommitted(store, ticket))
            {
                report();
            }
            else
            {
                store.WhenCommitted(ticket, report);
            }
        }

        public void ReportReceipt(string senderName, ChatEnvelope envelope)
        {
            if (senderName == null)
            {
                return;
            }

            if (_local.TryGetOnline(senderName, out _))
            {
                _local.ReportReceipt(senderName, envelope);
            }
            else if (_names.TryGetRemote(senderName, out NameEntry holder))
            {
                _link.TrySend(holder.Node, ClusterFrame.Receipt(senderName, envelope));
            }
        }

        public void ReportRefused(ChatEnvelope envelope, Refusal reason, string message) => Report(ReportKind.Refused, envelope, reason, message);

        public void ReportFailed(ChatEnvelope envelope, Refusal reason, string message) => Report(ReportKind.Failed, envelope, reason, message);

        public void ReportStored(ChatEnvelope envelope) => Report(ReportKind.Stored, envelope, Refusal.None, null);

        public void InboxWritten(string userName)
        {
            // Stored because its recipient looked offline from here; if it logged in elsewhere since, that server's
            // read of the inbox may have come before this commit: it looks again.
            if (_names.TryGetRemote(userName, out NameEntry holder))
            {
                _link.TrySend(holder.Node, ClusterFrame.InboxWritten(holder.Name));
            }
        }

        public RoomJoin Join(IChatEndpoint member, string room) => _rooms.Join(member, room);

        public RoomLeave Leave(IChatEndpoint member, string room) => _rooms.Leave(member, room);

        public RoomPost Post(ChatEnvelope envelope) => _rooms.Post(envelope);

        public IReadOnlyList<RoomInfo> ListRooms(IChatEndpoint asking) => _rooms.List(asking);

        public RoomInfo GetRoom(string room, IChatEndpoint asking) => _rooms.Get(room, asking);

        public IReadOnlyList<UserInfo> ListUsers()
        {
            var users = new List<UserInfo>();
            foreach (UserInfo user in _local.ListUsers())
            {
                user.Node = _nodes.SelfName;
                users.Add(user);
            }

            foreach (NameEntry entry in _names.Remote())
            {
                if (!_local.TryGetOnline(entry.Name, out _))
                {
                    users.Add(new UserInfo(entry.Name, entry.Protocol, entry.Since) { Node = _nodes.NameOf(entry.Node) });
                }
            }

            return users;
        }

        /// <summary>A frame from another node, in the order that node sent it. A frame that cannot be read costs only itself.</summary>
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        public void OnFrame(int from, byte[] buffer, int offset, int count)
        {
            BinaryReader r = ClusterFrame.Open(buffer, offset, count);
            bool failed = true;
            try
            {
                FrameKind kind = ClusterFrame.KindOf(buffer.AsSpan(offset, count));
                if (_rooms.OnFrame(kind, from, r))
                {
                    failed = false;
                    return;
                }

                switch (kind)
                {
                    case FrameKind.Deliver:
                        ChatEnvelope envelope = ClusterFrame.ReadEnvelope(r);
                        if (_local.Deliver(envelope) != DeliveryStatus.Accepted)
                        {
                            // Gone from here since the sender's server looked: the sender hears so.
                            ReportRefused(envelope, Refusal.UserOffline, SendRefusals.TextOf(DeliveryStatus.UserOffline, envelope.To));
                        }

                        break;
                    case FrameKind.Report:
                        OnReport(r);
                        break;
                    case FrameKind.Receipt:
                        string senderName = r.ReadString();
                        _local.ReportReceipt(senderName, ClusterFrame.ReadEnvelope(r));
                        break;
                    case FrameKind.InboxWritten:
                        if (_local.TryGetOnline(r.ReadString(), out IChatEndpoint holding) && holding is Engine.Server.ServerConnection connection)
                        {
                            connection.CheckInboxAgain();
                        }

                        break;
                    case FrameKind.Disconnect:
                        string user = r.ReadString();
                        Refusal why = ClusterFrame.ReadRefusal(r);
                        _local.Disconnect(user, why == Refusal.None ? Refusal.Disconnected : why, r.ReadString());
                        break;
                    default:
                        Interlocked.Increment(ref _badFrames);
                        break;
                }

                failed = false;
            }
            catch (Exception e) when (e is IOException || e is InvalidDataException || e is ArgumentException || e is FormatException)
            {
                Interlocked.Increment(ref _badFrames);
            }
            finally
            {
                ClusterFrame.Close(r, failed);
            }
        }

        /// <summary>
        /// NATS is back after an outage: every name held here is claimed again. One claimed elsewhere meanwhile stays
        /// with that server (it was in the bucket first); the session here ends, told why.
        /// </summary>
        public async Task ReconcileAsync(CancellationToken cancellationToken)
        {
            foreach (UserInfo user in _local.ListUsers())
            {
                while (_local.TryGetOnline(user.Name, out IChatEndpoint endpoint))
                {
                    try
                    {
                        if (!await _names.ClaimAsync(ClaimOf(endpoint), takeOver: false, cancellationToken).ConfigureAwait(false))
                        {
                            endpoint.Disconnect(Refusal.NameTaken, "the name " + endpoint.UserName + " was taken on another server while this one was cut off from the cluster");
                        }

                        break;
                    }
                    catch (Exception e) when (e is NATS.Client.Core.NatsException || e is TimeoutException || e is OperationCanceledException)
                    {
                        // No answer is no refusal: JetStream busy (a NATS node just left) is asked again shortly;
                        // cut off again, the next reconnect reconciles again.
                        if (cancellationToken.IsCancellationRequested || !_link.IsConnected || !await PauseAsync(cancellationToken).ConfigureAwait(false))
                        {
                            return;
                        }
                    }
                }
            }
        }

        /// <summary>False when stopped meanwhile.</summary>
        private static async Task<bool> PauseAsync(CancellationToken cancellationToken)
        {
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
                return true;
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }

        // What the bucket says of a session here holding its name.
        private NameEntry ClaimOf(IChatEndpoint endpoint) =>
            new NameEntry(endpoint.UserName, _nodes.Self, endpoint.Protocol, endpoint.ConnectedAt, NameEntry.DigestOf(endpoint.ResumeToken));

        private async Task<bool> ClaimAsync(NameEntry claim, bool takeOver)
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                return await _names.ClaimAsync(claim, takeOver, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is NATS.Client.Core.NatsException || e is TimeoutException || e is OperationCanceledException)
            {
                // NATS went away during the claim: as when it is away, the name is served here and claimed later.
                return true;
            }
        }

        private void OnReport(BinaryReader r)
        {
            var kind = (ReportKind)r.ReadByte();
            Refusal reason = ClusterFrame.ReadRefusal(r);
            string message = ClusterFrame.ReadNullable(r);
            int count = r.ReadInt32();
            if (count <= 0 || count > 1_000_000)
            {
                throw new InvalidDataException("a report of no messages");
            }

            if (kind == ReportKind.Delivered && count > 1)
            {
                var envelopes = new ChatEnvelope[count];
                for (int i = 0; i < count; i++)
                {
                    envelopes[i] = ClusterFrame.ReadEnvelope(r);
                    _forwarded.Answered(envelopes[i].Number);
                }

                _local.ReportDelivered(envelopes);
                return;
            }

            ChatEnvelope envelope = ClusterFrame.ReadEnvelope(r);
            _forwarded.Answered(envelope.Number);
            switch (kind)
            {
                case ReportKind.Forwarded:
                    _local.ReportForwarded(envelope);
                    break;
                case ReportKind.Delivered:
                    _local.ReportDelivered(envelope);
                    break;
                case ReportKind.Refused:
                    _local.ReportRefused(envelope, reason, message ?? reason.ToCode());
                    break;
                case ReportKind.Failed:
                    _local.ReportFailed(envelope, reason, message ?? reason.ToCode());
                    break;
                case ReportKind.Stored:
                    _local.ReportStored(envelope);
                    break;
                default:
                    throw new InvalidDataException("a report of an unknown kind");
            }
        }

        private void Report(ReportKind kind, ChatEnvelope envelope, Refusal reason, string message)
        {
            if (IsHere(envelope.Sender))
            {
                switch (kind)
                {
                    case ReportKind.Refused:
                        _local.ReportRefused(envelope, reason, message);
                        break;
                    case ReportKind.Failed:
                        _local.ReportFailed(envelope, reason, message);
                        break;
                    default:
                        _local.ReportStored(envelope);
                        break;
                }
            }
            else
            {
                _link.TrySend(envelope.Sender.ServerId, ClusterFrame.Report(kind, envelope, reason, message));
            }
        }

        /// <summary>
        /// Messages handed to a server that is gone, or that never answered within a lease: each is kept for its
        /// recipient, whose next login (through any server) gets it, or its sender hears why not. A recipient who did
        /// get one gets it again with the same id, which its client shows once.
        /// </summary>
        private void KeepUnanswered(List<ChatEnvelope> unanswered)
        {
            foreach (ChatEnvelope envelope in unanswered)
            {
                Chatrm.Engine.Storage.IMessageStore store = _store();
                if (store == null)
                {
                    ReportFailed(envelope, Refusal.RecipientLeft, "the server " + envelope.To + " was on did not answer");
                    continue;
                }

                store.StoreOffline(envelope.ToStored(forInbox: true), result => Engine.Server.ServerConnection.TellStoreFate(this, envelope, result));
            }
        }

        private bool IsHere(SenderAddress sender) => sender.IsNone || sender.ServerId == _local.ServerId;

        // The name left here, but a login on another server holds it: to everyone else it never went offline.
        private void OnLocalPresence(object sender, PresenceEventArgs e)
        {
            if (e.Change == PresenceChange.Left && _names.TryGetRemote(e.UserName, out _))
            {
                return;
            }

            PresenceChanged?.Invoke(this, e);
        }

        private void OnNameChanged(NameEntry now, NameEntry before)
        {
            if (now != null && now.Node != _nodes.Self)
            {
                if (_local.TryGetOnline(now.Name, out IChatEndpoint here))
                {
                    // Taken over from another server (a password login, or the same client back through it).
                    here.Disconnect(Refusal.Replaced, now.Name + " logged in again from elsewhere");
                }
                else if (before == null)
                {
                    PresenceChanged?.Invoke(this, new PresenceEventArgs(PresenceChange.Joined, now.Name));
                }
            }
            else if (now == null && before != null && before.Node != _nodes.Self && !_local.TryGetOnline(before.Name, out _))
            {
                PresenceChanged?.Invoke(this, new PresenceEventArgs(PresenceChange.Left, before.Name));
            }
        }
    }
}
