# Bad input to the cmdlets ends in a Chatrm error id with a category, never a raw .NET exception.

BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    Import-ChatrmTestModule
}

Describe 'Chatrm error ids for bad input' {
    It 'Start-ChatrmServer -CredentialFile with a garbage line fails with ChatrmServerStartFailed' {
        $file = Join-Path $TestDrive 'garbage.txt'
        Set-Content -Path $file -Value 'this is not a credential line'
        { Start-ChatrmServer -Port 0 -CredentialFile $file } | Should -Throw -ErrorId 'ChatrmServerStartFailed,*'
        try { Start-ChatrmServer -Port 0 -CredentialFile $file } catch { $_.CategoryInfo.Category | Should -Be 'InvalidData' }
    }

    It 'Start-ChatrmServer -Certificate without its private key fails with ChatrmServerStartFailed' {
        $rsa = [System.Security.Cryptography.RSA]::Create(2048)
        $request = [System.Security.Cryptography.X509Certificates.CertificateRequest]::new('CN=localhost', $rsa, 'SHA256', [System.Security.Cryptography.RSASignaturePadding]::Pkcs1)
        $withKey = $request.CreateSelfSigned([datetimeoffset]::Now.AddMinutes(-1), [datetimeoffset]::Now.AddDays(1))
        $publicOnly = [System.Security.Cryptography.X509Certificates.X509CertificateLoader]::LoadCertificate($withKey.Export('Cert'))
        $publicOnly.HasPrivateKey | Should -BeFalse
        $jobsBefore = @(Get-Job).Count
        { Start-ChatrmServer -Port 0 -Certificate $publicOnly } | Should -Throw -ErrorId 'ChatrmServerStartFailed,*'
        try { Start-ChatrmServer -Port 0 -Certificate $publicOnly } catch { $_.CategoryInfo.Category | Should -Be 'InvalidArgument' }
        @(Get-Job).Count | Should -Be $jobsBefore
    }

    It '<Command> with an invalid wildcard fails with ChatrmInvalidWildcard' -ForEach @(
        @{ Command = 'Get-ChatrmUser -Name ''a['''; Run = { Get-ChatrmUser -Job $server -Name 'a[' } }
        @{ Command = 'Stop-ChatrmServer -Name ''['''; Run = { Stop-ChatrmServer -Name '[' -Confirm:$false } }
    ) {
        $server = New-TestServer
        try {
            { & $Run } | Should -Throw -ErrorId 'ChatrmInvalidWildcard,*'
            "$($server.JobStateInfo.State)" | Should -Be 'Running'
        }
        finally {
            $server | Remove-TestServer
        }
    }

    It 'Get-Job -Name ''['' does not make the Chatrm job source warn' {
        $server = New-TestServer
        try {
            $warnings = $null
            $null = Get-Job -Name '[' -ErrorAction SilentlyContinue -WarningAction SilentlyContinue -WarningVariable warnings
            $warnings | Should -HaveCount 0
        }
        finally {
            $server | Remove-TestServer
        }
    }
}
