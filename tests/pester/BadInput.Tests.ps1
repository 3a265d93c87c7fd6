# Everything the original server crashed on (see WIRE.md): each bad input must cost only the one who sent
# it. After each, the server is still up and two other users can still chat.

BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    Import-ChatrmTestModule
}

Describe 'Bad input leaves the server up and everyone else chatting' {
    BeforeEach {
        $server = New-TestServer
        $alice = Connect-TestUser $server alice
        $bob = Connect-TestUser $server bob
        # A bystander, for the health check when alice is the one who sent something wrong.
        $erin = Connect-TestUser $server erin
        $carol = New-RawClient -Port $server.Port -Name carol
        $carol.Welcome | Should -BeLike 'carol_chatrm_welcome: *'
    }

    AfterEach {
        $carol | Close-RawClient
        Disconnect-AllTestUsers
        $server | Remove-TestServer
    }

    Context 'garbage bytes' {
        It 'answers a line of invalid UTF-8 and NUL bytes with a malformed-line notice' {
            Send-RawBytes $carol ([byte[]](0xFF, 0xFE, 0x00, 0xC3, 0x28, 0x00, 0x80, 0x0A))
            Read-RawLine $carol | Should -BeLike 'carol_chatrm_malformed-line: *'

            $server.State | Should -Be 'Running'
            Assert-UsersCanChat $alice $bob
            # carol herself can carry on.
            Send-RawLine $carol 'carol_alice_still here'
            (Receive-OneMessage -Connection $alice -From carol).Text | Should -Be 'still here'
        }

        It 'refuses a garbage handshake with invalid-name and closes that connection only' {
            $junk = New-RawClient -Port $server.Port
            try {
                Send-RawBytes $junk ([byte[]](0x00, 0xFF, 0x5F, 0xC0, 0xAF, 0x0A))
                Read-RawLine $junk | Should -BeLike 'unnamed_chatrm_invalid-name: *'
                Read-RawLine $junk | Should -BeNullOrEmpty -Because 'a connection without a valid name is closed'
            }
            finally {
                $junk | Close-RawClient
            }

            Assert-UsersCanChat $alice $bob
        }
    }

    Context 'a very long line' {
        It 'refuses a 1 MiB line with a line-too-long notice, and the sender can send normally afterwards' {
            $long = 'carol_alice_' + ('x' * 1MB)
            Send-RawLine $carol $long
            Read-RawLine $carol | Should -BeLike 'carol_chatrm_line-too-long: *'

            Send-RawLine $carol 'carol_alice_short again'
            $got = Receive-OneMessage -Connection $alice -From carol
            # Nothing of the long line was delivered: the first thing alice gets from carol is the short one.
            $got.Text | Should -Be 'short again'

            Assert-UsersCanChat $alice $bob
        }

        # The native client knows the server's frame limit from its welcome and refuses the message itself;
        # the classic client sends the line and the server's notice comes back. Either way: one error.
        It 'tells a <Kind> cmdlet user whose text is too long, as a ChatrmLineTooLong error from <ErrorFrom>' -ForEach @(
            @{ Protocol = 'Chatrm'; Kind = 'native'; ErrorFrom = 'Send-ChatrmMessage' }
            @{ Protocol = 'Classic'; Kind = 'classic'; ErrorFrom = 'Receive-ChatrmMessage' }
        ) {
            $frank = Connect-TestUser $server frank -Protocol $Protocol
            # The round trip also shows that the long text never reached bob: frank's token is first.
            $got = Send-ThroughRoundTrip -Connection $frank -To bob -Text ('y' * 100KB) -Peer $bob
            $problem = Assert-RefusedOnce -Result $got -Protocol $Protocol -ErrorId 'ChatrmLineTooLong' -To bob
            "$($problem.CategoryInfo.Category)" | Should -Be 'LimitsExceeded'

            Assert-UsersCanChat $bob $erin
            Assert-UsersCanChat $frank $bob
        }
    }

    Context 'a disconnect mid-line' {
        It 'drops the unfinished line and reports the user as gone' {
            $carol.Writer.Write('carol_alice_half')   # no newline
            $carol | Close-RawClient
            $carol = $null

            Wait-ServerEvent -Server $server -Kind UserLeft -UserName carol | Out-Null
            $server.Users | Should -Not -Contain 'carol'
            Assert-UsersCanChat $alice $bob
            # Had the half line been delivered, it would have reached alice before bob's message above.
            @(Receive-ChatrmMessage -Connection $alice -From carol) | Should -HaveCount 0
        }
    }

    Context 'an unknown destination' {
        It 'gives a <Kind> cmdlet sender one non-terminating ChatrmUnknownUser error, from <ErrorFrom>' -ForEach @(
            @{ Protocol = 'Chatrm'; Kind = 'native'; ErrorFrom = 'Send-ChatrmMessage' }
            @{ Protocol = 'Classic'; Kind = 'classic'; ErrorFrom = 'Receive-ChatrmMessage' }
        ) {
            $frank = Connect-TestUser $server frank -Protocol $Protocol
            # Send-ChatrmMessage runs with -ErrorAction SilentlyContinue, which does not hide a terminating
            # error, and the round trip reads frank's stream with -ErrorAction Continue up to bob's reply, which
            # arrives after any notice: either way, the error did not end the cmdlet.
            $got = Send-ThroughRoundTrip -Connection $frank -To nobody -Text 'hello?' -Peer $bob

            $problem = Assert-RefusedOnce -Result $got -Protocol $Protocol -ErrorId 'ChatrmUnknownUser' -To nobody
            "$($problem.CategoryInfo.Category)" | Should -Be 'ObjectNotFound'
            Assert-UsersCanChat $bob $erin
        }

        It 'sends a raw client an unknown-user notice it can display' {
            Send-RawLine $carol 'carol_nobody_hello?'
            Read-RawLine $carol | Should -BeLike 'carol_chatrm_unknown-user: *nobody*'
            Assert-UsersCanChat $alice $bob
        }

        It 'gives a classic cmdlet user the notice in order with the messages around it' {
            # Classic notices come out of Receive-ChatrmMessage, so their place among the messages matters.
            $frank = Connect-TestUser $server frank -Protocol Classic
            # A message from bob, then frank's refused line, then another from bob: one stream, in order.
            Send-ChatrmMessage -Connection $bob -To frank -Text 'before'
            Wait-Until { $frank.MessagesWaiting -eq 1 } -Timeout 5 -Because '''before'' to reach frank'
            Send-ChatrmMessage -Connection $frank -To nobody -Text 'lost'
            $got = Receive-ThroughRoundTrip -Connection $frank -Peer $bob

            $got.Stream | Should -HaveCount 2
            $got.Stream[0].Text | Should -Be 'before'
            $got.Stream[1] | Should -BeOfType [System.Management.Automation.ErrorRecord]
            $got.Stream[1].FullyQualifiedErrorId | Should -BeLike 'ChatrmUnknownUser*'
            Assert-UsersCanChat $bob $erin
        }
    }

    Context 'a taken name' {
        # The newcomer is refused during its handshake, whichever protocol it speaks.
        It 'refuses a second alice (<Kind>) with ChatrmNameTaken, and the first alice keeps receiving' -ForEach @(
            @{ Protocol = 'Chatrm'; Kind = 'native' }
            @{ Protocol = 'Classic'; Kind = 'classic' }
        ) {
            $second = Connect-ChatrmServer -ComputerName 127.0.0.1 -Port $server.Port -UserName alice -Protocol $Protocol -ErrorAction SilentlyContinue -ErrorVariable problems

            $second | Should -BeNullOrEmpty
            $problems | Should -HaveCount 1
            $problems[0].FullyQualifiedErrorId | Should -BeLike 'ChatrmNameTaken*'
            @(Get-ChatrmConnection).UserName | Should -Be @('alice', 'bob', 'erin') -Because 'a refused connection is not listed'

            # The original silently handed the name over; here the holder keeps it.
            Send-ChatrmMessage -Connection $bob -To alice -Text 'still yours'
            (Receive-OneMessage -Connection $alice -From bob).Text | Should -Be 'still yours'
            Assert-UsersCanChat $bob $erin
        }

        It 'treats names without regard to case (<Kind>)' -ForEach @(
            @{ Protocol = 'Chatrm'; Kind = 'native' }
            @{ Protocol = 'Classic'; Kind = 'classic' }
        ) {
            $shouting = Connect-ChatrmServer -ComputerName 127.0.0.1 -Port $server.Port -UserName ALICE -Protocol $Protocol -ErrorAction SilentlyContinue -ErrorVariable problems
            $shouting | Should -BeNullOrEmpty
            $problems[0].FullyQualifiedErrorId | Should -BeLike 'ChatrmNameTaken*'
            Assert-UsersCanChat $bob $erin
        }
    }

    Context 'a forged sender' {
        It 'does not deliver a line claiming another sender, and tells the forger' {
            Send-RawLine $carol 'mallory_alice_pay me'
            Read-RawLine $carol | Should -BeLike 'carol_chatrm_forged-sender: *'

            # Had the forged line been delivered, it would have reached alice before this one.
            Send-RawLine $carol 'carol_alice_honest now'
            $first = Receive-OneMessage -Connection $alice
            $first.From | Should -Be 'carol'
            $first.Text | Should -Be 'honest now'
            $alice.MessagesWaiting | Should -Be 0

            $refused = Wait-ServerEvent -Server $server -Kind LineRefused -UserName carol
            $refused.Detail | Should -BeLike 'forged-sender*'
            Assert-UsersCanChat $alice $bob
        }
    }

    Context 'a silent connection' {
        It 'does not hold up anyone else (the original waited for each handshake in turn)' {
            $silent = New-RawClient -Port $server.Port
            try {
                # While it says nothing, a newcomer still gets in and chats.
                $dave = Connect-TestUser $server dave
                Assert-UsersCanChat $alice $dave
                $server.Users | Should -Contain 'dave'
            }
            finally {
                $silent | Close-RawClient
            }
        }
    }

    Context 'a user who has left' {
        It 'tells a <Kind> cmdlet sender, with no error, that the message waits for them, and it comes when they are back' -ForEach @(
            @{ Protocol = 'Chatrm'; Kind = 'native'; Status = 'Stored' }
            @{ Protocol = 'Classic'; Kind = 'classic'; Status = 'Sent' }
        ) {
            $frank = Connect-TestUser $server frank -Protocol $Protocol
            Disconnect-ChatrmServer -Connection $bob
            Wait-Until { $server.Users -notcontains 'bob' } -Timeout 5 -Because 'bob to leave'

            # A classic sender hears a stored notice, which Receive-ChatrmMessage says as a warning, not an error.
            $got = Send-ThroughRoundTrip -Connection $frank -To bob -Text 'are you there?' -Peer $erin 3>$null
            $got.Sent.Status | Should -Be $Status
            $got.SendErrors | Should -HaveCount 0
            $got.ReceiveErrors | Should -HaveCount 0

            $bob = Connect-TestUser $server bob
            (Receive-OneMessage -Connection $bob -From frank).Text | Should -Be 'are you there?'
            Assert-UsersCanChat $frank $erin
        }
    }

    Context 'a recipient that stops reading' {
        It 'is disconnected once the server''s queue for it is full, and the sender is told' {
            # carol never reads. Keep her socket buffer small so the server's queue for her fills sooner.
            $carol.Tcp.Client.ReceiveBufferSize = 4096
            # The flood comes from a raw client, so only the server's bounds are in play, not a client's.
            $dave = New-RawClient -Port $server.Port -Name dave
            try {
                $line = 'dave_carol_' + ('z' * 15KB)
                $batches = 0
                while ($server.Users -contains 'carol' -and $batches -lt 100) {
                    for ($i = 0; $i -lt 50; $i++) { Send-RawLine $dave $line }
                    # Once bob has the marker, the server has handled every line dave sent before it.
                    $batches++
                    Send-RawLine $dave "dave_bob_marker $batches"
                    (Receive-OneMessage -Connection $bob -From dave).Text | Should -Be "marker $batches"
                }

                $server.Users | Should -Not -Contain 'carol' -Because "a reader that stopped must not make the server hold $($batches * 50) lines for it"
                Read-RawLineLike $dave 'dave_chatrm_recipient-too-slow: *carol*' | Should -Not -BeNullOrEmpty
                $left = Wait-ServerEvent -Server $server -Kind UserLeft -UserName carol
                $left.Detail | Should -BeLike '*too slow*'
            }
            finally {
                $dave | Close-RawClient
            }

            Assert-UsersCanChat $alice $bob
        }
    }
}

Describe 'A connection that never names itself' {
    BeforeAll {
        $server = New-TestServer -Options @{ HandshakeTimeout = 1 }
        $alice = Connect-TestUser $server alice
        $bob = Connect-TestUser $server bob
    }

    AfterAll {
        Disconnect-AllTestUsers
        $server | Remove-TestServer
    }

    It 'is told handshake-timeout and closed after -HandshakeTimeout' {
        $silent = New-RawClient -Port $server.Port
        try {
            $clock = [System.Diagnostics.Stopwatch]::StartNew()
            Read-RawLine $silent -Timeout 5 | Should -BeLike 'unnamed_chatrm_handshake-timeout: *'
            Read-RawLine $silent -Timeout 5 | Should -BeNullOrEmpty -Because 'the server closes it'
            $clock.Elapsed.TotalSeconds | Should -BeGreaterThan 0.5 -Because 'it had its second to speak'
        }
        finally {
            $silent | Close-RawClient
        }

        Assert-UsersCanChat $alice $bob
    }
}
