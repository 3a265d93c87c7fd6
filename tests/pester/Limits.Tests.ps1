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

    It '-MaxLineLength 64: native users still connect, and a longer message is refused as too long' {
        $server = New-TestServer -Options @{ MaxLineLength = 64 }
        $alice = Connect-TestUser $server alice
        $bob = Connect-TestUser $server bob
        $alice.State | Should -Be 'Open'
        Send-ChatrmMessage -Connection $alice -To bob -Text 'short' -ErrorAction Stop
        (Receive-OneMessage -Connection $bob).Text | Should -Be 'short'
        $problems = $null
        Send-ChatrmMessage -Connection $alice -To bob -Text ('x' * 100) -ErrorAction SilentlyContinue -ErrorVariable problems
        $problems | Should -Not -BeNullOrEmpty
        $problems[0].FullyQualifiedErrorId | Should -BeLike 'ChatrmLineTooLong*'
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
        # Without reconnecting: an idled-out client that reconnects would only idle out again.
        $alice = Connect-TestUser $server alice -Options @{ NoReconnect = $true }
        Wait-Until { $alice.State -eq 'Closed' } -Because 'alice idled out'
        Receive-ChatrmMessage -Connection $alice -ErrorAction SilentlyContinue -ErrorVariable problems
        $problems[0].FullyQualifiedErrorId | Should -BeLike 'ChatrmIdleTimeout*'
    }

    It '-IdleTimeout: pings both ways do not count as sending, so a pinging user still idles out' {
        $server = New-TestServer -Options @{ IdleTimeout = 1; KeepAliveInterval = 0.1 }
        $alice = Connect-TestUser $server alice -Options @{ KeepAliveInterval = 0.1; NoReconnect = $true }
        Wait-Until { $alice.State -eq 'Closed' } -Timeout 10 -Because 'alice idled out though she and the server kept pinging'
        Receive-ChatrmMessage -Connection $alice -ErrorAction SilentlyContinue -ErrorVariable problems
        $problems[0].FullyQualifiedErrorId | Should -BeLike 'ChatrmIdleTimeout*'
    }

    It '-MaxLineLength: a line of that many bytes is delivered, one byte more is refused, naming the limit' {
        $server = New-TestServer -Options @{ MaxLineLength = 100 }
        $alice = New-RawClient -Port $server.Port -Name alice
        $bob = New-RawClient -Port $server.Port -Name bob
        try {
            $head = 'alice_bob_'
            Send-RawLine $alice ($head + ('x' * (100 - $head.Length)))
            Read-RawLine $bob | Should -Be ('bob_alice_' + ('x' * (100 - $head.Length)))
            Send-RawLine $alice ($head + ('y' * (101 - $head.Length)))
            Read-RawLine $alice | Should -BeLike 'alice_chatrm_line-too-long: *limited to 100 bytes*'
            Send-RawLine $alice 'alice_bob_after'
            Read-RawLine $bob | Should -Be 'bob_alice_after' -Because 'the long line was not delivered, and the next one was'
        }
        finally {
            $alice, $bob | Close-RawClient
        }
    }

    It '-MaxUnconfirmed: a native user who reads but never confirms is dropped once that many wait' {
        $server = New-TestServer -Options @{ MaxUnconfirmed = 3 }
        $alice = Connect-TestUser $server alice
        # mute reads every frame and never acks one.
        $mute = New-RawNativeClient -Port $server.Port -Name mute
        try {
            $sent = 1..4 | ForEach-Object { "m$_" } | Send-ChatrmMessage -Connection $alice -To mute -PassThru -ErrorAction SilentlyContinue
            "$($sent[3].Status)" | Should -Be 'Refused' -Because 'the fourth found three waiting'
            $told = Read-RawLineLike $mute '*"type":"error"*' | ConvertFrom-Json
            $told.code | Should -Be 'recipient-too-slow'
            $told.message | Should -BeLike '*3 waited*'
            Wait-Until { $server.Users -notcontains 'mute' } -Because 'mute is dropped'
        }
        finally {
            $mute | Close-RawClient
        }
    }

    It '-MaxSendQueueBytes: a user who stops reading is dropped once that many bytes wait, and told the limit' {
        $server = New-TestServer -Options @{ MaxSendQueueBytes = 65536 }
        # carol never reads (until she is dropped); a small socket buffer lets the server's queue fill soon.
        $carol = New-RawClient -Port $server.Port -Name carol -ReceiveBufferSize 4096
        $dave = New-RawClient -Port $server.Port -Name dave
        $bob = Connect-TestUser $server bob
        try {
            $line = 'dave_carol_' + ('z' * 8KB)
            $sent = 0
            while ($server.Users -contains 'carol' -and $sent -lt 1000) {
                for ($i = 0; $i -lt 8; $i++) { Send-RawLine $dave $line }
                $sent += 8
                # Once bob has the marker, the server has handled every line dave sent before it.
                Send-RawLine $dave "dave_bob_marker $sent"
                (Receive-OneMessage -Connection $bob -From dave).Text | Should -Be "marker $sent"
            }

            $server.Users | Should -Not -Contain 'carol'
            # The socket buffers hide how much waited, so the notice says: what was queued for her still comes
            # (within the server's close grace, so read it in bulk), then the notice with the limit applied (the
            # default would read 4194304), then the close.
            $carol.Stream.ReadTimeout = 10000
            $received = [System.IO.MemoryStream]::new()
            $buffer = [byte[]]::new(256KB)
            while (($count = $carol.Stream.Read($buffer, 0, $buffer.Length)) -gt 0) { $received.Write($buffer, 0, $count) }
            $lines = [System.Text.Encoding]::UTF8.GetString($received.ToArray()).TrimEnd("`n") -split "`n"
            $lines[-1] | Should -BeLike 'carol_chatrm_recipient-too-slow: *more than 65536 bytes waited*'
        }
        finally {
            $carol, $dave | Close-RawClient
        }
    }

    It 'validates nonsense values before starting anything' {
        { Start-ChatrmServer -Port 0 -MaxConnections 0 } | Should -Throw -ErrorId 'ParameterArgumentValidationError*'
        { Start-ChatrmServer -Port 0 -MaxSendQueueBytes 10 } | Should -Throw -ErrorId 'ParameterArgumentValidationError*'
        { Start-ChatrmServer -Port 0 -MaxUnconfirmed 0 } | Should -Throw -ErrorId 'ParameterArgumentValidationError*'
        { Start-ChatrmServer -Port 0 -ResendWindow 0 } | Should -Throw -ErrorId 'ParameterArgumentValidationError*'
        { Start-ChatrmServer -Port 0 -MaxRememberedRefs 0 } | Should -Throw -ErrorId 'ParameterArgumentValidationError*'
        $server = $null
    }
}
