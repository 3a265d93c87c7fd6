using System;
using System.Threading;
using System.Threading.Tasks;
using Chatrm.Engine.Client;
using Chatrm.Engine.Protocol.Classic;
using Chatrm.Engine.Protocol.Native;

namespace Chatrm.Engine
{
    /// <summary>The client's side of both handshakes.</summary>
    public sealed partial class ChatClient
    {
        private async Task OpenClassicAsync(CancellationToken cancellationToken)
        {
            // The opening is queued before reading starts: a server that answers and closes at once (a full one)
            // must not close us before our own opening is sent, or the failure reads as a closed connection.
            SendRaw(ClassicProtocol.FormatHandshake(UserName));
            _ = Task.Run(ReadLoopAsync);

            Task delay = Task.Delay(_options.GreetingTimeout, cancellationToken);
            if (await Task.WhenAny(_greeting.Task, delay).ConfigureAwait(false) != _greeting.Task)
            {
                cancellationToken.ThrowIfCancellationRequested();

                // Silence is what an original server says to a good handshake.
                _greeting.TrySetResult(Greeting.Silence);
            }

            Greeting greeting = await _greeting.Task.ConfigureAwait(false);
            if (greeting.Refusal != Refusal.None)
            {
                throw new ChatException(greeting.Refusal, $"The server refused {UserName}: {greeting.Text}.");
            }

            if (_state == ConnectionState.Closed)
            {
                throw new ChatException(Refusal.ConnectionClosed, $"The server closed the connection: {CloseReason}.");
            }

            ServerIsChatrm |= greeting.Welcomed;
        }

        private async Task OpenNativeAsync(CancellationToken cancellationToken)
        {
            // "chatrm_native" holds a '_', so an original server takes this line for a handshake instead of crashing.
            // Queued before reading starts, as the classic opening is.
            SendRaw(NativeProtocol.Format(new NativeFrame { Type = FrameType.Hello, Protocol = NativeProtocol.ProtocolName, Version = NativeProtocol.Version, User = UserName, Password = _options.Password, ResumeToken = _resumeToken,
                Presence = _options.ReceivePresence ? (bool?)null : false, Batch = _options.BatchConfirmations ? true : (bool?)null }));
            _ = Task.Run(ReadLoopAsync);

            Task delay = Task.Delay(_options.NativeOpeningTimeout, cancellationToken);
            if (await Task.WhenAny(_greeting.Task, delay).ConfigureAwait(false) != _greeting.Task)
            {
                cancellationToken.ThrowIfCancellationRequested();

                // An original server reads EXIT as the end of this connection, so closing it does not crash it.
                _transport.Send(ClassicProtocol.ExitLine + "\n");
                await _transport.CloseAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
                throw new ChatException(Refusal.ProtocolMismatch,
                    $"{ComputerName}:{Port} did not answer Chatrm's native protocol within {_options.NativeOpeningTimeout.TotalSeconds:0.#} seconds. If it is an original Chatrm server, connect with -Protocol Classic.");
            }

            Greeting greeting = await _greeting.Task.ConfigureAwait(false);
            if (greeting.Refusal != Refusal.None)
            {
                throw new ChatException(greeting.Refusal, $"The server refused {UserName}: {greeting.Text}.");
            }

            if (!greeting.Welcomed)
            {
                // Let EXIT reach the server before the close, as above: disposing at once could drop it.
                _transport.Send(ClassicProtocol.ExitLine + "\n");
                await _transport.CloseAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
                throw new ChatException(Refusal.ProtocolMismatch,
                    $"{ComputerName}:{Port} answered in the classic protocol. Connect with -Protocol Classic.");
            }

            ServerIsChatrm = true;
            StartKeepAlive();
        }
    }
}
