# The package as a user gets it: ./build.ps1 Package's steps publish the built module to a folder repository;
# Save-PSResource takes it from there, and a fresh PowerShell imports it by name and chats.

BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    Import-Module Microsoft.PowerShell.PSResourceGet -ErrorAction Stop

    $moduleFolder = Split-Path -Parent (Get-ChatrmTestModulePath)
    $version = (Test-ModuleManifest (Get-ChatrmTestModulePath) -ErrorAction Stop).Version.ToString()

    # ./build.ps1 Package's step: the built module, published to a folder repository.
    function Publish-TestPackage {
        & (Join-Path $PSScriptRoot '../../tools/Publish-ChatrmModule.ps1') -ModulePath $moduleFolder -RepositoryPath $repository
    }

    # What a user does with that repository: registers it, saves Chatrm from it, and unregisters it.
    function Save-TestPackage {
        $name = "ChatrmTest-$([guid]::NewGuid().ToString('n'))"
        Register-PSResourceRepository -Name $name -Uri $repository -Trusted
        try {
            Save-PSResource -Name Chatrm -Repository $name -Path $saved -TrustRepository -Quiet
        }
        finally {
            Unregister-PSResourceRepository -Name $name
        }
    }
}

Describe 'Packaging with PSResourceGet' {
    # Each test publishes (and saves) what it needs into its own folders: none depends on another having run.
    BeforeEach {
        $temp = Join-Path ([System.IO.Path]::GetTempPath()) "chatrm-package-$([guid]::NewGuid().ToString('n'))"
        $repository = Join-Path $temp 'repo'
        $saved = Join-Path $temp 'modules'
        $null = New-Item -ItemType Directory -Force $saved
        $registeredBefore = @(Get-PSResourceRepository | ForEach-Object Name | Sort-Object)
    }

    AfterEach {
        if (Test-Path -LiteralPath $temp) { Remove-Item -LiteralPath $temp -Recurse -Force }
    }

    It 'publishes the module to a folder repository and leaves no repository registered' {
        $package = Publish-TestPackage
        $package.Name | Should -Be "Chatrm.$version.nupkg"
        Test-Path -LiteralPath (Join-Path $repository "Chatrm.$version.nupkg") | Should -BeTrue
        @(Get-PSResourceRepository | ForEach-Object Name | Sort-Object) | Should -Be $registeredBefore
    }

    It 'publishes the same version again, replacing the package' {
        $null = Publish-TestPackage
        $package = Publish-TestPackage
        @(Get-ChildItem -LiteralPath $repository -Filter 'Chatrm.*.nupkg').Name | Should -Be @($package.Name)
    }

    It 'is saved by Save-PSResource from that repository, help included' {
        $null = Publish-TestPackage
        Save-TestPackage

        $base = Join-Path $saved "Chatrm/$version"
        Test-Path -LiteralPath (Join-Path $base 'Chatrm.psd1') | Should -BeTrue
        Test-Path -LiteralPath (Join-Path $base 'net10.0/Chatrm.dll') | Should -BeTrue
        Test-Path -LiteralPath (Join-Path $base 'netstandard2.0/Chatrm.dll') | Should -BeTrue
        Test-Path -LiteralPath (Join-Path $base 'en-US/Chatrm.dll-Help.xml') | Should -BeTrue
        @(Get-PSResourceRepository | ForEach-Object Name | Sort-Object) | Should -Be $registeredBefore
    }

    It 'is imported by name in a fresh PowerShell, where two users chat through it' {
        $null = Publish-TestPackage
        Save-TestPackage
        # The child puts the saved folder first on its module path, imports Chatrm by name, chats, and
        # reports as JSON. It stops and removes what it starts whatever happens.
        $script = @'
$ErrorActionPreference = 'Stop'
$env:PSModulePath = '{0}' + [System.IO.Path]::PathSeparator + $env:PSModulePath
Import-Module Chatrm
$server = Start-ChatrmServer -Port 0 -Address 127.0.0.1
try {{
    $alice = Connect-ChatrmServer -ComputerName 127.0.0.1 -Port $server.Port -UserName alice
    $bob = Connect-ChatrmServer -ComputerName 127.0.0.1 -Port $server.Port -UserName bob
    $sent = Send-ChatrmMessage -To bob -Text 'from the package' -Connection $alice -PassThru
    $got = @(Receive-ChatrmMessage -Connection $bob -Wait -Count 1 -Timeout 10)
    [pscustomobject]@{{
        ModuleBase = (Get-Module Chatrm).ModuleBase
        Status     = "$($sent.Status)"
        Received   = @($got | ForEach-Object {{ "$($_.From)>$($_.To): $($_.Text)" }})
        Synopsis   = (Get-Help Send-ChatrmMessage).Synopsis
    }} | ConvertTo-Json -Compress
}}
finally {{
    Get-ChatrmConnection | Disconnect-ChatrmServer
    $server | Stop-ChatrmServer
    $server | Remove-Job
}}
'@ -f $saved.Replace("'", "''")

        # -EncodedCommand, so the script reaches the child exactly as written on every platform.
        $encoded = [Convert]::ToBase64String([System.Text.Encoding]::Unicode.GetBytes($script))
        $child = Invoke-TestPwsh -ArgumentList '-NoProfile', '-NonInteractive', '-EncodedCommand', $encoded
        $child.ExitCode | Should -Be 0 -Because ($child.All -join "`n")

        $report = ($child.Output | Select-Object -Last 1) | ConvertFrom-Json
        $report.ModuleBase | Should -BeLike "$saved*"
        $report.Status | Should -Be 'Delivered'
        @($report.Received) | Should -Be @('alice>bob: from the package')
        $report.Synopsis | Should -Be 'Sends text to a user on a Chatrm server.'
    }
}
