using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Host;
using System.Threading;
using System.Threading.Tasks;
using Chatrm.Engine;

namespace Chatrm.PowerShell
{
    /// <summary>
    /// Chats as a person, as the original client did, and better: typed lines go to the current peer,
    /// incoming lines show as [bob>>] text without mangling the line being typed, /to switches peer. In rooms
    /// (/join, /part, /rooms, /who #room, or -With '#ops'), room lines show as [#ops alice>>] text.
    /// Writes to the host only, so it declares no output type.
    /// </summary>
    [Cmdlet(VerbsCommon.Enter, "ChatrmChat", DefaultParameterSetName = ConnectSet)]
    public sealed class EnterChatrmChatCommand : ChatrmCmdlet
    {
        private const string ConnectSet = "Connect";
        private const string CredentialSet = "Credential";
        private const string ConnectionSet = "Connection";

        // How often the terminal is checked for keys while nothing arrives: quick enough to feel instant.
        private static readonly TimeSpan KeyPollInterval = TimeSpan.FromMilliseconds(15);

        private readonly LineEditor _typed = new LineEditor();
        private readonly List<Task<SentMessage>> _unsettled = new List<Task<SentMessage>>();
        private ChatrmConnection _connection;
        private string _peer;

        // The ids of history lines shown: a stored message shown as history is not shown again when it arrives.
        private readonly HashSet<string> _shownIds = new HashSet<string>(StringComparer.Ordinal);

        // The last user chatted with directly: where /part of the room being chatted in goes back to.
        private string _lastUser;

        // A room the chat opened on while the connection was reconnecting: joined when it is back.
        private string _roomToJoinOnReturn;

        private bool _lineEditing;
        private bool _useAnsi;

        // The terminal's width when the input line was last drawn: a resize redraws it.
        private int _drawnWidth;

        [Parameter(ParameterSetName = ConnectSet, Mandatory = true, Position = 0, HelpMessage = "Your server's IP address or name")]
        [Parameter(ParameterSetName = CredentialSet, Mandatory = true, Position = 0, HelpMessage = "Your server's IP address or name")]
        [Alias("Server", "cn")]
        [ValidateNotNullOrEmpty]
        public string ComputerName { get; set; }

        [Parameter(ParameterSetName = ConnectSet, Mandatory = true, Position = 1, HelpMessage = "Your server's port number")]
        [Parameter(ParameterSetName = CredentialSet, Mandatory = true, Position = 1, HelpMessage = "Your server's port number")]
        [ValidateRange(1, 65535)]
        public int Port { get; set; }

        [Parameter(ParameterSetName = ConnectSet, Mandatory = true, Position = 2, HelpMessage = "Your user name")]
        [ValidateNotNullOrEmpty]
        public string UserName { get; set; }

        /// <summary>Your name and password, for a server that asks for passwords (native protocol).</summary>
        [Parameter(ParameterSetName = CredentialSet, Mandatory = true)]
        [ValidateNotNull]
        [Credential]
        public PSCredential Credential { get; set; }

        [Parameter(ParameterSetName = ConnectSet)]
        [Parameter(ParameterSetName = CredentialSet)]
        public ChatProtocol Protocol { get; set; } = ChatProtocol.Chatrm;

        /// <summary>Speak TLS, as Connect-ChatrmServer -UseTls does.</summary>
        [Parameter(ParameterSetName = ConnectSet)]
        [Parameter(ParameterSetName = CredentialSet)]
        public SwitchParameter UseTls { get; set; }

        /// <summary>With -UseTls: accept exactly the certificate with this thumbprint.</summary>
        [Parameter(ParameterSetName = ConnectSet)]
        [Parameter(ParameterSetName = CredentialSet)]
        [ValidateNotNullOrEmpty]
        public string CertificateThumbprint { get; set; }

        /// <summary>With -UseTls: accept any certificate.</summary>
        [Parameter(ParameterSetName = ConnectSet)]
        [Parameter(ParameterSetName = CredentialSet)]
        public SwitchParameter SkipCertificateCheck { get; set; }

        /// <summary>A connection to chat through; it stays open afterwards.</summary>
        /// <summary>A connection the chat makes itself: closes at its first drop instead of reconnecting.</summary>
        [Parameter(ParameterSetName = ConnectSet)]
        [Parameter(ParameterSetName = CredentialSet)]
        public SwitchParameter NoReconnect { get; set; }

        /// <summary>A connection the chat makes itself: seconds reconnecting goes on after a drop before it gives up.</summary>
        [Parameter(ParameterSetName = ConnectSet)]
        [Parameter(ParameterSetName = CredentialSet)]
        [ValidateRange(1.0, 86400.0)]
        public double ReconnectTimeout { get; set; } = ConnectionOptions.DefaultReconnectSeconds;

        [Parameter(ParameterSetName = ConnectionSet, Mandatory = true)]
        [ConnectionTransformation]
        [ArgumentCompleter(typeof(ConnectionCompleter))]
        public ChatrmConnection Connection { get; set; }

        /// <summary>The user to chat with, or a room ('#ops', joined first); /to changes it.</summary>
        [Parameter(Mandatory = true, Position = 3, HelpMessage = "The username of the person you would like to chat with, or a room such as '#ops'")]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(UserNameCompleter))]
        public string With { get; set; }

        protected override void ProcessRecord()
        {
            // A name no server accepts would make every line fail: say so before connecting.
            string withProblem = RoomNames.IsRoom(With) ? RoomNames.Problem(With) : UserNames.Problem(With);
            if (withProblem != null)
            {
                ThrowTerminatingError(ChatrmErrors.From(new ChatException(Refusal.InvalidName, $"Cannot chat with '{With}': {withProblem}."), With));
            }

            ErrorRecord conflict = ConnectionOptions.ReconnectConflict(NoReconnect, MyInvocation.BoundParameters.ContainsKey(nameof(ReconnectTimeout)), ReconnectTimeout);
            if (conflict != null)
            {
                ThrowTerminatingError(conflict);
            }

            bool ownConnection = Connection == null;
            _connection = Connection ?? Connect();
            if (_connection == null)
            {
                return;
            }

            // One of ours that closed at once is said in the chat, below, and still cleaned up; a given one is an error.
            if (!ownConnection && _connection.State == ConnectionState.Closed)
            {
                ThrowTerminatingError(ChatrmErrors.From(
                    new ChatException(Refusal.ConnectionClosed, $"Connection {_connection.Id} ({_connection.UserName}) is closed: {_connection.CloseReason}. Connect again with Connect-ChatrmServer."),
                    _connection));
            }

            _peer = With;
            _lastUser = RoomNames.IsRoom(With) ? null : With;
            _lineEditing = !Console.IsInputRedirected && CanReadKeys();
            _useAnsi = _lineEditing && Host.UI.SupportsVirtualTerminal;
            try
            {
                Announce($"Chatting as {_connection.UserName} {(RoomNames.IsRoom(_peer) ? "in" : "with")} {_peer} on {_connection.ComputerName}:{_connection.Port}. /help lists commands, /quit leaves.");
                if (RoomNames.IsRoom(_peer) && _connection.State == ConnectionState.Open)
                {
                    JoinRoom(_peer);
                }
                else if (RoomNames.IsRoom(_peer) && _connection.State == ConnectionState.Reconnecting)
                {
                    // Not in the room yet, so the reconnect will not join it: the chat does, once it is back.
                    _roomToJoinOnReturn = _peer;
                }
                else
                {
                    ShowRecent(_peer);
                }

                if (_lineEditing)
                {
                    RunWithLineEditing();
                }
                else
                {
                    RunWithLines();
                }
            }
            finally
            {
                if (ownConnection)
                {
                    _connection.Client.CloseAsync().GetAwaiter().GetResult();
                    ConnectionTable.Remove(_connection);
                }
            }
        }

        private ChatrmConnection Connect()
        {
            var options = new ClientOptions();
            ConnectionOptions.ApplyReconnect(options, !NoReconnect, ReconnectTimeout);
            string userName = ConnectionOptions.ApplyCredential(options, UserName, Credential);
            options.Tls = ConnectionOptions.Tls(UseTls, CertificateThumbprint, SkipCertificateCheck);
            return ConnectUser(ComputerName, Port, userName, Protocol, options);
        }

        /// <summary>A terminal: read keys ourselves, so an incoming line can be shown above the line being typed.</summary>
        private void RunWithLineEditing()
        {
            DrawInputLine();
            while (!StopToken.IsCancellationRequested)
            {
                Task arrival = _connection.Client.NextArrival();
                if (!ShowIncoming())
                {
                    return;
                }

                if (TerminalWidth() != _drawnWidth)
                {
                    // A resized terminal rewraps the line: erase it as it now wraps, and draw it again.
                    ClearInputLine();
                    DrawInputLine();
                }

                while (Console.KeyAvailable)
                {
                    if (!OnKey(Console.ReadKey(intercept: true)))
                    {
                        return;
                    }
                }

                WaitFor(arrival, KeyPollInterval);
            }
        }

        /// <summary>Redirected input: read whole lines until the input ends, showing what arrives meanwhile.</summary>
        private void RunWithLines()
        {
            var input = new RedirectedLines();
            try
            {
                while (!StopToken.IsCancellationRequested)
                {
                    Task arrival = _connection.Client.NextArrival();
                    if (!ShowIncoming())
                    {
                        return;
                    }

                    if (input.Next.IsCompleted)
                    {
                        string line = input.Take();
                        if (line == null || !OnLine(line))
                        {
                            // End of input or /quit: give what was sent a moment to be settled, then leave.
                            SettleSends(TimeSpan.FromSeconds(10));
                            ShowIncoming();
                            return;
                        }

                        continue;
                    }

                    try
                    {
                        Task.WaitAny(new[] { arrival, input.Next }, Timeout.Infinite, StopToken);
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }
                }
            }
            finally
            {
                // Left before the input ended (the server closed the connection, /quit, Ctrl+C): the line being read is
                // not the chat's, so the script's next read of standard input gets it.
                input.HandBack();
            }
        }

        private bool OnKey(ConsoleKeyInfo key)
        {
            switch (key.Key)
            {
                case ConsoleKey.Enter:
                    string line = _typed.Take();
                    Host.UI.WriteLine();
                    bool goOn = OnLine(line);
                    if (goOn)
                    {
                        DrawInputLine();
                    }

                    return goOn;
                case ConsoleKey.Backspace:
                    // A grapheme cluster may be two columns wide, or the line may wrap: draw it again whole.
                    ClearInputLine();
                    _typed.Backspace();
                    DrawInputLine();
                    return true;
                case ConsoleKey.Escape:
                    ClearInputLine();
                    _typed.Clear();
                    DrawInputLine();
                    return true;
                default:
                    string echo = _typed.Type(key.KeyChar);
                    if (echo.Length > 0)
                    {
                        Host.UI.Write(echo);
                    }

                    return true;
            }
        }

        /// <summary>Acts on one typed line; false to leave the chat.</summary>
        private bool OnLine(string line)
        {
            string trimmed = line.Trim();
            if (trimmed.StartsWith("/", StringComparison.Ordinal) && !trimmed.StartsWith("//", StringComparison.Ordinal))
            {
                return OnCommand(trimmed);
            }

            if (trimmed.Length == 0)
            {
                return true;
            }

            // "//text" sends "/text".
            string text = trimmed.StartsWith("//", StringComparison.Ordinal) ? line.TrimStart().Substring(1) : line;
            try
            {
                _unsettled.Add(_connection.Client.SendAsync(_peer, text));
            }
            catch (ChatException e)
            {
                ShowProblem(TerminalText.Neutralise(e.Message));
                return _connection.State != ConnectionState.Closed;
            }

            return true;
        }

        private bool OnCommand(string command)
        {
            string[] words = command.Split(new[] { ' ', '\t' }, 2, StringSplitOptions.RemoveEmptyEntries);
            string argument = words.Length > 1 ? words[1].Trim() : null;
            switch (words[0].ToLowerInvariant())
            {
                case "/quit":
                case "/exit":
                    return false;
                case "/to":
                    string problem = argument == null ? "say who: /to NAME or /to #ROOM"
                        : RoomNames.IsRoom(argument) ? RoomNames.Problem(argument) : UserNames.Problem(argument);
                    if (problem != null)
                    {
                        ShowProblem(problem);
                    }
                    else if (RoomNames.IsRoom(argument))
                    {
                        // Chatting in a room means being in it: join (joining a room you are in answers the same).
                        JoinRoom(argument);
                    }
                    else
                    {
                        _peer = _lastUser = argument;
                        Announce($"Now chatting with {_peer}.");
                        ShowRecent(_peer);
                    }

                    return true;
                case "/join":
                    string joinProblem = argument == null ? "say which room: /join #ROOM" : RoomNames.Problem(argument);
                    if (joinProblem != null)
                    {
                        ShowProblem(joinProblem);
                    }
                    else
                    {
                        JoinRoom(argument);
                    }

                    return true;
                case "/part":
                case "/leave":
                    PartRoom(argument ?? (RoomNames.IsRoom(_peer) ? _peer : null));
                    return true;
                case "/rooms":
                    ShowRooms();
                    return true;
                case "/who":
                    if (argument != null)
                    {
                        ShowRoom(argument);
                    }
                    else
                    {
                        ShowWho();
                    }

                    return true;
                case "/help":
                    Announce("Type a line and press Enter to send it to " + _peer + ".");
                    Announce("/to NAME     chat with NAME instead (/to #ROOM: chat in a room, joining it)");
                    Announce("/join #ROOM  join a room and chat in it");
                    Announce("/part [#ROOM] leave a room (the one you chat in, when not named)");
                    Announce("/rooms       the rooms the server has");
                    Announce("/who         who is online; /who #ROOM: who is in a room");
                    Announce("/quit        leave (Ctrl+C too)");
                    Announce("//text       send text that starts with /");
                    return true;
                default:
                    ShowProblem($"{words[0]} is not a command; /help lists them.");
                    return true;
            }
        }

        private static readonly TimeSpan RoomAskTimeout = TimeSpan.FromSeconds(10);

        /// <summary>Joins a room and chats in it. Over classic, the first line sent to a room joins it.</summary>
        private void JoinRoom(string room)
        {
            if (_connection.Protocol == ChatProtocol.Classic)
            {
                _peer = room;
                Announce($"Now chatting in {room}; over the classic protocol the first line you send joins it.");
                return;
            }

            RoomInfo joined = AskRoom(() => _connection.Client.JoinRoomAsync(room, RoomAskTimeout, StopToken));
            if (joined != null)
            {
                _peer = joined.Name;
                Announce($"Joined {TerminalText.Neutralise(joined.Name)}: {ChatLines.Members(joined)}. Now chatting in {TerminalText.Neutralise(joined.Name)}.");
                ShowRecent(joined.Name);
            }
        }

        private void PartRoom(string room)
        {
            string problem = room == null ? "say which room: /part #ROOM" : RoomNames.Problem(room);
            if (problem != null)
            {
                ShowProblem(problem);
                return;
            }

            if (_connection.Protocol == ChatProtocol.Classic)
            {
                // The original server's way: the text /part sent to the room.
                try
                {
                    _connection.Client.Send(room, "/part");
                }
                catch (ChatException e)
                {
                    ShowProblem(e.Message);
                    return;
                }
            }
            else if (AskRoom(() => _connection.Client.LeaveRoomAsync(room, RoomAskTimeout, StopToken)) == null)
            {
                return;
            }

            bool wasPeer = RoomNames.AreSame(room, _peer);
            if (wasPeer && _lastUser != null)
            {
                _peer = _lastUser;
                Announce($"Left {room}. Now chatting with {_peer}.");
            }
            else
            {
                Announce(wasPeer ? $"Left {room}; /to NAME or /join #ROOM to chat on." : $"Left {room}.");
            }
        }

        private void ShowRooms()
        {
            IReadOnlyList<RoomInfo> rooms = AskRoom(() => _connection.Client.GetRoomsAsync(RoomAskTimeout, StopToken));
            if (rooms != null)
            {
                Announce(rooms.Count == 0 ? "The server has no rooms; /join #ROOM makes one." : "Rooms: " + string.Join(", ", rooms
                    .OrderBy(r => r.Name, RoomNames.Comparer)
                    .Select(r => $"{TerminalText.Neutralise(r.Name)} ({r.MemberCount}{(r.IsMember ? ", joined" : string.Empty)})")));
            }
        }

        private void ShowRoom(string room)
        {
            string problem = RoomNames.Problem(room);
            if (problem != null)
            {
                ShowProblem(problem);
                return;
            }

            RoomInfo info = AskRoom(() => _connection.Client.GetRoomAsync(room, RoomAskTimeout, StopToken));
            if (info != null)
            {
                Announce(info.MemberCount == 0 ? $"Nobody is in {room}." : $"{TerminalText.Neutralise(info.Name)}: {ChatLines.Members(info)}");
            }
        }

        /// <summary>How many lines of a conversation's history the chat shows when it opens on it or switches to it.</summary>
        private const int RecentLines = 10;

        /// <summary>
        /// The last lines of a conversation, as the server's history has them (native protocol). Nothing from a classic
        /// connection, a server that keeps no history, or one too old to know history frames (it calls them malformed).
        /// </summary>
        private void ShowRecent(string conversation)
        {
            if (_connection.Protocol != ChatProtocol.Chatrm || _connection.State != ConnectionState.Open)
            {
                return;
            }

            IReadOnlyList<ChatMessage> recent;
            try
            {
                recent = _connection.Client.GetHistoryAsync(conversation, RecentLines, 0, 0, RoomAskTimeout, StopToken).GetAwaiter().GetResult();
            }
            catch (ChatException e)
            {
                if (e.Refusal != Refusal.HistoryOff && e.Refusal != Refusal.MalformedFrame)
                {
                    ShowProblem($"No history of {TerminalText.Neutralise(conversation)}: {TerminalText.Neutralise(e.Message)}");
                }

                return;
            }
            catch (OperationCanceledException)
            {
                return;
            }

            if (recent.Count == 0)
            {
                return;
            }

            Announce($"The last {(recent.Count == 1 ? "line" : recent.Count + " lines")} {(RoomNames.IsRoom(conversation) ? "in" : "with")} {TerminalText.Neutralise(conversation)}:");
            foreach (ChatMessage message in recent)
            {
                if (message.Id != null)
                {
                    _shownIds.Add(message.Id);
                }

                ShowMessage(message);
            }
        }

        /// <summary>A room question's answer, or null after saying why there is none.</summary>
        private T AskRoom<T>(Func<Task<T>> question)
            where T : class
        {
            try
            {
                return question().GetAwaiter().GetResult();
            }
            catch (ChatException e)
            {
                ShowProblem(TerminalText.Neutralise(e.Message));
            }
            catch (OperationCanceledException)
            {
            }

            return null;
        }

        private void ShowWho()
        {
            try
            {
                IReadOnlyList<UserInfo> users = _connection.Client.GetUsersAsync(TimeSpan.FromSeconds(10), StopToken).GetAwaiter().GetResult();
                Announce("Online: " + string.Join(", ", users.Select(u => u.Name).OrderBy(n => n, StringComparer.OrdinalIgnoreCase)));
            }
            catch (ChatException e)
            {
                ShowProblem(e.Message);
            }
            catch (OperationCanceledException)
            {
            }
        }

        /// <summary>Shows what arrived and what became of sent messages; false when the connection has closed.</summary>
        private bool ShowIncoming()
        {
            List<object> items = _connection.Client.Take(256, from: null, includePresence: true, includeReceipts: true);
            List<SentMessage> refused = TakeSettledToShow();
            if (items.Count == 0 && refused.Count == 0)
            {
                return CheckOpen();
            }

            ClearInputLine();
            foreach (object item in items)
            {
                switch (item)
                {
                    case ChatMessage message:
                        if (message.Id == null || !_shownIds.Remove(message.Id))
                        {
                            ShowMessage(message);
                        }

                        break;
                    case DeliveryReceipt receipt:
                        WriteColored(ConsoleColor.DarkGray, ChatLines.Receipt(receipt));
                        break;
                    case ServerNotice notice:
                        WriteColored(notice.Code == ReceiveChatrmMessageCommand.StoredNoticeCode ? ConsoleColor.DarkGray : ConsoleColor.Red, ChatLines.Notice(notice));
                        break;
                    case PresenceEvent presence:
                        WriteColored(ConsoleColor.DarkGray, ChatLines.Presence(presence));
                        break;
                    case ConnectionEvent change:
                        // The chat goes on across a reconnect: what is typed meanwhile waits and goes once back (native).
                        string line = ChatLines.Connection(change);
                        if (change.Change == ConnectionChange.Reconnecting)
                        {
                            line += _connection.Protocol == ChatProtocol.Chatrm ? "; lines you type meanwhile go once it is back" : "; lines you type meanwhile are not sent";
                        }

                        WriteColored(change.Change == ConnectionChange.Reconnected ? ConsoleColor.DarkGray : ConsoleColor.Yellow, line);
                        if (change.Change == ConnectionChange.Reconnected && _roomToJoinOnReturn != null)
                        {
                            string room = _roomToJoinOnReturn;
                            _roomToJoinOnReturn = null;
                            JoinRoom(room);
                        }

                        break;
                }
            }

            foreach (SentMessage message in refused)
            {
                if (message.Status == SendStatus.Stored)
                {
                    WriteColored(ConsoleColor.DarkGray, ChatLines.Stored(message));
                }
                else
                {
                    WriteColored(ConsoleColor.Red, ChatLines.Refused(message));
                }
            }

            if (!CheckOpen())
            {
                return false;
            }

            DrawInputLine();
            return true;
        }

        private void ShowMessage(ChatMessage message)
        {
            IReadOnlyList<string> lines = ChatLines.MessageLines(message);
            // Room lines in another colour than direct ones, besides their [#room sender>>] prefix.
            WriteColored(string.IsNullOrEmpty(message.Room) ? ConsoleColor.Cyan : ConsoleColor.Green, ChatLines.MessagePrefix(message), newLine: false);
            foreach (string line in lines)
            {
                Host.UI.WriteLine(line);
            }
        }

        /// <summary>True while the connection is open or reconnecting; only a closed one ends the chat.</summary>
        private bool CheckOpen()
        {
            if (_connection.State != ConnectionState.Closed)
            {
                return true;
            }

            ClearInputLine();
            ShowProblem($"The connection closed: {TerminalText.Neutralise(_connection.CloseReason)}.");
            return false;
        }

        /// <summary>Sends settled since the last look whose fate a person should hear: refused, or stored for an offline user.</summary>
        private List<SentMessage> TakeSettledToShow()
        {
            var refused = new List<SentMessage>();
            for (int i = _unsettled.Count - 1; i >= 0; i--)
            {
                if (_unsettled[i].IsCompleted)
                {
                    if (_unsettled[i].Result.Status == SendStatus.Refused || _unsettled[i].Result.Status == SendStatus.Stored)
                    {
                        refused.Insert(0, _unsettled[i].Result);
                    }

                    _unsettled.RemoveAt(i);
                }
            }

            return refused;
        }

        private void SettleSends(TimeSpan limit)
        {
            if (_unsettled.Count > 0)
            {
                WaitFor(Task.WhenAll(_unsettled), limit);
            }
        }

        private string Prompt => RoomNames.IsRoom(_peer) ? $"[in {_peer}]> " : $"[to {_peer}]> ";

        private void DrawInputLine()
        {
            if (_lineEditing)
            {
                WriteColored(ConsoleColor.DarkGray, Prompt, newLine: false);
                Host.UI.Write(_typed.Text);
                _drawnWidth = TerminalWidth();
            }
        }

        /// <summary>Erases every row the prompt and the typed line span, leaving the cursor where the prompt starts.</summary>
        private void ClearInputLine()
        {
            if (!_lineEditing)
            {
                return;
            }

            int width = TerminalWidth();
            int rowsAbove = DisplayWidth.CursorRow(Prompt + _typed.Text, width);
            if (_useAnsi)
            {
                // Back to the first column, up to the prompt's row, and erase from there to the end of the screen.
                Host.UI.Write("\r" + (rowsAbove > 0 ? $"\u001b[{rowsAbove}A" : string.Empty) + "\u001b[J");
                return;
            }

            PSHostRawUserInterface raw = Host.UI.RawUI;
            Coordinates start = raw.CursorPosition;
            start.X = 0;
            start.Y = Math.Max(0, start.Y - rowsAbove);
            raw.CursorPosition = start;
            Host.UI.Write(new string(' ', Math.Max(1, width * (rowsAbove + 1) - 1)));
            raw.CursorPosition = start;
        }

        // Columns of the terminal; a host that cannot say is taken as the usual 80.
        private int TerminalWidth()
        {
            try
            {
                int width = Host.UI.RawUI.WindowSize.Width;
                return width > 0 ? width : 80;
            }
            catch (Exception e) when (e is NotImplementedException || e is System.IO.IOException || e is InvalidOperationException)
            {
                return 80;
            }
        }

        private void Announce(string text) => WriteColored(ConsoleColor.DarkGray, text);

        private void ShowProblem(string text) => WriteColored(ConsoleColor.Red, text);

        private void WriteColored(ConsoleColor color, string text, bool newLine = true)
        {
            PSHostRawUserInterface raw = Host.UI.RawUI;
            ConsoleColor background = raw?.BackgroundColor ?? ConsoleColor.Black;
            if (newLine)
            {
                Host.UI.WriteLine(color, background, text);
            }
            else
            {
                Host.UI.Write(color, background, text);
            }
        }

        private static bool CanReadKeys()
        {
            try
            {
                _ = Console.KeyAvailable;
                return true;
            }
            catch (InvalidOperationException)
            {
                return false;
            }
        }
    }
}
