<#
.SYNOPSIS
    The two PowerShell goals of docs/performance.md: how fast Receive-ChatrmMessage feeds a pipeline, next to a
    binary cmdlet's own pipeline rate, and how soon a fresh pwsh serves after Import-Module Chatrm.
.DESCRIPTION
    Pipeline: N messages wait in a user's inbox (bench/Chatrm.Bench produce sends them over the native protocol
    to a Chatrm server of its own, in another process); then `Receive-ChatrmMessage -Wait -Count N | Out-Null`
    is timed. The baseline is the same pipeline fed by a trivial binary cmdlet, compiled here with Add-Type,
    that writes N objects made before the clock starts, one WriteObject each: what PowerShell itself costs per
    object, as Receive-ChatrmMessage's messages are also made before it runs. Both clocks start after a full
    collection (Clear-GarbageDebt). Also timed: the same receive while the producer is still sending (live).

    Start-up: each run is a fresh pwsh; the clock starts in its first statement, before Import-Module, and
    stops when a TCP connect to the new server's port succeeds (and, separately, when a classic handshake
    gets its welcome). pwsh's own start-up is not counted.

    Called by ./build.ps1 Bench, which builds the module and the bench first. Writes JSON for the report.
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $BenchPath,
    [Parameter(Mandatory)] [string] $OutFile,
    [int] $Count = 200000,
    [int] $Repeat = 5,
    [int] $StartRuns = 7
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0

$baselineSource = @'
using System.Management.Automation;

namespace ChatrmBench
{
    public sealed class BenchItem
    {
        public BenchItem(int number) { Number = number; }
        public int Number { get; }
    }

    [Cmdlet(VerbsCommunications.Write, "BenchItem")]
    public sealed class WriteBenchItemCommand : PSCmdlet
    {
        private static BenchItem[] s_items = new BenchItem[0];

        // Made before the clock starts, as Receive-ChatrmMessage's messages are made by the connection's reader.
        public static void Prepare(int count)
        {
            s_items = new BenchItem[count];
            for (int i = 0; i < count; i++) s_items[i] = new BenchItem(i);
        }

        protected override void ProcessRecord()
        {
            foreach (BenchItem item in s_items) WriteObject(item);
        }
    }
}
'@

function Start-BenchServer {
    $start = [System.Diagnostics.ProcessStartInfo]::new('dotnet')
    foreach ($a in @($BenchPath, 'serve', '--port', '0')) { $start.ArgumentList.Add($a) }
    $start.RedirectStandardInput = $true
    $start.RedirectStandardOutput = $true
    $start.UseShellExecute = $false
    $process = [System.Diagnostics.Process]::Start($start)
    $line = $process.StandardOutput.ReadLine()
    if ($line -notmatch '^LISTENING (\d+)$') { throw "The bench server did not start: $line" }
    return [pscustomobject]@{ Process = $process; Port = [int]$Matches[1] }
}

function Start-Producer([int] $Port, [string] $To, [string] $From, [int] $N) {
    $start = [System.Diagnostics.ProcessStartInfo]::new('dotnet')
    foreach ($a in @($BenchPath, 'produce', '--port', "$Port", '--to', $To, '--from', $From, '--count', "$N", '--window', '256')) { $start.ArgumentList.Add($a) }
    $start.UseShellExecute = $false
    $start.RedirectStandardOutput = $true
    return [System.Diagnostics.Process]::Start($start)
}

function Wait-Producer($Producer) {
    $output = $Producer.StandardOutput.ReadToEnd()
    if (-not $Producer.WaitForExit(120000)) { $Producer.Kill(); throw 'The producer did not finish within two minutes.' }
    if ($Producer.ExitCode -ne 0) { throw "The producer failed: $output" }
}

# Before either side's clock starts: a full collection, as BenchmarkDotNet makes before each iteration. Filling
# an inbox with N messages leaves a background gen2 collection owed, which otherwise lands inside or outside the
# timed pipeline depending on how many bytes the messages hold (it cost a quarter of the rate when inside).
function Clear-GarbageDebt {
    [GC]::Collect()
    [GC]::WaitForPendingFinalizers()
    [GC]::Collect()
}

function Measure-Receive([int] $Port, [string] $Name, [int] $N, [switch] $Live) {
    $connection = Connect-ChatrmServer -ComputerName 127.0.0.1 -Port $Port -UserName $Name -InboxSize ($N + 100)
    $producer = $null
    try {
        $producer = Start-Producer -Port $Port -To $Name -From "p$Name" -N $N
        if (-not $Live) {
            Wait-Producer $producer
            $deadline = [DateTime]::UtcNow.AddSeconds(60)
            while ($connection.MessagesWaiting -lt $N) {
                if ([DateTime]::UtcNow -gt $deadline) { throw "Only $($connection.MessagesWaiting) of $N messages arrived." }
                Start-Sleep -Milliseconds 20
            }
        }

        if (-not $Live) { Clear-GarbageDebt }
        $clock = [System.Diagnostics.Stopwatch]::StartNew()
        Receive-ChatrmMessage -Connection $connection -Wait -Count $N | Out-Null
        $clock.Stop()
        if ($Live) { Wait-Producer $producer }
        if ($connection.MessagesDropped -gt 0) { throw "$($connection.MessagesDropped) messages were dropped." }
        return $N / $clock.Elapsed.TotalSeconds
    }
    finally {
        if ($producer -and -not $producer.HasExited) { $producer.Kill($true) }
        Disconnect-ChatrmServer $connection
    }
}

function Measure-Baseline([int] $N) {
    [ChatrmBench.WriteBenchItemCommand]::Prepare($N)
    Clear-GarbageDebt
    $clock = [System.Diagnostics.Stopwatch]::StartNew()
    Write-BenchItem | Out-Null
    $clock.Stop()
    [ChatrmBench.WriteBenchItemCommand]::Prepare(0)
    return $N / $clock.Elapsed.TotalSeconds
}

$result = [ordered]@{
    PwshVersion          = $PSVersionTable.PSVersion.ToString()
    Count                = $Count
    Baseline             = 'Write-BenchItem | Out-Null, a binary cmdlet (Add-Type) writing N objects made beforehand, one WriteObject each'
    BaselinePerSecond    = [System.Collections.Generic.List[double]]::new()
    ReceivePerSecond     = [System.Collections.Generic.List[double]]::new()
    ReceiveLivePerSecond = [System.Collections.Generic.List[double]]::new()
    ImportMs             = [System.Collections.Generic.List[double]]::new()
    ImportStartMs        = [System.Collections.Generic.List[double]]::new()
    ReadyMs              = [System.Collections.Generic.List[double]]::new()
    WelcomeMs            = [System.Collections.Generic.List[double]]::new()
}

# ---- Start-up, first, in fresh processes: nothing of this session's is warm for them. ----
$pwsh = Join-Path $PSHOME 'pwsh.dll'
$manifest = (Resolve-Path (Join-Path $ModulePath 'Chatrm.psd1')).Path
$probe = @"
`$clock = [System.Diagnostics.Stopwatch]::StartNew()
Import-Module '$manifest'
`$import = `$clock.Elapsed.TotalMilliseconds
`$server = Start-ChatrmServer -Port 0
`$started = `$clock.Elapsed.TotalMilliseconds
`$tcp = [System.Net.Sockets.TcpClient]::new()
`$tcp.Connect('127.0.0.1', `$server.Port)
`$ready = `$clock.Elapsed.TotalMilliseconds
`$stream = `$tcp.GetStream()
`$hello = [System.Text.Encoding]::ASCII.GetBytes("probe_``n")
`$stream.Write(`$hello, 0, `$hello.Length)
`$buffer = [byte[]]::new(512)
`$null = `$stream.Read(`$buffer, 0, `$buffer.Length)
`$welcome = `$clock.Elapsed.TotalMilliseconds
`$tcp.Dispose()
`$server | Stop-Job
`$server | Remove-Job
"TIMES `$import `$started `$ready `$welcome"
"@
for ($i = 0; $i -le $StartRuns; $i++) {
    $output = & dotnet $pwsh -NoProfile -NonInteractive -Command $probe
    if ($LASTEXITCODE -ne 0) { throw "The start-up probe failed: $output" }
    $line = @($output | Where-Object { $_ -like 'TIMES *' })[0]
    if ($i -eq 0) { continue }  # the first also warms the disk cache; not counted
    $t = $line.Substring(6).Split(' ') | ForEach-Object { [double]::Parse($_, [cultureinfo]::InvariantCulture) }
    $result.ImportMs.Add($t[0]); $result.ImportStartMs.Add($t[1]); $result.ReadyMs.Add($t[2]); $result.WelcomeMs.Add($t[3])
    Write-Host ("  start-up {0}: import {1:0} ms, started {2:0} ms, connect {3:0} ms, welcome {4:0} ms" -f $i, $t[0], $t[1], $t[2], $t[3])
}

# ---- Pipeline rates, in this session. ----
Import-Module $manifest
Add-Type -TypeDefinition $baselineSource -ReferencedAssemblies ([psobject].Assembly.Location) -PassThru |
    Select-Object -First 1 | ForEach-Object { Import-Module -Assembly $_.Assembly }

$server = Start-BenchServer
try {
    # Two full rounds first, not counted: a short one left the first timed round running tier-0 code (about
    # 300,000 objects/s for either side), as tiered compilation replaces hot methods only after a pause.
    for ($w = 1; $w -le 2; $w++) {
        $null = Measure-Baseline -N $Count
        $null = Measure-Receive -Port $server.Port -Name "warm$w" -N $Count
    }
    for ($r = 1; $r -le $Repeat; $r++) {
        $baseline = Measure-Baseline -N $Count
        $receive = Measure-Receive -Port $server.Port -Name "ps$r" -N $Count
        $live = Measure-Receive -Port $server.Port -Name "pl$r" -N $Count -Live
        $result.BaselinePerSecond.Add($baseline)
        $result.ReceivePerSecond.Add($receive)
        $result.ReceiveLivePerSecond.Add($live)
        Write-Host ("  pipeline {0}: baseline {1:N0}/s, Receive-ChatrmMessage {2:N0}/s ({3:P0}), while arriving {4:N0}/s" -f $r, $baseline, $receive, ($receive / $baseline), $live)
    }
}
finally {
    if (-not $server.Process.HasExited) { $server.Process.Kill($true) }
    $server.Process.WaitForExit()
}

$null = New-Item -ItemType Directory -Force (Split-Path -Parent $OutFile)
$result | ConvertTo-Json | Set-Content -Path $OutFile
