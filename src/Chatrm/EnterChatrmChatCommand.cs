using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Host;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Chatrm.Engine;

namespace Chatrm.PowerShell
{
    /// <summary>
    /// Chats as a person, as the original client did, and better: typed lines go to the current peer,
    /// incoming lines show as [bob>>] text without mangling the line being typed, /to switches peer.
    /// Writes to the host only, so it declares no output type.
    /// </summary>
    [Cmdlet(VerbsCommon.Enter, "ChatrmChat", DefaultParameterSetName = ConnectSet)]
    public sealed class EnterChatrmChatCommand : ChatrmCmdlet
    {
        private const string ConnectSet = "Connect";
        private const string ConnectionSet = "Connection";

        // How often the terminal is checked for keys while nothing arrives: quick enough to feel instant.
        private static readonly TimeSpan KeyPollInterval = TimeSpan.FromMilliseconds(15);

        private readonly StringBuilder _typed = new StringBuilder();
        private readonly List<Task<SentMessage>> _unsettled = new List<Task<SentMessage>>();
        private ChatrmConnection _connection;
        private string _peer;
        private bool _lineEditing;
        private bool _useAnsi;

        [Parameter(ParameterSetName = ConnectSet, Mandatory = true, Position = 0, HelpMessage = "Your server's IP address or name")]
        [Alias("Server", "cn")]
        [ValidateNotNullOrEmpty]
        public string ComputerName { get; set; }

        [Parameter(ParameterSetName = ConnectSet, Mandatory = true, Position = 1, HelpMessage = "Your server's port number")]
        [ValidateRange(1, 65535)]
        public int Port { get; set; }

        [Parameter(ParameterSetName = ConnectSet, Mandatory = true, Position = 2, HelpMessage = "Your user name")]
        [ValidateNotNullOrEmpty]
        public string UserName { get; set; }

        [Parameter(ParameterSetName = ConnectSet)]
        public ChatProtocol Protocol { get; set; } = ChatProtocol.Chatrm;

        /// <summary>A connection to chat through; it stays open afterwards.</summary>
        [Parameter(ParameterSetName = ConnectionSet, Mandatory = true)]
        [ConnectionTransformation]
        [ArgumentCompleter(typeof(ConnectionCompleter))]
        public ChatrmConnection Connection { get; set; }

        /// <summary>The user to chat with; /to changes it.</summary>
        [Parameter(Mandatory = true, Position = 3, HelpMessage = "The username of the person you would like to chat with")]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(UserNameCompleter))]
        public string With { get; set; }

        protected override void ProcessRecord()
        {
            bool ownConnection = Connection == null;
            _connection = Connection ?? ConnectUser(ComputerName, Port, UserName, Protocol, new ClientOptions());
            if (_connection == null)
            {
                return;
            }

            _peer = With;
            _lineEditing = !Console.IsInputRedirected && CanReadKeys();
            _useAnsi = _lineEditing && Host.UI.SupportsVirtualTerminal;
            try
            {
                Announce($"Chatting as {_connection.UserName} with {_peer} on {_connection.ComputerName}:{_connection.Port}. /help lists commands, /quit leaves.");
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
            Task<string> nextLine = Task.Run(() => Console.In.ReadLine());
            while (!StopToken.IsCancellationRequested)
            {
                Task arrival = _connection.Client.NextArrival();
                if (!ShowIncoming())
                {
                    return;
                }

                if (nextLine.IsCompleted)
                {
                    string line = nextLine.Result;
                    if (line == null || !OnLine(line))
                    {
                        // End of input: give what was sent a moment to be settled, then leave.
                        SettleSends(TimeSpan.FromSeconds(10));
                        ShowIncoming();
                        return;
                    }

                    nextLine = Task.Run(() => Console.In.ReadLine());
                    continue;
                }

                try
                {
                    Task.WaitAny(new[] { arrival, nextLine }, Timeout.Infinite, StopToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }

        private bool OnKey(ConsoleKeyInfo key)
        {
            switch (key.Key)
            {
                case ConsoleKey.Enter:
                    string line = _typed.ToString();
                    _typed.Clear();
                    Host.UI.WriteLine();
                    bool goOn = OnLine(line);
                    if (goOn)
                    {
                        DrawInputLine();
                    }

                    return goOn;
                case ConsoleKey.Backspace:
                    if (_typed.Length > 0)
                    {
                        _typed.Length--;
                        Host.UI.Write("\b \b");
                    }

                    return true;
                case ConsoleKey.Escape:
                    _typed.Clear();
                    ClearInputLine();
                    DrawInputLine();
                    return true;
                default:
                    if (key.KeyChar >= ' ' && key.KeyChar != '\u007f')
                    {
                        _typed.Append(key.KeyChar);
                        Host.UI.Write(key.KeyChar.ToString());
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
                ShowProblem(e.Message);
                return _connection.State == ConnectionState.Open;
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
                    string problem = argument == null ? "say who: /to NAME" : UserNames.Problem(argument);
                    if (problem != null)
                    {
                        ShowProblem(problem);
                    }
                    else
                    {
                        _peer = argument;
                        Announce($"Now chatting with {_peer}.");
                    }

                    return true;
                case "/who":
                    ShowWho();
                    return true;
                case "/help":
                    Announce("Type a line and press Enter to send it to " + _peer + ".");
                    Announce("/to NAME   chat with NAME instead");
                    Announce("/who       who is online");
                    Announce("/quit      leave (Ctrl+C too)");
                    Announce("//text     send text that starts with /");
                    return true;
                default:
                    ShowProblem($"{words[0]} is not a command; /help lists them.");
                    return true;
            }
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
            List<object> items = _connection.Client.Take(256, from: null, includePresence: true);
            List<SentMessage> refused = TakeSettledRefusals();
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
                        ShowMessage(message);
                        break;
                    case ServerNotice notice:
                        WriteColored(ConsoleColor.Red, $"[{UserNames.Server}>>] {TerminalText.Neutralise(notice.Text)} ({notice.Code})");
                        break;
                    case PresenceEvent presence:
                        WriteColored(ConsoleColor.DarkGray, $"* {presence.UserName} {(presence.Kind == PresenceChange.Joined ? "joined" : "left")}");
                        break;
                }
            }

            foreach (SentMessage message in refused)
            {
                WriteColored(ConsoleColor.Red, $"[{UserNames.Server}>>] not delivered to {message.To}: {TerminalText.Neutralise(message.Detail ?? message.Reason)} ({message.Reason})");
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
            string[] lines = TerminalText.Neutralise(message.Text).Split('\n');
            string prefix = $"[{message.From}>>] ";
            WriteColored(ConsoleColor.Cyan, prefix, newLine: false);
            Host.UI.WriteLine(lines[0]);
            for (int i = 1; i < lines.Length; i++)
            {
                Host.UI.WriteLine(new string(' ', prefix.Length) + lines[i]);
            }
        }

        private bool CheckOpen()
        {
            if (_connection.State == ConnectionState.Open)
            {
                return true;
            }

            ClearInputLine();
            ShowProblem($"The connection closed: {_connection.CloseReason}.");
            return false;
        }

        private List<SentMessage> TakeSettledRefusals()
        {
            var refused = new List<SentMessage>();
            for (int i = _unsettled.Count - 1; i >= 0; i--)
            {
                if (_unsettled[i].IsCompleted)
                {
                    if (_unsettled[i].Result.Status == SendStatus.Refused)
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

        private string Prompt => $"[to {_peer}]> ";

        private void DrawInputLine()
        {
            if (_lineEditing)
            {
                WriteColored(ConsoleColor.DarkGray, Prompt, newLine: false);
                Host.UI.Write(_typed.ToString());
            }
        }

        private void ClearInputLine()
        {
            if (!_lineEditing)
            {
                return;
            }

            if (_useAnsi)
            {
                Host.UI.Write("\u001b[2K\r");
            }
            else
            {
                Host.UI.Write("\r" + new string(' ', Prompt.Length + _typed.Length) + "\r");
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

    /// <summary>Makes other people's text safe to print: no escape sequences, no control characters, no direction overrides.</summary>
    public static class TerminalText
    {
        public static string Neutralise(string text)
        {
            if (string.IsNullOrEmpty(text))
            {
                return string.Empty;
            }

            var safe = new StringBuilder(text.Length);
            foreach (char c in text)
            {
                if (c == '\n')
                {
                    safe.Append('\n');
                }
                else if (c < ' ')
                {
                    // ESC shows as ^[, BEL as ^G, ...: visible, and harmless to the terminal.
                    safe.Append('^').Append((char)(c + 64));
                }
                else if (c == '\u007f')
                {
                    safe.Append("^?");
                }
                else if ((c >= '\u0080' && c <= '\u009f') || (c >= '\u202a' && c <= '\u202e') || (c >= '\u2066' && c <= '\u2069'))
                {
                    // C1 controls (a terminal may take \u009b as an escape) and bidirectional overrides.
                    safe.Append(string.Format(System.Globalization.CultureInfo.InvariantCulture, "<U+{0:X4}>", (int)c));
                }
                else
                {
                    safe.Append(c);
                }
            }

            return safe.ToString();
        }
    }
}
