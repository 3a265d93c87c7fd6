# Tab completion as a user gets it (TabExpansion2): user names for -To, -From and -With from the server,
# connection Ids for -Connection from the session.

BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    Import-ChatrmTestModule

    # What TabExpansion2 offers with the cursor at the end of the line.
    function Get-Completion {
        param([Parameter(Mandatory)] [string] $Line)
        @((TabExpansion2 -inputScript $Line -cursorColumn $Line.Length).CompletionMatches)
    }
}

Describe 'Completing user names' {
    BeforeAll {
        $server = New-TestServer
        $alice = Connect-TestUser $server alice
        $alan = Connect-TestUser $server alan
        $bob = Connect-TestUser $server bob
    }

    AfterAll {
        Disconnect-AllTestUsers
        $server | Remove-TestServer
    }

    It 'Send-ChatrmMessage -To offers the other users online whose names begin with what is typed' {
        $completions = Get-Completion "Send-ChatrmMessage -Connection $($bob.Id) -To al"
        @($completions.CompletionText) | Should -Be @('alan', 'alice')
        $completions[0].ResultType | Should -Be 'ParameterValue'
    }

    It 'never offers the name of the user asking' {
        @((Get-Completion "Send-ChatrmMessage -Connection $($alice.Id) -To ").CompletionText) | Should -Be @('alan', 'bob')
    }

    It 'asks through the connection object typed for -Connection' {
        @((Get-Completion 'Send-ChatrmMessage -Connection $alan -To ').CompletionText) | Should -Be @('alice', 'bob')
    }

    It 'asks through the newest open connection without -Connection' {
        # bob connected last, so bob is asking.
        @((Get-Completion 'Send-ChatrmMessage -To ').CompletionText) | Should -Be @('alan', 'alice')
    }

    It 'matches without regard to case' {
        @((Get-Completion "Send-ChatrmMessage -Connection $($bob.Id) -To AL").CompletionText) | Should -Be @('alan', 'alice')
    }

    It 'keeps the quote the user began with' {
        @((Get-Completion "Send-ChatrmMessage -Connection $($alice.Id) -To 'b").CompletionText) | Should -Be @("'bob'")
    }

    It 'Get-ChatrmHistory -With offers the users online' {
        @((Get-Completion "Get-ChatrmHistory -Connection $($alice.Id) -With b").CompletionText) | Should -Be @('bob')
        @((Get-Completion "Get-ChatrmHistory -Connection $($bob.Id) ").CompletionText) | Should -Be @('alan', 'alice') -Because '-With is the first positional parameter'
    }

    It 'Receive-ChatrmMessage -From offers the users online' {
        @((Get-Completion "Receive-ChatrmMessage -Connection $($alice.Id) -From b").CompletionText) | Should -Be @('bob')
    }

    It 'sees a user who joined after the last completion' {
        $carla = Connect-TestUser $server carla
        try {
            @((Get-Completion "Send-ChatrmMessage -Connection $($alice.Id) -To ca").CompletionText) | Should -Be @('carla')
        }
        finally {
            Disconnect-ChatrmServer $carla
        }
    }

    It 'Enter-ChatrmChat -With offers the users of the server typed, without the -UserName typed' {
        $line = "Enter-ChatrmChat -ComputerName 127.0.0.1 -Port $($server.Port) -UserName alan -With "
        # Asked through the newest connection to that server (bob's); alan is about to be the one chatting.
        @((Get-Completion $line).CompletionText) | Should -Be @('alice')
    }

    It 'offers nothing for a classic connection, which cannot list users, and writes no error' {
        $classic = Connect-TestUser $server carol -Options @{ Protocol = 'Classic' }
        try {
            $Error.Clear()
            Get-Completion "Send-ChatrmMessage -Connection $($classic.Id) -To " | Should -BeNullOrEmpty
            $Error.Count | Should -Be 0
        }
        finally {
            Disconnect-ChatrmServer $classic
        }
    }
}

Describe 'Completing user names with nobody to ask' {
    It 'offers nothing, quickly, when the connection given has closed' {
        $server = New-TestServer
        try {
            # Without reconnecting, so the stop leaves them Closed, not Reconnecting.
            $dave = Connect-TestUser $server dave -Options @{ NoReconnect = $true }
            $null = Connect-TestUser $server erin -Options @{ NoReconnect = $true }
            $server | Stop-ChatrmServer
            Wait-Until { $dave.State -eq 'Closed' } -Because "dave's connection to close"

            $watch = [System.Diagnostics.Stopwatch]::StartNew()
            Get-Completion "Send-ChatrmMessage -Connection $($dave.Id) -To " | Should -BeNullOrEmpty
            Get-Completion 'Send-ChatrmMessage -To ' | Should -BeNullOrEmpty
            $watch.Elapsed.TotalSeconds | Should -BeLessThan 2
        }
        finally {
            Disconnect-AllTestUsers
            $server | Remove-TestServer
        }
    }

    It 'offers nothing when the session has no connection' {
        @(Get-ChatrmConnection).Count | Should -Be 0
        Get-Completion 'Send-ChatrmMessage -To ' | Should -BeNullOrEmpty
    }
}

Describe 'Completing -Connection' {
    BeforeAll {
        $server = New-TestServer
        $alice = Connect-TestUser $server alice
        $bob = Connect-TestUser $server bob
    }

    AfterAll {
        Disconnect-AllTestUsers
        $server | Remove-TestServer
    }

    It '<_> -Connection offers the Ids of the open connections, with who each is' -ForEach @(
        'Send-ChatrmMessage', 'Receive-ChatrmMessage', 'Disconnect-ChatrmServer', 'Get-ChatrmUser', 'Get-ChatrmHistory'
    ) {
        $completions = Get-Completion "$_ -Connection "
        @($completions.CompletionText) | Should -Be @("$($alice.Id)", "$($bob.Id)")
        $completions[0].ToolTip | Should -BeLike "alice@127.0.0.1:$($server.Port)*"
        $completions[1].ToolTip | Should -BeLike "bob@127.0.0.1:$($server.Port)*"
        $completions[1].ListItemText | Should -Match '\bbob\b'
    }

    It 'offers only the Ids that begin with what is typed' {
        $typed = "$($bob.Id)"
        @((Get-Completion "Send-ChatrmMessage -Connection $typed").CompletionText) | Should -Contain $typed
        @((Get-Completion "Send-ChatrmMessage -Connection $typed").CompletionText) | Should -Not -Contain "$($alice.Id)"
    }

    It 'leaves out connections that have closed' {
        $other = New-TestServer
        try {
            $gone = Connect-TestUser $other frank -Options @{ NoReconnect = $true }
            $other | Stop-ChatrmServer
            Wait-Until { $gone.State -eq 'Closed' } -Because "frank's connection to close"
            # Still listed by Get-ChatrmConnection, but closed: nothing to use.
            @(Get-ChatrmConnection).Id | Should -Contain $gone.Id
            @((Get-Completion 'Send-ChatrmMessage -Connection ').CompletionText) | Should -Not -Contain "$($gone.Id)"
        }
        finally {
            if ($gone) { Disconnect-ChatrmServer $gone }
            $other | Remove-TestServer
        }
    }
}
