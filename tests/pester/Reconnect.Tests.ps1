# Reconnecting through the cmdlets (issue 17): Connect-ChatrmServer reconnects by default, so a bot's
# Receive-ChatrmMessage -Wait | ForEach-Object { Send-ChatrmMessage } pipeline goes on across a server's restart
# by itself; -NoReconnect closes the connection instead; a send held by a reconnect past its -Timeout is
# ChatrmNotConnected; -ReconnectTimeout binds and is validated. A restart is a new server on the old port with
# the same -StorePath; every wait polls against a deadline, and every server, job and store file is removed.

BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    Import-ChatrmTestModule
    Import-Module Microsoft.PowerShell.ThreadJob -ErrorAction Stop

    function New-TestStorePath { Join-Path ([IO.Path]::GetTempPath()) "chatrm-reconnect-$([guid]::NewGuid().ToString('n')).db" }
    function Remove-TestStore {
        param([string] $Path)
        if ($Path) { Get-Item "$Path*" -ErrorAction SilentlyContinue | Remove-Item -Force -ErrorAction SilentlyContinue }
    }

    # The bot: answers every message to its sender, and does nothing about the connection itself.
    $script:EchoBot = {
        param([string] $ModulePath, [int] $Port, [int] $Count)
        $ErrorActionPreference = 'Stop'
        Import-Module $ModulePath
        $connection = Connect-ChatrmServer -ComputerName 127.0.0.1 -Port $Port -UserName bot
        try {
            Receive-ChatrmMessage -Wait -Count $Count -Timeout 60 |
                ForEach-Object { Send-ChatrmMessage -To $_.From -Text "echo: $($_.Text)" }
        }
        finally {
            Disconnect-ChatrmServer -Connection $connection
        }
    }
}

Describe 'A bot across a restart of the server' {
    BeforeEach {
        $bot = $null
        $store = New-TestStorePath
        $servers = [System.Collections.Generic.List[object]]::new()
        $servers.Add((New-TestServer -Options @{ StorePath = $store }))
        $port = $servers[0].Port
    }

    AfterEach {
        if ($bot) {
            Stop-Job -Job $bot -ErrorAction SilentlyContinue
            Remove-Job -Job $bot -Force -ErrorAction SilentlyContinue
        }
        Disconnect-AllTestUsers
        $servers | Remove-TestServer
        Remove-TestStore $store
    }

    It 'keeps answering, its script doing nothing, and warns when its connection drops and when it is back' {
        $bot = Start-ThreadJob -Name 'chatrm-reconnect-bot' -ScriptBlock $EchoBot -ArgumentList (Get-ChatrmTestModulePath), $port, 2
        Wait-Until { $servers[0].Users -contains 'bot' -or $bot.State -in 'Failed', 'Completed' } -Because 'the bot to connect'
        $servers[0].Users | Should -Contain 'bot'
        $alice = Connect-TestUser $servers[0] alice
        Send-ChatrmMessage -Connection $alice -To bot -Text 'before'
        (Receive-OneMessage -Connection $alice -From bot -Timeout 10).Text | Should -Be 'echo: before'

        Stop-Job -Job $servers[0]
        Wait-Until { "$($alice.State)" -eq 'Reconnecting' } -Because 'alice to see the drop'
        $servers.Add((Start-ServerOnPort -Port $port -StorePath $store))
        Wait-Until { "$($alice.State)" -eq 'Open' -and $servers[1].Users -contains 'bot' } -Timeout 30 -Because 'alice and the bot to be back'

        Send-ChatrmMessage -Connection $alice -To bot -Text 'after'
        (Receive-OneMessage -Connection $alice -From bot -Timeout 10).Text | Should -Be 'echo: after'

        # Its two messages answered, the bot ends as it would have without the restart: no error.
        $bot | Wait-Job -Timeout 20 | Out-Null
        $bot.State | Should -Be 'Completed' -Because "the bot's pipeline went on. Errors: $(@($bot.Error) -join '; ')"
        @($bot.Error) | Should -HaveCount 0
        $warnings = @($bot.Warning | ForEach-Object { "$_" })
        $warnings | Where-Object { $_ -like '*bot*dropped; reconnecting*' } | Should -Not -BeNullOrEmpty -Because 'a person watching the bot hears of the drop'
        $warnings | Where-Object { $_ -like '*bot*is back*' } | Should -Not -BeNullOrEmpty -Because 'and of its return'
    }

    It 'outputs the reconnect with -IncludePresence, as ConnectionEvents, and no warning for it' {
        $alice = Connect-TestUser $servers[0] alice
        Stop-Job -Job $servers[0]
        Wait-Until { "$($alice.State)" -eq 'Reconnecting' } -Because 'alice to see the drop'
        $servers.Add((Start-ServerOnPort -Port $port -StorePath $store))
        Wait-Until { "$($alice.State)" -eq 'Open' } -Timeout 30 -Because 'alice to be back'

        $events = @(Receive-ChatrmMessage -Connection $alice -IncludePresence -WarningVariable warned | Where-Object { $_ -is [Chatrm.Engine.ConnectionEvent] })
        @($events.Change | ForEach-Object { "$_" }) | Should -Be @('Reconnecting', 'Reconnected')
        $events[0].Reason | Should -Match 'stopping' -Because 'the server said why as it stopped'
        $events[1].Attempts | Should -BeGreaterThan 0
        @($warned) | Should -HaveCount 0 -Because 'the objects say it; a gap is the only connection event warned about'
    }
}

Describe 'Connect-ChatrmServer -NoReconnect' {
    AfterEach {
        Disconnect-AllTestUsers
        $server | Remove-TestServer
    }

    It 'leaves the connection Closed when the server stops, and Receive-ChatrmMessage -Wait ends with an error' {
        $server = New-TestServer
        $alice = Connect-TestUser $server alice -Options @{ NoReconnect = $true }
        $alice.Reconnects | Should -BeFalse
        Stop-Job -Job $server
        Wait-Until { "$($alice.State)" -eq 'Closed' } -Because 'the connection to close'
        $alice.CloseReason | Should -Match 'stopping'
        { Receive-ChatrmMessage -Connection $alice -Wait -Timeout 10 } | Should -Throw -ErrorId 'ChatrmConnectionClosed,*'
    }
}

Describe 'Receive-ChatrmMessage -Wait while reconnecting' {
    AfterEach {
        Disconnect-AllTestUsers
        $server | Remove-TestServer
    }

    It 'waits through Reconnecting and ends with an error saying why once reconnecting gives up' {
        $server = New-TestServer
        $alice = Connect-TestUser $server alice -Options @{ ReconnectTimeout = 3 }
        Stop-Job -Job $server
        Wait-Until { "$($alice.State)" -eq 'Reconnecting' } -Because 'alice to see the drop'

        $failure = $null
        $clock = [System.Diagnostics.Stopwatch]::StartNew()
        try {
            Receive-ChatrmMessage -Connection $alice -Wait -Timeout 20 -WarningAction SilentlyContinue
        }
        catch {
            $failure = $_
        }
        $clock.Stop()

        $failure | Should -Not -BeNullOrEmpty -Because 'a wait on a connection that closed must not end quietly'
        $failure.FullyQualifiedErrorId | Should -BeLike 'ChatrmConnectionClosed,*'
        "$failure" | Should -Match 'gave up' -Because 'the error holds the CloseReason'
        "$($alice.State)" | Should -Be 'Closed'
        $alice.CloseReason | Should -Match 'gave up'
        $clock.Elapsed.TotalSeconds | Should -BeGreaterThan 1 -Because 'it waited while reconnecting (3 s) instead of ending at once'
        $clock.Elapsed.TotalSeconds | Should -BeLessThan 15 -Because 'it ends when reconnecting gives up, not at -Timeout'
    }
}

Describe 'Send-ChatrmMessage while reconnecting' {
    BeforeEach {
        $store = New-TestStorePath
        $servers = [System.Collections.Generic.List[object]]::new()
        $servers.Add((New-TestServer -Options @{ StorePath = $store }))
        $port = $servers[0].Port
    }

    AfterEach {
        Disconnect-AllTestUsers
        $servers | Remove-TestServer
        Remove-TestStore $store
    }

    It 'native: past a short -Timeout it is ChatrmNotConnected, still waiting, and it goes once the connection is back' {
        $bob = Connect-TestUser $servers[0] bob
        $alice = Connect-TestUser $servers[0] alice
        Stop-Job -Job $servers[0]
        Wait-Until { "$($alice.State)" -eq 'Reconnecting' } -Because 'alice to see the drop'

        $clock = [System.Diagnostics.Stopwatch]::StartNew()
        $sent = Send-ChatrmMessage -Connection $alice -To bob -Text 'held for later' -Timeout 0.3 -PassThru -ErrorAction SilentlyContinue -ErrorVariable problems
        $clock.Stop()
        $problems | Should -HaveCount 1
        $problems[0].FullyQualifiedErrorId | Should -BeLike 'ChatrmNotConnected,*'
        "$($problems[0])" | Should -Match 'still waiting'
        "$($problems[0])" | Should -Match 'once the connection is back'
        $sent.Reason | Should -Be 'not-connected'
        "$($sent.Status)" | Should -Be 'Sent' -Because 'it is neither refused nor lost'
        $clock.Elapsed.TotalSeconds | Should -BeLessThan 5

        $servers.Add((Start-ServerOnPort -Port $port -StorePath $store))
        (Receive-OneMessage -Connection $bob -From alice -Timeout 30).Text | Should -Be 'held for later'
    }

    It 'classic: each message is a ChatrmNotConnected error, and the pipeline is not taken for closed' {
        $alice = Connect-TestUser $servers[0] alice -Protocol Classic
        Stop-Job -Job $servers[0]
        Wait-Until { "$($alice.State)" -eq 'Reconnecting' } -Because 'alice to see the drop'

        $sent = @('one', 'two' | Send-ChatrmMessage -Connection $alice -To bob -PassThru -ErrorAction SilentlyContinue -ErrorVariable problems)
        $problems | Should -HaveCount 2 -Because 'each message tries, and is told, as the connection is not closed for good'
        $problems | ForEach-Object { $_.FullyQualifiedErrorId | Should -BeLike 'ChatrmNotConnected,*' }
        $sent | ForEach-Object { "$($_.Status)" | Should -Be 'Refused'; $_.Reason | Should -Be 'not-connected' }
        "$($alice.State)" | Should -Not -Be 'Closed'
    }

    It 'uses the newest connection while it reconnects, without -Connection' {
        $alice = Connect-TestUser $servers[0] alice
        Stop-Job -Job $servers[0]
        Wait-Until { "$($alice.State)" -eq 'Reconnecting' } -Because 'alice to see the drop'
        Send-ChatrmMessage -To bob -Text 'x' -Timeout 0.1 -ErrorAction SilentlyContinue -ErrorVariable problems
        $problems | Should -HaveCount 1
        $problems[0].FullyQualifiedErrorId | Should -BeLike 'ChatrmNotConnected,*' -Because 'a reconnecting newest connection is still the one meant, not ChatrmNoConnection'
    }
}

Describe 'Connect-ChatrmServer''s reconnect parameters' {
    BeforeAll {
        $server = New-TestServer
    }

    AfterAll {
        Disconnect-AllTestUsers
        $server | Remove-TestServer
    }

    It 'reconnects by default, for up to 300 s' {
        $c = Connect-TestUser $server dflt
        $c.Reconnects | Should -BeTrue
        $c.ReconnectTimeout | Should -Be ([TimeSpan]::FromSeconds(300))
        Disconnect-ChatrmServer $c
    }

    It 'takes -ReconnectTimeout in seconds, fractions too' {
        $c = Connect-TestUser $server timed -Options @{ ReconnectTimeout = 12.5 }
        $c.Reconnects | Should -BeTrue
        $c.ReconnectTimeout.TotalSeconds | Should -Be 12.5
        Disconnect-ChatrmServer $c
    }

    It 'binds -NoReconnect as a switch' {
        (Get-Command Connect-ChatrmServer).Parameters['NoReconnect'].ParameterType | Should -Be ([switch])
        (Get-Command Connect-ChatrmServer).Parameters['ReconnectTimeout'].ParameterType | Should -Be ([double])
        $c = Connect-TestUser $server off -Options @{ NoReconnect = $true }
        $c.Reconnects | Should -BeFalse
        $c.ReconnectTimeout | Should -Be ([TimeSpan]::Zero)
        Disconnect-ChatrmServer $c
    }

    It 'refuses -ReconnectTimeout <Value>, outside 1 to 86400' -ForEach @(
        @{ Value = 0 }, @{ Value = 0.5 }, @{ Value = -1 }, @{ Value = 86401 }
    ) {
        { Connect-ChatrmServer 127.0.0.1 $server.Port refused -ReconnectTimeout $Value -ErrorAction Stop } |
            Should -Throw -ErrorId 'ParameterArgumentValidationError,*'
        $server.Users | Should -Not -Contain 'refused'
    }

    It 'refuses -NoReconnect with -ReconnectTimeout, before connecting' {
        { Connect-ChatrmServer 127.0.0.1 $server.Port both -NoReconnect -ReconnectTimeout 5 -ErrorAction Stop } |
            Should -Throw -ErrorId 'ChatrmParameterConflict,*'
        $server.Users | Should -Not -Contain 'both'
    }

    It 'Enter-ChatrmChat refuses -NoReconnect with -ReconnectTimeout too, before connecting' {
        { Enter-ChatrmChat 127.0.0.1 $server.Port both -With bob -NoReconnect -ReconnectTimeout 5 -ErrorAction Stop } |
            Should -Throw -ErrorId 'ChatrmParameterConflict,*'
        $server.Users | Should -Not -Contain 'both'
    }

    It 'Enter-ChatrmChat binds -NoReconnect and -ReconnectTimeout for a connection it makes, not with -Connection' {
        $command = Get-Command Enter-ChatrmChat
        foreach ($name in 'NoReconnect', 'ReconnectTimeout') {
            $command.Parameters[$name].ParameterSets.Keys | Sort-Object | Should -Be @('Connect', 'Credential')
        }
    }
}
