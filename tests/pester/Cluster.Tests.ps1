# A cluster end to end (issue 19): two Start-ChatrmServer -Cluster jobs on one nats-server the tests start,
# cmdlet users on each chatting across, Get-ChatrmUser naming each user's node, a room spanning both, and the
# error a script sees when NATS cannot be reached. Every server is on port 0 on 127.0.0.1; the servers and
# nats-server are always stopped; every wait polls against a deadline. Needs Debian's nats-server (.ci/run
# installs it); elsewhere these report themselves skipped without it.

BeforeDiscovery {
    . $PSScriptRoot/TestHelpers.ps1
    $script:noNats = -not (Test-RequiredTool 'nats-server' -Install 'apt-get install nats-server')
}

BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    Import-ChatrmTestModule
}

Describe 'Two servers in one cluster' -Skip:$noNats {
    BeforeAll {
        $nats = Start-TestNats -StoreFolder (Join-Path $TestDrive 'nats')
        $one = Start-ChatrmServer -Port 0 -Address 127.0.0.1 -Cluster $nats.Url -NodeName one -ErrorAction Stop
        $two = Start-ChatrmServer -Port 0 -Address 127.0.0.1 -Cluster "$($nats.Url)," -NodeName two -ErrorAction Stop
    }

    AfterAll {
        Disconnect-AllTestUsers
        $one, $two | Remove-TestServer
        $nats | Stop-TestNats
    }

    AfterEach {
        Disconnect-AllTestUsers
    }

    It 'shows each job''s node and that it reaches the cluster' {
        $one.NodeName | Should -Be 'one'
        $two.NodeName | Should -Be 'two'
        $one.ClusterState | Should -Be 'Connected'
        (Get-Job -Id $two.Id).ClusterState | Should -Be 'Connected'
    }

    It 'lets users on different servers chat both ways, with the fates of one server' {
        $alice = Connect-TestUser $one alice
        $bob = Connect-TestUser $two bob
        Wait-Until -Because 'bob seen from server one' { $one.Users -contains 'bob' }

        $sent = Send-ChatrmMessage -Connection $alice -To bob -Text 'hello across' -PassThru
        $sent.Status | Should -Be 'Delivered'
        (Receive-OneMessage -Connection $bob -From alice).Text | Should -Be 'hello across'

        $back = Send-ChatrmMessage -Connection $bob -To alice -Text 'and back' -PassThru
        $back.Status | Should -Be 'Delivered'
        (Receive-OneMessage -Connection $alice -From bob).Text | Should -Be 'and back'
    }

    It 'lists every user of the cluster with the node each is on' {
        $null = Connect-TestUser $one carol
        $dave = Connect-TestUser $two dave
        Wait-Until -Because 'both users seen from server two' { @(Get-ChatrmUser -Connection $dave | Where-Object Name -in 'carol', 'dave').Count -eq 2 }
        $users = @(Get-ChatrmUser -Connection $dave | Where-Object Name -in 'carol', 'dave' | Sort-Object Name)
        $users.Node | Should -Be @('one', 'two')
    }

    It 'keeps one room for members on both servers' {
        $erin = Connect-TestUser $one erin
        $finn = Connect-TestUser $two finn
        $null = Join-ChatrmRoom -Room '#ops' -Connection $erin
        $joined = Join-ChatrmRoom -Room '#ops' -Connection $finn
        $joined.MemberCount | Should -Be 2

        $posted = Send-ChatrmMessage -Connection $erin -To '#ops' -Text 'deploying' -PassThru
        $posted.Status | Should -Be 'Posted'
        $heard = @(Receive-ChatrmMessage -Connection $finn -Room '#ops' -Wait -Count 1 -Timeout 10)
        $heard.Count | Should -Be 1
        $heard[0].Text | Should -Be 'deploying'
        $heard[0].Seq | Should -Be $posted.Seq
    }

    It 'keeps a message for a user who is away and hands it over at a login through the other server' {
        $gina = Connect-TestUser $one gina
        $hal = Connect-TestUser $two hal
        Wait-Until -Because 'hal seen from server one' { $one.Users -contains 'hal' }
        Disconnect-ChatrmServer -Connection $hal
        Wait-Until -Because 'hal gone from server one' { $one.Users -notcontains 'hal' }

        $sent = Send-ChatrmMessage -Connection $gina -To hal -Text 'while you were out' -PassThru
        $sent.Status | Should -Be 'Stored'

        $halAgain = Connect-TestUser $one hal
        $got = Receive-OneMessage -Connection $halAgain -From gina
        $got.Text | Should -Be 'while you were out'
        $got.Id | Should -Be $sent.Id
    }

    It 'reads a conversation''s history from either server' {
        $ivy = Connect-TestUser $one ivy
        $jon = Connect-TestUser $two jon
        Wait-Until -Because 'jon seen from server one' { $one.Users -contains 'jon' }
        foreach ($n in 1..3) {
            (Send-ChatrmMessage -Connection $ivy -To jon -Text "line $n" -PassThru).Status | Should -Be 'Delivered'
        }

        (Get-ChatrmHistory -Connection $jon -With ivy).Text | Should -Be @('line 1', 'line 2', 'line 3')
        (Get-ChatrmHistory -Job $one -With ivy, jon -Last 2).Text | Should -Be @('line 2', 'line 3')
    }
}

Describe 'Joining a cluster that cannot be reached' -Skip:$noNats {
    It 'is a terminating error with a stable id, and leaves no job behind' {
        $port = New-ReservedPort
        try {
            $before = @(Get-Job -ErrorAction SilentlyContinue).Count
            { Start-ChatrmServer -Port 0 -Address 127.0.0.1 -Cluster "nats://127.0.0.1:$($port.Port)" -ErrorAction Stop } |
                Should -Throw -ErrorId 'ChatrmClusterUnavailable,Chatrm.PowerShell.StartChatrmServerCommand'
            @(Get-Job -ErrorAction SilentlyContinue).Count | Should -Be $before
        }
        finally {
            $port.Dispose()
        }
    }

    It 'refuses a store file for a server in a cluster, whose store is JetStream' {
        { Start-ChatrmServer -Port 0 -Cluster 'nats://127.0.0.1:4222' -StorePath (Join-Path $TestDrive 'x.db') -ErrorAction Stop } |
            Should -Throw -ErrorId 'ChatrmParameterConflict,Chatrm.PowerShell.StartChatrmServerCommand'
        Join-Path $TestDrive 'x.db' | Should -Not -Exist
    }

    It 'refuses -NodeName without -Cluster' {
        { Start-ChatrmServer -Port 0 -NodeName lonely -ErrorAction Stop } |
            Should -Throw -ErrorId 'ChatrmParameterConflict,Chatrm.PowerShell.StartChatrmServerCommand'
    }
}
