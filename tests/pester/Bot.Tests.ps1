# A bot in another runspace (a thread job) answering through the same cmdlets: the pipeline-bot pattern.

BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    Import-ChatrmTestModule
    Import-Module Microsoft.PowerShell.ThreadJob -ErrorAction Stop

    # The bot: waits for three messages and answers each one to its sender.
    $script:EchoBot = {
        param([string] $ModulePath, [int] $Port)
        $ErrorActionPreference = 'Stop'
        Import-Module $ModulePath
        $connection = Connect-ChatrmServer -ComputerName 127.0.0.1 -Port $Port -UserName bot
        try {
            # No -Connection: in its own runspace, the bot's connection is the newest open one.
            Receive-ChatrmMessage -Wait -Count 3 -Timeout 20 |
                ForEach-Object { Send-ChatrmMessage -To $_.From -Text "echo: $($_.Text)" }
        }
        finally {
            Disconnect-ChatrmServer -Connection $connection
        }
    }
}

# Each test has its own server and bot, so none relies on the messages another test sent.
Describe 'An echo bot in a thread job' {
    BeforeEach {
        $bot = $null
        $server = New-TestServer
        $alice = Connect-TestUser $server alice
        $bot = Start-ThreadJob -Name 'chatrm-echo-bot' -ScriptBlock $EchoBot -ArgumentList (Get-ChatrmTestModulePath), $server.Port
        # The bot is ready when the server lists it; a bot that failed to start shows as a failed job.
        Wait-Until { $server.Users -contains 'bot' -or $bot.State -in 'Failed', 'Completed' } -Timeout 10 -Because 'the bot to connect'
        if ($server.Users -notcontains 'bot') {
            throw "The bot did not connect: $($bot.State) $(Receive-Job $bot 2>&1 | Out-String)"
        }
    }

    AfterEach {
        # Always: the bot's job, then the server, then our connection.
        if ($bot) {
            Stop-Job -Job $bot -ErrorAction SilentlyContinue
            Remove-Job -Job $bot -Force -ErrorAction SilentlyContinue
        }
        Disconnect-AllTestUsers
        $server | Remove-TestServer
    }

    It 'is connected, but not in this session''s connection list' {
        # Each runspace has its own connections: the bot never becomes this session's "newest".
        $server.Users | Should -Contain 'bot'
        @(Get-ChatrmConnection).UserName | Should -Be @('alice')
    }

    It 'answers three messages with three echoes, in order' {
        'one', 'two_2', 'three' | Send-ChatrmMessage -Connection $alice -To bot
        $echoes = @(Receive-ChatrmMessage -Connection $alice -From bot -Wait -Count 3 -Timeout 5)

        $echoes.Text | Should -Be @('echo: one', 'echo: two_2', 'echo: three')
        $echoes | ForEach-Object { $_.From | Should -Be 'bot' }
    }

    It 'finishes once it has answered its three messages, leaving the server' {
        'one', 'two', 'three' | Send-ChatrmMessage -Connection $alice -To bot
        @(Receive-ChatrmMessage -Connection $alice -From bot -Wait -Count 3 -Timeout 5) | Should -HaveCount 3
        $bot | Wait-Job -Timeout 10 | Out-Null
        $bot.State | Should -Be 'Completed'
        @($bot.Error) | Should -HaveCount 0
        Wait-Until { $server.Users -notcontains 'bot' } -Timeout 5 -Because 'the bot to leave the server'
    }
}

Describe 'Stopping a thread job that waits in Receive-ChatrmMessage' {
    BeforeAll {
        $server = New-TestServer
    }

    AfterAll {
        $server | Remove-TestServer
    }

    It 'ends the wait at once (as Ctrl+C does), and the runspace''s connection closes with it' {
        $waiter = Start-ThreadJob -ScriptBlock {
            param([string] $ModulePath, [int] $Port)
            Import-Module $ModulePath
            $null = Connect-ChatrmServer -ComputerName 127.0.0.1 -Port $Port -UserName waiter -ErrorAction Stop
            Receive-ChatrmMessage -Wait -Timeout 60
        } -ArgumentList (Get-ChatrmTestModulePath), $server.Port
        try {
            Wait-Until { $server.Users -contains 'waiter' -or $waiter.State -in 'Failed', 'Completed' } -Timeout 10 -Because 'the waiter to connect'
            $waiter.State | Should -Be 'Running'

            $clock = [System.Diagnostics.Stopwatch]::StartNew()
            Stop-Job -Job $waiter
            $clock.Stop()

            $waiter.State | Should -Be 'Stopped'
            $clock.Elapsed.TotalSeconds | Should -BeLessThan 10 -Because 'a stopped pipeline must not sit out a 60 s wait'
            # The job's runspace is gone, and its connections are closed with it.
            Wait-Until { $server.Users -notcontains 'waiter' } -Timeout 10 -Because 'the waiter to leave the server'
        }
        finally {
            Remove-Job -Job $waiter -Force -ErrorAction SilentlyContinue
        }
    }

    It 'closes the connection of a thread job that ends without disconnecting' {
        $forgetful = Start-ThreadJob -ScriptBlock {
            param([string] $ModulePath, [int] $Port)
            Import-Module $ModulePath
            $null = Connect-ChatrmServer -ComputerName 127.0.0.1 -Port $Port -UserName forgetful -ErrorAction Stop
        } -ArgumentList (Get-ChatrmTestModulePath), $server.Port
        try {
            $forgetful | Wait-Job -Timeout 10 | Out-Null
            $forgetful.State | Should -Be 'Completed'
            Wait-Until { $server.Users -notcontains 'forgetful' } -Timeout 10 -Because 'the forgotten connection to close'
            $left = Wait-ServerEvent -Server $server -Kind UserLeft -UserName forgetful
            $left | Should -Not -BeNullOrEmpty
        }
        finally {
            Remove-Job -Job $forgetful -Force -ErrorAction SilentlyContinue
        }
    }
}
