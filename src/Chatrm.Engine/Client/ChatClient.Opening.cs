using System;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using Chatrm.Engine.Client;
using Chatrm.Engine.Protocol.Classic;
using Chatrm.Engine.Protocol.Native;
using Chatrm.Engine.Transport;

namespace Chatrm.Engine
{
    /// <summary>The client's side of both handshakes, on a link of its own.</summary>
    public sealed partial class ChatClient
    {
        /// <summary>
        /// Makes a link (TCP, then TLS when asked), opens it in the client's protocol and returns it. Throws as
        /// <see cref="ConnectAsync"/> does; the link is then closed. The first link and every reconnect's come here.
        /// </summary>
        private async Task<LineTransport> OpenLinkAsync(CancellationToken cancellationToken, bool resuming = false)
        {
            Socket socket = await ConnectSocketAsync(ComputerName, Port, _options.ConnectTimeout, cancellationToken).ConfigureAwait(false);
            System.IO.Stream secure = null;
            if (_options.Tls != null)
            {
                try
                {
                    secure = await Transport.Tls.AuthenticateAsClientAsync(socket, ComputerName, _options.Tls, _options.ConnectTimeout).ConfigureAwait(false);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            }

            var transport = new LineTransport(socket, _options.MaxLineBytes, _options.MaxQueuedBytes, secure);
            lock (_sendGate)
            {
                // No send goes to the new link before it is open: sends wait while reconnecting (SendAsync).
                _transport = transport;
                _greeting = new TaskCompletionSource<Greeting>(TaskCreationOptions.RunContinuationsAsynchronously);
                _linkEnd = null;
                _linkEndRefusal = Refusal.None;
                _linkEnded = false;
            }

            try
            {
                if (Protocol == ChatProtocol.Chatrm)
                {
                    await OpenNativeAsync(cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await OpenClassicAsync(cancellationToken).ConfigureAwait(false);
                }

                MarkLinkUp(resuming);
                return transport;
            }
            catch
            {
                transport.Dispose();
                throw;
            }
        }

        /// <summary>
        /// Queues the opening line on the link being opened (a reconnect's too, which SendRaw would hold back), then starts
        /// reading it: a server that answers and closes at once (a full one) must not close us before our own opening is
        /// sent, or the failure reads as a closed connection.
        /// </summary>
        private void SendOpeningAndRead(string line)
        {
            LineTransport transport = _transport;
            TaskCompletionSource<Greeting> opening = _greeting;
            if (transport.Send(line) != SendResult.Queued)
            {
                throw new ChatException(Refusal.ConnectionClosed, "The connection closed before the opening could be sent.");
            }

            _ = Task.Run(() => ReadLoopAsync(transport, opening));
        }

        private async Task OpenClassicAsync(CancellationToken cancellationToken)
        {
            SendOpeningAndRead(ClassicProtocol.FormatHandshake(UserName));

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

            if (_state == ConnectionState.Closed || _linkEnded)
            {
                throw new ChatException(Refusal.ConnectionClosed, $"The server closed the connection: {CloseReason ?? _linkEnd ?? "closed"}.");
            }

            ServerIsChatrm |= greeting.Welcomed;
        }

        private async Task OpenNativeAsync(CancellationToken cancellationToken)
        {
            // "chatrm_native" holds a '_', so an original server takes this line for a handshake instead of crashing.
            SendOpeningAndRead(NativeProtocol.Format(new NativeFrame { Type = FrameType.Hello, Protocol = NativeProtocol.ProtocolName, Version = NativeProtocol.Version, User = UserName, Password = _options.Password, ResumeToken = _resumeToken,
                Presence = _options.ReceivePresence ? (bool?)null : false, Batch = _options.BatchConfirmations ? true : (bool?)null }));
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
