@{
    # Two builds (build.ps1): .NET 10, ReadyToRun, for PowerShell 7.6; netstandard2.0 for Windows PowerShell 5.1.
    # $PSEdition is the one variable a manifest may read, so the choice costs the import nothing; Import-Module,
    # Test-ModuleManifest and PSResourceGet read it, Import-PowerShellDataFile does not.
    RootModule           = if ($PSEdition -eq 'Core') { 'net10.0/Chatrm.dll' } else { 'netstandard2.0/Chatrm.dll' }
    FormatsToProcess     = @('Chatrm.format.ps1xml')
    # build.ps1 stamps the version from Directory.Build.props into out/Chatrm/Chatrm.psd1.
    ModuleVersion        = '0.0.0'
    GUID                 = '6f0e7c1e-5a0c-4b8e-9d43-2f1b8f3f7a51'
    Author               = 'The Chatrm team'
    CompanyName          = 'Chatrm'
    Copyright            = '(c) The Chatrm team. MIT License.'
    Description          = 'A TCP chat hub and client for PowerShell, byte-compatible with the original Go Chatrm: a server as a background job, messages as pipeline objects.'
    # The net10.0 build needs .NET 10, so PowerShell 7.6 on Core: an older one says so instead of failing to load it.
    # Desktop, Windows PowerShell 5.1, is untested.
    PowerShellVersion    = if ($PSEdition -eq 'Core') { '7.6' } else { '5.1' }
    CompatiblePSEditions = @('Core', 'Desktop')
    CmdletsToExport      = @(
        'Start-ChatrmServer'
        'Stop-ChatrmServer'
        'Connect-ChatrmServer'
        'Disconnect-ChatrmServer'
        'Get-ChatrmConnection'
        'Send-ChatrmMessage'
        'Receive-ChatrmMessage'
        'Get-ChatrmUser'
        'Enter-ChatrmChat'
        'Disconnect-ChatrmUser'
        'Export-ChatrmCredential'
        'Join-ChatrmRoom'
        'Exit-ChatrmRoom'
        'Get-ChatrmRoom'
        'Get-ChatrmHistory'
    )
    FunctionsToExport    = @()
    AliasesToExport      = @()
    VariablesToExport    = @()
    PrivateData          = @{
        PSData = @{
            Tags       = @('chat', 'tcp', 'server', 'bot', 'PSEdition_Core', 'PSEdition_Desktop', 'Linux', 'Windows', 'MacOS')
        }
    }
}
