using System.Management.Automation;
using Chatrm.Engine;

namespace Chatrm.PowerShell
{
    /// <summary>What the cmdlets that connect share: a credential's name and password, and the TLS switches.</summary>
    internal static class ConnectionOptions
    {
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
