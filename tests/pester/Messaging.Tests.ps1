# Two users chatting through the cmdlets: sending, receiving, and the connection cmdlets around them.
# Everything here holds for both protocols a connection can speak, so it runs once for each.

BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    Import-ChatrmTestModule
}

Describe 'Chatting with the cmdlets (<Kind> protocol)' -ForEach @(
    # What -PassThru says once the message is on its way: only the native protocol hears back.
    @{ Protocol = 'Chatrm'; Kind = 'native'; PassThruStatus = 'Delivered' }
    @{ Protocol = 'Classic'; Kind = 'classic'; PassThruStatus = 'Sent' }
) {
    BeforeEach {
        $server = New-TestServer
        $alice = Connect-TestUser $server alice -Protocol $Protocol
        $bob = Connect-TestUser $server bob -Protocol $Protocol
    }

    AfterEach {
        Disconnect-AllTestUsers
        $server | Remove-TestServer
    }

    Context 'Send-ChatrmMessage' {
        It 'carries messages both ways between two users' {
            Send-ChatrmMessage -Connection $alice -To bob -Text 'hello bob'
            $toBob = Receive-OneMessage -Connection $bob
            $toBob.From | Should -Be 'alice'
            $toBob.To | Should -Be 'bob'
            $toBob.Text | Should -Be 'hello bob'

            Send-ChatrmMessage -Connection $bob -To alice -Text 'hello alice'
            $toAlice = Receive-OneMessage -Connection $alice
            $toAlice.From | Should -Be 'bob'
            $toAlice.To | Should -Be 'alice'
            $toAlice.Text | Should -Be 'hello alice'
        }

        It 'sends piped text as one message each, in order' {
            'a', 'b', 'c' | Send-ChatrmMessage -Connection $alice -To bob
            $got = @(Receive-ChatrmMessage -Connection $bob -Wait -Count 3 -Timeout 5)
            $got.Text | Should -Be @('a', 'b', 'c')
        }

        It 'binds -To and -Text by property name from piped objects' {
            [pscustomobject]@{ To = 'bob'; Text = 'by property' } | Send-ChatrmMessage -Connection $alice
            (Receive-OneMessage -Connection $bob -From alice).Text | Should -Be 'by property'
        }

        It 'keeps underscores in the text' {
            # The original cut text at its first '_'; Chatrm must not.
            Send-ChatrmMessage -Connection $alice -To bob -Text 'snake_case_is_fine_'
            (Receive-OneMessage -Connection $bob).Text | Should -Be 'snake_case_is_fine_'
        }

        It '-PassThru outputs what was sent: From, To, Text, SentAt and Status <PassThruStatus>' {
            $before = [datetime]::UtcNow.AddSeconds(-1)
            $sent = Send-ChatrmMessage -Connection $alice -To bob -Text 'receipt please' -PassThru
            $sent.From | Should -Be 'alice'
            $sent.To | Should -Be 'bob'
            $sent.Text | Should -Be 'receipt please'
            $sent.SentAt | Should -BeOfType [datetime]
            $sent.SentAt.ToUniversalTime() | Should -BeGreaterThan $before
            "$($sent.Status)" | Should -Be $PassThruStatus
            (Receive-OneMessage -Connection $bob).Text | Should -Be 'receipt please'
        }

        It '-PassThru SentAt is on the same clock as the recipient''s ReceivedAt' {
            # Both are DateTimes a script may subtract; one in UTC and one local would be off by the time zone.
            $sent = Send-ChatrmMessage -Connection $alice -To bob -Text 'what time is it' -PassThru
            $got = Receive-OneMessage -Connection $bob
            $sent.SentAt.Kind | Should -Be $got.ReceivedAt.Kind
            $sent.SentAt | Should -BeLessOrEqual $got.ReceivedAt
            ($got.ReceivedAt - $sent.SentAt).TotalMinutes | Should -BeLessThan 1
        }

        It 'outputs nothing without -PassThru' {
            $out = Send-ChatrmMessage -Connection $alice -To bob -Text 'quiet'
            $out | Should -BeNullOrEmpty
            (Receive-OneMessage -Connection $bob).Text | Should -Be 'quiet'
        }

        It 'gives a non-terminating ChatrmConnectionClosed error on a connection this client closed' {
            Disconnect-ChatrmServer -Connection $alice
            # Two inputs, one error (issue 13, finding 5: not one per input); the error did not end the
            # cmdlet, and -PassThru still tells the fate of each message.
            $sent = @('too late', 'still too late' | Send-ChatrmMessage -Connection $alice -To bob -PassThru -ErrorAction SilentlyContinue -ErrorVariable problems)

            $problems | Should -HaveCount 1
            $problems | ForEach-Object { $_.FullyQualifiedErrorId | Should -BeLike 'ChatrmConnectionClosed*' }
            $sent.Text | Should -Be @('too late', 'still too late')
            $sent | ForEach-Object { "$($_.Status)" | Should -Be 'Refused'; $_.Reason | Should -Be 'connection-closed' }
        }

        It 'gives a non-terminating ChatrmConnectionClosed error on a connection the server closed' {
            # Without reconnecting, so the stop closes it for good.
            Disconnect-ChatrmServer $alice
            $alice = Connect-TestUser $server alice -Protocol $Protocol -Options @{ NoReconnect = $true }
            Stop-Job -Job $server
            Wait-Until { $alice.State -eq 'Closed' } -Timeout 10 -Because "alice's connection to close"

            $sent = @('anyone?', 'hello?' | Send-ChatrmMessage -Connection $alice -To bob -PassThru -ErrorAction SilentlyContinue -ErrorVariable problems)
            $problems | Should -HaveCount 1 -Because 'a message sent on a closed connection is lost and the sender must be told, once per pipeline'
            $problems | ForEach-Object { $_.FullyQualifiedErrorId | Should -BeLike 'ChatrmConnectionClosed*' }
            $sent | Should -HaveCount 2 -Because '-PassThru tells the fate of each lost message'
            $sent | ForEach-Object { "$($_.Status)" | Should -Be 'Refused'; $_.Reason | Should -Be 'connection-closed' }
        }

        It 'refuses a recipient name that cannot exist with ChatrmInvalidName, and goes on with the next input' {
            # Names are letters, digits, dots and dashes: an underscore would break the line format.
            @(
                [pscustomobject]@{ To = 'not_a_name'; Text = 'never sent' }
                [pscustomobject]@{ To = 'bob'; Text = 'sent' }
            ) | Send-ChatrmMessage -Connection $alice -ErrorAction SilentlyContinue -ErrorVariable problems

            $problems | Should -HaveCount 1
            $problems[0].FullyQualifiedErrorId | Should -BeLike 'ChatrmInvalidName*'
            (Receive-OneMessage -Connection $bob).Text | Should -Be 'sent'
            $bob.MessagesWaiting | Should -Be 0
        }

        It 'delivers an empty text as an empty message' {
            Send-ChatrmMessage -Connection $alice -To bob -Text ''
            $got = Receive-OneMessage -Connection $bob
            $got.From | Should -Be 'alice'
            $got.Text | Should -BeExactly ''
        }
    }

    Context 'Receive-ChatrmMessage' {
        It 'without -Wait returns what is waiting and ends' {
            'one', 'two' | Send-ChatrmMessage -Connection $alice -To bob
            Wait-Until { $bob.MessagesWaiting -eq 2 } -Timeout 5 -Because 'two messages waiting for bob'

            $clock = [System.Diagnostics.Stopwatch]::StartNew()
            $got = @(Receive-ChatrmMessage -Connection $bob)
            $again = @(Receive-ChatrmMessage -Connection $bob)
            $clock.Stop()

            $got.Text | Should -Be @('one', 'two')
            $again | Should -HaveCount 0 -Because 'what was taken is gone'
            $bob.MessagesWaiting | Should -Be 0
            $clock.Elapsed.TotalSeconds | Should -BeLessThan 2 -Because 'without -Wait nothing is waited for'
        }

        It '-From takes only that sender''s messages and leaves the rest waiting' {
            $carol = Connect-TestUser $server carol -Protocol $Protocol
            Send-ChatrmMessage -Connection $alice -To bob -Text 'from alice 1'
            Send-ChatrmMessage -Connection $carol -To bob -Text 'from carol'
            Send-ChatrmMessage -Connection $alice -To bob -Text 'from alice 2'
            Wait-Until { $bob.MessagesWaiting -eq 3 } -Timeout 5 -Because 'three messages waiting for bob'

            $fromCarol = @(Receive-ChatrmMessage -Connection $bob -From carol)
            $fromCarol.Text | Should -Be @('from carol')
            $bob.MessagesWaiting | Should -Be 2 -Because "alice's messages stay waiting"

            $rest = @(Receive-ChatrmMessage -Connection $bob)
            $rest.From | Should -Be @('alice', 'alice')
            $rest.Text | Should -Be @('from alice 1', 'from alice 2')
        }

        It '-Wait -Count N ends after N messages' {
            'm1', 'm2', 'm3' | Send-ChatrmMessage -Connection $alice -To bob
            $clock = [System.Diagnostics.Stopwatch]::StartNew()
            $got = @(Receive-ChatrmMessage -Connection $bob -Wait -Count 2 -Timeout 5)
            $clock.Stop()

            $got.Text | Should -Be @('m1', 'm2')
            $clock.Elapsed.TotalSeconds | Should -BeLessThan 4 -Because 'it ends at the count, not at -Timeout'
            Wait-Until { $bob.MessagesWaiting -eq 1 } -Timeout 5 -Because 'the third message to stay waiting'
            (Receive-ChatrmMessage -Connection $bob).Text | Should -Be 'm3'
        }

        It '-Wait -Timeout ends quietly when nothing comes' {
            $clock = [System.Diagnostics.Stopwatch]::StartNew()
            $got = @(Receive-ChatrmMessage -Connection $bob -Wait -Timeout 0.3 -ErrorVariable problems)
            $clock.Stop()

            $got | Should -HaveCount 0
            $problems | Should -HaveCount 0
            $clock.Elapsed.TotalSeconds | Should -BeGreaterOrEqual 0.25 -Because 'it waited for the time it was given'
            $clock.Elapsed.TotalSeconds | Should -BeLessThan 3
        }

        It '-Connection takes the connection object or its Id' {
            'by object', 'by id' | Send-ChatrmMessage -Connection $alice -To bob
            (Receive-OneMessage -Connection $bob).Text | Should -Be 'by object'
            $byId = Receive-ChatrmMessage -Connection $bob.Id -Wait -Count 1 -Timeout 5
            $byId.Text | Should -Be 'by id'
        }

        It 'takes the connection from the pipeline' {
            Send-ChatrmMessage -Connection $alice -To bob -Text 'piped connection'
            $got = $bob | Receive-ChatrmMessage -Wait -Count 1 -Timeout 5
            $got.Text | Should -Be 'piped connection'
        }

        It 'keeps only the -InboxSize newest messages and warns about the dropped ones' {
            $small = Connect-TestUser $server dora -Protocol $Protocol -Options @{ InboxSize = 3 }
            1..5 | ForEach-Object { "n$_" } | Send-ChatrmMessage -Connection $alice -To dora
            Wait-Until { $small.MessagesDropped -eq 2 } -Timeout 5 -Because 'two of five messages to be dropped'

            $got = @(Receive-ChatrmMessage -Connection $small -WarningVariable warnings -WarningAction SilentlyContinue)

            $got.Text | Should -Be @('n3', 'n4', 'n5') -Because 'the oldest go first'
            $warnings | Should -HaveCount 1
            "$($warnings[0])" | Should -Match '\b2\b' -Because 'the warning says how many were dropped'
            $small.MessagesDropped | Should -Be 2
            # A drop is reported once: the next read has nothing to warn about.
            Receive-ChatrmMessage -Connection $small -WarningVariable again -WarningAction SilentlyContinue
            $again | Should -HaveCount 0
        }

        It '-Wait on a connection this client closed fails at once with ChatrmConnectionClosed' {
            Disconnect-ChatrmServer -Connection $bob
            $clock = [System.Diagnostics.Stopwatch]::StartNew()
            { Receive-ChatrmMessage -Connection $bob -Wait -Timeout 10 } | Should -Throw -ErrorId 'ChatrmConnectionClosed,*'
            $clock.Elapsed.TotalSeconds | Should -BeLessThan 5
        }
    }

    Context 'Choosing the connection' {
        It 'uses the newest open connection when -Connection is not given' {
            # bob connected last, so a bare Send-ChatrmMessage speaks as bob.
            Send-ChatrmMessage -To alice -Text 'from the newest'
            $got = Receive-OneMessage -Connection $alice
            $got.From | Should -Be 'bob'

            # And a bare Receive-ChatrmMessage reads bob's inbox.
            Send-ChatrmMessage -Connection $alice -To bob -Text 'for the newest'
            (Receive-ChatrmMessage -Wait -Count 1 -Timeout 5).Text | Should -Be 'for the newest'
        }

        It 'falls back to the next newest open connection once the newest is disconnected' {
            $carol = Connect-TestUser $server carol -Protocol $Protocol
            Send-ChatrmMessage -To alice -Text 'carol is newest'
            (Receive-OneMessage -Connection $alice).From | Should -Be 'carol'

            Disconnect-ChatrmServer -Connection $carol
            Send-ChatrmMessage -To alice -Text 'bob again'
            $got = Receive-OneMessage -Connection $alice
            $got.From | Should -Be 'bob'
            $got.Text | Should -Be 'bob again'
        }

        It 'fails with ChatrmNoConnection when there is no open connection' {
            Disconnect-AllTestUsers
            { Send-ChatrmMessage -To alice -Text 'nobody home' -ErrorAction Stop } |
                Should -Throw -ErrorId 'ChatrmNoConnection,*'
        }
    }

    Context 'Get-ChatrmConnection and Disconnect-ChatrmServer' {
        It 'lists this session''s connections, oldest first' {
            $all = @(Get-ChatrmConnection)
            $all.Id | Should -Be @($alice.Id, $bob.Id)
            $all.UserName | Should -Be @('alice', 'bob')
            $all | ForEach-Object { "$($_.State)" | Should -Be 'Open' }
            $all | ForEach-Object { $_.Port | Should -Be $server.Port }
        }

        It '-Id picks out one connection' {
            $one = @(Get-ChatrmConnection -Id $bob.Id)
            $one | Should -HaveCount 1
            $one[0].UserName | Should -Be 'bob'
        }

        It '-Id with an unknown Id gives ChatrmNoConnection' {
            Get-ChatrmConnection -Id 999999 -ErrorAction SilentlyContinue -ErrorVariable problems | Should -BeNullOrEmpty
            $problems | Should -HaveCount 1
            $problems[0].FullyQualifiedErrorId | Should -BeLike 'ChatrmNoConnection*'
        }

        It 'Disconnect-ChatrmServer closes the connection and removes it from the list' {
            $gone = Disconnect-ChatrmServer -Connection $alice -PassThru
            $gone.Id | Should -Be $alice.Id
            "$($alice.State)" | Should -Be 'Closed'
            @(Get-ChatrmConnection).Id | Should -Not -Contain $alice.Id
            @(Get-ChatrmConnection).Id | Should -Contain $bob.Id
            # The server saw alice leave: bob may no longer write to her.
            Wait-Until { $server.Users -notcontains 'alice' } -Timeout 5 -Because 'the server to drop alice'
        }

        It 'Disconnect-ChatrmServer takes connections from the pipeline' {
            Get-ChatrmConnection | Disconnect-ChatrmServer
            @(Get-ChatrmConnection) | Should -HaveCount 0
            "$($alice.State)" | Should -Be 'Closed'
            "$($bob.State)" | Should -Be 'Closed'
        }
    }
}

Describe 'Connect-ChatrmServer failures' {
    AfterEach {
        Disconnect-AllTestUsers
        if ($server) { $server | Remove-TestServer }
    }

    It 'gives ChatrmConnectFailed when nothing listens on the port' {
        $server = $null
        # A port that nobody listens on, held so that nobody starts listening there during the test.
        $nothing = New-ReservedPort
        try {
            $connection = Connect-ChatrmServer -ComputerName 127.0.0.1 -Port $nothing.Port -UserName alice -ErrorAction SilentlyContinue -ErrorVariable problems
        }
        finally {
            $nothing.Dispose()
        }
        $connection | Should -BeNullOrEmpty
        $problems | Should -HaveCount 1
        $problems[0].FullyQualifiedErrorId | Should -BeLike 'ChatrmConnectFailed*'
        @(Get-ChatrmConnection) | Should -HaveCount 0
    }

    It 'gives ChatrmInvalidName for a user name the protocol cannot carry' {
        $server = New-TestServer
        $connection = Connect-ChatrmServer -ComputerName 127.0.0.1 -Port $server.Port -UserName 'bad_name' -ErrorAction SilentlyContinue -ErrorVariable problems
        $connection | Should -BeNullOrEmpty
        $problems | Should -HaveCount 1
        $problems[0].FullyQualifiedErrorId | Should -BeLike 'ChatrmInvalidName*'
    }

    It 'gives ChatrmInvalidName for the name reserved for the server' {
        $server = New-TestServer
        Connect-ChatrmServer -ComputerName 127.0.0.1 -Port $server.Port -UserName chatrm -ErrorAction SilentlyContinue -ErrorVariable problems |
            Should -BeNullOrEmpty
        $problems[0].FullyQualifiedErrorId | Should -BeLike 'ChatrmInvalidName*'
    }
}
