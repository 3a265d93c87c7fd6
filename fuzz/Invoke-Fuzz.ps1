<#
.SYNOPSIS
    Fuzzes the engine's parsers and line framing with afl-fuzz and SharpFuzz, for a bounded time per target.
.DESCRIPTION
    Installs afl++ with apt-get when afl-fuzz is missing, restores the sharpfuzz tool (.config/dotnet-tools.json),
    publishes fuzz/Chatrm.Fuzz to out/fuzz/bin, instruments its copy of Chatrm.Engine.dll, checks that every seed
    in fuzz/corpus/TARGET passes, then runs afl-fuzz on each target for -Seconds (niced, not pinned to a core).
    AFL's state goes to fuzz/afl-out/TARGET; crashes and hangs are copied to fuzz/findings/TARGET, replayed on
    the uninstrumented build to show the exception, and summed up in a table (also fuzz/findings/summary.txt).
    Exits 1 when anything was found.

    Targets (fuzz/Chatrm.Fuzz/Targets.cs):
      classic  ClassicProtocol's parsers and formatters on arbitrary UTF-8-decoded input
      native   NativeProtocol.TryParse, and Format round trips of whatever parses and of the server's answers
      framing  LineTransport reading a real socket, against docs/protocol.md's framing, with an echo through Send

    The harnesses run in a time zone west of UTC: the protocol promises UTC, and a local-time slip shows there.
.EXAMPLE
    dotnet pwsh ./fuzz/Invoke-Fuzz.ps1 -Seconds 600 -Target native
#>
[CmdletBinding()]
param(
    # How long each target runs.
    [ValidateRange(10, 86400)]
    [int] $Seconds = 300,

    [ValidateSet('classic', 'native', 'framing')]
    [string[]] $Target = @('classic', 'native', 'framing'),

    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release',

    [string] $TimeZone = 'America/New_York'
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0

$root = Split-Path -Parent $PSScriptRoot
$fuzz = $PSScriptRoot
$bin = Join-Path $root 'out/fuzz/bin'
$artifacts = Join-Path $root 'out/fuzz/artifacts'
$aflOut = Join-Path $fuzz 'afl-out'
$findings = Join-Path $fuzz 'findings'

# Only these types are instrumented: the parsers, and the transport's read loop. Its send loop runs on another
# thread at the same time, and tracing it would make the coverage of one input differ from run to run.
$instrumented = @(
    'Chatrm.Engine.Protocol.Classic.ClassicProtocol',
    'Chatrm.Engine.Protocol.Native.NativeProtocol',
    'Chatrm.Engine.UserNames',
    'Chatrm.Engine.Transport.LineTransport/LineFramer',
    'Chatrm.Engine.Transport.LineTransport/SocketLineReader'
)

function Invoke-Checked {
    param([string] $Command, [string[]] $Arguments)
    & $Command @Arguments
    if ($LASTEXITCODE -ne 0) {
        throw "$Command $($Arguments -join ' ') failed with exit code $LASTEXITCODE."
    }
}

function Install-Afl {
    if (Get-Command afl-fuzz -ErrorAction SilentlyContinue) { return }
    if (-not (Get-Command apt-get -ErrorAction SilentlyContinue)) {
        throw 'afl-fuzz is missing and there is no apt-get to install it: install AFL++ (the Debian package afl++).'
    }

    Write-Host 'Installing afl++ with apt-get...'
    $env:DEBIAN_FRONTEND = 'noninteractive'
    $apt = if ((& id -u) -eq '0') { @('apt-get') } else { @('sudo', 'apt-get') }
    Invoke-Checked $apt[0] (@($apt | Select-Object -Skip 1) + @('update', '-qq'))
    Invoke-Checked $apt[0] (@($apt | Select-Object -Skip 1) + @('install', '-y', '-qq', 'afl++'))
}

function Read-AflStats([string] $Path) {
    $stats = @{}
    if (Test-Path $Path) {
        foreach ($line in Get-Content $Path) {
            if ($line -match '^\s*(\S+)\s*:\s*(.*)$') { $stats[$Matches[1]] = $Matches[2].Trim() }
        }
    }
    return $stats
}

function Invoke-Afl([string] $Name) {
    $output = Join-Path $aflOut $Name
    if (Test-Path $output) { Remove-Item -Recurse -Force $output }
    $null = New-Item -ItemType Directory -Force $aflOut
    $log = Join-Path $aflOut "$Name.log"

    $start = [System.Diagnostics.ProcessStartInfo]::new('nice')
    foreach ($a in @('-n', '10', 'afl-fuzz', '-i', (Join-Path $fuzz "corpus/$Name"), '-o', $output, '-V', "$Seconds",
            '-t', '10000', '-m', 'none', '--', 'dotnet', (Join-Path $bin 'Chatrm.Fuzz.dll'), $Name)) {
        $start.ArgumentList.Add($a)
    }
    $start.UseShellExecute = $false
    $start.RedirectStandardOutput = $true
    $start.RedirectStandardError = $true
    $start.RedirectStandardInput = $true
    # dotnet is not instrumented by a compiler: SharpFuzz does it, so afl-fuzz must not look for its marks.
    $start.Environment['AFL_SKIP_BIN_CHECK'] = '1'
    $start.Environment['AFL_NO_UI'] = '1'
    $start.Environment['AFL_SKIP_CPUFREQ'] = '1'
    $start.Environment['AFL_NO_AFFINITY'] = '1'
    $start.Environment['AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES'] = '1'
    $start.Environment['TZ'] = $TimeZone
    $start.Environment['DOTNET_CLI_TELEMETRY_OPTOUT'] = '1'

    Write-Host "Fuzzing $Name for $Seconds s (log: $log)..."
    $process = [System.Diagnostics.Process]::Start($start)
    try {
        $stdout = $process.StandardOutput.ReadToEndAsync()
        $stderr = $process.StandardError.ReadToEndAsync()
        $process.StandardInput.Close()
        # afl-fuzz stops itself after -V seconds; allow for its start and the target's calibration.
        if (-not $process.WaitForExit(($Seconds + 300) * 1000)) {
            Write-Warning "afl-fuzz did not stop within $($Seconds + 300) s; ending it."
        }
    }
    finally {
        if (-not $process.HasExited) { $process.Kill($true); $process.WaitForExit() }
        Set-Content -Path $log -Value ($stdout.Result + $stderr.Result)
        $process.Dispose()
    }

    $stats = Read-AflStats (Join-Path $output 'default/fuzzer_stats')
    if ($stats.Count -eq 0) {
        Get-Content $log -Tail 30 | Write-Host
        throw "afl-fuzz did not run $Name; see $log."
    }

    # Copy what it found, named without the ':' AFL uses, and replay each on the uninstrumented build.
    $found = @()
    foreach ($kind in 'crashes', 'hangs') {
        $dir = Join-Path $output "default/$kind"
        if (-not (Test-Path $dir)) { continue }
        foreach ($file in Get-ChildItem $dir -Filter 'id:*') {
            $destination = Join-Path $findings $Name
            $null = New-Item -ItemType Directory -Force $destination
            $copy = Join-Path $destination (@{ crashes = 'crash'; hangs = 'hang' }[$kind] + '-' + ($file.Name -replace '[:,]', '-'))
            Copy-Item $file.FullName $copy
            $found += $copy
        }
    }

    foreach ($file in $found) {
        Write-Host "Finding: $file"
        & dotnet $replayDll $Name --replay $file | Select-Object -First 12 | ForEach-Object { Write-Host "    $_" }
    }

    [pscustomobject]@{
        Target    = $Name
        Seconds   = [int]$stats['run_time']
        Execs     = [long]$stats['execs_done']
        'Execs/s' = [long][math]::Round([long]$stats['execs_done'] / [math]::Max(1, [int]$stats['run_time']))
        Stability = $stats['stability']
        Edges     = [int]$stats['edges_found']
        Corpus    = [int]$stats['corpus_count']
        Crashes   = [int]$stats['saved_crashes']
        Hangs     = [int]$stats['saved_hangs']
    }
}

Install-Afl
Push-Location $root
try {
    Invoke-Checked dotnet @('tool', 'restore')

    # Built apart from the rest (--artifacts-path), so instrumenting never touches another build's engine.
    if (Test-Path $bin) { Remove-Item -Recurse -Force $bin }
    Invoke-Checked dotnet @('publish', (Join-Path $fuzz 'Chatrm.Fuzz/Chatrm.Fuzz.csproj'), '-c', $Configuration,
        '--artifacts-path', $artifacts, '-o', $bin, '--nologo', '-v', 'quiet')
    $replayDll = Join-Path $artifacts "bin/Chatrm.Fuzz/$($Configuration.ToLowerInvariant())/Chatrm.Fuzz.dll"
    Invoke-Checked dotnet (@('sharpfuzz', (Join-Path $bin 'Chatrm.Engine.dll')) + $instrumented)

    # afl-fuzz refuses a seed that crashes; say which one and why first.
    $callersZone = $env:TZ
    $env:TZ = $TimeZone
    try {
        foreach ($name in $Target) {
            & dotnet $replayDll $name --replay (Join-Path $fuzz "corpus/$name")
            if ($LASTEXITCODE -ne 0) { throw "A seed of $name fails (above): fix it, or the harness, before fuzzing." }
        }
    }
    finally {
        $env:TZ = $callersZone
    }

    if (Test-Path $findings) { Remove-Item -Recurse -Force $findings }
    $null = New-Item -ItemType Directory -Force $findings
    $rows = foreach ($name in $Target) { Invoke-Afl $name }

    $table = $rows | Format-Table -AutoSize | Out-String
    Write-Host $table
    Set-Content -Path (Join-Path $findings 'summary.txt') -Value $table
    $total = ($rows | Measure-Object -Property Crashes -Sum).Sum + ($rows | Measure-Object -Property Hangs -Sum).Sum
    if ($total -gt 0) {
        Write-Host "$total finding(s) in $findings. Each becomes a test in tests/Chatrm.Engine.Tests/FuzzFindingsTests.cs."
        exit 1
    }

    Write-Host 'No crashes or hangs.'
    exit 0
}
finally {
    Pop-Location
}
