# Send-ChatrmMessage's fates, errors and pipeline binding, as a script and a bot use them.

BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    Import-ChatrmTestModule
}

Describe 'Send-ChatrmMessage' {
    BeforeEach {
        $server = New-TestServer
        $alice = Connect-TestUser $server alice
        $bob = Connect-TestUser $server bob
    }

    AfterEach {
        Disconnect-AllTestUsers
        $server | Remove-TestServer
    }

    Context 'refusals' {
        It '-PassThru outputs a Refused message for each one the client refuses itself, as for one the server refuses' {
            $problems = $null
            $sent = @('one', 'two' | Send-ChatrmMessage -Connection $alice -To 'a b' -PassThru -ErrorAction SilentlyContinue -ErrorVariable problems)
            $sent | Should -HaveCount 2
            "$($sent.Status)" | Should -Be 'Refused Refused'
            $sent.Reason | Should -Be @('invalid-name', 'invalid-name')
            $sent.Text | Should -Be @('one', 'two')
            $problems | Should -HaveCount 2
            $problems | ForEach-Object { $_.FullyQualifiedErrorId | Should -BeLike 'ChatrmInvalidName,*' }
        }

        It 'targets the refused SentMessage in its error, whether the client or the server refused it' {
            $problems = $null
            Send-ChatrmMessage -Connection $alice -To 'a b' -Text 'bad name' -ErrorAction SilentlyContinue -ErrorVariable +problems
            Send-ChatrmMessage -Connection $alice -To nobody -Text 'no one' -ErrorAction SilentlyContinue -ErrorVariable +problems
            $problems | Should -HaveCount 2
            foreach ($record in $problems) {
                $record.TargetObject | Should -BeOfType 'Chatrm.Engine.SentMessage'
                "$($record.TargetObject.Status)" | Should -Be 'Refused'
                $record.CategoryInfo.TargetName | Should -Not -Be 'Chatrm.Engine.SentMessage' -Because 'a SentMessage says which message it is'
                $record.CategoryInfo.TargetName | Should -Match "alice to $($record.TargetObject.To)"
            }
        }

        It 'gives one error, not one per input, when the connection is closed' {
            $carol = Connect-TestUser $server carol
            Disconnect-ChatrmUser -Job $server -Name carol -Confirm:$false
            Wait-Until { "$($carol.State)" -eq 'Closed' }
            $problems = $null
            $sent = @(1..200 | ForEach-Object { "m$_" } | Send-ChatrmMessage -Connection $carol -To alice -PassThru -ErrorAction SilentlyContinue -ErrorVariable problems)
            $problems | Should -HaveCount 1
            $problems[0].FullyQualifiedErrorId | Should -BeLike 'ChatrmConnectionClosed,*'
            $sent | Should -HaveCount 200 -Because '-PassThru still says what became of each message'
            $sent | ForEach-Object { "$($_.Status)" | Should -Be 'Refused'; $_.Reason | Should -Be 'connection-closed' }
        }
    }

    Context '-Timeout 0' {
        It 'does not wait for the fates, and calls no delivered message unanswered' {
            $problems = $null
            $sent = @(1..20 | ForEach-Object { "t$_" } | Send-ChatrmMessage -Connection $alice -To bob -Timeout 0 -PassThru -ErrorAction SilentlyContinue -ErrorVariable problems)
            $problems | Should -HaveCount 0 -Because 'not waiting is not a failure'
            $sent | Should -HaveCount 20
            $sent | ForEach-Object { "$($_.Status)" | Should -BeIn @('Sent', 'Delivered') }
            @(Receive-ChatrmMessage -Connection $bob -Wait -Count 20 -Timeout 10).Text | Should -Be @(1..20 | ForEach-Object { "t$_" })
        }
    }

    Context 'pipeline binding' {
        It 'sends to each user piped from Get-ChatrmUser (-To takes Name)' {
            Get-ChatrmUser -Connection $alice -Name bob | Send-ChatrmMessage -Text 'hi' -Connection $alice
            $got = Receive-OneMessage -Connection $bob -From alice
            $got.Text | Should -Be 'hi'
        }

        It 'answers a piped message''s sender, so a naive bot does not talk to itself' {
            Send-ChatrmMessage -Connection $alice -To bob -Text 'ping'
            $reply = Receive-ChatrmMessage -Connection $bob -Wait -Count 1 -Timeout 5 | Send-ChatrmMessage -Connection $bob -PassThru
            $reply.To | Should -Be 'alice'
            $reply.Text | Should -Be 'ping'
            (Receive-OneMessage -Connection $alice -From bob).Text | Should -Be 'ping'
            Send-ChatrmMessage -Connection $alice -To bob -Text 'sync'
            (Receive-OneMessage -Connection $bob).Text | Should -Be 'sync' -Because 'bob got nothing from himself before alice''s next message'
        }

        It 'answers a piped message with new text: Receive-ChatrmMessage | Send-ChatrmMessage -Text' {
            Send-ChatrmMessage -Connection $alice -To bob -Text 'hello?'
            Receive-ChatrmMessage -Connection $bob -Wait -Count 1 -Timeout 5 | Send-ChatrmMessage -Connection $bob -Text 'got it'
            (Receive-OneMessage -Connection $alice -From bob).Text | Should -Be 'got it'
        }

        It 'forwards a piped message to -To when it is given' {
            $carol = Connect-TestUser $server carol
            Send-ChatrmMessage -Connection $alice -To bob -Text 'pass it on'
            Receive-ChatrmMessage -Connection $bob -Wait -Count 1 -Timeout 5 | Send-ChatrmMessage -Connection $bob -To carol
            (Receive-OneMessage -Connection $carol -From bob).Text | Should -Be 'pass it on'
        }
    }
}

Describe 'Pipeline input of the other cmdlets' {
    BeforeEach {
        $server = New-TestServer
        $alice = Connect-TestUser $server alice
        $bob = Connect-TestUser $server bob
    }

    AfterEach {
        Disconnect-AllTestUsers
        $server | Remove-TestServer
    }

    It 'Get-ChatrmConnection takes Ids from the pipeline, and connections by their Id' {
        @($alice.Id, $bob.Id | Get-ChatrmConnection).UserName | Should -Be @('alice', 'bob')
        @($bob | Get-ChatrmConnection).UserName | Should -Be @('bob')
    }

    It 'Disconnect-ChatrmUser takes the server job from the pipeline' {
        $server | Disconnect-ChatrmUser -Name bob -Confirm:$false
        Wait-Until { "$($bob.State)" -eq 'Closed' }
    }

    It 'Disconnect-ChatrmUser takes the server job by position and by name' {
        Disconnect-ChatrmUser bob $server -Confirm:$false
        Wait-Until { "$($bob.State)" -eq 'Closed' }
        Disconnect-ChatrmUser -Name alice -Job $server.Name -Confirm:$false
        Wait-Until { "$($alice.State)" -eq 'Closed' }
    }
}
