# Passwords and TLS through the cmdlets. The test makes its own self-signed certificate at run time.

BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    Import-ChatrmTestModule

    function New-TestCredential([string] $Name, [string] $Password) {
        [pscredential]::new($Name, (ConvertTo-SecureString $Password -AsPlainText -Force))
    }

    function New-TestCertificate {
        $rsa = [System.Security.Cryptography.RSA]::Create(2048)
        $request = [System.Security.Cryptography.X509Certificates.CertificateRequest]::new(
            'CN=localhost', $rsa, [System.Security.Cryptography.HashAlgorithmName]::SHA256,
            [System.Security.Cryptography.RSASignaturePadding]::Pkcs1)
        $made = $request.CreateSelfSigned([DateTimeOffset]::Now.AddMinutes(-5), [DateTimeOffset]::Now.AddHours(1))
        [System.Security.Cryptography.X509Certificates.X509CertificateLoader]::LoadPkcs12($made.Export('Pfx'), $null)
    }

    $script:Alice = New-TestCredential alice 's3cret'
    $script:Bob = New-TestCredential bob 'hunter2'
    $script:WorkDir = Join-Path ([IO.Path]::GetTempPath()) "chatrm-security-$PID"
    $null = New-Item -ItemType Directory -Force $WorkDir
}

AfterAll {
    Remove-Item -Recurse -Force $WorkDir -ErrorAction SilentlyContinue
}

Describe 'Export-ChatrmCredential' {
    It 'writes salted hashes, never the passwords, and keeps users already in the file' {
        $file = Join-Path $WorkDir 'users.txt'
        $written = Export-ChatrmCredential -Credential $Alice -Path $file
        $written.FullName | Should -Be $file
        $Bob | Export-ChatrmCredential -Path $file | Out-Null

        $text = Get-Content -Raw $file
        $text | Should -Not -Match 's3cret|hunter2'
        @(Get-Content $file | Where-Object { $_ -match '^(alice|bob):pbkdf2-sha256:\d+:' }).Count | Should -Be 2
    }

    It 'writes nothing with -WhatIf' {
        $file = Join-Path $WorkDir 'whatif.txt'
        Export-ChatrmCredential -Credential $Alice -Path $file -WhatIf
        Test-Path $file | Should -BeFalse
    }
}

Describe 'A server with passwords' {
    BeforeAll {
        $file = Join-Path $WorkDir 'server-users.txt'
        Export-ChatrmCredential -Credential $Alice, $Bob -Path $file -Iterations 10000 | Out-Null
        $server = Start-ChatrmServer -Port 0 -CredentialFile $file -AllowClassic
    }

    AfterAll {
        Disconnect-AllTestUsers
        $server | Remove-TestServer
    }

    It 'lets a user in with -Credential, and they chat' {
        $a = Connect-ChatrmServer 127.0.0.1 $server.Port -Credential $Alice -ErrorAction Stop
        $b = Connect-ChatrmServer 127.0.0.1 $server.Port -Credential $Bob -ErrorAction Stop
        (Send-ChatrmMessage -Connection $a -To bob -Text 'logged in' -PassThru -ErrorAction Stop).Status | Should -Be 'Delivered'
        (Receive-OneMessage -Connection $b).Text | Should -Be 'logged in'
        Disconnect-ChatrmServer $a
        Disconnect-ChatrmServer $b
    }

    It 'gives a wrong password and an unknown name the same ChatrmAuthFailed error' {
        Connect-ChatrmServer 127.0.0.1 $server.Port -Credential (New-TestCredential alice 'guess') -ErrorAction SilentlyContinue -ErrorVariable wrong
        Connect-ChatrmServer 127.0.0.1 $server.Port -Credential (New-TestCredential mallory 'guess') -ErrorAction SilentlyContinue -ErrorVariable unknown
        $wrong[0].FullyQualifiedErrorId | Should -BeLike 'ChatrmAuthFailed*'
        $unknown[0].FullyQualifiedErrorId | Should -BeLike 'ChatrmAuthFailed*'
        "$($wrong[0])".Replace('alice', 'X') | Should -Be "$($unknown[0])".Replace('mallory', 'X')
    }

    It 'refuses a user name without a password on the native protocol' {
        { Connect-ChatrmServer 127.0.0.1 $server.Port -UserName carol -ErrorAction Stop } | Should -Throw -ErrorId 'ChatrmAuthFailed*'
    }

    It 'replaces an older session when the same user logs in again' {
        $old = Connect-ChatrmServer 127.0.0.1 $server.Port -Credential $Alice -ErrorAction Stop
        $new = Connect-ChatrmServer 127.0.0.1 $server.Port -Credential $Alice -ErrorAction Stop
        Wait-Until { $old.State -eq 'Closed' } -Because 'the older session was replaced'
        $old.CloseReason | Should -BeLike '*logged in again*'
        $new.State | Should -Be 'Open'
        Disconnect-ChatrmServer $new
    }

    It 'lets classic users in with -AllowClassic, but never under a name that has a password' {
        $carol = Connect-ChatrmServer 127.0.0.1 $server.Port -UserName carol -Protocol Classic -ErrorAction Stop
        $carol.State | Should -Be 'Open'
        { Connect-ChatrmServer 127.0.0.1 $server.Port -UserName alice -Protocol Classic -ErrorAction Stop } |
            Should -Throw -ErrorId 'ChatrmAuthRequired*'
        Disconnect-ChatrmServer $carol
    }
}

Describe 'A server with -Credential' {
    BeforeAll {
        # The users given as PSCredential objects, with no file: each must reach the server as a login.
        $server = Start-ChatrmServer -Port 0 -Credential $Alice, $Bob
    }

    AfterAll {
        Disconnect-AllTestUsers
        $server | Remove-TestServer
    }

    It 'lets in each user given, with their own password only' {
        $a = Connect-ChatrmServer 127.0.0.1 $server.Port -Credential $Alice -ErrorAction Stop
        $b = Connect-ChatrmServer 127.0.0.1 $server.Port -Credential $Bob -ErrorAction Stop
        (Send-ChatrmMessage -Connection $a -To bob -Text 'by credential' -PassThru -ErrorAction Stop).Status | Should -Be 'Delivered'
        (Receive-OneMessage -Connection $b).Text | Should -Be 'by credential'
        { Connect-ChatrmServer 127.0.0.1 $server.Port -Credential (New-TestCredential alice 'hunter2') -ErrorAction Stop } |
            Should -Throw -ErrorId 'ChatrmAuthFailed*' -Because "bob's password is not alice's"
        { Connect-ChatrmServer 127.0.0.1 $server.Port -Credential (New-TestCredential carol 's3cret') -ErrorAction Stop } |
            Should -Throw -ErrorId 'ChatrmAuthFailed*' -Because 'carol was not given'
        { Connect-ChatrmServer 127.0.0.1 $server.Port -UserName dave -ErrorAction Stop } |
            Should -Throw -ErrorId 'ChatrmAuthFailed*' -Because 'passwords are on'
    }
}

Describe 'Start-ChatrmServer -CredentialFile that cannot be used' {
    BeforeEach {
        $jobsBefore = @(Get-Job | Where-Object PSJobTypeName -EQ 'ChatrmServer').Count
        $idsBefore = @(Get-Job | ForEach-Object InstanceId)
    }

    AfterEach {
        # A server that started when it should not have (the test failed) is not left running.
        Get-Job | Where-Object InstanceId -NotIn $idsBefore | Remove-TestServer
    }

    It 'starts nothing when the file is missing, and says which file' {
        $missing = Join-Path $WorkDir 'no-such-users.txt'
        { Start-ChatrmServer -Port 0 -CredentialFile $missing } | Should -Throw -ExpectedMessage "*$missing*"
        @(Get-Job | Where-Object PSJobTypeName -EQ 'ChatrmServer').Count | Should -Be $jobsBefore
    }

    It 'starts nothing for a file with <Problem>, and says which line' -ForEach @(
        @{ Problem = 'a garbage line'; Line = 'this is not a credential' }
        @{ Problem = 'a name no user could have'; Line = 'bad_name:pbkdf2-sha256:10000:c2FsdA==:' + [Convert]::ToBase64String([byte[]]::new(32)) }
        @{ Problem = 'an empty name'; Line = ':pbkdf2-sha256:10000:c2FsdA==:' + [Convert]::ToBase64String([byte[]]::new(32)) }
        @{ Problem = 'zero iterations'; Line = 'carol:pbkdf2-sha256:0:c2FsdA==:' + [Convert]::ToBase64String([byte[]]::new(32)) }
        @{ Problem = 'a salt that is not base64'; Line = 'carol:pbkdf2-sha256:10000:not base64!:' + [Convert]::ToBase64String([byte[]]::new(32)) }
    ) {
        $file = Join-Path $WorkDir "broken-$([guid]::NewGuid().ToString('n')).txt"
        Export-ChatrmCredential -Credential $Alice -Path $file -Iterations 10000 | Out-Null
        Add-Content -Path $file -Value $Line
        $lineNumber = @(Get-Content $file).Count

        { Start-ChatrmServer -Port 0 -CredentialFile $file } | Should -Throw -ExpectedMessage "*line $lineNumber*"
        @(Get-Job | Where-Object PSJobTypeName -EQ 'ChatrmServer').Count | Should -Be $jobsBefore
    }
}

Describe 'A TLS server' {
    BeforeAll {
        $certificate = New-TestCertificate
        $pfx = Join-Path $WorkDir 'server.pfx'
        $pfxPassword = ConvertTo-SecureString 'pfx-pass' -AsPlainText -Force
        [IO.File]::WriteAllBytes($pfx, $certificate.Export('Pfx', 'pfx-pass'))
        # The certificate comes as a PFX file here, as an operator would give it.
        $server = Start-ChatrmServer -Port 0 -Certificate $pfx -CertificatePassword $pfxPassword -ClassicPort 0
    }

    AfterAll {
        Disconnect-AllTestUsers
        $server | Remove-TestServer
    }

    It 'says where it listens and that it speaks TLS' {
        $server.UsesTls | Should -BeTrue
        $server.ClassicPort | Should -BeGreaterThan 0
        $server.ClassicPort | Should -Not -Be $server.Port
    }

    It 'accepts a client that pins its certificate, and carries its chat to a classic user on the plain port' {
        $a = Connect-ChatrmServer 127.0.0.1 $server.Port alice -UseTls -CertificateThumbprint $certificate.Thumbprint -ErrorAction Stop
        $raw = New-RawClient -Port $server.ClassicPort -Name bob
        try {
            (Send-ChatrmMessage -Connection $a -To bob -Text 'sealed' -PassThru -ErrorAction Stop).Status | Should -Be 'Forwarded'
            Read-RawLine $raw | Should -Be 'bob_alice_sealed'
        }
        finally {
            $raw | Close-RawClient
            Disconnect-ChatrmServer $a
        }
    }

    It 'takes the pinned thumbprint in lower case and with spaces, as certificate tools print it' {
        $thumbprint = $certificate.Thumbprint
        $spaced = ($thumbprint -split '(..)' | Where-Object { $_ }) -join ' '
        foreach ($typed in $thumbprint.ToLowerInvariant(), $spaced, $spaced.ToLowerInvariant()) {
            $c = Connect-ChatrmServer 127.0.0.1 $server.Port erin -UseTls -CertificateThumbprint $typed -ErrorAction Stop
            "$($c.State)" | Should -Be 'Open' -Because "'$typed' names the server's certificate"
            Disconnect-ChatrmServer $c
        }
    }

    It 'refuses a certificate other than the one pinned, with ChatrmTlsFailed' {
        $other = New-TestCertificate
        { Connect-ChatrmServer 127.0.0.1 $server.Port frank -UseTls -CertificateThumbprint $other.Thumbprint -ErrorAction Stop } |
            Should -Throw -ErrorId 'ChatrmTlsFailed*'
        $server.Users | Should -Not -Contain 'frank'
    }

    It 'keeps serving others while a client sits silent on the TLS port' {
        # It connects and never starts the handshake; the server waits for it on its own.
        $silent = New-RawClient -Port $server.Port
        try {
            $a = Connect-ChatrmServer 127.0.0.1 $server.Port grace -UseTls -CertificateThumbprint $certificate.Thumbprint -ErrorAction Stop
            $raw = New-RawClient -Port $server.ClassicPort -Name heidi
            try {
                (Send-ChatrmMessage -Connection $a -To heidi -Text 'past the silent one' -PassThru -ErrorAction Stop).Status | Should -Be 'Forwarded'
                Read-RawLine $raw | Should -Be 'heidi_grace_past the silent one'
            }
            finally {
                $raw | Close-RawClient
                Disconnect-ChatrmServer $a
            }
        }
        finally {
            $silent | Close-RawClient
        }
    }

    It 'refuses a certificate it cannot trust unless told to skip the check' {
        { Connect-ChatrmServer 127.0.0.1 $server.Port carol -UseTls -ErrorAction Stop } | Should -Throw -ErrorId 'ChatrmTlsFailed*'
        $c = Connect-ChatrmServer 127.0.0.1 $server.Port carol -UseTls -SkipCertificateCheck -ErrorAction Stop
        $c.State | Should -Be 'Open'
        Disconnect-ChatrmServer $c
    }

    It 'does not speak plain text on the TLS port' {
        { Connect-ChatrmServer 127.0.0.1 $server.Port dave -ErrorAction Stop } | Should -Throw
    }

    It 'closes a classic handshake on the TLS port at once, so it is not taken for a silent original server' {
        { Connect-ChatrmServer 127.0.0.1 $server.Port dave -Protocol Classic -ErrorAction Stop -WarningAction Stop } |
            Should -Throw -ErrorId 'ChatrmConnectionClosed*'
    }
}

Describe 'Enter-ChatrmChat with a password over TLS' {
    BeforeAll {
        $certificate = New-TestCertificate
        $pfx = Join-Path $WorkDir 'chat-server.pfx'
        $pfxPassword = ConvertTo-SecureString 'pfx-pass' -AsPlainText -Force
        [IO.File]::WriteAllBytes($pfx, $certificate.Export('Pfx', 'pfx-pass'))
        $users = Join-Path $WorkDir 'chat-users.txt'
        Export-ChatrmCredential -Credential $Alice, $Bob -Path $users -Iterations 10000 | Out-Null
        $server = Start-ChatrmServer -Port 0 -CredentialFile $users -Certificate $pfx -CertificatePassword $pfxPassword
    }

    AfterAll {
        Disconnect-AllTestUsers
        $server | Remove-TestServer
    }

    It 'signs in with -Credential over -UseTls and chats' {
        $b = Connect-ChatrmServer 127.0.0.1 $server.Port -Credential $Bob -UseTls -CertificateThumbprint $certificate.Thumbprint -ErrorAction Stop
        $command = "Import-Module '$(Get-ChatrmTestModulePath)'; " +
            "`$credential = [pscredential]::new('alice', (ConvertTo-SecureString 's3cret' -AsPlainText -Force)); " +
            "Enter-ChatrmChat 127.0.0.1 $($server.Port) -Credential `$credential -UseTls -CertificateThumbprint $($certificate.Thumbprint) -With bob"
        $child = Invoke-TestPwsh -ArgumentList '-NoProfile', '-NonInteractive', '-Command', $command -InputLines 'sealed and signed'
        $output = $child.All -join "`n"
        $child.ExitCode | Should -Be 0 -Because $output
        $output | Should -BeLike '*Chatting as alice with bob*'
        $message = Receive-OneMessage $b alice -Timeout 10
        $message.Text | Should -Be 'sealed and signed'
    }

    It 'is refused with a wrong password, as Connect-ChatrmServer is' {
        $command = "Import-Module '$(Get-ChatrmTestModulePath)'; " +
            "`$credential = [pscredential]::new('alice', (ConvertTo-SecureString 'guess' -AsPlainText -Force)); " +
            "Enter-ChatrmChat 127.0.0.1 $($server.Port) -Credential `$credential -UseTls -SkipCertificateCheck -With bob; `$Error[0].FullyQualifiedErrorId"
        $output = (Invoke-TestPwsh -ArgumentList '-NoProfile', '-NonInteractive', '-Command', $command).All -join "`n"
        $output | Should -BeLike '*ChatrmAuthFailed*'
        $output | Should -Not -BeLike '*Chatting as*'
    }
}
