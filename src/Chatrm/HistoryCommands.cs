using System;
using System.Collections.Generic;
using System.Management.Automation;
using Chatrm.Engine;

namespace Chatrm.PowerShell
{
    /// <summary>
    /// Reads a conversation's history, ascending by Seq: your direct conversation with a user, or a room you are in
    /// (native protocol). Another's conversation, or a room you are not in, is a ChatrmAccessDenied error.
    /// </summary>
    [Cmdlet(VerbsCommon.Get, "ChatrmHistory", DefaultParameterSetName = WithSet)]
    [OutputType(typeof(ChatMessage))]
    public sealed class GetChatrmHistoryCommand : ChatrmRoomCmdlet
    {
        /// <summary>The type name the history view is selected by: history shows SentAt and Seq, not when it was asked.</summary>
        internal const string HistoryTypeName = "Chatrm.Engine.ChatMessage#History";

        private const string WithSet = "With";
        private const string RoomSet = "Room";

        /// <summary>The other person of a direct conversation (a name starting with '#' is a room, as with -Room).</summary>
        [Parameter(ParameterSetName = WithSet, Mandatory = true, Position = 0)]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(UserNameCompleter))]
        public string With { get; set; }

        /// <summary>A room you are in: quote it ('#ops'), since # starts a comment.</summary>
        [Parameter(ParameterSetName = RoomSet, Mandatory = true)]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(RoomNameCompleter))]
        public string Room { get; set; }

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

        [Parameter(ValueFromPipeline = true)]
        [ConnectionTransformation]
        [ArgumentCompleter(typeof(ConnectionCompleter))]
        public ChatrmConnection Connection { get; set; }

        /// <summary>Seconds to wait for the server's answer.</summary>
        [Parameter]
        [ValidateRange(0.1, 3600.0)]
        public double Timeout { get; set; } = 10;

        protected override void ProcessRecord()
        {
            string conversation = ParameterSetName == RoomSet ? Room : With;
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
