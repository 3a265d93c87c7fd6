using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Chatrm.Bench;

/// <summary>Memory of a server process at one moment; Managed only for Chatrm (after a full collection).</summary>
public sealed record MemorySample(long RssBytes, long? ManagedBytes);

/// <summary>
/// A server this program started on loopback, in a process of its own so its CPU and memory are its own.
/// Every one is killed when disposed, and at exit if something went wrong before that.
/// </summary>
public sealed class ServerProcess : IDisposable
{
    private static readonly List<Process> Started = new List<Process>();

    /// <summary>Store folders of servers still running: deleted at exit too, after their servers are killed.</summary>
    private static readonly List<string> StoreDirs = new List<string>();
    private readonly Process _process;

    private static readonly List<System.Runtime.InteropServices.PosixSignalRegistration> Signals = new List<System.Runtime.InteropServices.PosixSignalRegistration>();

    static ServerProcess()
    {
        // However this program ends (but SIGKILL), the servers it started end with it.
        AppDomain.CurrentDomain.ProcessExit += (_, _) => KillAll();
        Console.CancelKeyPress += (_, _) => KillAll();
        foreach (var signal in new[] { System.Runtime.InteropServices.PosixSignal.SIGTERM, System.Runtime.InteropServices.PosixSignal.SIGHUP, System.Runtime.InteropServices.PosixSignal.SIGQUIT })
        {
            Signals.Add(System.Runtime.InteropServices.PosixSignalRegistration.Create(signal, _ => KillAll()));
        }
    }

    private ServerProcess(string target, Process process, IPEndPoint endPoint, string version, string storeDir)
    {
        Target = target;
        _process = process;
        EndPoint = endPoint;
        Version = version;
        _storeDir = storeDir;
    }

    /// <summary>The temporary folder of a server that stores (a Chatrm store file, JetStream's -sd); deleted with it.</summary>
    private readonly string _storeDir;

    /// <summary>
    /// The built module (its folder, as out/Chatrm) and PowerShell's pwsh.dll, for a Chatrm server started as users
    /// start it; null when not given.
    /// </summary>
    public static string ModulePath { get; set; }
    public static string PwshPath { get; set; }

    /// <summary>NAME=VALUE settings for the servers' environment only (a runtime knob, a JIT log), for diagnosis.</summary>
    public static List<KeyValuePair<string, string>> ServerEnvironment { get; } = new List<KeyValuePair<string, string>>();

    /// <summary>What a Chatrm server of <see cref="StartAsync"/> runs in, for the report.</summary>
    public static string HostName(bool viaModule) => viaModule
        ? "a fresh pwsh: Import-Module Chatrm; Start-ChatrmServer -Port 0"
        : "a fresh Chatrm.Bench serve process";

    public string Target { get; }
    public IPEndPoint EndPoint { get; private set; }
    public int Pid => _process.Id;

    private volatile bool _killed;
    public string Version { get; }

    /// <summary>Null when the program is not installed.</summary>
    public static string Find(string program)
    {
        string path = Environment.GetEnvironmentVariable("PATH") ?? string.Empty;
        foreach (string dir in path.Split(':').Concat(new[] { "/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin" }))
        {
            if (dir.Length == 0) continue;
            string candidate = Path.Combine(dir, program);
            if (File.Exists(candidate)) return candidate;
        }

        return null;
    }

    /// <summary>Why a target cannot run here, or null when it can.</summary>
    public static string Unavailable(string target) => target switch
    {
        Targets.Redis => Find("redis-server") == null ? "redis-server is not installed" : null,
        Targets.Nats or Targets.JetStream or Targets.JetStreamWire or Targets.ChatrmNativeCross or Targets.ChatrmClassicCross or Targets.ChatrmNativeCrossKill => Find("nats-server") == null ? "nats-server is not installed" : null,
        _ => null,
    };

    /// <summary>
    /// Starts a server on loopback. Chatrm runs in this program's serve mode, or with <paramref name="viaModule"/> in a
    /// fresh pwsh that imports the built module and calls Start-ChatrmServer -Port 0, as a user does. A target
    /// that stores (see <see cref="Targets.Stores"/>) gets a fresh temporary folder for its store.
    /// <paramref name="serveArguments"/> go to Chatrm's serve mode after its own (--cluster URL --node-name NAME).
    /// </summary>
    public static async Task<ServerProcess> StartAsync(string target, int maxClients, bool viaModule = false, IReadOnlyList<string> serveArguments = null)
    {
        int port = FreePort();
        var endPoint = new IPEndPoint(IPAddress.Loopback, port);
        ProcessStartInfo start;
        string version;
        string storeDir = null;
        if (viaModule && serveArguments != null) throw new InvalidOperationException("serve arguments are for this program's serve mode, not the module");
        if (Targets.Stores(target))
        {
            if (viaModule) throw new InvalidOperationException("a server with a store runs in this program's serve mode, not through the module");
            storeDir = Directory.CreateTempSubdirectory("chatrm-bench-store-").FullName;
        }

        switch (target)
        {
            case Targets.Redis:
                start = new ProcessStartInfo(Find("redis-server"));
                foreach (string a in new[]
                {
                    "--port", port.ToString(), "--bind", "127.0.0.1", "--protected-mode", "no", "--save", "",
                    "--appendonly", "no", "--daemonize", "no", "--maxclients", maxClients.ToString(), "--loglevel", "warning",
                    "--logfile", "", "--dir", Path.GetTempPath(),
                })
                {
                    start.ArgumentList.Add(a);
                }

                version = Capture(Find("redis-server"), "--version");
                break;
            case Targets.Nats:
                start = new ProcessStartInfo(Find("nats-server"));
                foreach (string a in new[] { "-a", "127.0.0.1", "-p", port.ToString() })
                {
                    start.ArgumentList.Add(a);
                }

                version = Capture(Find("nats-server"), "--version");
                break;
            case Targets.JetStream:
            case Targets.JetStreamWire:
                // File storage in a folder of its own, deleted when the server is.
                start = new ProcessStartInfo(Find("nats-server"));
                foreach (string a in new[] { "-a", "127.0.0.1", "-p", port.ToString(), "-js", "-sd", storeDir })
                {
                    start.ArgumentList.Add(a);
                }

                version = Capture(Find("nats-server"), "--version") + " with JetStream (file storage)";
                break;
            default:
                if (viaModule)
                {
                    start = ModuleStart();
                    version = "Chatrm module at " + Path.GetFileName(Path.GetFullPath(ModulePath).TrimEnd('/'));
                }
                else
                {
                    var arguments = new List<string> { "serve", "--port", port.ToString() };
                    // With history on, as users run it: the store's full cost.
                    if (storeDir != null) arguments.AddRange(new[] { "--store", Path.Combine(storeDir, "chatrm.db") });
                    if (serveArguments != null) arguments.AddRange(serveArguments);
                    start = SelfStart(arguments.ToArray());
                    version = "Chatrm.Engine " + typeof(Chatrm.Engine.ChatServer).Assembly.GetName().Version;
                }

                break;
        }

        foreach (var setting in ServerEnvironment) start.Environment[setting.Key] = setting.Value;
        start.UseShellExecute = false;
        start.RedirectStandardInput = true;
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("could not start " + start.FileName);
        }
        catch
        {
            DeleteStore(storeDir);
            throw;
        }

        lock (Started)
        {
            Started.Add(process);
            if (storeDir != null) StoreDirs.Add(storeDir);
        }

        var server = new ServerProcess(target, process, endPoint, version, storeDir);
        try
        {
            // Keep its output flowing so a chatty server never blocks on a full pipe; show it only if it dies.
            process.ErrorDataReceived += (_, e) => server.Log(e.Data);
            process.BeginErrorReadLine();
            if (Targets.IsChatrm(target))
            {
                string line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
                if (line == null || !line.StartsWith("LISTENING ", StringComparison.Ordinal))
                {
                    throw new InvalidOperationException("the Chatrm server did not start: " + line + " " + server.RecentOutput);
                }

                // The port it says: the module's server listens on a port of its own choosing (-Port 0).
                server.EndPoint = new IPEndPoint(IPAddress.Loopback, int.Parse(line.Substring(10).Trim()));
                endPoint = server.EndPoint;
            }
            else
            {
                process.OutputDataReceived += (_, e) => server.Log(e.Data);
                process.BeginOutputReadLine();
            }

            await WaitListeningAsync(endPoint, process, TimeSpan.FromSeconds(30));
            return server;
        }
        catch
        {
            server.Dispose();
            throw;
        }
    }

    /// <summary>Chatrm: a full, compacting collection first, so only what is really held counts.</summary>
    public async Task<MemorySample> SampleMemoryAsync()
    {
        if (Targets.IsChatrm(Target))
        {
            await _process.StandardInput.WriteLineAsync("gc");
            await _process.StandardInput.FlushAsync();
            string line = await _process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60));
            string[] parts = line?.Split(' ') ?? Array.Empty<string>();
            if (parts.Length != 3 || parts[0] != "MEM") throw new InvalidOperationException("the Chatrm server answered gc with " + line);
            return new MemorySample(long.Parse(parts[1]), long.Parse(parts[2]));
        }

        await Task.Delay(200);
        return new MemorySample(Proc.RssBytes(Pid), null);
    }

    private readonly Queue<string> _log = new Queue<string>();

    /// <summary>The server's last lines of output, for when it fails.</summary>
    public string RecentOutput
    {
        get { lock (_log) return string.Join(Environment.NewLine, _log); }
    }

    private void Log(string line)
    {
        if (string.IsNullOrEmpty(line)) return;
        lock (_log)
        {
            _log.Enqueue(line);
            while (_log.Count > 20) _log.Dequeue();
        }
    }

    /// <summary>SIGKILL, as a crash would: no goodbye to the cluster, its names left for the lease to free.</summary>
    public void KillNow()
    {
        try
        {
            _killed = true;
            _process.Kill();
        }
        catch (InvalidOperationException)
        {
        }
    }

    public void Dispose()
    {
        try
        {
            if (_process.HasExited && !_killed)
            {
                Console.Error.WriteLine($"  {Target} exited by itself with code {_process.ExitCode}:{Environment.NewLine}{RecentOutput}");
            }
            else
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
        }

        lock (Started)
        {
            Started.Remove(_process);
            StoreDirs.Remove(_storeDir);
        }

        _process.Dispose();
        DeleteStore(_storeDir);
    }

    /// <summary>What the server's store folder holds now, in bytes; 0 for a server without one.</summary>
    public long StoreBytesOnDisk()
    {
        if (_storeDir == null || !Directory.Exists(_storeDir)) return 0;
        return new DirectoryInfo(_storeDir).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => { try { return f.Length; } catch (IOException) { return 0; } });
    }

    private static void DeleteStore(string dir)
    {
        if (dir == null) return;
        try { Directory.Delete(dir, recursive: true); }
        catch (IOException e) { Console.Error.WriteLine($"  could not delete the store folder {dir}: {e.Message}"); }
        catch (UnauthorizedAccessException e) { Console.Error.WriteLine($"  could not delete the store folder {dir}: {e.Message}"); }
    }

    /// <summary>
    /// A fresh pwsh (the one running the build script, through dotnet) that imports the module and starts its
    /// server, says "LISTENING port", and stops it when stdin says quit or ends.
    /// </summary>
    private static ProcessStartInfo ModuleStart()
    {
        if (ModulePath == null || PwshPath == null) throw new InvalidOperationException("--module and --pwsh are needed for a server started by the module");
        string manifest = Path.Combine(Path.GetFullPath(ModulePath), "Chatrm.psd1").Replace("'", "''");
        string script =
            "$ErrorActionPreference = 'Stop'; " +
            $"Import-Module '{manifest}'; " +
            "$server = Start-ChatrmServer -Port 0 -Address 127.0.0.1; " +
            "[Console]::Out.WriteLine('LISTENING ' + $server.Port); [Console]::Out.Flush(); " +
            "while ($true) { $line = [Console]::In.ReadLine(); if ($null -eq $line -or $line -eq 'quit') { break } }; " +
            "$server | Stop-Job; $server | Remove-Job";
        string host = Environment.ProcessPath;
        var start = new ProcessStartInfo(Path.GetFileNameWithoutExtension(host) == "dotnet" ? host : "dotnet");
        foreach (string a in new[] { PwshPath, "-NoProfile", "-NonInteractive", "-Command", script }) start.ArgumentList.Add(a);
        return start;
    }

    /// <summary>How to start this very program again with other arguments.</summary>
    public static ProcessStartInfo SelfStart(params string[] arguments)
    {
        string host = Environment.ProcessPath;
        var start = new ProcessStartInfo(host);
        if (Path.GetFileNameWithoutExtension(host) == "dotnet")
        {
            start.ArgumentList.Add(typeof(ServerProcess).Assembly.Location);
        }

        foreach (string a in arguments) start.ArgumentList.Add(a);
        return start;
    }

    public static int FreePort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint).Port;
    }

    public static string Capture(string program, params string[] arguments)
    {
        try
        {
            var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (string a in arguments) start.ArgumentList.Add(a);
            using Process p = Process.Start(start);
            string output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
            p.WaitForExit(10_000);
            return output.Trim();
        }
        catch (Exception e)
        {
            return "unknown (" + e.Message + ")";
        }
    }

    private static async Task WaitListeningAsync(IPEndPoint endPoint, Process process, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (process.HasExited) throw new InvalidOperationException($"the server exited with code {process.ExitCode} before listening");
            try
            {
                using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await probe.ConnectAsync(endPoint);
                probe.LingerState = new LingerOption(true, 0);
                return;
            }
            catch (SocketException) when (clock.Elapsed < timeout)
            {
                await Task.Delay(50);
            }
        }
    }

    private static void KillAll()
    {
        lock (Started)
        {
            foreach (Process p in Started)
            {
                try { if (!p.HasExited) p.Kill(entireProcessTree: true); }
                catch (Exception) { }
            }

            Started.Clear();
            foreach (string dir in StoreDirs) DeleteStore(dir);
            StoreDirs.Clear();
        }
    }
}
