using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Net;
using System.Net.Sockets;
using Chatrm.Engine;

namespace Chatrm.PowerShell
{
    /// <summary>Starts a Chatrm server as a background job. With -WhatIf nothing listens.</summary>
    [Cmdlet(VerbsLifecycle.Start, "ChatrmServer", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
    [OutputType(typeof(ChatrmServerJob))]
    public sealed class StartChatrmServerCommand : ChatrmCmdlet
    {
        /// <summary>The port to listen on; 0 picks a free one. Asked for when missing, as the original does.</summary>
        [Parameter(Mandatory = true, Position = 0, HelpMessage = "The port to host Chatrm on (0 picks a free port)")]
        [ValidateRange(0, 65535)]
        public int Port { get; set; }

        /// <summary>The address to listen on: loopback unless told otherwise.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string Address { get; set; } = "127.0.0.1";

        /// <summary>The job's name.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string Name { get; set; }

        /// <summary>Longest line a client may send, in bytes.</summary>
        [Parameter]
        [ValidateRange(64, 64 * 1024 * 1024)]
        public int MaxLineLength { get; set; } = ServerOptions.DefaultMaxLineBytes;

        /// <summary>Seconds a new connection has to name itself.</summary>
        [Parameter]
        [ValidateRange(1, 86400)]
        public int HandshakeTimeout { get; set; } = 300;

        /// <summary>Native protocol: seconds without a frame before a user is pinged, and again before it is dropped.</summary>
        [Parameter]
        [ValidateRange(0.01, 86400.0)]
        public double KeepAliveInterval { get; set; } = 60;

        /// <summary>Connections the server holds at once.</summary>
        [Parameter]
        [ValidateRange(1, 10_000_000)]
        public int MaxConnections { get; set; } = 100_000;

        /// <summary>Connections from one IP address at once; 0 (the default) is no limit.</summary>
        [Parameter]
        [ValidateRange(0, 10_000_000)]
        public int MaxConnectionsPerAddress { get; set; }

        /// <summary>Messages a user may send a second, in bursts of as many; 0 (the default) is no limit.</summary>
        [Parameter]
        [ValidateRange(0, 10_000_000)]
        public int MaxMessagesPerSecond { get; set; }

        /// <summary>Seconds a user may go without sending a message before being disconnected; 0 (the default) is no limit.</summary>
        [Parameter]
        [ValidateRange(0.0, 31_536_000.0)]
        public double IdleTimeout { get; set; }

        /// <summary>Bytes that may wait for a user who does not read before the user is dropped as too slow.</summary>
        [Parameter]
        [ValidateRange(1024, long.MaxValue)]
        public long MaxSendQueueBytes { get; set; } = 4 * 1024 * 1024;

        /// <summary>Direct native messages (room messages need no ack) that may wait for one user's confirmation before the user is dropped as too slow.</summary>
        [Parameter]
        [ValidateRange(1, int.MaxValue)]
        public int MaxUnconfirmed { get; set; } = 32 * 1024;

        /// <summary>Rooms one user may be in at once.</summary>
        [Parameter]
        [ValidateRange(1, 10_000_000)]
        public int MaxRoomsPerUser { get; set; } = 100;

        /// <summary>Members one room may have.</summary>
        [Parameter]
        [ValidateRange(1, 10_000_000)]
        public int MaxMembersPerRoom { get; set; } = 1_000;

        /// <summary>Rooms the server may have at once.</summary>
        [Parameter]
        [ValidateRange(1, 10_000_000)]
        public int MaxRooms { get; set; } = 10_000;

        /// <summary>Users who may log in; native users must then give their password.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public PSCredential[] Credential { get; set; }

        /// <summary>A file of salted password hashes written by Export-ChatrmCredential.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string CredentialFile { get; set; }

        /// <summary>With -Credential or -CredentialFile: let classic users in, under names that have no password.</summary>
        [Parameter]
        public SwitchParameter AllowClassic { get; set; }

        /// <summary>Speak TLS only on -Port: an X509Certificate2 with its private key, or the path of a PFX file.</summary>
        [Parameter]
        [ValidateNotNull]
        public object Certificate { get; set; }

        /// <summary>The password of the PFX file given to -Certificate.</summary>
        [Parameter]
        public System.Security.SecureString CertificatePassword { get; set; }

        /// <summary>A second, plain port for original clients beside a TLS port (0 picks a free one).</summary>
        [Parameter]
        [ValidateRange(0, 65535)]
        public int ClassicPort { get; set; }

        /// <summary>
        /// Also serve the web client on this port (0 picks a free one): a chat page at / and its WebSocket at /ws,
        /// over HTTPS and WSS with -Certificate. Needs PowerShell 7.
        /// </summary>
        [Parameter]
        [ValidateRange(0, 65535)]
        public int WebPort { get; set; }

        /// <summary>Origins whose pages may open the web port's WebSocket besides the page's own (https://chat.example.com).</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[] WebAllowedOrigin { get; set; }

        /// <summary>
        /// The SQLite file that keeps offline messages, history and the names that logged in across restarts (made when
        /// missing); without it the server keeps them in memory until it stops.
        /// </summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string StorePath { get; set; }

        /// <summary>All keeps direct and room messages as history (Get-ChatrmHistory); None keeps none.</summary>
        [Parameter]
        [ValidateSet("All", "None")]
        public string History { get; set; } = "All";

        /// <summary>Days a line of history is kept.</summary>
        [Parameter]
        [ValidateRange(1, 36_500)]
        public int HistoryDays { get; set; } = 30;

        /// <summary>Days a message waits for an offline user before it is dropped unread.</summary>
        [Parameter]
        [ValidateRange(1, 36_500)]
        public int InboxDays { get; set; } = 30;

        /// <summary>Messages one offline user's inbox holds; one more is refused inbox-full.</summary>
        [Parameter]
        [ValidateRange(1, int.MaxValue)]
        public int MaxInboxMessages { get; set; } = 10_000;

        /// <summary>Bytes of text one offline user's inbox holds (at least -MaxLineLength); one more message past it is refused inbox-full.</summary>
        [Parameter]
        [ValidateRange(64, long.MaxValue)]
        public long MaxInboxBytes { get; set; } = 16 * 1024 * 1024;

        /// <summary>Seconds a native client's resend of a ref (with a resume token) is recognised and not delivered again.</summary>
        [Parameter]
        [ValidateRange(1.0, 31_536_000.0)]
        public double ResendWindow { get; set; } = 600;

        /// <summary>Refs remembered per resume token for -ResendWindow; past it the oldest is forgotten first.</summary>
        [Parameter]
        [ValidateRange(1, int.MaxValue)]
        public int MaxRememberedRefs { get; set; } = 10_000;

        /// <summary>
        /// The NATS servers (nats://host:port) of a cluster of Chatrm servers to join: an array, or one string with commas.
        /// PowerShell 7 only.
        /// </summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[] Cluster { get; set; }

        /// <summary>This server's name in the cluster, shown beside its users; the host name and process id when not given.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string NodeName { get; set; }

        /// <summary>The user name and password NATS asks of the cluster's servers.</summary>
        [Parameter]
        [Credential]
        public PSCredential ClusterCredential { get; set; }

        /// <summary>How many events Receive-Job can have waiting; past this the oldest are dropped and counted.</summary>
        [Parameter]
        [ValidateRange(1, 1_000_000)]
        public int EventBufferSize { get; set; } = 1000;

        protected override void ProcessRecord()
        {
            var options = new ServerOptions
            {
                Address = ResolveAddress(Address),
                Port = Port,
                MaxLineBytes = MaxLineLength,
                HandshakeTimeout = TimeSpan.FromSeconds(HandshakeTimeout),
                KeepAliveInterval = TimeSpan.FromSeconds(KeepAliveInterval),
                MaxConnections = MaxConnections,
                MaxConnectionsPerAddress = MaxConnectionsPerAddress,
                MaxMessagesPerSecond = MaxMessagesPerSecond,
                IdleTimeout = TimeSpan.FromSeconds(IdleTimeout),
                MaxQueuedBytesPerConnection = Math.Max(MaxSendQueueBytes, MaxLineLength),
                MaxUnconfirmedPerConnection = MaxUnconfirmed,
                MaxRoomsPerUser = MaxRoomsPerUser,
                MaxMembersPerRoom = MaxMembersPerRoom,
                MaxRooms = MaxRooms,
                Credentials = LoadCredentials(),
                AllowClassic = AllowClassic,
                Certificate = LoadCertificate(),
                ClassicPort = MyInvocation.BoundParameters.ContainsKey(nameof(ClassicPort)) ? ClassicPort : (int?)null,
                WebPort = MyInvocation.BoundParameters.ContainsKey(nameof(WebPort)) ? WebPort : (int?)null,
                WebAllowedOrigins = WebAllowedOrigin,
                StorePath = StorePath == null ? null : SessionState.Path.GetUnresolvedProviderPathFromPSPath(StorePath),
                KeepHistory = History == "All",
                HistoryDays = HistoryDays,
                InboxDays = InboxDays,
                MaxInboxMessages = MaxInboxMessages,
                MaxInboxBytes = MaxInboxBytes,
                ResendWindow = TimeSpan.FromSeconds(ResendWindow),
                MaxRememberedRefs = MaxRememberedRefs,
            };

            if (MaxInboxBytes < MaxLineLength)
            {
                ThrowTerminatingError(ChatrmErrors.Make(ChatrmErrors.ServerStartFailed, ErrorCategory.InvalidArgument,
                    $"-MaxInboxBytes {MaxInboxBytes} is less than -MaxLineLength {MaxLineLength}: an inbox must hold at least one message of the longest line.", MaxInboxBytes));
            }

#if !NET
            if (options.WebPort.HasValue)
            {
                ThrowTerminatingError(ChatrmErrors.Make(ChatrmErrors.WebNeedsPowerShell7, ErrorCategory.NotImplemented,
                    "-WebPort needs PowerShell 7: the web client's WebSocket comes from .NET, which Windows PowerShell's .NET Framework lacks. Run the server in pwsh.", WebPort));
            }
#endif

            string command = $"Start-ChatrmServer -Port {Port} -Address {Address}" + (StorePath == null ? string.Empty : $" -StorePath '{StorePath}'");

            // Asked before the port is bound, so -WhatIf leaves nothing listening.
            if (!ShouldProcess($"{options.Address}:{Port}", "Start Chatrm server"))
            {
                return;
            }

            if (Cluster == null && (NodeName != null || ClusterCredential != null))
            {
                ThrowTerminatingError(ChatrmErrors.Make(ChatrmErrors.ParameterConflict, ErrorCategory.InvalidArgument,
                    "-NodeName and -ClusterCredential are for a server that joins a cluster: give -Cluster too.", NodeName));
            }

            if (Cluster != null && StorePath != null)
            {
                ThrowTerminatingError(ChatrmErrors.Make(ChatrmErrors.ParameterConflict, ErrorCategory.InvalidArgument,
                    "-StorePath is for a single server: a cluster keeps offline messages and history in JetStream.", StorePath));
            }

            ServerCluster cluster = Cluster == null ? null : JoinCluster();
            if (cluster != null)
            {
                command += $" -Cluster '{string.Join(",", Cluster)}' -NodeName {cluster.NodeName}";
            }

            ChatrmServerJob job;
            try
            {
                job = new ChatrmServerJob(command, Name, options, EventBufferSize, cluster);
            }
            catch
            {
                cluster?.Dispose();
                throw;
            }

            try
            {
                job.StartJob();
            }
            catch (StoreOpenException e)
            {
                // A file held by another server, or one that is not a Chatrm store: the server does not start, and the file is left as it is.
                job.Dispose();
                ThrowTerminatingError(ChatrmErrors.Make(ChatrmErrors.ServerStartFailed, ErrorCategory.OpenError, e.Message, e.Path, e));
            }
            catch (SocketException e)
            {
                job.Dispose();
                ThrowTerminatingError(ChatrmErrors.Make(
                    ChatrmErrors.ServerStartFailed,
                    ErrorCategory.ResourceUnavailable,
                    $"Cannot listen on {options.Address}:{Port}" + (options.WebPort.HasValue ? $" and its web port {options.WebPort}" : string.Empty) + $": {e.Message}",
                    Port,
                    e));
            }

            // As Start-ThreadJob does: the job manager hands the job to our adapter, so Get-Job sees it.
            var definition = new JobDefinition(typeof(ChatrmJobSourceAdapter), command, job.Name);
            var parameters = new Dictionary<string, object> { { "NewJob", job } };
            JobManager.NewJob(new JobInvocationInfo(definition, parameters));
            WriteObject(job);
        }

        // Only here, and only with -Cluster, is the cluster's assembly (and NATS's) loaded.
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
        private ServerCluster JoinCluster()
        {
            string[] urls = Cluster.SelectMany(u => u.Split(',')).Select(u => u.Trim()).Where(u => u.Length > 0).ToArray();
#if NET
            try
            {
                return NatsServerCluster.Join(urls, NodeName, ClusterCredential, StopToken);
            }
            catch (ArgumentException e)
            {
                ThrowTerminatingError(ChatrmErrors.Make(ChatrmErrors.ServerStartFailed, ErrorCategory.InvalidArgument, e.Message, string.Join(",", urls), e));
            }
            catch (Chatrm.Cluster.ClusterJoinException e)
            {
                ThrowTerminatingError(ChatrmErrors.Make(ChatrmErrors.ClusterUnavailable, ErrorCategory.ConnectionError, e.Message, string.Join(",", urls), e));
            }
            catch (OperationCanceledException e)
            {
                ThrowTerminatingError(ChatrmErrors.Make(ChatrmErrors.ClusterUnavailable, ErrorCategory.OperationStopped, "Stopped while joining the cluster.", string.Join(",", urls), e));
            }

            return null;
#else
            ThrowTerminatingError(ChatrmErrors.Make(ChatrmErrors.ServerStartFailed, ErrorCategory.NotImplemented,
                "-Cluster needs PowerShell 7.6 (the module's .NET 10 build); Windows PowerShell 5.1 runs a server on its own only.", string.Join(",", urls)));
            return null;
#endif
        }

        private CredentialStore LoadCredentials()
        {
            if (Credential == null && CredentialFile == null)
            {
                return null;
            }

            CredentialStore store;
            try
            {
                store = CredentialFile == null ? new CredentialStore() : CredentialStore.Load(SessionState.Path.GetUnresolvedProviderPathFromPSPath(CredentialFile));
            }
            catch (Exception e) when (e is System.IO.IOException || e is UnauthorizedAccessException || e is System.IO.InvalidDataException || e is FormatException || e is ArgumentException)
            {
                ThrowTerminatingError(ChatrmErrors.Make(ChatrmErrors.ServerStartFailed, ErrorCategory.InvalidData, $"Cannot read the credential file '{CredentialFile}': {e.Message}", CredentialFile, e));
                return null;
            }

            foreach (PSCredential credential in Credential ?? Array.Empty<PSCredential>())
            {
                try
                {
                    store.Add(credential.UserName, credential.GetNetworkCredential().Password);
                }
                catch (ArgumentException e)
                {
                    ThrowTerminatingError(ChatrmErrors.Make(ChatrmErrors.ServerStartFailed, ErrorCategory.InvalidArgument, e.Message, credential.UserName, e));
                }
            }

            return store;
        }

        private System.Security.Cryptography.X509Certificates.X509Certificate2 LoadCertificate()
        {
            System.Security.Cryptography.X509Certificates.X509Certificate2 certificate = ReadCertificate();
            if (certificate != null && !certificate.HasPrivateKey)
            {
                ThrowTerminatingError(ChatrmErrors.Make(
                    ChatrmErrors.ServerStartFailed,
                    ErrorCategory.InvalidArgument,
                    $"The certificate {certificate.Subject} ({certificate.Thumbprint}) has no private key, which a server needs to speak TLS. Give a PFX file or a certificate with its key.",
                    Certificate));
            }

            return certificate;
        }

        private System.Security.Cryptography.X509Certificates.X509Certificate2 ReadCertificate()
        {
            object value = Certificate is PSObject ps ? ps.BaseObject : Certificate;
            switch (value)
            {
                case null:
                    return null;
                case System.Security.Cryptography.X509Certificates.X509Certificate2 certificate:
                    return certificate;
                case string path:
                    try
                    {
                        string password = CertificatePassword == null ? null : new NetworkCredential(string.Empty, CertificatePassword).Password;
                        return new System.Security.Cryptography.X509Certificates.X509Certificate2(
                            SessionState.Path.GetUnresolvedProviderPathFromPSPath(path), password);
                    }
                    catch (System.Security.Cryptography.CryptographicException e)
                    {
                        ThrowTerminatingError(ChatrmErrors.Make(ChatrmErrors.ServerStartFailed, ErrorCategory.InvalidData, $"Cannot load the certificate '{path}': {e.Message}", path, e));
                        return null;
                    }

                default:
                    ThrowTerminatingError(ChatrmErrors.Make(ChatrmErrors.ServerStartFailed, ErrorCategory.InvalidArgument, "-Certificate takes an X509Certificate2 or the path of a PFX file.", Certificate));
                    return null;
            }
        }

        private IPAddress ResolveAddress(string address)
        {
            if (IPAddress.TryParse(address, out IPAddress ip))
            {
                return ip;
            }

            try
            {
                IPAddress[] found = Dns.GetHostAddresses(address);
                return found.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? found.First();
            }
            catch (Exception e) when (e is SocketException || e is InvalidOperationException)
            {
                ThrowTerminatingError(ChatrmErrors.Make(
                    ChatrmErrors.ServerStartFailed,
                    ErrorCategory.InvalidArgument,
                    $"'{address}' is neither an IP address nor a name this machine can resolve.",
                    address,
                    e));
                return null;
            }
        }
    }

    /// <summary>Stops Chatrm servers: the same as Stop-Job on their jobs. Each stop cuts off its users, so it is confirmed at Medium.</summary>
    [Cmdlet(VerbsLifecycle.Stop, "ChatrmServer", DefaultParameterSetName = "All", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(ChatrmServerJob))]
    public sealed class StopChatrmServerCommand : ChatrmCmdlet
    {
        [Parameter(ParameterSetName = "Job", Mandatory = true, Position = 0, ValueFromPipeline = true)]
        [ValidateNotNull]
        public ChatrmServerJob[] Job { get; set; }

        [Parameter(ParameterSetName = "Name", Mandatory = true)]
        [ValidateNotNullOrEmpty]
        public string[] Name { get; set; }

        [Parameter]
        public SwitchParameter PassThru { get; set; }

        protected override void ProcessRecord()
        {
            IEnumerable<ChatrmServerJob> jobs;
            switch (ParameterSetName)
            {
                case "Job":
                    jobs = Job;
                    break;
                case "Name":
                    jobs = FindByName();
                    break;
                default:
                    // Without -Job or -Name: every Chatrm server still running in this process.
                    jobs = ChatrmJobSourceAdapter.All.Where(j => j.JobStateInfo.State == JobState.Running).ToList();
                    break;
            }

            foreach (ChatrmServerJob job in jobs)
            {
                if (!ShouldProcess($"{job.Name} ({job.Location})", "Stop Chatrm server"))
                {
                    continue;
                }

                job.StopJob();
                if (PassThru)
                {
                    WriteObject(job);
                }
            }
        }

        private List<ChatrmServerJob> FindByName()
        {
            var found = new List<ChatrmServerJob>();
            foreach (string name in Name)
            {
                WildcardPattern pattern = ParseWildcard(name, nameof(Name));
                var matches = ChatrmJobSourceAdapter.All.Where(j => pattern.IsMatch(j.Name)).ToList();
                if (matches.Count == 0 && !WildcardPattern.ContainsWildcardCharacters(name))
                {
                    WriteError(ChatrmErrors.Make(ChatrmErrors.ServerNotFound, ErrorCategory.ObjectNotFound, $"No Chatrm server job is named '{name}'.", name));
                }

                found.AddRange(matches);
            }

            return found;
        }
    }

    /// <summary>Writes salted, slow password hashes for Start-ChatrmServer -CredentialFile; passwords are never stored.</summary>
    [Cmdlet(VerbsData.Export, "ChatrmCredential", SupportsShouldProcess = true)]
    [OutputType(typeof(System.IO.FileInfo))]
    public sealed class ExportChatrmCredentialCommand : ChatrmCmdlet
    {
        private readonly List<PSCredential> _credentials = new List<PSCredential>();

        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
        [ValidateNotNull]
        public PSCredential[] Credential { get; set; }

        /// <summary>The file; users already in it are kept, and replaced when named again.</summary>
        [Parameter(Mandatory = true, Position = 1)]
        [ValidateNotNullOrEmpty]
        public string Path { get; set; }

        /// <summary>PBKDF2 iterations: more is slower to check and to guess.</summary>
        [Parameter]
        [ValidateRange(10_000, 10_000_000)]
        public int Iterations { get; set; } = CredentialStore.DefaultIterations;

        protected override void ProcessRecord() => _credentials.AddRange(Credential);

        protected override void EndProcessing()
        {
            string path = SessionState.Path.GetUnresolvedProviderPathFromPSPath(Path);
            if (!ShouldProcess(path, $"Write password hashes for {string.Join(", ", _credentials.Select(c => c.UserName))}"))
            {
                return;
            }

            try
            {
                CredentialStore store = System.IO.File.Exists(path) ? CredentialStore.Load(path) : new CredentialStore();
                foreach (PSCredential credential in _credentials)
                {
                    store.Add(credential.UserName, credential.GetNetworkCredential().Password, Iterations);
                }

                System.IO.File.WriteAllText(path, store.ToFileText());
                WriteObject(new System.IO.FileInfo(path));
            }
            catch (ArgumentException e)
            {
                ThrowTerminatingError(ChatrmErrors.Make("ChatrmInvalidCredential", ErrorCategory.InvalidArgument, e.Message, Path, e));
            }
            catch (Exception e) when (e is System.IO.IOException || e is UnauthorizedAccessException)
            {
                ThrowTerminatingError(ChatrmErrors.Make("ChatrmCredentialFileFailed", ErrorCategory.WriteError, $"Cannot write '{path}': {e.Message}", Path, e));
            }
        }
    }
}
