using System;
using System.Linq;
using System.Management.Automation;
using System.Net.Sockets;
using Chatrm.Engine;

namespace Chatrm.PowerShell
{
    /// <summary>Connects to a Chatrm (or original) server as a user.</summary>
    [Cmdlet(VerbsCommunications.Connect, "ChatrmServer", DefaultParameterSetName = UserNameSet)]
    [OutputType(typeof(ChatrmConnection))]
    public sealed class ConnectChatrmServerCommand : ChatrmCmdlet
    {
        private const string UserNameSet = "UserName";
        private const string CredentialSet = "Credential";

        [Parameter(Mandatory = true, Position = 0, HelpMessage = "Your server's IP address or name")]
        [Alias("Server", "cn")]
        [ValidateNotNullOrEmpty]
        public string ComputerName { get; set; }

        [Parameter(Mandatory = true, Position = 1, HelpMessage = "Your server's port number")]
        [ValidateRange(1, 65535)]
        public int Port { get; set; }

        [Parameter(ParameterSetName = UserNameSet, Mandatory = true, Position = 2, HelpMessage = "Your user name")]
        [ValidateNotNullOrEmpty]
        public string UserName { get; set; }

        /// <summary>Your name and password, for a server that asks for passwords (native protocol).</summary>
        [Parameter(ParameterSetName = CredentialSet, Mandatory = true)]
        [ValidateNotNull]
        [Credential]
        public PSCredential Credential { get; set; }

        /// <summary>Speak TLS; the server's certificate must be trusted, pinned with -CertificateThumbprint, or not checked.</summary>
        [Parameter]
        public SwitchParameter UseTls { get; set; }

        /// <summary>With -UseTls: accept exactly the certificate with this thumbprint (such as a self-signed one).</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string CertificateThumbprint { get; set; }

        /// <summary>With -UseTls: accept any certificate (encrypted, but the server is not identified).</summary>
        [Parameter]
        public SwitchParameter SkipCertificateCheck { get; set; }

        /// <summary>Chatrm (native, the default) or Classic (the original's bytes, for an original server).</summary>
        [Parameter]
        public ChatProtocol Protocol { get; set; } = ChatProtocol.Chatrm;

        /// <summary>Native protocol: seconds without a frame from the server before it is pinged, and again before giving up.</summary>
        [Parameter]
        [ValidateRange(0.01, 86400.0)]
        public double KeepAliveInterval { get; set; } = 60;

        /// <summary>Messages kept between reads; past this the oldest are dropped and counted.</summary>
        [Parameter]
        [ValidateRange(1, 10_000_000)]
        public int InboxSize { get; set; } = 10_000;

        /// <summary>Native protocol: ask the server not to say who joins and leaves (a bot rarely cares; it saves a frame per join).</summary>
        [Parameter]
        public SwitchParameter NoPresence { get; set; }

        /// <summary>Do not make a dropped connection again: it closes, as before reconnecting was built.</summary>
        [Parameter]
        public SwitchParameter NoReconnect { get; set; }

        /// <summary>Seconds reconnecting goes on after a drop before it gives up and the connection closes.</summary>
        [Parameter]
        [ValidateRange(1.0, 86400.0)]
        public double ReconnectTimeout { get; set; } = ConnectionOptions.DefaultReconnectSeconds;

        protected override void ProcessRecord()
        {
            ErrorRecord conflict = ConnectionOptions.ReconnectConflict(NoReconnect, MyInvocation.BoundParameters.ContainsKey(nameof(ReconnectTimeout)), ReconnectTimeout);
            if (conflict != null)
            {
                ThrowTerminatingError(conflict);
            }

            var options = new ClientOptions
            {
                InboxCapacity = InboxSize,
                KeepAliveInterval = TimeSpan.FromSeconds(KeepAliveInterval),
                ReceivePresence = !NoPresence,
            };
            ConnectionOptions.ApplyReconnect(options, !NoReconnect, ReconnectTimeout);
            string userName = ConnectionOptions.ApplyCredential(options, UserName, Credential);
            options.Tls = ConnectionOptions.Tls(UseTls, CertificateThumbprint, SkipCertificateCheck);
            ChatrmConnection connection = ConnectUser(ComputerName, Port, userName, Protocol, options);
            if (connection != null)
            {
                WriteObject(connection);
            }
        }
    }

    /// <summary>Leaves the server: says EXIT, closes the connection and forgets it. Low impact: it ends only your own session.</summary>
    [Cmdlet(VerbsCommunications.Disconnect, "ChatrmServer", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
    [OutputType(typeof(ChatrmConnection))]
    public sealed class DisconnectChatrmServerCommand : ChatrmCmdlet
    {
        [Parameter(Position = 0, ValueFromPipeline = true)]
        [ConnectionTransformation]
        [ArgumentCompleter(typeof(ConnectionCompleter))]
        public ChatrmConnection Connection { get; set; }

        [Parameter]
        public SwitchParameter PassThru { get; set; }

        protected override void ProcessRecord()
        {
            ChatrmConnection connection = ResolveConnection(Connection);
            if (!ShouldProcess(connection.ToString(), "Disconnect"))
            {
                return;
            }

            connection.Client.CloseAsync().GetAwaiter().GetResult();
            ConnectionTable.Remove(connection);
            if (PassThru)
            {
                WriteObject(connection);
            }
        }
    }

    /// <summary>Lists this session's connections.</summary>
    [Cmdlet(VerbsCommon.Get, "ChatrmConnection")]
    [OutputType(typeof(ChatrmConnection))]
    public sealed class GetChatrmConnectionCommand : ChatrmCmdlet
    {
        [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        public int[] Id { get; set; }

        protected override void ProcessRecord()
        {
            var all = ConnectionTable.Current();
            if (Id == null)
            {
                WriteObject(all, enumerateCollection: true);
                return;
            }

            foreach (int id in Id)
            {
                ChatrmConnection found = all.FirstOrDefault(c => c.Id == id);
                if (found == null)
                {
                    WriteError(ChatrmErrors.Make(ChatrmErrors.NoConnection, ErrorCategory.ObjectNotFound, $"This session has no Chatrm connection with Id {id}.", id));
                }
                else
                {
                    WriteObject(found);
                }
            }
        }
    }
}
