<#
.SYNOPSIS
    Runs the Pester tests against a built module and writes the counts as JSON. Called by build.ps1 Test.
#>
param(
    [Parameter(Mandatory)] [string] $PesterPath,
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $SummaryPath
)

$ErrorActionPreference = 'Stop'
Import-Module $PesterPath -Force
$env:CHATRM_MODULE_PATH = $ModulePath

$config = New-PesterConfiguration
$config.Run.Path = $PSScriptRoot
$config.Run.PassThru = $true
$config.Output.Verbosity = 'Detailed'
$result = Invoke-Pester -Configuration $config

# The failures' names and first lines go in too, so the run's last lines say what failed (CI keeps only its tail).
$failures = @(@($result.Failed) | ForEach-Object { "$($_.ExpandedPath): $(([string]$_.ErrorRecord[0]) -split "`n" | Select-Object -First 1)" }) +
    @(@($result.FailedBlocks) + @($result.FailedContainers) | ForEach-Object { "$($_.Name): failed outside a test" })
@{ Passed = $result.PassedCount; Failed = $result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount; Skipped = $result.SkippedCount; Failures = $failures } |
    ConvertTo-Json | Set-Content -Path $SummaryPath
if ($result.Result -ne 'Passed') { exit 1 }
