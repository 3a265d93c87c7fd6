# The server as a PowerShell job: its whole life through the stock job cmdlets, and Stop-ChatrmServer.

BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    Import-ChatrmTestModule

    # True when a fresh listener can bind the port: the server let go of it.
    function Test-PortFree([int] $Port) {
        $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, $Port)
        try {
            $listener.Start()
            return $true
        }
        catch [System.Net.Sockets.SocketException] {
            return $false
        }
        finally {
            $listener.Stop()
        }
    }
}

Describe 'Start-ChatrmServer' {
    AfterEach {
        Disconnect-AllTestUsers
        $server | Remove-TestServer
    }

    It 'returns a running job on 127.0.0.1 with the port the system picked' {
        $server = Start-ChatrmServer -Port 0
        $server | Should -BeOfType 'Chatrm.PowerShell.ChatrmServerJob'
        $server.Port | Should -BeGreaterThan 0
        $server.Address | Should -Be '127.0.0.1'
        $server.State | Should -Be 'Running'
        $server.Location | Should -Be "127.0.0.1:$($server.Port)"
        # Really listening: a client can connect to the port it reports.
        $alice = Connect-TestUser $server alice
        $alice.State | Should -Be 'Open'
    }

    It 'is listed by Get-Job as a running ChatrmServer job' {
        $server = New-TestServer
        $job = Get-Job -Id $server.Id -ErrorAction Stop
        $job.InstanceId | Should -Be $server.InstanceId
        $job.State | Should -Be 'Running'
        $job.PSJobTypeName | Should -Be 'ChatrmServer'
    }

    It 'is found by Get-Job -Name' {
        $name = "chatrm-test-$([guid]::NewGuid().ToString('n').Substring(0, 8))"
        $server = New-TestServer -Options @{ Name = $name }
        $found = @(Get-Job -Name $name -ErrorAction Stop)
        $found | Should -HaveCount 1
        $found[0].InstanceId | Should -Be $server.InstanceId
    }

    It 'reports who is online in Users and ConnectionCount' {
        $server = New-TestServer
        $server.Users | Should -HaveCount 0
        $alice = Connect-TestUser $server alice
        $bob = Connect-TestUser $server bob
        Wait-Until { $server.ConnectionCount -eq 2 } -Timeout 5 -Because 'two connections'
        $server.Users | Should -Be @('alice', 'bob')

        Disconnect-ChatrmServer -Connection $alice
        Wait-Until { $server.ConnectionCount -eq 1 } -Timeout 5 -Because 'alice''s connection to end'
        $server.Users | Should -Be @('bob')
    }

    It 'says in its status how many users are online, in English' {
        $server = New-TestServer
        $server.StatusMessage | Should -Be '0 users'
        $alice = Connect-TestUser $server alice
        Wait-Until { $server.ConnectionCount -eq 1 } -Timeout 5 -Because 'one connection'
        $server.StatusMessage | Should -Be '1 user'
        $bob = Connect-TestUser $server bob
        Wait-Until { $server.ConnectionCount -eq 2 } -Timeout 5 -Because 'two connections'
        $server.StatusMessage | Should -Be '2 users'
    }

    It 'fails with ChatrmServerStartFailed on a port that is in use' {
        $server = $null
        $holder = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
        $holder.Start()
        try {
            $port = $holder.LocalEndpoint.Port
            $failure = $null
            try { $server = Start-ChatrmServer -Port $port } catch { $failure = $_ }
            $failure | Should -Not -BeNullOrEmpty -Because 'the port is taken'
            $failure.FullyQualifiedErrorId | Should -BeLike 'ChatrmServerStartFailed*'
            $server | Should -BeNullOrEmpty
            # A failed start leaves no job behind.
            @(Get-Job | Where-Object { $_.PSJobTypeName -eq 'ChatrmServer' -and $_.Location -eq "127.0.0.1:$port" }) | Should -HaveCount 0
        }
        finally {
            $holder.Stop()
        }
    }
}

Describe 'Receive-Job on a server' {
    AfterEach {
        Disconnect-AllTestUsers
        $server | Remove-TestServer
    }

    It 'returns events with Time, Kind, UserName and Detail for joins, refusals and leaves (<Kind> user)' -ForEach @(
        # How each protocol says goodbye, which the server reports as the reason alice left.
        @{ Protocol = 'Chatrm'; Kind = 'native'; Goodbye = 'bye'; GoodbyeLine = 'a bye frame' }
        @{ Protocol = 'Classic'; Kind = 'classic'; Goodbye = 'exit'; GoodbyeLine = 'EXIT' }
    ) {
        $server = New-TestServer
        $seen = [System.Collections.Generic.List[object]]::new()
        $alice = Connect-TestUser $server alice -Protocol $Protocol
        $joined = Wait-ServerEvent -Server $server -Kind UserJoined -UserName alice -Seen $seen
        $joined.Time | Should -BeOfType [datetime]
        $joined.Detail | Should -Match '^127\.0\.0\.1:\d+$' -Because 'a join says where the user came from'

        # A message to nobody is refused, and the server says so. (How alice hears of it is tested elsewhere.)
        Send-ChatrmMessage -Connection $alice -To nobody -Text 'anyone there?' -ErrorAction SilentlyContinue
        $refused = Wait-ServerEvent -Server $server -Kind LineRefused -UserName alice -Seen $seen
        $refused.Detail | Should -BeLike 'unknown-user*'

        Disconnect-ChatrmServer -Connection $alice
        $left = Wait-ServerEvent -Server $server -Kind UserLeft -UserName alice -Seen $seen
        $left.Detail | Should -Be $Goodbye -Because "Disconnect-ChatrmServer sends $GoodbyeLine before it closes"

        foreach ($e in $seen) {
            $e.PSObject.Properties.Name | Should -Contain 'Time'
            $e.PSObject.Properties.Name | Should -Contain 'Kind'
            $e.PSObject.Properties.Name | Should -Contain 'UserName'
            $e.PSObject.Properties.Name | Should -Contain 'Detail'
        }
        # Events come out in the order they happened.
        $kinds = @($seen | ForEach-Object { "$($_.Kind)" })
        [array]::IndexOf($kinds, 'UserJoined') | Should -BeLessThan ([array]::IndexOf($kinds, 'LineRefused'))
        [array]::IndexOf($kinds, 'LineRefused') | Should -BeLessThan ([array]::IndexOf($kinds, 'UserLeft'))
    }

    It 'keeps at most -EventBufferSize events and counts the dropped ones (<Kind> user)' -ForEach @(
        @{ Protocol = 'Chatrm'; Kind = 'native' }
        @{ Protocol = 'Classic'; Kind = 'classic' }
    ) {
        $server = New-TestServer -Options @{ EventBufferSize = 5 }
        $alice = Connect-TestUser $server alice -Protocol $Protocol
        # ServerStarted + UserJoined + 10 refusals = 12 events into a buffer of 5: 7 dropped, oldest first.
        1..10 | ForEach-Object { "no one $_" } | Send-ChatrmMessage -Connection $alice -To nobody -ErrorAction SilentlyContinue
        Wait-Until { $server.DroppedEvents -ge 7 } -Timeout 10 -Because '7 events to be dropped'

        $events = @(Receive-Job -Job $server)
        $events.Count | Should -Be 5
        $server.DroppedEvents | Should -Be 7
        # The newest were kept: all five are refusals of alice's lines.
        @($events | Where-Object { "$($_.Kind)" -eq 'LineRefused' }).Count | Should -Be 5
        # Read once, gone: the buffer is empty now.
        @(Receive-Job -Job $server).Count | Should -Be 0
    }
}

Describe 'Stopping and removing a server' {
    AfterEach {
        Disconnect-AllTestUsers
        $server | Remove-TestServer
    }

    It 'Stop-Job stops it, closes its clients (<Kind>) and frees its port' -ForEach @(
        @{ Protocol = 'Chatrm'; Kind = 'native' }
        @{ Protocol = 'Classic'; Kind = 'classic' }
    ) {
        $server = New-TestServer
        $port = $server.Port
        # Without reconnecting, so the stop closes the connection (a reconnecting one waits: Reconnect.Tests.ps1).
        $alice = Connect-TestUser $server alice -Protocol $Protocol -Options @{ NoReconnect = $true }
        Test-PortFree $port | Should -BeFalse -Because 'the running server holds the port'

        Stop-Job -Job $server

        $server.State | Should -Be 'Stopped'
        (Get-Job -Id $server.Id).State | Should -Be 'Stopped'
        Wait-Until { $alice.State -eq 'Closed' } -Timeout 10 -Because "alice's connection to close"
        $alice.CloseReason | Should -Match 'stopping' -Because 'the server tells its users why'
        Test-PortFree $port | Should -BeTrue -Because 'a stopped server must let go of its port'
        # The last events tell the story: alice left because the server stopped, then it stopped.
        $events = @(Receive-Job -Job $server)
        $events | Where-Object { "$($_.Kind)" -eq 'UserLeft' -and $_.UserName -eq 'alice' } | Should -Not -BeNullOrEmpty
        "$($events[-1].Kind)" | Should -Be 'ServerStopped'
    }

    It 'Remove-Job removes a stopped server, after which Get-Job -Id fails' {
        $server = New-TestServer
        $id = $server.Id
        Stop-Job -Job $server
        Remove-Job -Job $server

        { Get-Job -Id $id -ErrorAction Stop } | Should -Throw
        @(Get-Job | Where-Object InstanceId -EQ $server.InstanceId).Count | Should -Be 0
    }

    It 'Remove-Job -Force stops a running server and frees its port' {
        $server = New-TestServer
        $port = $server.Port
        Remove-Job -Job $server -Force

        $server.State | Should -Be 'Stopped'
        Test-PortFree $port | Should -BeTrue
        { Get-Job -Id $server.Id -ErrorAction Stop } | Should -Throw
    }

    It 'Stop-ChatrmServer -Job does what Stop-Job does' {
        $server = New-TestServer
        $port = $server.Port
        # Without reconnecting, so the stop closes the connection (a reconnecting one waits: Reconnect.Tests.ps1).
        $alice = Connect-TestUser $server alice -Options @{ NoReconnect = $true }

        $out = Stop-ChatrmServer -Job $server -PassThru

        $out.InstanceId | Should -Be $server.InstanceId
        $server.State | Should -Be 'Stopped'
        Wait-Until { $alice.State -eq 'Closed' } -Timeout 10 -Because "alice's connection to close"
        Test-PortFree $port | Should -BeTrue
    }

    It 'Stop-ChatrmServer -Name stops only the server of that name' {
        $name = "chatrm-test-$([guid]::NewGuid().ToString('n').Substring(0, 8))"
        $server = New-TestServer -Options @{ Name = $name }
        $other = New-TestServer
        try {
            $server.Name | Should -Be $name
            # Without reconnecting, so the stop closes the connection (a reconnecting one waits: Reconnect.Tests.ps1).
            $alice = Connect-TestUser $server alice -Options @{ NoReconnect = $true }

            Stop-ChatrmServer -Name $name

            $server.State | Should -Be 'Stopped'
            Wait-Until { $alice.State -eq 'Closed' } -Timeout 10 -Because "alice's connection to close"
            Test-PortFree $server.Port | Should -BeTrue
            $other.State | Should -Be 'Running' -Because 'a server with another name is left alone'
        }
        finally {
            $other | Remove-TestServer
        }
    }

    It 'Stop-ChatrmServer without parameters stops every running server of this session' {
        $server = New-TestServer
        $second = New-TestServer
        try {
            $stopped = @(Stop-ChatrmServer -PassThru)
            $stopped.InstanceId | Should -Contain $server.InstanceId
            $stopped.InstanceId | Should -Contain $second.InstanceId
            $server.State | Should -Be 'Stopped'
            $second.State | Should -Be 'Stopped'
        }
        finally {
            $second | Remove-TestServer
        }
    }

    It 'Stop-ChatrmServer -Name with a name no server has gives ChatrmServerNotFound' {
        $server = $null
        Stop-ChatrmServer -Name 'no-such-chatrm-server' -ErrorAction SilentlyContinue -ErrorVariable problems
        $problems | Should -HaveCount 1
        $problems[0].FullyQualifiedErrorId | Should -BeLike 'ChatrmServerNotFound*'
    }
}

Describe 'Receive-ChatrmMessage -Wait when the server stops' {
    AfterEach {
        Disconnect-AllTestUsers
        $server | Remove-TestServer
    }

    It 'ends with a terminating, catchable ChatrmConnectionClosed error (<Kind>)' -ForEach @(
        @{ Protocol = 'Chatrm'; Kind = 'native' }
        @{ Protocol = 'Classic'; Kind = 'classic' }
    ) {
        $server = New-TestServer
        # Without reconnecting, so the stop closes the connection (a reconnecting one waits: Reconnect.Tests.ps1).
        $alice = Connect-TestUser $server alice -Protocol $Protocol -Options @{ NoReconnect = $true }
        $bob = Connect-TestUser $server bob
        Send-ChatrmMessage -Connection $bob -To alice -Text 'stop the server'

        # The message makes the pipeline stop the server while Receive-ChatrmMessage is still in its -Wait
        # loop: it must end at once with an error, not sit out its -Timeout.
        $received = [System.Collections.Generic.List[object]]::new()
        $failure = $null
        $clock = [System.Diagnostics.Stopwatch]::StartNew()
        try {
            Receive-ChatrmMessage -Connection $alice -Wait -Timeout 20 | ForEach-Object {
                $received.Add($_)
                Stop-Job -Job $server
            }
        }
        catch {
            $failure = $_
        }
        $clock.Stop()

        $received | Should -HaveCount 1
        $failure | Should -Not -BeNullOrEmpty -Because 'a wait on a closed connection must not end quietly'
        $failure.FullyQualifiedErrorId | Should -BeLike 'ChatrmConnectionClosed*'
        $clock.Elapsed.TotalSeconds | Should -BeLessThan 10 -Because 'the wait ends when the connection closes, not at -Timeout'
        "$($alice.State)" | Should -Be 'Closed'
        $alice.CloseReason | Should -Match 'stopping' -Because 'the server says why before it closes'
    }
}
