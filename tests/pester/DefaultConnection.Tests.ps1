# Which connection a cmdlet uses without -Connection: the session's newest, only while it is open;
# and an explicit $null is an error, never "no -Connection".

BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    Import-ChatrmTestModule
}

Describe 'The default connection' {
    BeforeEach {
        $server = New-TestServer
        $alice = Connect-TestUser $server alice
        $bob = Connect-TestUser $server bob
    }

    AfterEach {
        Disconnect-AllTestUsers
        $server | Remove-TestServer
    }

    It 'is the newest connection' {
        Send-ChatrmMessage -To alice -Text 'from the newest'
        (Receive-OneMessage -Connection $alice).From | Should -Be 'bob'
    }

    It 'is not an older connection once the newest closed: <Command> fails with ChatrmNoConnection' -ForEach @(
        @{ Command = 'Send-ChatrmMessage'; Run = { Send-ChatrmMessage -To alice -Text 'from bob?' } }
        @{ Command = 'Receive-ChatrmMessage'; Run = { Receive-ChatrmMessage } }
        @{ Command = 'Get-ChatrmUser'; Run = { Get-ChatrmUser } }
        @{ Command = 'Disconnect-ChatrmServer'; Run = { Disconnect-ChatrmServer } }
    ) {
        Disconnect-ChatrmUser -Job $server -Name bob -Confirm:$false
        Wait-Until { "$($bob.State)" -eq 'Closed' } -Because 'bob''s connection closes'

        { & $Run } | Should -Throw -ErrorId 'ChatrmNoConnection,*'
        "$($alice.State)" | Should -Be 'Open' -Because 'alice''s connection was not the one meant'
        Send-ChatrmMessage -Connection $alice -To alice -Text 'check'
        (Receive-OneMessage -Connection $alice).Text | Should -Be 'check' -Because 'nothing was sent as alice before'
    }

    It 'is the next newest after Disconnect-ChatrmServer removed the newest' {
        Disconnect-ChatrmServer $bob
        (Send-ChatrmMessage -To alice -Text 'now alice' -PassThru).From | Should -Be 'alice'
    }

    It 'is never what an explicit $null means: <Command> fails with ChatrmNullConnection' -ForEach @(
        @{ Command = 'Disconnect-ChatrmServer (piped)'; Run = { $x = $null; $x | Disconnect-ChatrmServer } }
        @{ Command = 'Disconnect-ChatrmServer'; Run = { Disconnect-ChatrmServer -Connection $null } }
        @{ Command = 'Send-ChatrmMessage'; Run = { Send-ChatrmMessage -To alice -Text 'x' -Connection $null } }
        @{ Command = 'Receive-ChatrmMessage (piped)'; Run = { $null | Receive-ChatrmMessage } }
        @{ Command = 'Get-ChatrmUser'; Run = { Get-ChatrmUser -Connection $null } }
    ) {
        { & $Run } | Should -Throw -ErrorId 'ChatrmNullConnection,*'
        "$($bob.State)" | Should -Be 'Open'
        "$($alice.State)" | Should -Be 'Open'
    }
}
