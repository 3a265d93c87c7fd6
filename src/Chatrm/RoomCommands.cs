using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using Chatrm.Engine;

namespace Chatrm.PowerShell
{
    /// <summary>What the room cmdlets share: checking a name, asking the server, and saying a refusal as an error.</summary>
    public abstract class ChatrmRoomCmdlet : ChatrmCmdlet
    {
        /// <summary>A room's name as an error when it cannot be one; true when it can.</summary>
        internal bool CheckRoomName(string room)
        {
            string problem = RoomNames.Problem(room);
            if (problem == null)
            {
                return true;
            }

            // A bare #ops on a command line is a comment to PowerShell: say how to write it.
            string hint = RoomNames.IsRoom(room) ? string.Empty : $" Quote it, as '#{room}': unquoted, PowerShell reads # as the start of a comment.";
            WriteError(ChatrmErrors.From(new ChatException(Refusal.InvalidRoom, $"'{TerminalText.Neutralise(room)}' cannot be a room name: {problem}.{hint}"), room));
            return false;
        }

        /// <summary>
        /// Runs one question to the server on the pipeline thread: its answer, or null after writing its refusal as a
        /// non-terminating error on <paramref name="target"/> (or nothing, after Ctrl+C).
        /// </summary>
        internal T Ask<T>(Func<System.Threading.Tasks.Task<T>> question, object target)
            where T : class
        {
            try
            {
                return question().GetAwaiter().GetResult();
            }
            catch (ChatException e)
            {
                WriteError(ChatrmErrors.From(e, target));
                return null;
            }
            catch (OperationCanceledException)
            {
                return null;
            }
        }
    }

    /// <summary>
    /// Joins rooms (native protocol), creating a room nobody is in; joining a room you are in answers the same.
    /// Returns each room as you now see it, with its members.
    /// </summary>
    [Cmdlet(VerbsCommon.Join, "ChatrmRoom")]
    [OutputType(typeof(RoomInfo))]
    public sealed class JoinChatrmRoomCommand : ChatrmRoomCmdlet
    {
        private ChatrmConnection _connection;

        /// <summary>Room names, '#' included: quote them ('#ops'), since # starts a comment. Name binds a piped room.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [Alias("Name")]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(RoomNameCompleter))]
        public string[] Room { get; set; }

        [Parameter]
        [ConnectionTransformation]
        [ArgumentCompleter(typeof(ConnectionCompleter))]
        public ChatrmConnection Connection { get; set; }

        /// <summary>Seconds to wait for the server's answer to each join.</summary>
        [Parameter]
        [ValidateRange(0.1, 3600.0)]
        public double Timeout { get; set; } = 10;

        protected override void BeginProcessing() => _connection = ResolveConnection(Connection);

        protected override void ProcessRecord()
        {
            foreach (string room in Room)
            {
                if (StopToken.IsCancellationRequested || !CheckRoomName(room))
                {
                    continue;
                }

                RoomInfo joined = Ask(() => _connection.Client.JoinRoomAsync(room, TimeSpan.FromSeconds(Timeout), StopToken), room);
                if (joined != null)
                {
                    WriteObject(joined);
                }
            }
        }
    }

    /// <summary>Leaves rooms (native protocol); a room ends with its last member. -PassThru returns each room as left.</summary>
    [Cmdlet(VerbsCommon.Exit, "ChatrmRoom")]
    [OutputType(typeof(RoomInfo))]
    public sealed class ExitChatrmRoomCommand : ChatrmRoomCmdlet
    {
        private ChatrmConnection _connection;

        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [Alias("Name")]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(RoomNameCompleter))]
        public string[] Room { get; set; }

        [Parameter]
        [ConnectionTransformation]
        [ArgumentCompleter(typeof(ConnectionCompleter))]
        public ChatrmConnection Connection { get; set; }

        /// <summary>Outputs each room left, with the members it has left.</summary>
        [Parameter]
        public SwitchParameter PassThru { get; set; }

        /// <summary>Seconds to wait for the server's answer to each leave.</summary>
        [Parameter]
        [ValidateRange(0.1, 3600.0)]
        public double Timeout { get; set; } = 10;

        protected override void BeginProcessing() => _connection = ResolveConnection(Connection);

        protected override void ProcessRecord()
        {
            foreach (string room in Room)
            {
                if (StopToken.IsCancellationRequested || !CheckRoomName(room))
                {
                    continue;
                }

                RoomInfo left = Ask(() => _connection.Client.LeaveRoomAsync(room, TimeSpan.FromSeconds(Timeout), StopToken), room);
                if (left != null && PassThru)
                {
                    WriteObject(left);
                }
            }
        }
    }

    /// <summary>
    /// Lists the rooms a server has: as a user asks it (native protocol: member counts and whether you are in each;
    /// one room named without wildcards comes with its members), or, with -Job, straight from a server this session
    /// runs, with every room's members.
    /// </summary>
    [Cmdlet(VerbsCommon.Get, "ChatrmRoom", DefaultParameterSetName = ConnectionSet)]
    [OutputType(typeof(RoomInfo))]
    public sealed class GetChatrmRoomCommand : ChatrmRoomCmdlet
    {
        private const string ConnectionSet = "Connection";
        private const string JobSet = "Job";

        /// <summary>
        /// A room's name, or a wildcard pattern ('#ops*'); all rooms when left out. Not from the pipeline: a piped
        /// server job's Name would bind it.
        /// </summary>
        [Parameter(Position = 0)]
        [Alias("Name")]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(RoomNameCompleter))]
        public string Room { get; set; }

        [Parameter(ParameterSetName = ConnectionSet, ValueFromPipeline = true)]
        [ConnectionTransformation]
        [ArgumentCompleter(typeof(ConnectionCompleter))]
        public ChatrmConnection Connection { get; set; }

        /// <summary>A server job from Start-ChatrmServer, or its name: its rooms, with members, without connecting.</summary>
        [Parameter(ParameterSetName = JobSet, Mandatory = true, ValueFromPipeline = true)]
        [ServerJobTransformation]
        [ValidateNotNull]
        public ChatrmServerJob Job { get; set; }

        /// <summary>Seconds to wait for the server's answer.</summary>
        [Parameter(ParameterSetName = ConnectionSet)]
        [ValidateRange(0.1, 3600.0)]
        public double Timeout { get; set; } = 10;

        protected override void ProcessRecord()
        {
            string pattern = Room ?? "*";
            bool oneRoom = !WildcardPattern.ContainsWildcardCharacters(pattern);
            if (oneRoom && !CheckRoomName(pattern))
            {
                return;
            }

            WildcardPattern match = ParseWildcard(pattern, nameof(Room));
            IReadOnlyList<RoomInfo> rooms;
            string where;
            if (ParameterSetName == JobSet)
            {
                rooms = Job.Server.ListRooms();
                where = Job.Location;
            }
            else
            {
                ChatrmConnection connection = ResolveConnection(Connection);
                where = $"{connection.ComputerName}:{connection.Port}";
                TimeSpan timeout = TimeSpan.FromSeconds(Timeout);
                if (oneRoom)
                {
                    // One room by name: asked for alone, so its members come too.
                    RoomInfo room = Ask(() => connection.Client.GetRoomAsync(pattern, timeout, StopToken), connection);
                    rooms = room == null ? null : room.MemberCount > 0 ? new[] { room } : Array.Empty<RoomInfo>();
                }
                else
                {
                    rooms = Ask(() => connection.Client.GetRoomsAsync(timeout, StopToken), connection);
                }

                if (rooms == null)
                {
                    return;
                }
            }

            List<RoomInfo> found = rooms.Where(r => match.IsMatch(r.Name)).OrderBy(r => r.Name, RoomNames.Comparer).ToList();
            if (oneRoom && found.Count == 0)
            {
                WriteError(ChatrmErrors.Make(ChatrmErrors.RoomNotFound, ErrorCategory.ObjectNotFound,
                    $"{where} has no room named '{pattern}': nobody is in it. Join-ChatrmRoom creates it.", pattern));
                return;
            }

            foreach (RoomInfo room in found)
            {
                WriteObject(room);
            }
        }
    }
}
