using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;
using Chatrm.Engine;

namespace Chatrm.PowerShell
{
    /// <summary>
    /// Tab completion of user names (-To, -From, -With): asks the server who is online, through the
    /// -Connection already typed or else the session's newest open native connection. Completion must
    /// never hang a prompt or show an error, so the question has a short timeout and every failure
    /// means no completions.
    /// </summary>
    public sealed class UserNameCompleter : IArgumentCompleter
    {
        /// <summary>How long a Tab press may wait for the server's list.</summary>
        internal static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(1);

        public IEnumerable<CompletionResult> CompleteArgument(
            string commandName,
            string parameterName,
            string wordToComplete,
            CommandAst commandAst,
            IDictionary fakeBoundParameters)
        {
            try
            {
                ChatrmConnection connection = PickConnection(fakeBoundParameters);
                if (connection == null)
                {
                    return Array.Empty<CompletionResult>();
                }

                // The name being completed: typed with or without quotes.
                string prefix = CompletionText.Unquote(wordToComplete, out char quote);

                // -To and -With name rooms too: a name begun with # is completed from the server's rooms.
                if (RoomNames.IsRoom(prefix) && parameterName != "From")
                {
                    return RoomNameCompleter.Complete(connection, prefix, quote);
                }

                IReadOnlyList<UserInfo> users = connection.Client.GetUsersAsync(AskTimeout).GetAwaiter().GetResult();

                // Not yourself: you do not chat with, send to or read from your own name. With -UserName typed
                // (Enter-ChatrmChat), that is who you are about to be.
                string self = fakeBoundParameters != null && fakeBoundParameters.Contains("UserName") ? Unwrap(fakeBoundParameters["UserName"]) as string : null;
                return users
                    .Select(u => u.Name)
                    .Where(n => n.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
                    .Where(n => !UserNames.AreSame(n, connection.UserName) && !UserNames.AreSame(n, self))
                    .OrderBy(n => n, StringComparer.OrdinalIgnoreCase)
                    .Select(n => new CompletionResult(CompletionText.Quote(n, quote), n, CompletionResultType.ParameterValue, $"{n} is online"))
                    .ToList();
            }
            catch (Exception)
            {
                // Closed, classic, slow or gone server, or a value that is no connection: no completions.
                return Array.Empty<CompletionResult>();
            }
        }

        /// <summary>
        /// The connection to ask: the -Connection typed (an object or an Id), else the newest open native
        /// connection of the session, to the -ComputerName and -Port typed when there are those.
        /// </summary>
        internal static ChatrmConnection PickConnection(IDictionary bound)
        {
            if (bound != null && bound.Contains("Connection"))
            {
                ChatrmConnection given = CompletionText.AsConnection(bound["Connection"]);
                return given != null && given.State == ConnectionState.Open && given.Protocol == ChatProtocol.Chatrm ? given : null;
            }

            int? port = bound != null && bound.Contains("Port") && LanguagePrimitives.TryConvertTo(Unwrap(bound["Port"]), out int p) ? p : (int?)null;
            string host = bound != null && bound.Contains("ComputerName") ? Unwrap(bound["ComputerName"]) as string : null;
            return ConnectionTable.Current()
                .Where(c => c.State == ConnectionState.Open && c.Protocol == ChatProtocol.Chatrm)
                .Where(c => port == null || c.Port == port)
                .Where(c => host == null || string.Equals(c.ComputerName, host, StringComparison.OrdinalIgnoreCase))
                .LastOrDefault();
        }

        private static object Unwrap(object value) => value is PSObject ps ? ps.BaseObject : value;
    }

    /// <summary>
    /// Tab completion of -Room: the rooms the server has, asked as <see cref="UserNameCompleter"/> asks for users,
    /// each in single quotes, since an unquoted # starts a comment. "ops" completes to '#ops' as "#ops" does.
    /// </summary>
    public sealed class RoomNameCompleter : IArgumentCompleter
    {
        public IEnumerable<CompletionResult> CompleteArgument(
            string commandName,
            string parameterName,
            string wordToComplete,
            CommandAst commandAst,
            IDictionary fakeBoundParameters)
        {
            try
            {
                ChatrmConnection connection = UserNameCompleter.PickConnection(fakeBoundParameters);
                if (connection == null)
                {
                    return Array.Empty<CompletionResult>();
                }

                string prefix = CompletionText.Unquote(wordToComplete, out char quote);
                return Complete(connection, prefix, quote);
            }
            catch (Exception)
            {
                return Array.Empty<CompletionResult>();
            }
        }

        internal static IEnumerable<CompletionResult> Complete(ChatrmConnection connection, string prefix, char quote)
        {
            if (!RoomNames.IsRoom(prefix))
            {
                prefix = RoomNames.Prefix + prefix;
            }

            try
            {
                IReadOnlyList<RoomInfo> rooms = connection.Client.GetRoomsAsync(UserNameCompleter.AskTimeout).GetAwaiter().GetResult();
                return rooms
                    .Where(r => r.Name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
                    .OrderBy(r => r.Name, RoomNames.Comparer)
                    .Select(r => new CompletionResult(
                        CompletionText.Quote(r.Name, quote == '\0' ? '\'' : quote),
                        r.Name,
                        CompletionResultType.ParameterValue,
                        $"{r.Name}: {r.MemberCount} member(s){(r.IsMember ? ", you among them" : string.Empty)}"))
                    .ToList();
            }
            catch (Exception)
            {
                return Array.Empty<CompletionResult>();
            }
        }
    }

    /// <summary>Tab completion of -Connection: the Ids of the session's open connections, with who each is as the tooltip.</summary>
    public sealed class ConnectionCompleter : IArgumentCompleter
    {
        public IEnumerable<CompletionResult> CompleteArgument(
            string commandName,
            string parameterName,
            string wordToComplete,
            CommandAst commandAst,
            IDictionary fakeBoundParameters)
        {
            try
            {
                string prefix = CompletionText.Unquote(wordToComplete, out _);
                return ConnectionTable.Current()
                    .Where(c => c.State == ConnectionState.Open)
                    .Where(c => c.Id.ToString(System.Globalization.CultureInfo.InvariantCulture).StartsWith(prefix, StringComparison.Ordinal))
                    .Select(c =>
                    {
                        string id = c.Id.ToString(System.Globalization.CultureInfo.InvariantCulture);
                        return new CompletionResult(id, $"{id} {c.UserName}", CompletionResultType.ParameterValue, $"{c.UserName}@{c.ComputerName}:{c.Port} ({c.Protocol})");
                    })
                    .ToList();
            }
            catch (Exception)
            {
                return Array.Empty<CompletionResult>();
            }
        }
    }

    internal static class CompletionText
    {
        /// <summary>The word without its opening (and any closing) quote; <paramref name="quote"/> says which quote it was, or '\0'.</summary>
        public static string Unquote(string word, out char quote)
        {
            quote = '\0';
            if (string.IsNullOrEmpty(word))
            {
                return string.Empty;
            }

            if (word[0] == '\'' || word[0] == '"')
            {
                quote = word[0];
                word = word.Substring(1);
                if (word.Length > 0 && word[word.Length - 1] == quote)
                {
                    word = word.Substring(0, word.Length - 1);
                }
            }

            return word;
        }

        /// <summary>
        /// A user name as it can be typed: in the quotes the user began with, and in single quotes when it
        /// starts with '-', which PowerShell would otherwise read as a parameter. Names hold only letters,
        /// digits, dots and dashes, so nothing inside needs escaping.
        /// </summary>
        public static string Quote(string name, char quote)
        {
            if (quote != '\0')
            {
                return quote + name + quote;
            }

            return name.StartsWith("-", StringComparison.Ordinal) ? "'" + name + "'" : name;
        }

        /// <summary>A -Connection value as typed: a connection, or an Id of one in this session.</summary>
        public static ChatrmConnection AsConnection(object value)
        {
            value = value is PSObject ps ? ps.BaseObject : value;
            if (value is ChatrmConnection connection)
            {
                return connection;
            }

            return value != null && LanguagePrimitives.TryConvertTo(value, out int id) ? ConnectionTable.Find(id) : null;
        }
    }
}
