<#
.SYNOPSIS
    Times the Chatrm server of two builds against each other: the working tree and a git revision.
.DESCRIPTION
    Builds bench/Chatrm.Bench twice (the working tree, and -Baseline checked out into a temporary git
    worktree), then runs rounds of the same load against a fresh server of each build in turn, the order
    swapped every round so a drift of the machine's speed falls on both. The load always comes from the
    working tree's generator, so only the server differs. It prints every run and, per target, the medians
    and the median of the per-round ratios (new / baseline): the figure to quote when a change must not
    make the server slower. Loopback only; each server is stopped after its run.
.EXAMPLE
    dotnet pwsh ./bench/Compare-Builds.ps1 -Baseline main~3 -Rounds 5 -Seconds 6
#>
[CmdletBinding()]
param(
    # The revision to compare against.
    [string] $Baseline = 'main',

    [ValidateRange(1, 50)]
    [int] $Rounds = 5,

    # Measured seconds of each run (after a 2 s warm-up).
    [ValidateRange(1, 120)]
    [double] $Seconds = 6,

    [ValidateSet('chatrm-classic', 'chatrm-native')]
    [string[]] $Target = @('chatrm-classic', 'chatrm-native')
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0
$root = Split-Path -Parent $PSScriptRoot
$work = Join-Path $root 'out/compare'
$null = New-Item -ItemType Directory -Force $work

function Build-Bench([string] $SourceRoot, [string] $Output) {
    & dotnet build (Join-Path $SourceRoot 'bench/Chatrm.Bench/Chatrm.Bench.csproj') -c Release -o $Output --nologo -v quiet | Out-Host
    if ($LASTEXITCODE -ne 0) { throw "building the benchmark in $SourceRoot failed" }
    return (Join-Path $Output 'Chatrm.Bench.dll')
}

function Start-BenchServer([string] $Dll) {
    $start = [Diagnostics.ProcessStartInfo]::new('dotnet')
    $start.ArgumentList.Add($Dll); $start.ArgumentList.Add('serve'); $start.ArgumentList.Add('--port'); $start.ArgumentList.Add('0')
    $start.UseShellExecute = $false
    $start.RedirectStandardInput = $true
    $start.RedirectStandardOutput = $true
    $process = [Diagnostics.Process]::Start($start)
    $line = $process.StandardOutput.ReadLineAsync()
    if (-not $line.Wait([TimeSpan]::FromSeconds(30)) -or -not "$($line.Result)".StartsWith('LISTENING ')) {
        $process.Kill($true)
        throw "the server of $Dll did not start: $($line.Result)"
    }
    return [pscustomobject]@{ Process = $process; Port = [int]$line.Result.Substring(10) }
}

function Stop-BenchServer($Server) {
    try {
        $Server.Process.StandardInput.WriteLine('quit')
        if (-not $Server.Process.WaitForExit(15000)) { $Server.Process.Kill($true) }
    }
    finally { $Server.Process.Dispose() }
}

function Invoke-Load([string] $Generator, [string] $Target, $Server) {
    $output = & dotnet $Generator load --target $Target --port $Server.Port --pid $Server.Process.Id --duration $Seconds --warmup 2 2>&1 | Out-String
    $m = [regex]::Match($output, 'load:\s+([\d,]+) msg/s\s+p50 ([\d.]+) p99 ([\d.]+).*?server CPU (\d+)%.*?lost (\d+) dup (\d+) reordered (\d+) errors (\d+)')
    if (-not $m.Success) { throw "the load run printed no result: $output" }
    $rate = [double]($m.Groups[1].Value -replace ',', '')
    $broken = [int]$m.Groups[5].Value + [int]$m.Groups[6].Value + [int]$m.Groups[7].Value + [int]$m.Groups[8].Value
    if ($broken -ne 0) { throw "a run lost, duplicated or reordered messages: $output" }
    return [pscustomobject]@{
        Rate     = $rate
        P99Ms    = [double]$m.Groups[3].Value
        # Server CPU per message, in microseconds (its CPU share is of one core).
        CpuUsPerMessage = if ($rate -gt 0) { [double]$m.Groups[4].Value / 100 * 1e6 / $rate } else { [double]::NaN }
    }
}

function Get-Median([double[]] $Values) {
    $sorted = @($Values | Sort-Object)
    $n = $sorted.Count
    if ($n % 2 -eq 1) { return $sorted[($n - 1) / 2] }
    return ($sorted[$n / 2 - 1] + $sorted[$n / 2]) / 2
}

$baselineTree = Join-Path ([IO.Path]::GetTempPath()) "chatrm-baseline-$PID"
$commit = (& git -C $root rev-parse --short $Baseline).Trim()
& git -C $root worktree add --detach --quiet $baselineTree $commit
if ($LASTEXITCODE -ne 0) { throw "could not check out $Baseline" }
try {
    $old = Build-Bench $baselineTree (Join-Path $work "baseline-$commit")
}
finally {
    & git -C $root worktree remove --force $baselineTree
}
$new = Build-Bench $root (Join-Path $work 'current')
$builds = @{ baseline = $old; current = $new }

$runs = [Collections.Generic.List[object]]::new()
for ($round = 1; $round -le $Rounds; $round++) {
    foreach ($t in $Target) {
        $order = if ($round % 2) { 'baseline', 'current' } else { 'current', 'baseline' }
        foreach ($build in $order) {
            $server = Start-BenchServer $builds[$build]
            try { $r = Invoke-Load $new $t $server }
            finally { Stop-BenchServer $server }
            Write-Host ("round {0} {1,-15} {2,-8} {3,12:N0} msg/s  p99 {4:0.00} ms  server {5:0.00} us/msg" -f $round, $t, $build, $r.Rate, $r.P99Ms, $r.CpuUsPerMessage)
            $runs.Add([pscustomobject]@{ Round = $round; Target = $t; Build = $build; Rate = $r.Rate; P99Ms = $r.P99Ms; CpuUs = $r.CpuUsPerMessage })
        }
    }
}

Write-Host ''
Write-Host "Baseline $commit against the working tree, $Rounds rounds of $Seconds s, medians:"
foreach ($t in $Target) {
    $mine = $runs | Where-Object Target -EQ $t
    $ratios = foreach ($round in 1..$Rounds) {
        $b = $mine | Where-Object { $_.Round -eq $round -and $_.Build -eq 'baseline' }
        $c = $mine | Where-Object { $_.Round -eq $round -and $_.Build -eq 'current' }
        $c.Rate / $b.Rate
    }
    $row = foreach ($build in 'baseline', 'current') {
        $set = $mine | Where-Object Build -EQ $build
        '{0} {1:N0} msg/s p99 {2:0.00} ms {3:0.00} us/msg' -f $build, (Get-Median $set.Rate), (Get-Median $set.P99Ms), (Get-Median $set.CpuUs)
    }
    Write-Host ("  {0,-15} {1}; {2}; rate ratio current/baseline {3:0.00} (per round {4})" -f $t, $row[0], $row[1], (Get-Median $ratios), (($ratios | ForEach-Object { $_.ToString('0.00') }) -join ', '))
}
