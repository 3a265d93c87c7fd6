using System;
using System.Collections.Generic;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using Chatrm.Engine;

namespace Chatrm.PowerShell
{
    /// <summary>Sends text to a user. -Text binds from the pipeline, one message per input.</summary>
    [Cmdlet(VerbsCommunications.Send, "ChatrmMessage")]
    [OutputType(typeof(SentMessage))]
    public sealed class SendChatrmMessageCommand : ChatrmCmdlet
    {
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string To { get; set; }

        [Parameter(Mandatory = true, Position = 1, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [AllowEmptyString]
        public string Text { get; set; }

        [Parameter]
        [ConnectionTransformation]
        public ChatrmConnection Connection { get; set; }

        [Parameter]
        public SwitchParameter PassThru { get; set; }

        private ChatrmConnection _connection;

        protected override void BeginProcessing() => _connection = ResolveConnection(Connection);

        protected override void ProcessRecord()
        {
            DateTime sentAt = DateTime.UtcNow;
            try
            {
                _connection.Client.Send(To, Text);
            }
            catch (ChatException e)
            {
                WriteError(ChatrmErrors.From(e, Text));
                return;
            }

            if (PassThru)
            {
                WriteObject(new SentMessage(_connection.UserName, To, Text, sentAt, SendStatus.Sent));
            }
        }
    }

    /// <summary>
    /// Emits messages as they arrive. Server notices about this user's own lines (an unknown recipient, a
    /// line too long, ...) come out as non-terminating errors, in order with the messages.
    /// </summary>
    [Cmdlet(VerbsCommunications.Receive, "ChatrmMessage")]
    [OutputType(typeof(ChatMessage))]
    public sealed class ReceiveChatrmMessageCommand : ChatrmCmdlet
    {
        // Items taken per lock: enough to amortise it, few enough to keep the first output quick.
        private const int BatchSize = 256;

        [Parameter(Position = 0, ValueFromPipeline = true)]
        [ConnectionTransformation]
        public ChatrmConnection Connection { get; set; }

        /// <summary>Only this sender's messages; the others stay waiting.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string From { get; set; }

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

        protected override void ProcessRecord()
        {
            ChatrmConnection connection = ResolveConnection(Connection);
            ChatClient client = connection.Client;
            bool wait = Wait.IsPresent || MyInvocation.BoundParameters.ContainsKey(nameof(Timeout));
            TimeSpan timeLimit = MyInvocation.BoundParameters.ContainsKey(nameof(Timeout))
                ? TimeSpan.FromSeconds(Timeout)
                : System.Threading.Timeout.InfiniteTimeSpan;
            DateTime deadline = timeLimit == System.Threading.Timeout.InfiniteTimeSpan ? DateTime.MaxValue : DateTime.UtcNow + timeLimit;
            int remaining = Count > 0 ? Count : int.MaxValue;

            while (true)
            {
                // Taken before reading the inbox, so a message arriving in between still wakes us.
                Task arrival = client.NextArrival();
                List<object> items = client.Take(Math.Min(remaining, BatchSize), From);
                ReportDrops(connection);
                foreach (object item in items)
                {
                    if (item is ChatMessage message)
                    {
                        WriteObject(message);
                        remaining--;
                    }
                    else if (item is ServerNotice notice)
                    {
                        WriteError(ChatrmErrors.From(notice, connection));
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

                if (client.State == ConnectionState.Closed)
                {
                    ThrowTerminatingError(ChatrmErrors.From(
                        new ChatException(Refusal.ConnectionClosed, $"The connection of {connection.UserName} to {connection.ComputerName}:{connection.Port} closed: {client.CloseReason}."),
                        connection));
                }

                TimeSpan left = deadline == DateTime.MaxValue ? System.Threading.Timeout.InfiniteTimeSpan : deadline - DateTime.UtcNow;
                if (left != System.Threading.Timeout.InfiniteTimeSpan && left <= TimeSpan.Zero)
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

        private void ReportDrops(ChatrmConnection connection)
        {
            long dropped = connection.TakeUnreportedDrops();
            if (dropped > 0)
            {
                WriteWarning($"{dropped} message(s) for {connection.UserName} were dropped because the inbox was full (Connect-ChatrmServer -InboxSize sets its size). The oldest go first.");
            }
        }
    }
}
