using System;
using System.Collections.Generic;
using System.Management.Automation;
using Chatrm.Engine;

namespace Chatrm.PowerShell
{
    /// <summary>
    /// Reads a conversation's history, ascending by Seq: your direct conversation with a user, or a room you are in
    /// (native protocol). Another's conversation, or a room you are not in, is a ChatrmAccessDenied error. With -Job,
    /// any conversation, straight from a server this session runs: the operator's view.
    /// </summary>
    [Cmdlet(VerbsCommon.Get, "ChatrmHistory", DefaultParameterSetName = WithSet)]
    [OutputType(typeof(ChatMessage))]
    public sealed class GetChatrmHistoryCommand : ChatrmRoomCmdlet
    {
        /// <summary>The type name the history view is selected by: history shows SentAt and Seq, not when it was asked.</summary>
        internal const string HistoryTypeName = "Chatrm.Engine.ChatMessage#History";

        private const string WithSet = "With";
        private const string RoomSet = "Room";
        private const string JobWithSet = "JobWith";
        private const string JobRoomSet = "JobRoom";

        /// <summary>
        /// The other person of a direct conversation (a name starting with '#' is a room, as with -Room); with -Job, the
        /// conversation's two people.
        /// </summary>
        [Parameter(ParameterSetName = WithSet, Mandatory = true, Position = 0)]
        [Parameter(ParameterSetName = JobWithSet, Mandatory = true, Position = 0)]
        [ValidateNotNullOrEmpty]
        [ValidateCount(1, 2)]
        [ArgumentCompleter(typeof(UserNameCompleter))]
        public string[] With { get; set; }

        /// <summary>A room you are in (with -Job, any room): quote it ('#ops'), since # starts a comment.</summary>
        [Parameter(ParameterSetName = RoomSet, Mandatory = true)]
        [Parameter(ParameterSetName = JobRoomSet, Mandatory = true)]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(RoomNameCompleter))]
        public string Room { get; set; }

        /// <summary>A server job from Start-ChatrmServer, or its name: its history, read without connecting or any check of who asks.</summary>
        [Parameter(ParameterSetName = JobWithSet, Mandatory = true, ValueFromPipeline = true)]
        [Parameter(ParameterSetName = JobRoomSet, Mandatory = true, ValueFromPipeline = true)]
        [ServerJobTransformation]
        [ValidateNotNull]
        public ChatrmServerJob Job { get; set; }

        /// <summary>How many messages at most: the last ones within -Before and -After.</summary>
        [Parameter]
        [ValidateRange(1, 1000)]
        public int Last { get; set; } = 50;

        /// <summary>Only messages with a Seq below this one: page back with the first Seq of the answer before.</summary>
        [Parameter]
        [ValidateRange(1, long.MaxValue)]
        public long Before { get; set; }

        /// <summary>Only messages with a Seq above this one.</summary>
        [Parameter]
        [ValidateRange(1, long.MaxValue)]
        public long After { get; set; }

        [Parameter(ParameterSetName = WithSet, ValueFromPipeline = true)]
        [Parameter(ParameterSetName = RoomSet, ValueFromPipeline = true)]
        [ConnectionTransformation]
        [ArgumentCompleter(typeof(ConnectionCompleter))]
        public ChatrmConnection Connection { get; set; }

        /// <summary>Seconds to wait for the server's answer.</summary>
        [Parameter(ParameterSetName = WithSet)]
        [Parameter(ParameterSetName = RoomSet)]
        [ValidateRange(0.1, 3600.0)]
        public double Timeout { get; set; } = 10;

        protected override void ProcessRecord()
        {
            if (Job != null)
            {
                ReadFromServer();
                return;
            }

            if (With != null && With.Length != 1)
            {
                ThrowTerminatingError(ChatrmErrors.Make(ChatrmErrors.InvalidHistoryQuestion, ErrorCategory.InvalidArgument,
                    "-With names the one other person of your conversation; two names are for -Job, the server's side.", With));
            }

            string conversation = ParameterSetName == RoomSet ? Room : With[0];
            if ((ParameterSetName == RoomSet || RoomNames.IsRoom(conversation)) && !CheckRoomName(conversation))
            {
                return;
            }

            ChatrmConnection connection = ResolveConnection(Connection);
            IReadOnlyList<ChatMessage> messages;
            try
            {
                messages = connection.Client.GetHistoryAsync(conversation, Last, Before, After, TimeSpan.FromSeconds(Timeout), StopToken).GetAwaiter().GetResult();
            }
            catch (ChatException e)
            {
                string words = TerminalText.Neutralise(e.Message).TrimEnd('.');
                WriteError(ChatrmErrors.From(new ChatException(e.Refusal, $"{connection.UserName} cannot read the history of {TerminalText.Neutralise(conversation)}: {words}.", e), conversation));
                return;
            }
            catch (OperationCanceledException)
            {
                return;
            }

            WriteHistory(this, messages);
        }

        /// <summary>-Job: the server's own history of a room or of two users' conversation, with no check of who asks.</summary>
        private void ReadFromServer()
        {
            string first, second = null;
            if (ParameterSetName == JobRoomSet)
            {
                first = Room;
                if (!CheckRoomName(first))
                {
                    return;
                }
            }
            else if (With.Length == 2)
            {
                first = With[0];
                second = With[1];
                foreach (string name in With)
                {
                    string problem = UserNames.Problem(name);
                    if (problem != null)
                    {
                        WriteError(ChatrmErrors.From(new ChatException(Refusal.InvalidName, $"'{TerminalText.Neutralise(name)}' cannot be a user name: {problem}."), name));
                        return;
                    }
                }
            }
            else
            {
                ThrowTerminatingError(ChatrmErrors.Make(ChatrmErrors.InvalidHistoryQuestion, ErrorCategory.InvalidArgument,
                    "With -Job, -With names both people of a direct conversation (-With alice, bob), or -Room names a room.", With));
                return;
            }

            WriteHistory(this, Job.Server.ReadHistory(first, second, Last, Before, After));
        }

        /// <summary>Writes messages as history, so they show in the history view.</summary>
        internal static void WriteHistory(Cmdlet cmdlet, IEnumerable<ChatMessage> messages)
        {
            foreach (ChatMessage message in messages)
            {
                var shown = new PSObject(message);
                shown.TypeNames.Insert(0, HistoryTypeName);
                cmdlet.WriteObject(shown);
            }
        }
    }
}
