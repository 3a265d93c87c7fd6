using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Threading.Tasks;
using Chatrm.Engine;

namespace Chatrm.PowerShell
{
    /// <summary>
    /// A Chatrm server as a PowerShell job: Get-Job lists it, Receive-Job returns its events, Stop-Job stops
    /// it and Remove-Job cleans it up. Events wait in a bounded buffer so an unread server does not grow.
    /// </summary>
    public sealed class ChatrmServerJob : Job2
    {
        public const string JobTypeName = "ChatrmServer";

        private readonly object _outputLock = new object();
        private readonly int _eventCapacity;
        private long _droppedEvents;

        private readonly ServerCluster _cluster;

        /// <param name="cluster">The cluster the server is in, which makes it and is left after it stops; null for a lone server.</param>
        internal ChatrmServerJob(string command, string name, ServerOptions options, int eventCapacity, ServerCluster cluster = null)
            : base(command, name)
        {
            PSJobTypeName = JobTypeName;
            RunspaceId = System.Management.Automation.Runspaces.Runspace.DefaultRunspace?.InstanceId ?? Guid.Empty;
            _cluster = cluster;
            Server = cluster == null ? new ChatServer(options) : cluster.CreateServer(options);
            _eventCapacity = eventCapacity;
            Output.EnumeratorNeverBlocks = true;
            Error.EnumeratorNeverBlocks = true;
        }

        /// <summary>The port the server really listens on.</summary>
        public int Port => Server.LocalEndPoint?.Port ?? Server.Options.Port;

        /// <summary>The address the server listens on.</summary>
        public string Address => (Server.LocalEndPoint?.Address ?? Server.Options.Address).ToString();

        /// <summary>The plain port for original clients beside a TLS port, or null.</summary>
        public int? ClassicPort => Server.ClassicEndPoint?.Port;

        /// <summary>The port that serves the web client (-WebPort), or null.</summary>
        public int? WebPort => Server.WebEndPoint?.Port;

        /// <summary>Where a browser opens the web client (https with -Certificate), or null without -WebPort.</summary>
        public Uri WebUri => Server.WebEndPoint == null ? null : new UriBuilder(
            UsesTls ? "https" : "http",
            WebHost(Server.WebEndPoint.Address),
            Server.WebEndPoint.Port,
            "/").Uri;

        // A server on every address is reached here on loopback; an IPv6 address goes in brackets (UriBuilder does that).
        private static string WebHost(System.Net.IPAddress address) =>
            address.Equals(System.Net.IPAddress.Any) ? "127.0.0.1" :
            address.Equals(System.Net.IPAddress.IPv6Any) ? "::1" :
            address.ToString();

        /// <summary>True when the port speaks TLS.</summary>
        public bool UsesTls => Server.Options.Certificate != null;

        /// <summary>This server's name in its cluster; null for a server on its own.</summary>
        public string NodeName => _cluster?.NodeName;

        /// <summary>Connected, Reconnecting or Unavailable (left, or cut off); null for a server on its own.</summary>
        public string ClusterState => _cluster?.State;

        /// <summary>Names of the users online now: in a cluster, on every server of it.</summary>
        public string[] Users => Server.OnlineUsers.OrderBy(n => n, StringComparer.OrdinalIgnoreCase).ToArray();

        public int ConnectionCount => Server.ConnectionCount;

        /// <summary>Events dropped, oldest first, because nobody read them before the buffer filled.</summary>
        public long DroppedEvents => System.Threading.Interlocked.Read(ref _droppedEvents);

        public override bool HasMoreData => Output.Count > 0 || Error.Count > 0;

        public override string Location => $"{Address}:{Port}";

        public override string StatusMessage => StatusOf(JobStateInfo.State, Users.Length);

        private static string StatusOf(JobState state, int users) =>
            state != JobState.Running ? string.Empty : users == 1 ? "1 user" : users + " users";

        internal ChatServer Server { get; }

        /// <summary>The runspace that started the server: only it sees the job, and the server stops when it closes.</summary>
        internal Guid RunspaceId { get; }

        /// <summary>Binds the port and starts serving; throws when the port cannot be had.</summary>
        public override void StartJob()
        {
            Server.EventRaised += OnServerEvent;
            Server.Start();
            SetJobState(JobState.Running);
        }

        public override void StartJobAsync()
        {
            StartJob();
            OnStartJobCompleted(new System.ComponentModel.AsyncCompletedEventArgs(null, false, this));
        }

        public override void StopJob() => StopJob(false, null);

        public override void StopJob(bool force, string reason)
        {
            if (IsFinishedState(JobStateInfo.State))
            {
                return;
            }

            SetJobState(JobState.Stopping);
            Server.StopAsync().GetAwaiter().GetResult();
            Server.EventRaised -= OnServerEvent;

            // After the server: its users' names are freed in the cluster before it leaves.
            _cluster?.Dispose();
            SetJobState(JobState.Stopped);
        }

        public override void StopJobAsync() => StopJobAsync(false, null);

        public override void StopJobAsync(bool force, string reason)
        {
            Task.Run(() =>
            {
                StopJob(force, reason);
                OnStopJobCompleted(new System.ComponentModel.AsyncCompletedEventArgs(null, false, this));
            });
        }

        public override void SuspendJob() => throw new NotSupportedException("A Chatrm server cannot be suspended; stop it instead.");
        public override void SuspendJob(bool force, string reason) => SuspendJob();
        public override void SuspendJobAsync() => SuspendJob();
        public override void SuspendJobAsync(bool force, string reason) => SuspendJob();
        public override void ResumeJob() => SuspendJob();
        public override void ResumeJobAsync() => SuspendJob();
        public override void UnblockJob() => throw new NotSupportedException("A Chatrm server job never blocks.");
        public override void UnblockJobAsync() => UnblockJob();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                StopJob();
                Server.Dispose();
            }

            base.Dispose(disposing);
        }

        private static bool IsFinishedState(JobState state) =>
            state == JobState.Stopped || state == JobState.Completed || state == JobState.Failed;

        private void OnServerEvent(object sender, ServerEvent e)
        {
            lock (_outputLock)
            {
                try
                {
                    // Receive-Job may drain the buffer between the count and the removal; that is fine.
                    while (Output.Count >= _eventCapacity)
                    {
                        Output.RemoveAt(0);
                        System.Threading.Interlocked.Increment(ref _droppedEvents);
                    }
                }
                catch (ArgumentOutOfRangeException)
                {
                }

                try
                {
                    Output.Add(PSObject.AsPSObject(e));
                }
                catch (InvalidOperationException)
                {
                    // The job was removed and its output closed.
                }
            }
        }
    }

    /// <summary>
    /// Lets the stock job cmdlets find Chatrm server jobs. As connections do, a server belongs to the runspace
    /// that started it: a thread job's servers are not the session's, and stop when the thread job's runspace ends.
    /// </summary>
    public sealed class ChatrmJobSourceAdapter : JobSourceAdapter
    {
        private static readonly ConcurrentDictionary<Guid, ChatrmServerJob> Jobs = new ConcurrentDictionary<Guid, ChatrmServerJob>();
        private static readonly ConcurrentDictionary<Guid, bool> WatchedRunspaces = new ConcurrentDictionary<Guid, bool>();

        public ChatrmJobSourceAdapter()
        {
            Name = nameof(ChatrmJobSourceAdapter);
        }

        /// <summary>This runspace's server jobs, oldest first.</summary>
        internal static IEnumerable<ChatrmServerJob> All => Mine.OrderBy(j => j.Id);

        private static IEnumerable<ChatrmServerJob> Mine
        {
            get
            {
                Guid here = System.Management.Automation.Runspaces.Runspace.DefaultRunspace?.InstanceId ?? Guid.Empty;
                return Jobs.Values.Where(j => j.RunspaceId == here);
            }
        }

        public override Job2 NewJob(JobInvocationInfo specification)
        {
            var job = (ChatrmServerJob)specification.Parameters[0][0].Value;
            Jobs[job.InstanceId] = job;
            Watch(System.Management.Automation.Runspaces.Runspace.DefaultRunspace);
            return job;
        }

        public override IList<Job2> GetJobs() => Mine.Cast<Job2>().ToList();

        public override IList<Job2> GetJobsByName(string name, bool recurse) =>
            Mine.Where(j => Matches(name, j.Name)).Cast<Job2>().ToList();

        public override IList<Job2> GetJobsByCommand(string command, bool recurse) =>
            Mine.Where(j => Matches(command, j.Command)).Cast<Job2>().ToList();

        // Not filtered by runspace: only a holder of the job knows its InstanceId, and Remove-Job -Force looks
        // the job up by it from the thread that finished stopping it, which is in no runspace.
        public override Job2 GetJobByInstanceId(Guid instanceId, bool recurse) =>
            Jobs.TryGetValue(instanceId, out ChatrmServerJob job) ? job : null;

        public override Job2 GetJobBySessionId(int id, bool recurse) => Mine.FirstOrDefault(j => j.Id == id);

        public override IList<Job2> GetJobsByState(JobState state, bool recurse) =>
            Mine.Where(j => j.JobStateInfo.State == state).Cast<Job2>().ToList();

        /// <summary>A wildcard match; a pattern that is not a valid wildcard matches only itself, so Get-Job -Name '[' does not throw.</summary>
        internal static bool Matches(string pattern, string value)
        {
            try
            {
                return new WildcardPattern(pattern, WildcardOptions.IgnoreCase).IsMatch(value);
            }
            catch (WildcardPatternException)
            {
                return string.Equals(pattern, value, StringComparison.OrdinalIgnoreCase);
            }
        }

        private static void Watch(System.Management.Automation.Runspaces.Runspace runspace)
        {
            if (runspace != null && WatchedRunspaces.TryAdd(runspace.InstanceId, true))
            {
                runspace.StateChanged += OnRunspaceStateChanged;
            }
        }

        private static void OnRunspaceStateChanged(object sender, System.Management.Automation.Runspaces.RunspaceStateEventArgs e)
        {
            var state = e.RunspaceStateInfo.State;
            if (state != System.Management.Automation.Runspaces.RunspaceState.Closed && state != System.Management.Automation.Runspaces.RunspaceState.Broken)
            {
                return;
            }

            var runspace = (System.Management.Automation.Runspaces.Runspace)sender;
            runspace.StateChanged -= OnRunspaceStateChanged;
            WatchedRunspaces.TryRemove(runspace.InstanceId, out _);
            foreach (ChatrmServerJob job in Jobs.Values.Where(j => j.RunspaceId == runspace.InstanceId).ToList())
            {
                if (Jobs.TryRemove(job.InstanceId, out _))
                {
                    job.StopJob();
                }
            }
        }

        public override IList<Job2> GetJobsByFilter(Dictionary<string, object> filter, bool recurse) => new List<Job2>();

        public override void RemoveJob(Job2 job)
        {
            if (Jobs.TryRemove(job.InstanceId, out ChatrmServerJob removed))
            {
                removed.StopJob();
            }
        }
    }
}
