@{
    RootModule           = 'Chatrm.dll'
    FormatsToProcess     = @('Chatrm.format.ps1xml')
    # build.ps1 stamps the version from Directory.Build.props into out/Chatrm/Chatrm.psd1.
    ModuleVersion        = '0.0.0'
    GUID                 = '6f0e7c1e-5a0c-4b8e-9d43-2f1b8f3f7a51'
    Author               = 'The Chatrm team'
    CompanyName          = 'Chatrm'
    Copyright            = '(c) The Chatrm team. MIT License.'
    Description          = 'A TCP chat hub and client for PowerShell, byte-compatible with the original Go Chatrm: a server as a background job, messages as pipeline objects.'
    PowerShellVersion    = '5.1'
    # One netstandard2.0 build; tested on PowerShell 7, untested on Windows PowerShell 5.1.
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
