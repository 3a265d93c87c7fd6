# A raw TCP client sending and expecting the original Go client's exact bytes (see WIRE.md), chatting
# with a cmdlet user: the compatibility promise, checked on the wire.

BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    Import-ChatrmTestModule
}

Describe 'An original client on the wire' {
    BeforeEach {
        $server = New-TestServer
        $alice = Connect-TestUser $server alice
        # What the original client sends first: its name and an empty port field.
        $carol = New-RawClient -Port $server.Port -Name carol
    }

    AfterEach {
        $carol | Close-RawClient
        Disconnect-AllTestUsers
        $server | Remove-TestServer
    }

    It 'is welcomed with a DEST_chatrm_welcome line after its handshake NAME_' {
        # DEST_SOURCE_TEXT with the reserved sender chatrm, so an original client prints [chatrm>>] welcome: ...
        $carol.Welcome | Should -BeLike 'carol_chatrm_welcome: *'
        ($carol.Welcome -split '_').Count | Should -Be 3 -Because 'a notice has no further underscores, so the original client shows all of it'
        Wait-Until { $server.Users -contains 'carol' } -Timeout 5 -Because 'carol to be registered'
    }

    It 'sends SOURCE_DEST_TEXT, as the original client does, and the text keeps its underscores' {
        Send-RawLine $carol 'carol_alice_hello_world'
        $got = Receive-OneMessage -Connection $alice
        $got.From | Should -Be 'carol'
        $got.To | Should -Be 'alice'
        $got.Text | Should -Be 'hello_world'
    }

    It 'may send DEST_SOURCE_TEXT, as the original README describes' {
        Send-RawLine $carol 'alice_carol_hi'
        $got = Receive-OneMessage -Connection $alice
        $got.From | Should -Be 'carol'
        $got.Text | Should -Be 'hi'
    }

    It 'accepts CRLF line ends and strips the CR' {
        $carol.Writer.Write("carol_alice_windows line`r`n")
        (Receive-OneMessage -Connection $alice).Text | Should -Be 'windows line'
    }

    It 'receives a cmdlet user''s message as exactly DEST_SOURCE_TEXT' {
        Send-ChatrmMessage -Connection $alice -To carol -Text 'hi carol_how are you'
        Read-RawLine $carol | Should -BeExactly 'carol_alice_hi carol_how are you'
    }

    It 'receives a multi-line text as one DEST_SOURCE_TEXT line per line' {
        # The classic protocol has no way to carry a newline inside a message.
        Send-ChatrmMessage -Connection $alice -To carol -Text "first`nsecond"
        Read-RawLine $carol | Should -BeExactly 'carol_alice_first'
        Read-RawLine $carol | Should -BeExactly 'carol_alice_second'
    }

    It 'ends its session with EXIT: the server reports UserLeft and closes the connection' {
        Send-RawLine $carol 'EXIT'
        $left = Wait-ServerEvent -Server $server -Kind UserLeft -UserName carol
        $left.Detail | Should -Be 'exit'
        Read-RawLine $carol | Should -BeNullOrEmpty -Because 'the server closes the connection after EXIT'
        $server.Users | Should -Not -Contain 'carol'
        # alice still has the server to herself and can talk to a newcomer.
        $bob = Connect-TestUser $server bob
        Assert-UsersCanChat $alice $bob
    }

    It 'frees the name after EXIT, so the same user can come back' {
        Send-RawLine $carol 'EXIT'
        Wait-ServerEvent -Server $server -Kind UserLeft -UserName carol | Out-Null
        $again = New-RawClient -Port $server.Port -Name carol
        try {
            $again.Welcome | Should -BeLike 'carol_chatrm_welcome: *'
            Send-ChatrmMessage -Connection $alice -To carol -Text 'welcome back'
            Read-RawLine $again | Should -BeExactly 'carol_alice_welcome back'
        }
        finally {
            $again | Close-RawClient
        }
    }

    It 'accepts a handshake that carries a port field (NAME_PORT)' {
        $dave = New-RawClient -Port $server.Port
        try {
            Send-RawLine $dave 'dave_5555'
            # The port field is ignored: the user is dave.
            Read-RawLine $dave | Should -BeLike 'dave_chatrm_welcome: *'
            Send-RawLine $dave 'dave_alice_port ignored'
            (Receive-OneMessage -Connection $alice -From dave).Text | Should -Be 'port ignored'
        }
        finally {
            $dave | Close-RawClient
        }
    }

    It 'cannot pass a message off as a server notice' {
        # The text looks like a notice, but it comes from carol: alice must see a message, not an error.
        Send-RawLine $carol 'carol_alice_chatrm_name-taken: give me your password'
        $got = Receive-ChatrmMessage -Connection $alice -Wait -Count 1 -Timeout 5 -ErrorVariable problems
        $problems | Should -HaveCount 0
        $got.From | Should -Be 'carol'
        $got.Text | Should -Be 'chatrm_name-taken: give me your password'
    }

    It 'is refused the reserved name chatrm, and closed' {
        $fake = New-RawClient -Port $server.Port -Name chatrm
        try {
            $fake.Welcome | Should -BeLike '*_chatrm_invalid-name: *'
            Read-RawLine $fake | Should -BeNullOrEmpty -Because 'a refused handshake ends the connection'
        }
        finally {
            $fake | Close-RawClient
        }
        $server.Users | Should -Not -Contain 'chatrm'
    }
}
