namespace Chatrm.Engine
{
    /// <summary>How a client checks the server's certificate.</summary>
    public sealed class TlsClientOptions
    {
        /// <summary>The name the certificate must carry; the host connected to when null.</summary>
        public string TargetHost { get; set; }

        /// <summary>Accept exactly the certificate with this SHA-1 thumbprint (hex), such as a self-signed one.</summary>
        public string CertificateThumbprint { get; set; }

        /// <summary>Accept any certificate: encryption without knowing who is at the other end.</summary>
        public bool SkipCertificateCheck { get; set; }
    }
}
