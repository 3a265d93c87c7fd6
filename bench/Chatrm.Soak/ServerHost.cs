using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Net;
using System.Runtime;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Chatrm.Engine;

namespace Chatrm.Soak
{
    /// <summary>What the server holds, measured after a forced, compacting full collection.</summary>
    public sealed class ServerStats
    {
        public int Connections { get; set; }
        public int Online { get; set; }

        /// <summary>GC.GetTotalMemory after the collection: the live managed heap.</summary>
        public long ManagedBytes { get; set; }

        /// <summary>The process's working set after the collection.</summary>
        public long WorkingSetBytes { get; set; }

        public int Threads { get; set; }

        public override string ToString() =>
            $"{Connections} connections, {Online} online, managed heap {Mib(ManagedBytes)}, working set {Mib(WorkingSetBytes)}, {Threads} threads";

        internal static string Mib(long bytes) => (bytes / 1048576.0).ToString("0.0", System.Globalization.CultureInfo.InvariantCulture) + " MiB";

        /// <summary>Measures the server in this process: collects everything collectable first.</summary>
        internal static ServerStats Measure(ChatServer server)
        {
            for (int i = 0; i < 2; i++)
            {
                GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
                GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
                GC.WaitForPendingFinalizers();
            }

            using Process self = Process.GetCurrentProcess();
            self.Refresh();
            return new ServerStats
            {
                Connections = server.ConnectionCount,
                Online = server.OnlineUsers.Count,
                ManagedBytes = GC.GetTotalMemory(forceFullCollection: false),
                WorkingSetBytes = self.WorkingSet64,
                Threads = self.Threads.Count,
            };
        }
    }

    /// <summary>A ChatServer on 127.0.0.1 that the soak drives, and can measure.</summary>
    public interface IServerHost : IAsyncDisposable
    {
        int Port { get; }

        /// <summary>Whether the figures are the server's alone (a child process) or shared with the load (in process).</summary>
        string Kind { get; }

        Task<ServerStats> MeasureAsync();
    }

    /// <summary>The server in this process: quick to start (for CI), but its memory figures include the load's.</summary>
    public sealed class InProcessHost : IServerHost
    {
        private readonly ChatServer _server;

        public InProcessHost()
        {
            _server = new ChatServer(new ServerOptions { Address = IPAddress.Loopback, Port = 0 });
            _server.Start();
        }

        public int Port => _server.LocalEndPoint.Port;

        public string Kind => "in-process";

        public Task<ServerStats> MeasureAsync() => Task.FromResult(ServerStats.Measure(_server));

        public async ValueTask DisposeAsync() => await _server.StopAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// The server in a child process (this program with --serve), so its memory is its own. It is told what to do
    /// on its standard input (stats, stop) and answers on its standard output; when its input closes it stops, so
    /// it never outlives this process. Disposing stops it, and kills it if it does not stop in time.
    /// </summary>
    public sealed class ChildProcessHost : IServerHost
    {
        private readonly Process _process;
        private readonly SemaphoreSlim _gate = new SemaphoreSlim(1, 1);

        private ChildProcessHost(Process process, int port)
        {
            _process = process;
            Port = port;
        }

        public int Port { get; }

        public string Kind => "child process";

        public int ProcessId => _process.Id;

        public static async Task<ChildProcessHost> StartAsync(TimeSpan deadline)
        {
            var start = new ProcessStartInfo(Environment.ProcessPath ?? "dotnet")
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = false,
                UseShellExecute = false,
            };

            // Run as this program was: `dotnet Chatrm.Soak.dll` or the apphost.
            string entry = typeof(ChildProcessHost).Assembly.Location;
            if (Path.GetFileNameWithoutExtension(start.FileName) == "dotnet")
            {
                start.ArgumentList.Add(entry);
            }

            start.ArgumentList.Add("--serve");
            Process process = Process.Start(start) ?? throw new InvalidOperationException("could not start the server process");
            try
            {
                string line = await ReadLineAsync(process, deadline).ConfigureAwait(false);
                if (line == null || !line.StartsWith("PORT ", StringComparison.Ordinal))
                {
                    throw new InvalidOperationException("the server process said " + (line ?? "nothing") + " instead of its port");
                }

                return new ChildProcessHost(process, int.Parse(line.Substring(5), System.Globalization.CultureInfo.InvariantCulture));
            }
            catch
            {
                Kill(process);
                process.Dispose();
                throw;
            }
        }

        public async Task<ServerStats> MeasureAsync()
        {
            await _gate.WaitAsync().ConfigureAwait(false);
            try
            {
                await _process.StandardInput.WriteLineAsync("stats").ConfigureAwait(false);
                await _process.StandardInput.FlushAsync().ConfigureAwait(false);
                string line = await ReadLineAsync(_process, TimeSpan.FromSeconds(30)).ConfigureAwait(false);
                if (line == null || !line.StartsWith("STATS ", StringComparison.Ordinal))
                {
                    throw new InvalidOperationException("the server process said " + (line ?? "nothing") + " instead of its stats");
                }

                return JsonSerializer.Deserialize<ServerStats>(line.Substring(6));
            }
            finally
            {
                _gate.Release();
            }
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                if (!_process.HasExited)
                {
                    try
                    {
                        await _process.StandardInput.WriteLineAsync("stop").ConfigureAwait(false);
                        _process.StandardInput.Close();
                    }
                    catch (IOException)
                    {
                        // It is gone already.
                    }

                    using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(15));
                    try
                    {
                        await _process.WaitForExitAsync(wait.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                    }
                }
            }
            finally
            {
                Kill(_process);
                _process.Dispose();
            }
        }

        private static void Kill(Process process)
        {
            try
            {
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);
                    process.WaitForExit(5000);
                }
            }
            catch (InvalidOperationException)
            {
                // Never started or already reaped.
            }
        }

        private static async Task<string> ReadLineAsync(Process process, TimeSpan deadline)
        {
            using var timeout = new CancellationTokenSource(deadline);
            try
            {
                return await process.StandardOutput.ReadLineAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"the server process did not answer within {deadline.TotalSeconds:0} s");
            }
        }

        /// <summary>
        /// --serve: hosts a server on 127.0.0.1 and an ephemeral port, says PORT n, then answers commands on standard
        /// input: stats (a forced collection, then STATS {json}) and stop. End of input stops it too.
        /// </summary>
        internal static async Task<int> ServeAsync()
        {
            var server = new ChatServer(new ServerOptions { Address = IPAddress.Loopback, Port = 0 });
            server.Start();
            try
            {
                Console.Out.WriteLine("PORT " + server.LocalEndPoint.Port);
                Console.Out.Flush();
                string command;
                while ((command = await Console.In.ReadLineAsync().ConfigureAwait(false)) != null)
                {
                    switch (command.Trim())
                    {
                        case "stats":
                            Console.Out.WriteLine("STATS " + JsonSerializer.Serialize(ServerStats.Measure(server)));
                            Console.Out.Flush();
                            break;
                        case "stop":
                            return 0;
                    }
                }

                return 0;
            }
            finally
            {
                await server.StopAsync().ConfigureAwait(false);
            }
        }
    }
}
