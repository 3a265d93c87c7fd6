using System;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using Chatrm.Engine;

namespace Chatrm.PowerShell
{
    /// <summary>What every Chatrm cmdlet shares: Ctrl+C that ends a wait at once, and finding the connection.</summary>
    public abstract class ChatrmCmdlet : PSCmdlet, IDisposable
    {
        private readonly CancellationTokenSource _stopping = new CancellationTokenSource();

        /// <summary>Cancelled when the user presses Ctrl+C or the pipeline is stopped.</summary>
        protected CancellationToken StopToken => _stopping.Token;

        protected override void StopProcessing() => _stopping.Cancel();

        public void Dispose() => _stopping.Dispose();

        /// <summary>
        /// The connection given, or else this session's newest connection while it is open or reconnecting (a bot's
        /// pipeline goes on across a reconnect). Never an older one: a user whose newest connection closed meant that
        /// one, not someone else's. An explicit null is an error.
        /// </summary>
        protected ChatrmConnection ResolveConnection(ChatrmConnection given)
        {
            if (given != null)
            {
                return given;
            }

            if (MyInvocation.BoundParameters.ContainsKey("Connection"))
            {
                ThrowTerminatingError(ChatrmErrors.Make(
                    ChatrmErrors.NullConnection,
                    ErrorCategory.InvalidArgument,
                    "-Connection is null. Pass a connection from Connect-ChatrmServer or its Id, or leave -Connection out for the session's newest.",
                    null));
            }

            ChatrmConnection newest = ConnectionTable.Newest();
            if (newest == null)
            {
                ThrowTerminatingError(ChatrmErrors.Make(
                    ChatrmErrors.NoConnection,
                    ErrorCategory.ConnectionError,
                    "There is no Chatrm connection in this session. Use Connect-ChatrmServer first, or pass -Connection.",
                    null));
            }

            if (newest.State == ConnectionState.Closed)
            {
                ThrowTerminatingError(ChatrmErrors.Make(
                    ChatrmErrors.NoConnection,
                    ErrorCategory.ConnectionError,
                    $"This session's newest Chatrm connection, {newest}, closed: {newest.CloseReason}. Pass -Connection to use another, or Connect-ChatrmServer again.",
                    newest));
            }

            return newest;
        }

        /// <summary>
        /// Connects a user and adds the connection to this session's table; on failure writes a non-terminating
        /// error with a stable id (or nothing, after Ctrl+C) and returns null.
        /// </summary>
        protected ChatrmConnection ConnectUser(string computerName, int port, string userName, ChatProtocol protocol, ClientOptions options)
        {
            ChatClient client;
            try
            {
                client = ChatClient.ConnectAsync(computerName, port, userName, protocol, options, StopToken).GetAwaiter().GetResult();
            }
            catch (ChatException e)
            {
                WriteError(ChatrmErrors.From(e, userName));
                return null;
            }
            catch (TimeoutException e)
            {
                WriteError(ChatrmErrors.Make(ChatrmErrors.ConnectTimeout, ErrorCategory.OperationTimeout, e.Message, computerName, e));
                return null;
            }
            catch (System.Net.Sockets.SocketException e)
            {
                WriteError(ChatrmErrors.Make(ChatrmErrors.ConnectFailed, ErrorCategory.ConnectionError, $"Cannot connect to {computerName}:{port}: {e.Message}", computerName, e));
                return null;
            }
            catch (OperationCanceledException)
            {
                return null;
            }

            if (!client.ServerIsChatrm)
            {
                WriteVerbose($"{computerName}:{port} sent no welcome; taking it for an original Chatrm server.");

                // Silence is all an original server says, but a port that says nothing at all says it too.
                WriteWarning($"{computerName}:{port} sent no welcome within {options.GreetingTimeout.TotalSeconds:0.#} seconds, so it is taken for an original Chatrm server. " +
                    "An original server passes on text only up to its first '_' and cannot say when a user is unknown; " +
                    "if this is not a chat server (a TLS port, or another service), nothing you send arrives anywhere.");
            }

            return ConnectionTable.Add(client, options);
        }

        /// <summary>A case-insensitive wildcard; a terminating ChatrmInvalidWildcard error when it cannot be one.</summary>
        protected WildcardPattern ParseWildcard(string pattern, string parameterName)
        {
            var wildcard = new WildcardPattern(pattern, WildcardOptions.IgnoreCase);
            try
            {
                // The pattern is parsed on first use: use it now, so a bad one fails before anything is done.
                wildcard.IsMatch(string.Empty);
            }
            catch (WildcardPatternException e)
            {
                ThrowTerminatingError(ChatrmErrors.Make(
                    ChatrmErrors.InvalidWildcard,
                    ErrorCategory.InvalidArgument,
                    $"-{parameterName} '{pattern}' is not a valid wildcard pattern: {e.Message} Escape [ and ] with a backtick to match them.",
                    pattern,
                    e));
            }

            return wildcard;
        }

        /// <summary>Waits for a task on the pipeline thread; false when the pipeline was stopped first.</summary>
        protected bool WaitFor(Task task, TimeSpan timeout)
        {
            try
            {
                return task.Wait(timeout == Timeout.InfiniteTimeSpan ? Timeout.Infinite : (int)Math.Min(int.MaxValue, Math.Max(0, timeout.TotalMilliseconds)), StopToken);
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }
    }

    /// <summary>Lets -Connection take a connection object or its Id.</summary>
    public sealed class ConnectionTransformationAttribute : ArgumentTransformationAttribute
    {
        public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
        {
            object value = inputData is PSObject ps ? ps.BaseObject : inputData;
            if (value is ChatrmConnection)
            {
                return value;
            }

            if (value != null && LanguagePrimitives.TryConvertTo(value, out int id))
            {
                return ConnectionTable.Find(id)
                    ?? throw new ArgumentTransformationMetadataException($"This session has no Chatrm connection with Id {id}. Get-ChatrmConnection lists them.");
            }

            // Anything else is left as it is: binding then fails for -Connection and may succeed for another
            // parameter, such as Get-ChatrmUser's -Job taking a piped server job.
            return inputData;
        }
    }
}
