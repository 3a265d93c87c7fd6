using System;
using System.IO;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Threading;
using System.Threading.Tasks;

namespace Chatrm.Engine.Transport
{
    internal static class Tls
    {
        /// <summary>The server side of the handshake; null when it fails or takes too long.</summary>
        public static async Task<Stream> AuthenticateAsServerAsync(Socket socket, X509Certificate2 certificate, TimeSpan timeout, CancellationToken stopping)
        {
            var ssl = new SslStream(new NetworkStream(socket, ownsSocket: false), leaveInnerStreamOpen: false);
            Task handshake = ssl.AuthenticateAsServerAsync(certificate);
            Task finished = await Task.WhenAny(handshake, Task.Delay(timeout, stopping)).ConfigureAwait(false);
            if (finished == handshake && handshake.Status == TaskStatus.RanToCompletion)
            {
                return ssl;
            }

            // Fails or stalls: closing the stream ends the handshake too.
            _ = handshake.ContinueWith(t => _ = t.Exception, TaskScheduler.Default);
            ssl.Dispose();
            return null;
        }

        /// <summary>
        /// Whether the client accepts the server's certificate. A pinned thumbprint decides alone, both ways: the
        /// pinned certificate is accepted though no chain trusts it, and any other is refused though one does.
        /// Without a pin, the system's verdict (<paramref name="errors"/>) stands. <paramref name="problem"/> says why not.
        /// </summary>
        internal static bool Accepts(TlsClientOptions options, X509Certificate certificate, SslPolicyErrors errors, out string problem)
        {
            problem = null;
            if (options.SkipCertificateCheck)
            {
                return true;
            }

            if (!string.IsNullOrEmpty(options.CertificateThumbprint))
            {
                string thumbprint = certificate == null ? null : new X509Certificate2(certificate).Thumbprint;
                bool pinned = string.Equals(thumbprint, options.CertificateThumbprint.Replace(" ", string.Empty), StringComparison.OrdinalIgnoreCase);
                problem = pinned ? null : $"its certificate's thumbprint {thumbprint} is not the pinned {options.CertificateThumbprint}";
                return pinned;
            }

            problem = errors == SslPolicyErrors.None ? null : $"its certificate is not trusted ({errors}); pin it with -CertificateThumbprint, or -SkipCertificateCheck";
            return errors == SslPolicyErrors.None;
        }

        /// <summary>The client side; throws <see cref="ChatException"/> (TlsFailed) when the server is not accepted.</summary>
        public static async Task<Stream> AuthenticateAsClientAsync(Socket socket, string host, TlsClientOptions options, TimeSpan timeout)
        {
            string problem = null;
            var ssl = new SslStream(new NetworkStream(socket, ownsSocket: false), false,
                (sender, certificate, chain, errors) => Accepts(options, certificate, errors, out problem));

            Task handshake = ssl.AuthenticateAsClientAsync(options.TargetHost ?? host);
            if (await Task.WhenAny(handshake, Task.Delay(timeout)).ConfigureAwait(false) != handshake)
            {
                ssl.Dispose();
                throw new ChatException(Refusal.TlsFailed, $"The TLS handshake with {host} took more than {timeout.TotalSeconds:0} seconds.");
            }

            try
            {
                await handshake.ConfigureAwait(false);
                return ssl;
            }
            catch (Exception e) when (e is System.Security.Authentication.AuthenticationException || e is IOException)
            {
                ssl.Dispose();
                throw new ChatException(Refusal.TlsFailed, $"No TLS with {host}: {problem ?? e.Message}.", e);
            }
        }
    }
}
