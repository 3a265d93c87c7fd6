# The server's limits and its operator's tools, through the cmdlets: each limit tells the user why.

BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    Import-ChatrmTestModule
}

Describe 'Get-ChatrmUser -Job and Disconnect-ChatrmUser' {
    BeforeEach {
        $server = New-TestServer
        $alice = Connect-TestUser $server alice
        $bob = Connect-TestUser $server bob -Options @{ Protocol = 'Classic' }
    }

    AfterEach {
        Disconnect-AllTestUsers
        $server | Remove-TestServer
    }

    It 'lists the users of a server this session runs, with their protocol, without connecting' {
        $users = @(Get-ChatrmUser -Job $server)
        $users.Name | Should -Be @('alice', 'bob')
        $users.Protocol | Should -Be @('chatrm', 'classic')
        @(Get-ChatrmUser -Job $server -Name 'b*').Name | Should -Be @('bob')
        @($server | Get-ChatrmUser -Name 'nobody*') | Should -BeNullOrEmpty
    }

    It 'disconnects a user, who is told why, and leaves the others chatting' {
        Disconnect-ChatrmUser -Job $server -Name alice -Reason 'too loud' -Confirm:$false
        Wait-Until { $alice.State -eq 'Closed' } -Because 'alice was disconnected'
        $alice.CloseReason | Should -Not -BeNullOrEmpty
        $problems = $null
        Receive-ChatrmMessage -Connection $alice -ErrorAction SilentlyContinue -ErrorVariable problems
        $problems[0].FullyQualifiedErrorId | Should -BeLike 'ChatrmDisconnected*'
        "$($problems[0])" | Should -BeLike '*too loud*'
        Wait-Until { (Get-ChatrmUser -Job $server).Name -notcontains 'alice' } -Because 'alice left the table'

        $carol = Connect-TestUser $server carol
        Send-ChatrmMessage -Connection $carol -To bob -Text 'still here' -ErrorAction Stop
        (Receive-OneMessage -Connection $bob).Text | Should -Be 'still here'
    }

    It 'tells a classic user as a notice' {
        $raw = New-RawClient -Port $server.Port -Name dave
        try {
            Disconnect-ChatrmUser -Job $server -Name dave -Confirm:$false
            Read-RawLine $raw | Should -Be "dave_chatrm_disconnected: disconnected by the server's operator"
        }
        finally {
            $raw | Close-RawClient
        }
    }

    It 'says so for a user who is not there, and disconnects nobody with -WhatIf' {
        Disconnect-ChatrmUser -Job $server -Name nobody -ErrorAction SilentlyContinue -ErrorVariable problems
        $problems[0].FullyQualifiedErrorId | Should -BeLike 'ChatrmUserNotFound*'

        Disconnect-ChatrmUser -Job $server -Name alice -WhatIf
        @(Get-ChatrmUser -Job $server).Name | Should -Contain 'alice'
        $alice.State | Should -Be 'Open'
    }
}

Describe 'Limits set on Start-ChatrmServer' {
    AfterEach {
        Disconnect-AllTestUsers
        $server | Remove-TestServer
    }

    It '-MaxConnections: one more is refused with ChatrmServerFull' {
        $server = New-TestServer -Options @{ MaxConnections = 1 }
        $null = Connect-TestUser $server alice
        { Connect-TestUser $server bob } | Should -Throw -ErrorId 'ChatrmServerFull*'
    }

    It '-MaxConnectionsPerAddress: a second connection from 127.0.0.1 is refused' {
        $server = New-TestServer -Options @{ MaxConnectionsPerAddress = 1 }
        $null = Connect-TestUser $server alice
        { Connect-TestUser $server bob } | Should -Throw -ErrorId 'ChatrmServerFull*'
    }

    It '-MaxMessagesPerSecond: messages past the burst are refused as errors on those messages' {
        $server = New-TestServer -Options @{ MaxMessagesPerSecond = 2 }
        $alice = Connect-TestUser $server alice
        $bob = Connect-TestUser $server bob
        $sent = 1..8 | ForEach-Object { "m$_" } |
            Send-ChatrmMessage -Connection $alice -To bob -PassThru -ErrorAction SilentlyContinue -ErrorVariable problems
        $sent[0].Status | Should -Be 'Delivered'
        @($sent | Where-Object Reason -EQ 'rate-limited').Count | Should -BeGreaterThan 0
        $problems | ForEach-Object { $_.FullyQualifiedErrorId | Should -BeLike 'ChatrmRateLimited*' }
        $problems.Count | Should -Be @($sent | Where-Object Status -EQ 'Refused').Count
    }

    It '-IdleTimeout: a user who sends nothing is told and disconnected' {
        $server = New-TestServer -Options @{ IdleTimeout = 0.5 }
        $alice = Connect-TestUser $server alice
        Wait-Until { $alice.State -eq 'Closed' } -Because 'alice idled out'
        Receive-ChatrmMessage -Connection $alice -ErrorAction SilentlyContinue -ErrorVariable problems
        $problems[0].FullyQualifiedErrorId | Should -BeLike 'ChatrmIdleTimeout*'
    }

    It 'validates nonsense values before starting anything' {
        { Start-ChatrmServer -Port 0 -MaxConnections 0 } | Should -Throw -ErrorId 'ParameterArgumentValidationError*'
        { Start-ChatrmServer -Port 0 -MaxSendQueueBytes 10 } | Should -Throw -ErrorId 'ParameterArgumentValidationError*'
        { Start-ChatrmServer -Port 0 -MaxUnconfirmed 0 } | Should -Throw -ErrorId 'ParameterArgumentValidationError*'
        $server = $null
    }
}
