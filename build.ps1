<#
.SYNOPSIS
    Builds, tests and runs Chatrm.
.DESCRIPTION
    Build  lays out an importable module at out/Chatrm (Chatrm.psd1, its assemblies, and the help that
           tools/ConvertTo-Maml.ps1 makes from help/*.md at en-US/Chatrm.dll-Help.xml).
    Test   builds, runs the xunit engine tests and the Pester tests against out/Chatrm, and ends
           with one line: "N passed, N failed, N skipped". It fails when a runner reports fewer tests
           than the sources hold, and kills what hangs (a test after 5 minutes, Pester after 20).
    Serve  builds and runs a server in the foreground on -Port until Ctrl+C, keeping offline messages and history
           in -StorePath (data/chatrm.db by default; the folder is made when missing and git ignores it).
    Cluster builds, then starts a local cluster: a nats-server with JetStream on -NatsPort (installed with apt-get
           from Debian's nats-server package when missing; its store in a folder under out/cluster, deleted at the
           end) and -Nodes Chatrm servers joined to it on consecutive ports from -Port, and says how to connect;
           Ctrl+C stops all of it. See docs/scale-out.md.
    Package builds, then publishes the module to the folder repository out/repo with PSResourceGet
           (tools/Publish-ChatrmModule.ps1), for Install-PSResource or Save-PSResource.
    Bench  builds, then runs the benchmark of docs/performance.md (bench/Chatrm.Bench against Chatrm in both
           protocols, Redis and NATS, which it installs with apt-get when missing, then
           bench/Measure-PowerShell.ps1; each round also times every server's first million messages after a fresh
           start, Chatrm's started by Start-ChatrmServer in a fresh pwsh; then the fan-out workload of rooms,
           bench/Chatrm.Bench fanout; Chatrm with a store file beside without; the offline workload of stored
           messages against NATS JetStream, bench/Chatrm.Bench offline; the cluster workload, pairs across two
           servers of a cluster on NATS beside one server and NATS itself, bench/Chatrm.Bench cluster) and rewrites
           docs/performance.md and docs/performance.png. It takes about twenty-five minutes (five interleaved rounds). With -Smoke: a few
           seconds against Chatrm only (and JetStream's offline run when nats-server is there), written under
           out/bench.
    Fuzz   fuzzes the protocols' parsers and the line framing with afl-fuzz and SharpFuzz (fuzz/Invoke-Fuzz.ps1;
           installs afl++ with apt-get when missing) for -FuzzSeconds per target; findings go to fuzz/findings.
    Soak   runs bench/Chatrm.Soak for -SoakSeconds: 300 reconnecting users, every confirmed message checked,
           the server's memory and connections back afterwards (docs/soak.md). The figures go to out/soak.
    Screenshot runs the web client's screenshot test (tests/Chatrm.Engine.Tests/Web/BrowserTests.cs) in headless
           Chromium, a real server and real browser users, and saves the picture at docs/images/web-client.png, which
           the README and docs/web.md show. Needs Debian's chromium package (apt-get install chromium).
    Clean  removes out/.
.EXAMPLE
    dotnet tool restore && dotnet pwsh ./build.ps1 Test
.EXAMPLE
    dotnet tool restore && dotnet pwsh ./build.ps1 Serve -Port 5555
.EXAMPLE
    dotnet tool restore && dotnet pwsh ./build.ps1 Cluster -Nodes 3
#>
[CmdletBinding()]
param(
    [Parameter(Position = 0)]
    [ValidateSet('Build', 'Test', 'Serve', 'Cluster', 'Package', 'Bench', 'Fuzz', 'Soak', 'Screenshot', 'Clean')]
    [string[]] $Task = @('Build'),

    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release',

    # For Serve: the port to listen on; for Cluster, the first server's (the others take the ports after it).
    [int] $Port = 5555,

    # For Cluster: how many Chatrm servers join the cluster.
    [ValidateRange(1, 64)]
    [int] $Nodes = 3,

    # For Cluster: the port of the NATS server the cluster runs on.
    [ValidateRange(1, 65535)]
    [int] $NatsPort = 4222,

    # For Serve: also serve the web client on this port (a browser opens http://Address:WebPort/); none when not given.
    [ValidateRange(0, 65535)]
    [int] $WebPort,

    # For Serve: the address to listen on.
    [string] $Address = '127.0.0.1',

    # For Serve: the store file (SQLite) that keeps offline messages and history across restarts.
    [string] $StorePath = (Join-Path $PSScriptRoot 'data/chatrm.db'),

    # For Bench: a short run against Chatrm only, to see that the benchmark works; no figures are checked.
    [switch] $Smoke,

    # For Fuzz: how long each fuzzing target runs.
    [ValidateRange(10, 86400)]
    [int] $FuzzSeconds = 300,

    # For Soak: how long the soak runs.
    [ValidateRange(1, 7200)]
    [int] $SoakSeconds = 60
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0

$root = $PSScriptRoot
$out = Join-Path $root 'out'
$moduleOut = Join-Path $out 'Chatrm'
$pesterVersion = '5.7.1'

function Invoke-Native {
    param([string] $Command, [string[]] $Arguments)
    & $Command @Arguments
    if ($LASTEXITCODE -ne 0) {
        throw "$Command $($Arguments -join ' ') failed with exit code $LASTEXITCODE."
    }
}

function Get-ModuleVersion {
    $props = [xml](Get-Content -Raw (Join-Path $root 'Directory.Build.props'))
    return $props.Project.PropertyGroup.Version
}

function Invoke-Build {
    # Two builds of the cmdlets and engine, side by side, and the manifest picks one by $PSEdition:
    #   net10.0/         PowerShell 7.6 (on .NET 10), compiled ReadyToRun for this machine's OS and CPU, with the
    #                    framework's own System.Text.Json;
    #   netstandard2.0/  Windows PowerShell 5.1 (.NET Framework), with what netstandard2.0 needs beside it.
    # ReadyToRun code is for one runtime identifier; on another OS or CPU the same assembly's IL runs, as the
    # netstandard2.0 build's does (docs/performance.md).
    $project = Join-Path $root 'src/Chatrm/Chatrm.csproj'
    $publish = Join-Path $out 'publish'
    $runtime = [System.Runtime.InteropServices.RuntimeInformation]::RuntimeIdentifier
    Invoke-Native dotnet @('publish', $project, '-c', $Configuration, '-f', 'netstandard2.0', '-o', (Join-Path $publish 'netstandard2.0'), '--nologo', '-v', 'quiet')
    Invoke-Native dotnet @('publish', $project, '-c', $Configuration, '-f', 'net10.0', '-r', $runtime, '--self-contained', 'false',
        '-p:PublishReadyToRun=true', '-o', (Join-Path $publish 'net10.0'), '--nologo', '-v', 'quiet')

    if (Test-Path $moduleOut) { Remove-Item -Recurse -Force $moduleOut }
    $null = New-Item -ItemType Directory -Force $moduleOut

    foreach ($framework in 'netstandard2.0', 'net10.0') {
        $target = New-Item -ItemType Directory -Force (Join-Path $moduleOut $framework)
        # The native SQLite library (libe_sqlite3.so, .dylib or e_sqlite3.dll) goes beside the assemblies: .NET
        # looks for a P/Invoke's library in its assembly's folder, and pwsh's own deps.json knows nothing of ours.
        # The net10.0 publish is for this runtime identifier, so it holds this OS and CPU's build of it.
        Get-ChildItem (Join-Path $publish $framework) -File |
            Where-Object { $_.Extension -in '.dll', '.so', '.dylib' -and $_.Name -ne 'System.Management.Automation.dll' } |
            Copy-Item -Destination $target
    }

    Copy-Item (Join-Path $root 'src/Chatrm/Chatrm.format.ps1xml') -Destination $moduleOut

    # Get-Help reads a binary module's help from <culture>/<assembly>-Help.xml in the module's folder.
    & (Join-Path $root 'tools/ConvertTo-Maml.ps1') -Path (Join-Path $root 'help') -OutputPath (Join-Path $moduleOut 'en-US/Chatrm.dll-Help.xml')

    $version = Get-ModuleVersion
    $manifest = Get-Content -Raw (Join-Path $root 'Chatrm.psd1')
    $manifest = $manifest -replace "ModuleVersion\s*=\s*'[^']*'", "ModuleVersion        = '$version'"
    Set-Content -Path (Join-Path $moduleOut 'Chatrm.psd1') -Value $manifest -NoNewline
    Write-Host "Built Chatrm $version at $moduleOut (net10.0 ReadyToRun for $runtime, and netstandard2.0)"
}

function Get-PesterPath {
    $packages = (& dotnet nuget locals global-packages --list) -replace '^global-packages:\s*', ''
    $pester = Join-Path $packages.Trim() "pester/$pesterVersion/tools/Pester.psd1"
    if (-not (Test-Path $pester)) {
        Invoke-Native dotnet @('restore', (Join-Path $root 'tests/tools/tools.csproj'), '--nologo', '-v', 'quiet')
    }

    return $pester
}

# The fewest tests each runner must report, derived from the sources: every [Fact] or [Theory] is at least
# one xunit test, every It at least one Pester test (data rows make more). A runner that matched, found or
# ran fewer (a filter gone wrong, a discovery that failed, a crash midway) fails the run.
function Get-TestFloor {
    $xunit = @(Get-ChildItem (Join-Path $root 'tests/Chatrm.Engine.Tests') -Filter '*.cs' |
            Select-String -Pattern '^\s*\[(Fact|Theory)\b').Count
    $pester = @(Get-ChildItem (Join-Path $root 'tests/pester') -Filter '*.Tests.ps1' |
            Select-String -Pattern '^\s*It\s+[''"]').Count
    return @{ Xunit = $xunit; Pester = $pester }
}

# Runs a command with a deadline; past it, the command and everything it started are killed. True when it ended in time.
function Invoke-WithDeadline {
    param([string] $Command, [string[]] $Arguments, [TimeSpan] $Timeout)
    $process = Start-Process -FilePath $Command -ArgumentList $Arguments -NoNewWindow -PassThru
    $null = $process.Handle # keeps the exit code readable once it has exited
    if ($process.WaitForExit([int]$Timeout.TotalMilliseconds)) {
        $process.WaitForExit()
        $script:DeadlineExitCode = $process.ExitCode
        return $true
    }

    Write-Host "$Command $($Arguments -join ' ') did not finish within $Timeout; killing it and what it started."
    $process.Kill($true)
    $process.WaitForExit()
    $script:DeadlineExitCode = -1
    return $false
}

function Invoke-Test {
    $results = Join-Path $out 'test-results'
    if (Test-Path $results) { Remove-Item -Recurse -Force $results }
    $null = New-Item -ItemType Directory -Force $results
    $floor = Get-TestFloor

    # xunit: the engine, in process. A test that hangs for 5 minutes is killed and reported, not waited out.
    & dotnet test (Join-Path $root 'tests/Chatrm.Engine.Tests/Chatrm.Engine.Tests.csproj') -c $Configuration --nologo `
        --blame-hang-timeout 5m --blame-hang-dump-type none `
        --logger 'trx;LogFileName=engine.trx' --logger 'console;verbosity=normal' --results-directory $results
    $xunitExit = $LASTEXITCODE
    $xunitPassed = 0; $xunitFailed = 0; $xunitSkipped = 0
    $failures = [System.Collections.Generic.List[string]]::new()
    $trx = Join-Path $results 'engine.trx'
    if (Test-Path $trx) {
        $run = ([xml](Get-Content -Raw $trx)).TestRun
        $counters = $run.ResultSummary.Counters
        $xunitPassed = [int]$counters.passed
        $xunitFailed = [int]$counters.failed + [int]$counters.error + [int]$counters.timeout + [int]$counters.aborted
        # A skipped test is a result with outcome NotExecuted; the summary's notExecuted counter stays 0.
        $xunitSkipped = @($run.Results.UnitTestResult | Where-Object { $_ -and $_.outcome -eq 'NotExecuted' }).Count
        foreach ($result in @($run.Results.UnitTestResult | Where-Object { $_ -and $_.outcome -notin 'Passed', 'NotExecuted' })) {
            $message = [string]$result.Output.ErrorInfo.Message
            $failures.Add("xunit $($result.testName): $(($message -split "`n" | Select-Object -First 1))")
        }
    }
    if ($xunitExit -ne 0 -and $xunitFailed -eq 0) { $xunitFailed = 1 }
    $xunitCounted = $xunitPassed + $xunitFailed + $xunitSkipped
    if ($xunitCounted -lt $floor.Xunit) {
        Write-Host "xunit reported $xunitCounted tests; the sources hold at least $($floor.Xunit)."
        $xunitFailed++
    }

    # Pester: end to end through the built module, in a fresh pwsh so the module loads as a user's would;
    # killed if it has not finished in 20 minutes (it takes about one).
    $pester = Get-PesterPath
    $summary = Join-Path $results 'pester.json'
    $runner = Join-Path $root 'tests/pester/Invoke-Tests.ps1'
    $inTime = Invoke-WithDeadline -Command 'dotnet' -Timeout ([TimeSpan]::FromMinutes(20)) -Arguments @(
        "`"$(Join-Path $PSHOME 'pwsh.dll')`"", '-NoProfile', '-NonInteractive', '-File', "`"$runner`"",
        '-PesterPath', "`"$pester`"", '-ModulePath', "`"$moduleOut`"", '-SummaryPath', "`"$summary`"")
    $pesterExit = $script:DeadlineExitCode
    $pesterPassed = 0; $pesterFailed = 0; $pesterSkipped = 0
    if ($inTime -and (Test-Path $summary)) {
        $counts = Get-Content -Raw $summary | ConvertFrom-Json
        $pesterPassed = [int]$counts.Passed
        $pesterFailed = [int]$counts.Failed
        $pesterSkipped = [int]$counts.Skipped
        foreach ($failure in @($counts.Failures)) { if ($failure) { $failures.Add("Pester $failure") } }
    }
    if ($pesterExit -ne 0 -and $pesterFailed -eq 0) { $pesterFailed = 1 }
    $pesterCounted = $pesterPassed + $pesterFailed + $pesterSkipped
    if ($pesterCounted -lt $floor.Pester) {
        Write-Host "Pester reported $pesterCounted tests; the sources hold at least $($floor.Pester)."
        $pesterFailed++
    }

    # The failures again at the end, where a log cut to its tail still shows them (each cut short: a message may quote a long line).
    foreach ($failure in $failures) { Write-Host "FAILED $(if ($failure.Length -gt 400) { $failure.Substring(0, 400) + '...' } else { $failure })" }
    Write-Host "xunit: $xunitPassed passed, $xunitFailed failed, $xunitSkipped skipped; Pester: $pesterPassed passed, $pesterFailed failed, $pesterSkipped skipped"
    $passed = $xunitPassed + $pesterPassed
    $failed = $xunitFailed + $pesterFailed
    $skipped = $xunitSkipped + $pesterSkipped
    Write-Host "$passed passed, $failed failed, $skipped skipped"
    if ($failed -gt 0 -or $passed -eq 0) { exit 1 }
}

function Invoke-Package {
    $package = & (Join-Path $root 'tools/Publish-ChatrmModule.ps1') -ModulePath $moduleOut -RepositoryPath (Join-Path $out 'repo')
    Write-Host "Published $($package.Name) to $($package.DirectoryName)"
}

function Install-BenchServer {
    # Redis and NATS from Debian's packages, to compare with. One that cannot be had is skipped, and the report says so.
    $missing = @(
        @{ Command = 'redis-server'; Package = 'redis-server' },
        @{ Command = 'nats-server'; Package = 'nats-server' } |
            Where-Object { -not (Get-Command $_.Command -ErrorAction Ignore) -and -not (Test-Path "/usr/sbin/$($_.Command)") } |
            ForEach-Object Package)
    if ($missing.Count -eq 0) { return }
    if (-not (Get-Command apt-get -ErrorAction Ignore)) {
        Write-Warning "No apt-get to install $($missing -join ' and '); the benchmark skips them."
        return
    }

    Write-Host "Installing $($missing -join ' and ') with apt-get"
    $env:DEBIAN_FRONTEND = 'noninteractive'
    & apt-get update -qq
    & apt-get install -y -qq --no-install-recommends @missing
    if ($LASTEXITCODE -ne 0) { Write-Warning "apt-get could not install $($missing -join ' and '); the benchmark skips what is missing." }
}

function Invoke-Bench {
    $benchOut = Join-Path $out 'bench'
    $benchBin = Join-Path $benchOut 'bin'
    # Compiled ReadyToRun, as the module's net10.0 build is: the serve mode's server then starts as users' servers do,
    # not with every method of the engine to compile first (a short run, such as storing for offline users, was mostly JIT).
    $runtime = [System.Runtime.InteropServices.RuntimeInformation]::RuntimeIdentifier
    Invoke-Native dotnet @('publish', (Join-Path $root 'bench/Chatrm.Bench/Chatrm.Bench.csproj'), '-c', 'Release', '-r', $runtime, '--self-contained', 'false',
        '-p:PublishReadyToRun=true', '-o', $benchBin, '--nologo', '-v', 'quiet')
    $bench = Join-Path $benchBin 'Chatrm.Bench.dll'
    # The cold starts run Chatrm's server as users start it: a fresh pwsh (this one's), Import-Module, Start-ChatrmServer.
    $pwshDll = Join-Path $PSHOME 'pwsh.dll'

    if ($Smoke) {
        $results = Join-Path $benchOut 'smoke.json'
        & dotnet $bench suite --smoke --results $results --module $moduleOut --pwsh $pwshDll
        $suiteExit = $LASTEXITCODE
        # The fan-out workload too, small (a room of 20, 50 rooms of 10), a second a run.
        & dotnet $bench fanout --smoke --targets 'chatrm-classic,chatrm-native' --results (Join-Path $benchOut 'smoke-fanout.json')
        $fanoutExit = $LASTEXITCODE
        # The offline workload too, small (4 users, 500 messages each); JetStream is skipped where nats-server is missing.
        & dotnet $bench offline --smoke --results (Join-Path $benchOut 'smoke-offline.json')
        $offlineExit = $LASTEXITCODE
        # The cluster workload too, small (4 pairs, 2 s a run); its across-servers runs are skipped where nats-server is missing.
        & dotnet $bench cluster --smoke --results (Join-Path $benchOut 'smoke-cluster.json')
        $clusterExit = $LASTEXITCODE
        Invoke-Native dotnet @($bench, 'report', '--results', $results, '--fanout', (Join-Path $benchOut 'smoke-fanout.json'), '--offline', (Join-Path $benchOut 'smoke-offline.json'),
            '--cluster', (Join-Path $benchOut 'smoke-cluster.json'), '--cluster-command', 'Chatrm.Bench cluster --smoke',
            '--powershell', (Join-Path $benchOut 'none.json'), '--out', (Join-Path $benchOut 'smoke.md'), '--command', './build.ps1 Bench -Smoke')
        if ($suiteExit -ne 0) { throw 'The benchmark smoke run lost, duplicated or reordered messages, or failed; see above.' }
        if ($fanoutExit -ne 0) { throw 'The fan-out smoke run lost, duplicated or reordered messages, or failed; see above.' }
        if ($offlineExit -ne 0) { throw 'The offline smoke run lost, duplicated or reordered messages, or failed; see above.' }
        if ($clusterExit -ne 0) { throw 'The cluster smoke run lost, duplicated or reordered messages, or failed; see above.' }
        return
    }

    if (-not $IsLinux) { throw 'The benchmark reads /proc, so it runs on Linux.' }
    Install-BenchServer
    $results = Join-Path $benchOut 'results.json'
    $powershell = Join-Path $benchOut 'powershell.json'

    # The servers run as child processes of the load generator, which kills them however it ends. On a
    # machine shared with other work, they and the client run ahead of it (where the system allows).
    & dotnet $bench suite --results $results --wait-quiet 120 --priority high --module $moduleOut --pwsh $pwshDll
    $suiteExit = $LASTEXITCODE
    # The fan-out workload of issue 15: one room of 100 members, 1,000 rooms of 10, each with one sender.
    $fanout = Join-Path $benchOut 'fanout.json'
    & dotnet $bench fanout --results $fanout --priority high
    $fanoutExit = $LASTEXITCODE
    # The offline workload of issue 16: 50 away users, 2,000 messages each, stored then drained; Chatrm against JetStream.
    $offline = Join-Path $benchOut 'offline.json'
    & dotnet $bench offline --results $offline --priority high
    $offlineExit = $LASTEXITCODE
    # The cluster workload of issue 19: the suite's pairs across two servers of a cluster on one nats-server -js,
    # beside the same pairs on one server and NATS pub/sub, three interleaved rounds.
    $cluster = Join-Path $benchOut 'cluster.json'
    & dotnet $bench cluster --results $cluster --wait-quiet 60 --priority high
    $clusterExit = $LASTEXITCODE
    & dotnet (Join-Path $PSHOME 'pwsh.dll') -NoProfile -NonInteractive -File (Join-Path $root 'bench/Measure-PowerShell.ps1') `
        -ModulePath $moduleOut -BenchPath $bench -OutFile $powershell
    $powershellExit = $LASTEXITCODE
    Invoke-Native dotnet @($bench, 'report', '--results', $results, '--fanout', $fanout, '--offline', $offline, '--cluster', $cluster, '--powershell', $powershell,
        '--out', (Join-Path $root 'docs/performance.md'), '--png', (Join-Path $root 'docs/performance.png'), '--command', 'dotnet pwsh ./build.ps1 Bench')
    if ($suiteExit -ne 0) { throw 'The benchmark lost, duplicated or reordered messages, or a run failed; see docs/performance.md.' }
    if ($fanoutExit -ne 0) { throw 'The fan-out workload lost, duplicated or reordered messages, or a run failed; see docs/performance.md.' }
    if ($offlineExit -ne 0) { throw 'The offline workload lost, duplicated or reordered messages, or a run failed; see docs/performance.md.' }
    if ($clusterExit -ne 0) { throw 'The cluster workload lost, duplicated or reordered messages, or a run failed; see docs/performance.md.' }
    if ($powershellExit -ne 0) { throw 'The PowerShell measurements failed; see above.' }
}

function Invoke-Fuzz {
    & (Join-Path $root 'fuzz/Invoke-Fuzz.ps1') -Seconds $FuzzSeconds -Configuration $Configuration
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
}

function Invoke-Soak {
    $soakOut = Join-Path $out 'soak'
    Invoke-Native dotnet @('build', (Join-Path $root 'bench/Chatrm.Soak/Chatrm.Soak.csproj'), '-c', 'Release', '-o', (Join-Path $soakOut 'bin'), '--nologo', '-v', 'quiet')
    & dotnet (Join-Path $soakOut 'bin/Chatrm.Soak.dll') --seconds $SoakSeconds --json (Join-Path $soakOut 'soak.json')
    if ($LASTEXITCODE -ne 0) { throw 'The soak found a lost, duplicated or reordered message, or a server that did not come back; see above.' }
}

function Invoke-Serve {
    Import-Module (Join-Path $moduleOut 'Chatrm.psd1') -Force
    $storeFolder = Split-Path -Parent $StorePath
    if ($storeFolder -and -not (Test-Path $storeFolder)) {
        $null = New-Item -ItemType Directory -Path $storeFolder
    }
    $web = if ($PSBoundParameters.ContainsKey('WebPort')) { @{ WebPort = $WebPort } } else { @{} }
    $server = Start-ChatrmServer -Port $Port -Address $Address -StorePath $StorePath @web
    Write-Host "Chatrm is listening on $($server.Address):$($server.Port), keeping messages in $StorePath. Press Ctrl+C to stop."
    if ($server.WebUri) { Write-Host "The web client is at $($server.WebUri)" }
    try {
        $server | Receive-Job -Wait
    }
    finally {
        $server | Stop-Job
        $server | Remove-Job
    }
}

function Invoke-Cluster {
    Import-Module (Join-Path $moduleOut 'Chatrm.psd1') -Force
    if (-not (Get-Command nats-server -ErrorAction Ignore) -and -not (Test-Path /usr/sbin/nats-server)) {
        if (-not (Get-Command apt-get -ErrorAction Ignore)) { throw 'The cluster needs nats-server (Debian''s nats-server package), and there is no apt-get to install it.' }
        Write-Host 'Installing nats-server with apt-get'
        $env:DEBIAN_FRONTEND = 'noninteractive'
        & apt-get update -qq
        & apt-get install -y -qq --no-install-recommends nats-server
        if ($LASTEXITCODE -ne 0) { throw 'apt-get could not install nats-server.' }
    }

    $natsPath = (Get-Command nats-server -ErrorAction Ignore | Select-Object -First 1).Source
    if (-not $natsPath) { $natsPath = '/usr/sbin/nats-server' }
    $store = Join-Path $out "cluster/nats-$PID"
    $null = New-Item -ItemType Directory -Force $store
    $nats = $null
    $servers = @()
    try {
        $nats = Start-Process -FilePath $natsPath -PassThru -NoNewWindow `
            -ArgumentList @('-a', $Address, '-p', $NatsPort, '-js', '-sd', $store, '-l', (Join-Path $store 'nats.log'))
        $url = "nats://${Address}:$NatsPort"
        $deadline = [DateTime]::UtcNow.AddSeconds(20)
        while ($true) {
            if ($nats.HasExited) { throw "nats-server stopped at its start (is port $NatsPort taken?); see $store/nats.log." }
            $probe = [System.Net.Sockets.TcpClient]::new()
            try { $probe.Connect($Address, $NatsPort); break } catch { } finally { $probe.Dispose() }
            if ([DateTime]::UtcNow -ge $deadline) { throw "nats-server did not listen on ${Address}:$NatsPort within 20 s." }
            [System.Threading.Thread]::Sleep(50)
        }

        foreach ($n in 1..$Nodes) {
            $servers += Start-ChatrmServer -Port ($Port + $n - 1) -Address $Address -Cluster $url -NodeName "node-$n" -ErrorAction Stop
        }

        Write-Host "A cluster of $Nodes Chatrm servers on NATS at $url (JetStream in $store):"
        foreach ($server in $servers) {
            Write-Host ("  {0}  {1}:{2}   Connect-ChatrmServer {1} {2} <name>    (original client or nc: nc {1} {2})" -f $server.NodeName, $server.Address, $server.Port)
        }
        Write-Host 'Users on any of them chat as if on one server. Press Ctrl+C to stop all of it.'
        $servers | Receive-Job -Wait
    }
    finally {
        $servers | Stop-Job -ErrorAction SilentlyContinue
        $servers | Remove-Job -Force -ErrorAction SilentlyContinue
        if ($nats -and -not $nats.HasExited) { $nats.Kill($true); $null = $nats.WaitForExit(10000) }
        Remove-Item -Recurse -Force $store -ErrorAction SilentlyContinue
    }
}

function Invoke-Screenshot {
    # A real run: a server, browser users chatting in a room, and the page as alice sees it. With CI=true a missing
    # browser fails the test instead of skipping it, so no picture is silently left out of date.
    $picture = Join-Path $root 'docs/images/web-client.png'
    $null = New-Item -ItemType Directory -Force (Split-Path -Parent $picture)
    $ci = $env:CI
    $env:CHATRM_WEB_SCREENSHOT = $picture
    $env:CI = 'true'
    try {
        Invoke-Native dotnet @('test', (Join-Path $root 'tests/Chatrm.Engine.Tests/Chatrm.Engine.Tests.csproj'), '-c', $Configuration, '--nologo',
            '--filter', 'FullyQualifiedName~Web.BrowserTests.WebClientScreenshot')
    }
    finally {
        Remove-Item Env:CHATRM_WEB_SCREENSHOT -ErrorAction SilentlyContinue
        $env:CI = $ci
    }
    Write-Host "Saved $picture"
}

foreach ($step in $Task) {
    switch ($step) {
        'Clean' { if (Test-Path $out) { Remove-Item -Recurse -Force $out } }
        'Build' { Invoke-Build }
        'Test' { Invoke-Build; Invoke-Test }
        'Serve' { Invoke-Build; Invoke-Serve }
        'Cluster' { Invoke-Build; Invoke-Cluster }
        'Package' { Invoke-Build; Invoke-Package }
        'Bench' { Invoke-Build; Invoke-Bench }
        'Fuzz' { Invoke-Fuzz }
        'Soak' { Invoke-Soak }
        'Screenshot' { Invoke-Screenshot }
    }
}
