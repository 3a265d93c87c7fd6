<#
.SYNOPSIS
    Publishes a built Chatrm module to a folder that PSResourceGet uses as a repository.
.DESCRIPTION
    The steps of `./build.ps1 Package`, on their own so the tests can run them against a temporary folder.
    The folder is registered as a PSResourceGet repository under a name of its own for the length of the
    publish only, and unregistered afterwards whatever happens, so no registration is left behind and
    one that already exists is never touched. A package of the same version already in the folder is
    replaced; other versions stay.

    Install from the folder with, for example:
        Register-PSResourceRepository -Name ChatrmLocal -Uri <folder> -Trusted
        Install-PSResource -Name Chatrm -Repository ChatrmLocal
.EXAMPLE
    ./tools/Publish-ChatrmModule.ps1 -ModulePath ./out/Chatrm -RepositoryPath ./out/repo
#>
[CmdletBinding()]
param(
    # The built module's folder (it holds Chatrm.psd1).
    [Parameter(Mandatory)] [string] $ModulePath,

    # The folder to publish into; made when missing.
    [Parameter(Mandatory)] [string] $RepositoryPath
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0

Import-Module Microsoft.PowerShell.PSResourceGet -ErrorAction Stop

$ModulePath = (Resolve-Path -LiteralPath $ModulePath).ProviderPath
# Test-ModuleManifest, not Import-PowerShellDataFile: the manifest picks its build with $PSEdition, which only
# the module cmdlets evaluate.
$version = (Test-ModuleManifest -Path (Join-Path $ModulePath 'Chatrm.psd1') -ErrorAction Stop).Version.ToString()

$null = New-Item -ItemType Directory -Force -Path $RepositoryPath
$RepositoryPath = (Resolve-Path -LiteralPath $RepositoryPath).ProviderPath
Get-ChildItem -LiteralPath $RepositoryPath -Filter "Chatrm.$version.nupkg" | Remove-Item -Force

$repository = "ChatrmPackage-$([guid]::NewGuid().ToString('n'))"
Register-PSResourceRepository -Name $repository -Uri $RepositoryPath -Trusted
try {
    Publish-PSResource -Path $ModulePath -Repository $repository
}
finally {
    Unregister-PSResourceRepository -Name $repository -ErrorAction Continue
}

Get-Item -LiteralPath (Join-Path $RepositoryPath "Chatrm.$version.nupkg")
