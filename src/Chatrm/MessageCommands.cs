using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Threading.Tasks;
using Chatrm.Engine;

namespace Chatrm.PowerShell
{
    /// <summary>
    /// Sends text to a user, or posts it to a room (-To '#ops'; Posted, with Seq and Recipients). -Text binds from the pipeline, one message per input. Messages go out without
    /// waiting for each other's confirmation; the cmdlet returns once every one has its fate (or -Timeout
    /// passes), and each refused message is a non-terminating error on that message.
    /// </summary>
    [Cmdlet(VerbsCommunications.Send, "ChatrmMessage", DefaultParameterSetName = ToSet)]
    [OutputType(typeof(SentMessage))]
    public sealed class SendChatrmMessageCommand : ChatrmCmdlet
    {
        private const string ToSet = "To";
        private const string ReplySet = "Reply";

        private readonly Queue<InFlight> _inFlight = new Queue<InFlight>();
        private ChatrmConnection _connection;
        private bool _connectionClosed;
        private bool _toGiven;

        // Name binds a piped Get-ChatrmUser (or Get-ChatrmRoom). A piped message's To is its reader, so it binds -ReplyTo too, which wins.
        [Parameter(ParameterSetName = ToSet, Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [Alias("Name")]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(UserNameCompleter))]
        public string To { get; set; }

        [Parameter(Mandatory = true, Position = 1, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [AllowEmptyString]
        public string Text { get; set; }

        /// <summary>A received message to answer: the reply goes to its sender, unless -To is given on the command line.</summary>
        [Parameter(ParameterSetName = ReplySet, Mandatory = true, ValueFromPipeline = true)]
        [Parameter(ParameterSetName = ToSet, ValueFromPipeline = true)]
        public ChatMessage ReplyTo { get; set; }

        [Parameter]
        [ConnectionTransformation]
        [ArgumentCompleter(typeof(ConnectionCompleter))]
        public ChatrmConnection Connection { get; set; }

        /// <summary>Outputs each message with its Id, SentAt, Status and Reason.</summary>
        [Parameter]
        public SwitchParameter PassThru { get; set; }

        /// <summary>Seconds to wait, after the last message is sent, for every message's fate.</summary>
        [Parameter]
        [ValidateRange(0.0, 86400.0)]
        public double Timeout { get; set; } = 30;

        protected override void BeginProcessing()
        {
            // Pipeline input is not bound yet: a -To seen now came from the command line.
            _toGiven = MyInvocation.BoundParameters.ContainsKey(nameof(To));
            _connection = ResolveConnection(Connection);
        }

        protected override void ProcessRecord()
        {
            // A reply to a room message goes to the room, as a reply in a chat room does.
            string to = ReplyTo != null && !_toGiven ? (string.IsNullOrEmpty(ReplyTo.Room) ? ReplyTo.From : ReplyTo.Room) : To;
            if (_connectionClosed)
            {
                // Said once already: the rest of the pipeline is not sent either.
                PassOn(Refuse(to, Text, Refusal.ConnectionClosed, "not sent: the connection closed earlier in this pipeline"));
                return;
            }

            try
            {
                _inFlight.Enqueue(new InFlight(to, Text, _connection.Client.SendAsync(to, Text)));
            }
            catch (ChatException e)
            {
                // Closed for good: the rest of the pipeline is not tried. A link that dropped under a reconnecting
                // connection is not closed for good (classic says NotConnected while it reconnects): each message tries.
                _connectionClosed = e.Refusal == Refusal.ConnectionClosed && (!_connection.Reconnects || _connection.State == ConnectionState.Closed);
                SentMessage refused = Refuse(to, Text, e.Refusal, e.Message.TrimEnd('.'));
                string rest = _connectionClosed ? " No further messages of this pipeline are sent." : string.Empty;
                string why = e.Refusal == Refusal.NotConnected
                    ? "the connection dropped and is reconnecting, and a classic line has no fate to wait for; send it again once the connection is back."
                    : e.Message;
                WriteError(ChatrmErrors.From(new ChatException(e.Refusal, $"The message to {to} was not sent: {why}{rest}", e), refused));
                PassOn(refused);
                return;
            }

            // Report what is settled already, in order, so a long pipeline streams its results.
            while (_inFlight.Count > 0 && _inFlight.Peek().Fate.IsCompleted)
            {
                Report(_inFlight.Dequeue().Fate.Result);
            }
        }

        protected override void EndProcessing()
        {
            if (Timeout == 0)
            {
                // Not waiting was asked for: what is settled is reported, the rest is on its way.
                while (_inFlight.Count > 0)
                {
                    InFlight next = _inFlight.Dequeue();
                    if (next.Fate.IsCompleted)
                    {
                        Report(next.Fate.Result);
                    }
                    else
                    {
                        PassOn(new SentMessage(_connection.UserName, next.To, next.Text, DateTime.UtcNow, SendStatus.Sent));
                    }
                }

                return;
            }

            DateTime deadline = DateTime.UtcNow + TimeSpan.FromSeconds(Timeout);
            while (_inFlight.Count > 0)
            {
                InFlight next = _inFlight.Peek();
                TimeSpan left = deadline - DateTime.UtcNow;
                if (!next.Fate.IsCompleted && (left <= TimeSpan.Zero || !WaitFor(next.Fate, left)))
                {
                    break;
                }

                Report(_inFlight.Dequeue().Fate.Result);
            }

            // What had no answer in time: its fate is unknown, which a script must hear as an error on that message.
            while (_inFlight.Count > 0)
            {
                InFlight unanswered = _inFlight.Dequeue();
                if (unanswered.Fate.IsCompleted)
                {
                    // Settled while an earlier one was waited for.
                    Report(unanswered.Fate.Result);
                    continue;
                }

                if (_connection.State == ConnectionState.Reconnecting)
                {
                    ReportWaiting(unanswered);
                    continue;
                }

                var message = new SentMessage(_connection.UserName, unanswered.To, unanswered.Text, DateTime.UtcNow, SendStatus.Sent, Refusal.NoAnswer.ToCode(),
                    detail: $"no answer from the server within {Timeout} seconds; whether it arrived is unknown");
                var error = new ChatException(Refusal.NoAnswer, $"The message to {message.To} had {message.Detail}.");
                WriteError(ChatrmErrors.From(error, message));
                PassOn(message);
            }
        }

        /// <summary>
        /// A native send held by a reconnecting connection: not lost, and not refused either. The client sends it once
        /// the connection is back; only if reconnecting gives up is it refused.
        /// </summary>
        private void ReportWaiting(InFlight waiting)
        {
            var message = new SentMessage(_connection.UserName, waiting.To, waiting.Text, DateTime.UtcNow, SendStatus.Sent, Refusal.NotConnected.ToCode(),
                detail: $"still waiting after {Timeout} seconds: the connection dropped and is reconnecting; it goes once the connection is back, unless reconnecting gives up");
            var error = new ChatException(Refusal.NotConnected, $"The message to {message.To} is {message.Detail}.");
            WriteError(ChatrmErrors.From(error, message));
            PassOn(message);
        }

        private SentMessage Refuse(string to, string text, Refusal refusal, string detail) =>
            new SentMessage(_connection.UserName, to, text, DateTime.UtcNow, SendStatus.Refused, refusal.ToCode(), detail: detail);

        private void PassOn(SentMessage message)
        {
            if (PassThru)
            {
                WriteObject(message);
            }
        }

        private void Report(SentMessage message)
        {
            if (message.Status == SendStatus.Refused)
            {
                string why = TerminalText.Neutralise(string.IsNullOrEmpty(message.Detail) ? message.Reason : message.Detail);
                var error = new ChatException(message.Refusal, $"The message to {message.To} was refused: {why} ({TerminalText.Neutralise(message.Reason)}).");
                WriteError(ChatrmErrors.From(error, message));
            }

            PassOn(message);
        }

        private sealed class InFlight
        {
            public InFlight(string to, string text, Task<SentMessage> fate)
            {
                To = to;
                Text = text;
                Fate = fate;
            }

            public string To { get; }
            public string Text { get; }
            public Task<SentMessage> Fate { get; }
        }
    }

    /// <summary>
    /// Emits messages as they arrive. What the server says about this user's own lines (a classic server's
    /// notices) comes out as non-terminating errors, in order with the messages. -Wait goes on across a reconnect
    /// and ends with an error only once the connection is closed; a gap (messages that cannot be fetched) is output
    /// and warned about always.
    /// </summary>
    [Cmdlet(VerbsCommunications.Receive, "ChatrmMessage")]
    [OutputType(typeof(ChatMessage), typeof(PresenceEvent), typeof(DeliveryReceipt), typeof(ConnectionEvent))]
    public sealed class ReceiveChatrmMessageCommand : ChatrmCmdlet
    {
        // Items taken per lock: enough to amortise it, few enough to keep the first output quick.
        private const int BatchSize = 256;

        /// <summary>The classic notice that a message waits for its offline recipient (a native sender hears the Stored status).</summary>
        internal const string StoredNoticeCode = "stored";

        [Parameter(Position = 0, ValueFromPipeline = true)]
        [ConnectionTransformation]
        [ArgumentCompleter(typeof(ConnectionCompleter))]
        public ChatrmConnection Connection { get; set; }

        /// <summary>Only this sender's messages; the others stay waiting.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(UserNameCompleter))]
        public string From { get; set; }

        /// <summary>Only messages posted to this room ('#ops'); the others, direct ones included, stay waiting.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(RoomNameCompleter))]
        public string Room { get; set; }

        /// <summary>Waits for messages instead of returning what is waiting.</summary>
        [Parameter]
        public SwitchParameter Wait { get; set; }

        /// <summary>With -Wait: seconds after which the wait ends quietly.</summary>
        [Parameter]
        [ValidateRange(0.0, 31_536_000.0)]
        public double Timeout { get; set; }

        /// <summary>Ends after this many messages.</summary>
        [Parameter]
        [ValidateRange(1, int.MaxValue)]
        public int Count { get; set; }

        /// <summary>Also emits who joined and left the server and your rooms (native protocol), in order with the messages; with -Room, that room's.</summary>
        [Parameter]
        public SwitchParameter IncludePresence { get; set; }

        /// <summary>Also emits delivery receipts: a message that was Stored for an offline user was confirmed by them.</summary>
        [Parameter]
        public SwitchParameter IncludeReceipts { get; set; }

        protected override void ProcessRecord()
        {
            ChatrmConnection connection = ResolveConnection(Connection);
            ChatClient client = connection.Client;
            string roomProblem = Room == null ? null : RoomNames.Problem(Room);
            if (roomProblem != null)
            {
                ThrowTerminatingError(ChatrmErrors.From(
                    new ChatException(Refusal.InvalidRoom, $"-Room '{TerminalText.Neutralise(Room)}' cannot be a room name: {roomProblem}. Quote it ('#ops'): unquoted, # starts a comment."), Room));
            }

            bool timed = MyInvocation.BoundParameters.ContainsKey(nameof(Timeout));
            bool wait = Wait.IsPresent || timed;
            DateTime deadline = timed ? DateTime.UtcNow + TimeSpan.FromSeconds(Timeout) : DateTime.MaxValue;
            int remaining = Count > 0 ? Count : int.MaxValue;
            int dropsSeen = client.TimesDropped, returnsSeen = client.TimesReconnected;

            while (true)
            {
                // Taken before reading the inbox, so a message arriving in between still wakes us.
                Task arrival = client.NextArrival();
                List<object> items = client.Take(Math.Min(remaining, BatchSize), From, IncludePresence, Room, IncludeReceipts);
                ReportDrops(connection);
                foreach (object item in items)
                {
                    switch (item)
                    {
                        case ChatMessage message:
                            WriteObject(message);
                            remaining--;
                            break;
                        case ServerNotice notice when notice.Code == StoredNoticeCode:
                            // A classic sender's message kept for an offline user: nothing failed, but it is not read yet.
                            WriteWarning($"Server to {connection.UserName}: {TerminalText.Neutralise(notice.Text)} ({StoredNoticeCode}).");
                            break;
                        case ServerNotice notice:
                            WriteError(ChatrmErrors.From(notice, connection));
                            break;
                        case ConnectionEvent gap when gap.Change == ConnectionChange.Gap:
                            // A loss is never silent: the object for scripts, a warning for a person whose objects go elsewhere.
                            WriteWarning($"Missed while {connection.UserName} was away: {TerminalText.Neutralise(gap.Reason)}.");
                            WriteObject(gap);
                            break;
                        default:
                            WriteObject(item);
                            break;
                    }
                }

                if (remaining == 0)
                {
                    return;
                }

                if (items.Count > 0)
                {
                    continue;
                }

                if (!wait)
                {
                    return;
                }

                // Only a closed connection ends the wait; a reconnecting one is waited through.
                if (client.State == ConnectionState.Closed)
                {
                    ThrowTerminatingError(ChatrmErrors.From(
                        new ChatException(Refusal.ConnectionClosed, $"The connection of {connection.UserName} to {connection.ComputerName}:{connection.Port} closed: {TerminalText.Neutralise(client.CloseReason)}."),
                        connection));
                }

                WarnOfReconnect(connection, ref dropsSeen, ref returnsSeen);

                TimeSpan left = timed ? deadline - DateTime.UtcNow : System.Threading.Timeout.InfiniteTimeSpan;
                if (timed && left <= TimeSpan.Zero)
                {
                    return;
                }

                if (!WaitFor(arrival, left))
                {
                    // The time limit passed, or Ctrl+C: either way, end quietly.
                    return;
                }
            }
        }

        /// <summary>
        /// Without -IncludePresence a waiting reader sees no ConnectionEvent, so a person would not know why nothing comes:
        /// a drop and a return since the last look are warned about. Counted, not read off the state, so a blip
        /// quicker than one look is warned about too (its events woke the wait, though Take passed them over).
        /// </summary>
        private void WarnOfReconnect(ChatrmConnection connection, ref int dropsSeen, ref int returnsSeen)
        {
            ChatClient client = connection.Client;
            int drops = client.TimesDropped, returns = client.TimesReconnected;
            if (!IncludePresence)
            {
                string who = $"The connection of {connection.UserName} to {connection.ComputerName}:{connection.Port}";
                if (drops != dropsSeen)
                {
                    WriteWarning($"{who} dropped; reconnecting for up to {connection.ReconnectTimeout.TotalSeconds:0.#} s. The wait goes on.");
                }

                if (returns != returnsSeen)
                {
                    WriteWarning($"{who} is back.");
                }
            }

            dropsSeen = drops;
            returnsSeen = returns;
        }

        private void ReportDrops(ChatrmConnection connection)
        {
            long dropped = connection.TakeUnreportedDrops();
            if (dropped > 0)
            {
                WriteWarning($"{dropped} message(s) for {connection.UserName} were dropped because the inbox was full (Connect-ChatrmServer -InboxSize sets its size). The oldest go first.");
            }
        }
    }

    /// <summary>
    /// Lists who is online: as a user asks a server (native protocol), or, with -Job, straight from a server
    /// this session runs.
    /// </summary>
    [Cmdlet(VerbsCommon.Get, "ChatrmUser", DefaultParameterSetName = ConnectionSet)]
    [OutputType(typeof(UserInfo))]
    public sealed class GetChatrmUserCommand : ChatrmCmdlet
    {
        private const string ConnectionSet = "Connection";
        private const string JobSet = "Job";

        [Parameter(Position = 0)]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        public string Name { get; set; } = "*";

        [Parameter(ParameterSetName = ConnectionSet, ValueFromPipeline = true)]
        [ConnectionTransformation]
        [ArgumentCompleter(typeof(ConnectionCompleter))]
        public ChatrmConnection Connection { get; set; }

        /// <summary>A server job from Start-ChatrmServer, or its name: lists its users without connecting.</summary>
        [Parameter(ParameterSetName = JobSet, Mandatory = true, ValueFromPipeline = true)]
        [ServerJobTransformation]
        [ValidateNotNull]
        public ChatrmServerJob Job { get; set; }

        /// <summary>Seconds to wait for the server's list.</summary>
        [Parameter(ParameterSetName = ConnectionSet)]
        [ValidateRange(0.1, 3600.0)]
        public double Timeout { get; set; } = 10;

        protected override void ProcessRecord()
        {
            WildcardPattern pattern = ParseWildcard(Name, nameof(Name));
            IReadOnlyList<UserInfo> users;
            if (ParameterSetName == JobSet)
            {
                users = Job.Server.ListUsers();
            }
            else
            {
                ChatrmConnection connection = ResolveConnection(Connection);
                try
                {
                    users = connection.Client.GetUsersAsync(TimeSpan.FromSeconds(Timeout), StopToken).GetAwaiter().GetResult();
                }
                catch (ChatException e)
                {
                    WriteError(ChatrmErrors.From(e, connection));
                    return;
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }

            foreach (UserInfo user in users.Where(u => pattern.IsMatch(u.Name)).OrderBy(u => u.Name, StringComparer.OrdinalIgnoreCase))
            {
                WriteObject(user);
            }
        }
    }

    /// <summary>Disconnects users from a server this session runs; each is told why.</summary>
    [Cmdlet(VerbsCommunications.Disconnect, "ChatrmUser", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(UserInfo))]
    public sealed class DisconnectChatrmUserCommand : ChatrmCmdlet
    {
        /// <summary>A server job from Start-ChatrmServer, or its name.</summary>
        [Parameter(Mandatory = true, Position = 1, ValueFromPipeline = true)]
        [ServerJobTransformation]
        [ValidateNotNull]
        public ChatrmServerJob Job { get; set; }

        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string[] Name { get; set; }

        /// <summary>What the user is told.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string Reason { get; set; } = "disconnected by the server's operator";

        [Parameter]
        public SwitchParameter PassThru { get; set; }

        protected override void ProcessRecord()
        {
            foreach (string name in Name)
            {
                UserInfo user = Job.Server.ListUsers().FirstOrDefault(u => UserNames.AreSame(u.Name, name));
                if (user == null || !ShouldProcess($"{user?.Name ?? name} on {Job.Location}", "Disconnect"))
                {
                    if (user == null)
                    {
                        WriteError(ChatrmErrors.Make(ChatrmErrors.UserNotFound, ErrorCategory.ObjectNotFound, $"No user named '{name}' is connected to {Job.Location}.", name));
                    }

                    continue;
                }

                if (!Job.Server.DisconnectUser(user.Name, Reason.Replace('_', '-')))
                {
                    WriteError(ChatrmErrors.Make(ChatrmErrors.UserNotFound, ErrorCategory.ObjectNotFound, $"'{name}' left {Job.Location} before being disconnected.", name));
                }
                else if (PassThru)
                {
                    WriteObject(user);
                }
            }
        }
    }
}
