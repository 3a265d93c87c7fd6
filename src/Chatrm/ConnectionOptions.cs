using System;
using System.Management.Automation;
using Chatrm.Engine;

namespace Chatrm.PowerShell
{
    /// <summary>What the cmdlets that connect share: a credential's name and password, the TLS switches, reconnecting.</summary>
    internal static class ConnectionOptions
    {
        /// <summary>The engine's default, five minutes: a server's restart or a network's hiccup, not an outage of hours.</summary>
        public static readonly double DefaultReconnectSeconds = ClientOptions.DefaultReconnectTimeout.TotalSeconds;

        /// <summary>
        /// The cmdlets reconnect unless told not to (the engine does not unless asked): a person or a bot at a prompt
        /// would rather wait out a server's restart than start again.
        /// </summary>
        public static void ApplyReconnect(ClientOptions options, bool reconnect, double timeoutSeconds)
        {
            options.Reconnect = reconnect;
            options.ReconnectTimeout = TimeSpan.FromSeconds(timeoutSeconds);
        }

        /// <summary>Null, or the error for a -NoReconnect given with a -ReconnectTimeout: the two say opposite things.</summary>
        public static ErrorRecord ReconnectConflict(bool noReconnect, bool timeoutGiven, double timeoutSeconds) =>
            noReconnect && timeoutGiven
                ? ChatrmErrors.Make(ChatrmErrors.ParameterConflict, ErrorCategory.InvalidArgument,
                    "-ReconnectTimeout says how long to reconnect and -NoReconnect says not to: give one of them.", timeoutSeconds)
                : null;

        /// <summary>The user name to connect as: the credential's when one is given, its password going into the options.</summary>
        public static string ApplyCredential(ClientOptions options, string userName, PSCredential credential)
        {
            if (credential == null)
            {
                return userName;
            }

            options.Password = credential.GetNetworkCredential().Password;
            return credential.UserName;
        }

        /// <summary>TLS when any of its switches is given; null (plain TCP) otherwise.</summary>
        public static TlsClientOptions Tls(bool useTls, string certificateThumbprint, bool skipCertificateCheck) =>
            useTls || certificateThumbprint != null || skipCertificateCheck
                ? new TlsClientOptions { CertificateThumbprint = certificateThumbprint, SkipCertificateCheck = skipCertificateCheck }
                : null;
    }
}
