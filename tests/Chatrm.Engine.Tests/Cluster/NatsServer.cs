using System;
using System.Diagnostics;
using System.IO;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;
using Xunit;

namespace Chatrm.Engine.Tests.Cluster
{
    /// <summary>
    /// A real nats-server with JetStream, on 127.0.0.1 and a port it picks, its store in a temporary folder; killed and
    /// the folder deleted when the test ends. Debian's nats-server package is installed when missing and apt-get can.
    /// </summary>
    internal sealed class NatsServer : IAsyncDisposable
    {
        private static readonly Regex Listening = new Regex(@"Listening for client connections on [^:\s]+:(\d+)", RegexOptions.CultureInvariant);
        private static readonly Regex ListeningForRoutes = new Regex(@"Listening for route connections on [^:\s]+:(\d+)", RegexOptions.CultureInvariant);
        private static readonly SemaphoreSlim Installing = new SemaphoreSlim(1, 1);
        private static string s_path;

        private readonly Process _process;
        private readonly string _storeFolder;

        private NatsServer(Process process, string storeFolder, int port)
        {
            _process = process;
            _storeFolder = storeFolder;
            Port = port;
        }

        public int Port { get; private set; }

        public string Url => "nats://127.0.0.1:" + Port;

        public int ProcessId => _process.Id;

        /// <summary>The port other servers of its NATS cluster route to; 0 when it is alone.</summary>
        public int RoutePort { get; private set; }

        /// <summary>Starts one; <paramref name="port"/> 0 lets it pick (a restart asks for the port it had).</summary>
        public static async Task<NatsServer> StartAsync(int port = 0, string storeFolder = null, params string[] more)
        {
            string path = await FindOrInstallAsync();
            storeFolder ??= Directory.CreateTempSubdirectory("chatrm-nats-").FullName;
            var start = new ProcessStartInfo(path)
            {
                RedirectStandardError = true,
                RedirectStandardOutput = true,
                UseShellExecute = false,
            };
            // -p -1: a free port, which it logs; that line is the one wanted.
            foreach (string arg in new[] { "-a", "127.0.0.1", "-p", port == 0 ? "-1" : port.ToString(), "-js", "-sd", storeFolder })
            {
                start.ArgumentList.Add(arg);
            }

            foreach (string arg in more)
            {
                start.ArgumentList.Add(arg);
            }

            int routePort = 0;

            var process = Process.Start(start);
            var listening = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
            process.ErrorDataReceived += (_, e) =>
            {
                Match route = e.Data == null ? null : ListeningForRoutes.Match(e.Data);
                if (route != null && route.Success)
                {
                    routePort = int.Parse(route.Groups[1].Value);
                }

                Match m = e.Data == null ? null : Listening.Match(e.Data);
                if (m != null && m.Success)
                {
                    listening.TrySetResult(int.Parse(m.Groups[1].Value));
                }
            };
            process.OutputDataReceived += (_, _) => { };
            process.BeginErrorReadLine();
            process.BeginOutputReadLine();
            process.EnableRaisingEvents = true;
            process.Exited += (_, _) => listening.TrySetException(new InvalidOperationException("nats-server exited at its start (exit code " + process.ExitCode + ")"));
            var server = new NatsServer(process, storeFolder, 0);
            try
            {
                server.Port = await listening.Task.WaitAsync(TimeSpan.FromSeconds(20));
                server.RoutePort = Volatile.Read(ref routePort);
            }
            catch
            {
                await server.DisposeAsync();
                throw;
            }

            return server;
        }

        /// <summary>Kills it (as kill -9 would) and waits for it to be gone; the store folder stays for a restart.</summary>
        public async Task KillAsync()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }

            await _process.WaitForExitAsync();
        }

        /// <summary>Starts it again on the same port and store, after <see cref="KillAsync"/>.</summary>
        public Task<NatsServer> RestartAsync() => StartAsync(Port, _storeFolder);

        public async ValueTask DisposeAsync()
        {
            await KillAsync();
            _process.Dispose();
            try
            {
                Directory.Delete(_storeFolder, recursive: true);
            }
            catch (IOException)
            {
            }
        }

        private static async Task<string> FindOrInstallAsync()
        {
            await Installing.WaitAsync();
            try
            {
                s_path ??= Find() ?? await InstallAsync();
                return s_path;
            }
            finally
            {
                Installing.Release();
            }
        }

        private static string Find()
        {
            foreach (string folder in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':'))
            {
                string candidate = Path.Combine(folder, "nats-server");
                if (folder.Length > 0 && File.Exists(candidate))
                {
                    return candidate;
                }
            }

            return File.Exists("/usr/sbin/nats-server") ? "/usr/sbin/nats-server" : null;
        }

        private static async Task<string> InstallAsync()
        {
            foreach (string command in new[] { "apt-get update -qq", "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nats-server" })
            {
                using Process p = Process.Start(new ProcessStartInfo("sh", new[] { "-c", command + " >/dev/null 2>&1" }) { UseShellExecute = false });
                await p.WaitForExitAsync();
            }

            string found = Find();
            Assert.True(found != null, "These tests need nats-server (Debian's nats-server package), and apt-get could not install it.");
            return found;
        }
    }
}
