# The native protocol end to end, through the cmdlets: native and classic users on one server, message
# fates, who is online, presence, keepalive both ways, and what happens against an original server.
# docs/protocol.md ("The native protocol") is the specification these tests hold the module to.

BeforeDiscovery {
    # Who takes part in the mixed chats, and how each one talks to the server.
    $script:Kinds = [ordered]@{
        alice = 'native cmdlet user'
        bob   = 'native cmdlet user'
        carol = 'classic cmdlet user'
        dave  = 'raw classic client'
    }
    $script:Pairs = foreach ($from in $Kinds.Keys) {
        foreach ($to in $Kinds.Keys) {
            if ($from -ne $to) { @{ From = $from; FromKind = $Kinds[$from]; To = $to; ToKind = $Kinds[$to] } }
        }
    }
}

BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    Import-ChatrmTestModule

    # Text that must arrive unchanged: underscores (the original cut text at the first one), accents, CJK,
    # and a character outside the BMP (two UTF-16 code units, four UTF-8 bytes).
    $script:Unicode = 'snake_case_ naïve 日本語 😀'

    <#
        The four users of the mixed chats: alice and bob (native cmdlets), carol (classic cmdlet), and dave (a
        raw TCP client sending the original client's exact bytes). Returns them by name.
    #>
    function Connect-MixedUsers {
        param([Parameter(Mandatory)] $Server)
        $users = @{
            alice = Connect-TestUser $Server alice
            bob   = Connect-TestUser $Server bob
            carol = Connect-TestUser $Server carol -Protocol Classic
            dave  = New-RawClient -Port $Server.Port -Name dave
        }
        $users.dave.Welcome | Should -BeLike 'dave_chatrm_welcome: *'
        return $users
    }

    # Sends as one of the mixed users: a cmdlet call, or the original client's SOURCE_DEST_TEXT line.
    function Send-As {
        param($Users, [string] $From, [string] $To, [string] $Text)
        if ($From -eq 'dave') {
            Send-RawLine $Users.dave "dave_${To}_$Text"
        }
        else {
            Send-ChatrmMessage -Connection $Users[$From] -To $To -Text $Text -ErrorAction Stop
        }
    }

    # Receives one message as one of the mixed users; a raw DEST_SOURCE_TEXT line is split on its first two '_'.
    function Receive-As {
        param($Users, [string] $Name)
        if ($Name -eq 'dave') {
            $line = Read-RawLine $Users.dave
            $to, $from, $text = $line -split '_', 3
            return [pscustomobject]@{ From = $from; To = $to; Text = $text; Id = $null; Line = $line }
        }
        return Receive-OneMessage -Connection $Users[$Name]
    }

    function Close-MixedUsers {
        param($Users)
        if ($Users) { $Users.dave | Close-RawClient }
        Disconnect-AllTestUsers
    }

    <#
        Reads a connection's inbox, presence included, until $Until holds for everything read so far; returns
        it all. (Not named $Condition: Wait-Until's own parameter of that name would hide it.)
    #>
    function Receive-Until {
        param([Parameter(Mandatory)] $Connection, [Parameter(Mandatory)] [scriptblock] $Until, [double] $Timeout = 5, [string] $Because)
        $receivedSoFar = [System.Collections.Generic.List[object]]::new()
        Wait-Until -Timeout $Timeout -Because $Because {
            foreach ($item in @(Receive-ChatrmMessage -Connection $Connection -IncludePresence)) { $receivedSoFar.Add($item) }
            & $Until $receivedSoFar
        }
        return , $receivedSoFar.ToArray()
    }
}

Describe 'Native and classic users chatting through one server' {
    BeforeEach {
        $server = New-TestServer
        $users = Connect-MixedUsers $server
    }

    AfterEach {
        Close-MixedUsers $users
        $server | Remove-TestServer
    }

    It '<From> (<FromKind>) reaches <To> (<ToKind>) with underscores and Unicode intact' -ForEach $Pairs {
        $text = "from ${From}: $Unicode"
        Send-As $users $From $To $text
        $got = Receive-As $users $To

        $got.From | Should -BeExactly $From -Because 'the server names the registered sender'
        $got.To | Should -BeExactly $To
        $got.Text | Should -BeExactly $text
        if ($ToKind -like 'native*') {
            # Only the native protocol gives a message an id and the server's time.
            $got.Id | Should -Not -BeNullOrEmpty
            $got.SentAt.Kind | Should -Be 'Local'
        }
    }

    It 'gives multi-line text to a native user whole, and to a raw classic client as one DEST_SOURCE_line per line' {
        $text = "first line`nsecond_line ✓`r`nthird"
        $sent = @(
            [pscustomobject]@{ To = 'bob'; Text = $text }
            [pscustomobject]@{ To = 'dave'; Text = $text }
        ) | Send-ChatrmMessage -Connection $users.alice -PassThru

        "$($sent.Status)" | Should -Be 'Delivered Forwarded'
        # JSON carries the line breaks: the native recipient gets the very text that was sent, CRLF included.
        $got = Receive-OneMessage -Connection $users.bob -From alice
        $got.Text | Should -BeExactly $text
        $users.bob.MessagesWaiting | Should -Be 0 -Because 'one text is one message'

        Read-RawLine $users.dave | Should -BeExactly 'dave_alice_first line'
        Read-RawLine $users.dave | Should -BeExactly 'dave_alice_second_line ✓'
        Read-RawLine $users.dave | Should -BeExactly 'dave_alice_third'
    }

    It 'gives multi-line text to a classic cmdlet user as one message per line, in order' {
        Send-ChatrmMessage -Connection $users.alice -To carol -Text "one`ntwo_2`nthree"
        $got = @(Receive-ChatrmMessage -Connection $users.carol -Wait -Count 3 -Timeout 5)
        $got.Text | Should -Be @('one', 'two_2', 'three')
        $got.From | Should -Be @('alice', 'alice', 'alice')
    }

    It 'gives multi-line text from a classic cmdlet user to a native user as one message per line' {
        # A classic line cannot hold a line break, so the classic client sends one line per line.
        Send-ChatrmMessage -Connection $users.carol -To alice -Text "one`ntwo_2"
        $got = @(Receive-ChatrmMessage -Connection $users.alice -Wait -Count 2 -Timeout 5)
        $got.Text | Should -Be @('one', 'two_2')
        $got | ForEach-Object { $_.Id | Should -Not -BeNullOrEmpty }
        @($got.Id | Select-Object -Unique) | Should -HaveCount 2
    }
}

Describe 'What Send-ChatrmMessage says about each message (native protocol)' {
    BeforeEach {
        $server = New-TestServer
        $users = Connect-MixedUsers $server
        $alice = $users.alice
    }

    AfterEach {
        Close-MixedUsers $users
        $server | Remove-TestServer
    }

    It '-PassThru says Delivered to a native user, Forwarded to classic ones and Refused, with a Reason, to nobody' {
        $before = [datetime]::Now
        $sent = @(
            [pscustomobject]@{ To = 'bob'; Text = 'to a native user' }
            [pscustomobject]@{ To = 'carol'; Text = 'to a classic cmdlet user' }
            [pscustomobject]@{ To = 'dave'; Text = 'to a raw classic client' }
            [pscustomobject]@{ To = 'nobody'; Text = 'to no one' }
        ) | Send-ChatrmMessage -Connection $alice -PassThru -ErrorAction SilentlyContinue -ErrorVariable problems
        $after = [datetime]::Now

        $sent | Should -HaveCount 4
        $sent | ForEach-Object { $_ | Should -BeOfType 'Chatrm.Engine.SentMessage' }
        "$($sent.Status)" | Should -Be 'Delivered Forwarded Forwarded Refused'
        $sent.To | Should -Be @('bob', 'carol', 'dave', 'nobody')
        $sent.From | Should -Be @('alice', 'alice', 'alice', 'alice')
        $sent[0..2] | ForEach-Object { $_.Reason | Should -BeNullOrEmpty }
        $sent[3].Reason | Should -Be 'unknown-user'
        $problems | Should -HaveCount 1 -Because 'only the refused message is an error'

        # The server gives every message it accepts an id, refused ones too, and its own time.
        $sent | ForEach-Object { $_.Id | Should -Not -BeNullOrEmpty }
        @($sent.Id | Select-Object -Unique) | Should -HaveCount 4 -Because 'ids are unique for the server''s run'
        foreach ($message in $sent) {
            $message.SentAt.Kind | Should -Be 'Local'
            $message.SentAt | Should -BeGreaterOrEqual $before
            $message.SentAt | Should -BeLessOrEqual $after
        }

        # Each arrived where its status says it did; the native recipient sees the same id and time.
        $atBob = Receive-OneMessage -Connection $users.bob -From alice
        $atBob.Id | Should -Be $sent[0].Id
        $atBob.SentAt | Should -Be $sent[0].SentAt
        (Receive-OneMessage -Connection $users.carol -From alice).Text | Should -Be 'to a classic cmdlet user'
        Read-RawLine $users.dave | Should -BeExactly 'dave_alice_to a raw classic client'
    }

    It 'makes each refused message an error on that message, and sends the others' {
        # erin was here and has left: a message to her is kept for her (Stored), not refused.
        $erin = Connect-TestUser $server erin
        Disconnect-ChatrmServer -Connection $erin
        Wait-Until { $server.Users -notcontains 'erin' } -Timeout 5 -Because 'erin to leave'

        # 2>&1 keeps errors and -PassThru output in one stream, in the order the cmdlet wrote them.
        $stream = @(@(
            [pscustomobject]@{ To = 'bob'; Text = 'one' }
            [pscustomobject]@{ To = 'nobody'; Text = 'lost_1' }
            [pscustomobject]@{ To = 'bob'; Text = 'two' }
            [pscustomobject]@{ To = '#nowhere'; Text = "lost 2 $Unicode" }
            [pscustomobject]@{ To = 'bob'; Text = 'three' }
            [pscustomobject]@{ To = 'erin'; Text = 'kept for erin' }
        ) | Send-ChatrmMessage -Connection $alice -PassThru -ErrorAction Continue 2>&1)

        $errors = @($stream | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] })
        $sent = @($stream | Where-Object { $_ -isnot [System.Management.Automation.ErrorRecord] })
        "$($sent.Status)" | Should -Be 'Delivered Refused Delivered Refused Delivered Stored' -Because 'a refusal does not stop the messages after it'
        $sent.Text | Should -Be @('one', 'lost_1', 'two', "lost 2 $Unicode", 'three', 'kept for erin')

        $errors | Should -HaveCount 2
        $errors[0].FullyQualifiedErrorId | Should -BeLike 'ChatrmUnknownUser,*'
        $errors[1].FullyQualifiedErrorId | Should -BeLike 'ChatrmNotInRoom,*'
        # Each error's target is the refused message itself, so a script knows which one failed.
        $errors[0].TargetObject | Should -BeOfType 'Chatrm.Engine.SentMessage'
        $errors[0].TargetObject.To | Should -Be 'nobody'
        $errors[0].TargetObject.Text | Should -BeExactly 'lost_1'
        $errors[0].TargetObject.Reason | Should -Be 'unknown-user'
        $errors[1].TargetObject | Should -BeOfType 'Chatrm.Engine.SentMessage'
        $errors[1].TargetObject.To | Should -Be '#nowhere'
        $errors[1].TargetObject.Text | Should -BeExactly "lost 2 $Unicode"
        $errors[1].TargetObject.Reason | Should -Be 'not-in-room'
        $errors | ForEach-Object { "$($_.TargetObject.Status)" | Should -Be 'Refused' }
        # And each error comes right before that message's own -PassThru output.
        foreach ($problem in $errors) {
            $at = [array]::IndexOf($stream, $problem)
            $stream[$at + 1].Id | Should -Be $problem.TargetObject.Id
        }

        # bob got exactly the delivered ones, in order.
        $atBob = @(Receive-ChatrmMessage -Connection $users.bob -Wait -Count 3 -Timeout 5)
        $atBob.Text | Should -Be @('one', 'two', 'three')
        $atBob.Id | Should -Be @($sent[0].Id, $sent[2].Id, $sent[4].Id)
        # The refusals were reported once, by Send-ChatrmMessage: nothing waits in alice's inbox.
        @(Receive-ChatrmMessage -Connection $alice -ErrorAction SilentlyContinue -ErrorVariable later) | Should -HaveCount 0
        $later | Should -HaveCount 0
    }

    It 'gives piped text to one recipient unique ids, all Delivered, in order' {
        $sent = @('a', 'b_b', 'c' | Send-ChatrmMessage -Connection $alice -To bob -PassThru)
        "$($sent.Status)" | Should -Be 'Delivered Delivered Delivered'
        @($sent.Id | Select-Object -Unique) | Should -HaveCount 3
        $sent[0].SentAt | Should -BeLessOrEqual $sent[1].SentAt
        $sent[1].SentAt | Should -BeLessOrEqual $sent[2].SentAt

        $got = @(Receive-ChatrmMessage -Connection $users.bob -Wait -Count 3 -Timeout 5)
        $got.Text | Should -Be @('a', 'b_b', 'c')
        $got.Id | Should -Be $sent.Id
    }

    It 'tells a classic sender only Sent, while its native recipient gets an id and the server''s time, in local time' {
        $before = [datetime]::Now
        $sent = Send-ChatrmMessage -Connection $users.carol -To alice -Text 'from the classic side' -PassThru
        "$($sent.Status)" | Should -Be 'Sent' -Because 'the classic protocol hears nothing back'
        $sent.Id | Should -BeNullOrEmpty

        $got = Receive-OneMessage -Connection $alice -From carol
        $after = [datetime]::Now
        $got.Text | Should -Be 'from the classic side'
        $got.Id | Should -Not -BeNullOrEmpty
        $got.SentAt.Kind | Should -Be 'Local'
        $got.SentAt | Should -BeGreaterOrEqual $before
        $got.SentAt | Should -BeLessOrEqual $got.ReceivedAt
        $got.ReceivedAt.Kind | Should -Be 'Local'
        $got.ReceivedAt | Should -BeLessOrEqual $after
    }
}

Describe 'Get-ChatrmUser' {
    BeforeEach {
        $before = [datetime]::Now
        $server = New-TestServer
        $users = Connect-MixedUsers $server
        $after = [datetime]::Now
        $alice = $users.alice
    }

    AfterEach {
        Close-MixedUsers $users
        $server | Remove-TestServer
    }

    It 'lists everyone online, native and classic, with Name, Protocol and ConnectedAt in local time, sorted by name' {
        $list = @(Get-ChatrmUser -Connection $alice)

        $list | ForEach-Object { $_ | Should -BeOfType 'Chatrm.Engine.UserInfo' }
        $list.Name | Should -Be @('alice', 'bob', 'carol', 'dave')
        $list.Protocol | Should -Be @('chatrm', 'chatrm', 'classic', 'classic')
        foreach ($user in $list) {
            $user.ConnectedAt.Kind | Should -Be 'Local'
            $user.ConnectedAt | Should -BeGreaterOrEqual $before
            $user.ConnectedAt | Should -BeLessOrEqual $after
        }
    }

    It 'gives Protocol as the same enum as a connection''s Protocol' {
        $list = @(Get-ChatrmUser -Connection $alice)
        $list | ForEach-Object { $_.Protocol | Should -BeOfType ([Chatrm.Engine.ChatProtocol]) }
        ($list | Where-Object Name -EQ 'alice').Protocol | Should -Be $alice.Protocol
        @($list | Where-Object Protocol -EQ ([Chatrm.Engine.ChatProtocol]::Classic)).Name | Should -Be @('carol', 'dave')
    }

    It '-Name filters with wildcards, without regard to case' {
        @(Get-ChatrmUser -Connection $alice -Name 'b*').Name | Should -Be @('bob')
        @(Get-ChatrmUser -Connection $alice -Name '?A*').Name | Should -Be @('carol', 'dave')
        @(Get-ChatrmUser -Connection $alice -Name 'DAVE').Name | Should -Be @('dave')
        @(Get-ChatrmUser -Connection $alice -Name 'nobody' -ErrorVariable problems) | Should -HaveCount 0
        $problems | Should -HaveCount 0 -Because 'a filter that matches nobody is not an error'
    }

    It 'takes the connection from the pipeline, and no longer lists a user who left' {
        @($users.bob | Get-ChatrmUser).Name | Should -Be @('alice', 'bob', 'carol', 'dave')

        $users.dave | Close-RawClient
        $users.dave = $null
        Wait-Until { @(Get-ChatrmUser -Connection $alice).Name -notcontains 'dave' } -Timeout 5 -Because 'dave to leave the list'
        @(Get-ChatrmUser -Connection $alice).Name | Should -Be @('alice', 'bob', 'carol')
    }

    It 'gives a ChatrmProtocolMismatch error, and no users, on a classic connection' {
        $list = Get-ChatrmUser -Connection $users.carol -ErrorAction SilentlyContinue -ErrorVariable problems
        $list | Should -BeNullOrEmpty
        $problems | Should -HaveCount 1
        $problems[0].FullyQualifiedErrorId | Should -BeLike 'ChatrmProtocolMismatch,*'
        "$($problems[0].Exception.Message)" | Should -Match 'native' -Because 'the message says what it would take'
    }
}

Describe 'Receive-ChatrmMessage -IncludePresence' {
    BeforeEach {
        $server = New-TestServer
        # bob first: alice, who connects after him, hears of nobody joining until the test says so.
        $bob = Connect-TestUser $server bob
        $alice = Connect-TestUser $server alice
    }

    AfterEach {
        Disconnect-AllTestUsers
        $server | Remove-TestServer
    }

    It 'emits who joined and left (a <Kind> user) in order with the messages' -ForEach @(
        @{ Protocol = 'Chatrm'; Kind = 'native' }
        @{ Protocol = 'Classic'; Kind = 'classic' }
    ) {
        $before = [datetime]::Now
        # carol's connect returns after her welcome, which the server sends after telling alice she joined.
        $carol = Connect-TestUser $server carol -Protocol $Protocol
        Send-ChatrmMessage -Connection $bob -To alice -Text 'carol is here'
        Disconnect-ChatrmServer -Connection $carol
        # The server reports UserLeft after it told the others, so bob's next message comes after that.
        Wait-ServerEvent -Server $server -Kind UserLeft -UserName carol | Out-Null
        Send-ChatrmMessage -Connection $bob -To alice -Text 'carol has gone'
        $after = [datetime]::Now

        $got = @(Receive-ChatrmMessage -Connection $alice -IncludePresence -Wait -Count 2 -Timeout 5)

        $got | Should -HaveCount 4
        $got[0] | Should -BeOfType 'Chatrm.Engine.PresenceEvent'
        "$($got[0].Kind)" | Should -Be 'Joined'
        $got[0].UserName | Should -Be 'carol'
        $got[1].Text | Should -Be 'carol is here'
        $got[2] | Should -BeOfType 'Chatrm.Engine.PresenceEvent'
        "$($got[2].Kind)" | Should -Be 'Left'
        $got[2].UserName | Should -Be 'carol'
        $got[3].Text | Should -Be 'carol has gone'
        foreach ($presence in $got[0], $got[2]) {
            $presence.Time.Kind | Should -Be 'Local'
            $presence.Time | Should -BeGreaterOrEqual $before
            $presence.Time | Should -BeLessOrEqual $after
        }
        $got[0].Time | Should -BeLessOrEqual $got[2].Time
    }

    It 'emits only messages without -IncludePresence' {
        $carol = Connect-TestUser $server carol
        Send-ChatrmMessage -Connection $bob -To alice -Text 'carol is here'
        Disconnect-ChatrmServer -Connection $carol
        Wait-ServerEvent -Server $server -Kind UserLeft -UserName carol | Out-Null
        Send-ChatrmMessage -Connection $bob -To alice -Text 'carol has gone'

        $got = @(Receive-ChatrmMessage -Connection $alice -Wait -Count 2 -Timeout 5)

        $got | Should -HaveCount 2
        $got | ForEach-Object { $_ | Should -BeOfType 'Chatrm.Engine.ChatMessage' }
        $got.Text | Should -Be @('carol is here', 'carol has gone')
    }

    It 'has none to emit on a connection made with -NoPresence' {
        $quiet = Connect-TestUser $server quiet -Options @{ NoPresence = $true }
        $carol = Connect-TestUser $server carol
        Disconnect-ChatrmServer -Connection $carol
        Wait-ServerEvent -Server $server -Kind UserLeft -UserName carol | Out-Null
        Send-ChatrmMessage -Connection $bob -To quiet -Text 'carol came and went'

        $got = @(Receive-ChatrmMessage -Connection $quiet -IncludePresence -Wait -Count 1 -Timeout 5)

        $got | Should -HaveCount 1
        $got[0] | Should -BeOfType 'Chatrm.Engine.ChatMessage'
        $got[0].Text | Should -Be 'carol came and went'
        # alice, who did not say -NoPresence, heard quiet and carol come and carol go: all before bob's
        # message, which the server queued for her after it told her carol had left.
        Send-ChatrmMessage -Connection $bob -To alice -Text 'and you?'
        $heard = @(Receive-ChatrmMessage -Connection $alice -IncludePresence -Wait -Count 1 -Timeout 5)
        @($heard | Where-Object { $_ -is [Chatrm.Engine.PresenceEvent] }).UserName | Should -Be @('quiet', 'carol', 'carol')
    }
}

Describe 'Keepalive on the server (-KeepAliveInterval 0.2)' {
    BeforeEach {
        $server = New-TestServer -Options @{ KeepAliveInterval = 0.2 }
        $zombie = $null
    }

    AfterEach {
        $zombie | Close-RawClient
        Disconnect-AllTestUsers
        $server | Remove-TestServer
    }

    It 'drops a native client that never answers its pings, while cmdlet users, who answer, stay' {
        # alice keeps the client's default interval: the server pings her and her client answers.
        # bob pings the server as often as it pings him.
        $alice = Connect-TestUser $server alice
        $bob = Connect-TestUser $server bob -Options @{ KeepAliveInterval = 0.2 }
        $clock = [System.Diagnostics.Stopwatch]::StartNew()

        # zombie says hello and then nothing at all.
        $zombie = New-RawNativeClient -Port $server.Port -Name zombie
        ($zombie.Welcome | ConvertFrom-Json).type | Should -Be 'welcome'

        # What zombie hears: a ping, then (no pong having come) a keepalive-timeout error, then the close.
        ((Read-RawLine $zombie -Timeout 5) | ConvertFrom-Json).type | Should -Be 'ping'
        $last = (Read-RawLine $zombie -Timeout 5) | ConvertFrom-Json
        $last.type | Should -Be 'error'
        $last.code | Should -Be 'keepalive-timeout'
        Read-RawLine $zombie -Timeout 5 | Should -BeNullOrEmpty -Because 'the server closes the connection'

        # alice is told zombie left; the server job says why.
        $seen = Receive-Until -Connection $alice -Because 'alice to hear that zombie left' -Until {
            param($items)
            @($items | Where-Object { $_ -is [Chatrm.Engine.PresenceEvent] -and "$($_.Kind)" -eq 'Left' -and $_.UserName -eq 'zombie' }).Count -gt 0
        }
        @($seen | Where-Object { "$($_.Kind)" -eq 'Joined' }).UserName | Should -Contain 'zombie'
        $events = [System.Collections.Generic.List[object]]::new()
        $left = Wait-ServerEvent -Server $server -Kind UserLeft -UserName zombie -Seen $events
        $left.Detail | Should -BeLike '*keepalive*'
        $clock.Elapsed.TotalSeconds | Should -BeLessThan 5

        # bob waits out five more intervals: a wait on a connection that closed would end in an error.
        $quiet = [System.Diagnostics.Stopwatch]::StartNew()
        @(Receive-ChatrmMessage -Connection $bob -Wait -Timeout 1) | Should -HaveCount 0
        $quiet.Elapsed.TotalSeconds | Should -BeGreaterOrEqual 0.9 -Because 'the wait covered several intervals'

        "$($alice.State)" | Should -Be 'Open'
        "$($bob.State)" | Should -Be 'Open'
        $server.Users | Should -Be @('alice', 'bob')
        $events.AddRange(@(Receive-Job -Job $server))
        @($events | Where-Object { "$($_.Kind)" -eq 'UserLeft' }).UserName | Should -Be @('zombie') -Because 'nobody else left'
        Assert-UsersCanChat $alice $bob
    }
}

Describe 'Keepalive through a stalled thread pool (-KeepAliveInterval 0.2)' {
    BeforeAll {
        # Blocks pool threads for a while, as a loaded two-core machine or a blocked pool thread does to the
        # timers and socket reads of everything in this process: the server job and both clients.
        Add-Type -TypeDefinition @'
using System.Threading;
public static class ChatrmTestPoolStall {
    public static CountdownEvent Stall(int milliseconds) {
        int threads = ThreadPool.ThreadCount + 2;
        var done = new CountdownEvent(threads);
        for (int i = 0; i < threads; i++) {
            ThreadPool.UnsafeQueueUserWorkItem(_ => { Thread.Sleep(milliseconds); done.Signal(); }, null);
        }
        return done;
    }
}
'@
    }

    BeforeEach {
        $server = New-TestServer -Options @{ KeepAliveInterval = 0.2 }
    }

    AfterEach {
        Disconnect-AllTestUsers
        $server | Remove-TestServer
    }

    It 'drops nobody who answers when the timers run late and then all at once' {
        # Before keepalive measured time, the ticks that piled up during a stall ran back to back and counted
        # as intervals passing: the answer, queued behind them, came too late, and both sides gave up.
        $alice = Connect-TestUser $server alice
        $bob = Connect-TestUser $server bob -Options @{ KeepAliveInterval = 0.2 }
        foreach ($round in 1..6) {
            $stall = [ChatrmTestPoolStall]::Stall(400)
            $stall.Wait([TimeSpan]::FromSeconds(30)) | Should -BeTrue -Because 'the stall ends'
            # The process runs normally again: a round trip both ways, then the next stall.
            Assert-UsersCanChat $alice $bob
            "$($alice.State) $($bob.State)" | Should -Be 'Open Open' -Because "nobody was dropped in round $round"
        }

        $server.Users | Should -Be @('alice', 'bob')
        @(Receive-Job -Job $server | Where-Object { "$($_.Kind)" -eq 'UserLeft' }) | Should -HaveCount 0
    }
}

Describe 'A native server that welcomes and then goes silent (a fake)' {
    BeforeEach {
        $fake = $null
    }

    AfterEach {
        Disconnect-AllTestUsers
        $fake | Stop-FakeServer
    }

    It 'is noticed by the client''s keepalive (-KeepAliveInterval 0.2): the connection closes' {
        $fake = Start-FakeServer -Mode WelcomeThenSilent
        $alice = Connect-ChatrmServer -ComputerName 127.0.0.1 -Port $fake.Port -UserName alice -KeepAliveInterval 0.2 -NoReconnect -ErrorAction Stop
        "$($alice.State)" | Should -Be 'Open'

        Wait-Until { $alice.State -eq 'Closed' } -Timeout 5 -Because 'the client to give up on a silent server'
        $alice.CloseReason | Should -Match 'keepalive'

        # It pinged before it gave up, and it closed its end.
        $session = Get-FakeSession $fake 0
        Wait-Until { $session.Ended } -Timeout 5 -Because 'the client to close the socket'
        $lines = $session.Lines.ToArray()
        ($lines[0] | ConvertFrom-Json).type | Should -Be 'hello'
        @($lines | Select-Object -Skip 1 | ForEach-Object { ($_ | ConvertFrom-Json).type }) | Should -Contain 'ping'

        # And the cmdlets say so.
        { Receive-ChatrmMessage -Connection $alice -Wait -Timeout 5 } | Should -Throw -ErrorId 'ChatrmConnectionClosed,*'
        Send-ChatrmMessage -Connection $alice -To bob -Text 'anyone?' -ErrorAction SilentlyContinue -ErrorVariable problems
        $problems | Should -HaveCount 1
        $problems[0].FullyQualifiedErrorId | Should -BeLike 'ChatrmConnectionClosed*'
    }

    It 'makes Send-ChatrmMessage give up after -Timeout, with a ChatrmNoAnswer error on that message' {
        $fake = Start-FakeServer -Mode WelcomeThenSilent
        $alice = Connect-ChatrmServer -ComputerName 127.0.0.1 -Port $fake.Port -UserName alice -ErrorAction Stop
        $text = "two lines`nand an_underscore"

        $clock = [System.Diagnostics.Stopwatch]::StartNew()
        $sent = Send-ChatrmMessage -Connection $alice -To bob -Text $text -PassThru -Timeout 0.3 -ErrorAction SilentlyContinue -ErrorVariable problems
        $clock.Stop()

        $clock.Elapsed.TotalSeconds | Should -BeGreaterOrEqual 0.25 -Because 'it gave the server its -Timeout'
        $clock.Elapsed.TotalSeconds | Should -BeLessThan 3 -Because 'it waits -Timeout, not for ever'
        $problems | Should -HaveCount 1
        $problems[0].FullyQualifiedErrorId | Should -BeLike 'ChatrmNoAnswer*'
        "$($problems[0])" | Should -Match 'unknown'
        $problems[0].TargetObject.Text | Should -BeExactly $text
        "$($sent.Status)" | Should -Not -BeIn @('Delivered', 'Forwarded', 'Refused') -Because 'the server never said'
        $sent.Reason | Should -Be 'no-answer'
        $sent.Text | Should -BeExactly $text

        # On the wire the send was one line of JSON, whatever the text held.
        $session = Get-FakeSession $fake 0
        Wait-Until { $session.Lines.Count -ge 2 } -Timeout 5 -Because 'the send frame to reach the fake server'
        $frame = $session.Lines.ToArray()[1] | ConvertFrom-Json
        $frame.type | Should -Be 'send'
        $frame.to | Should -Be 'bob'
        $frame.text | Should -BeExactly $text
        $frame.ref | Should -Not -BeNullOrEmpty

        # Get-ChatrmUser gives up the same way, with an error.
        Get-ChatrmUser -Connection $alice -Timeout 0.3 -ErrorAction SilentlyContinue -ErrorVariable noList | Should -BeNullOrEmpty
        $noList | Should -HaveCount 1
        $noList[0].FullyQualifiedErrorId | Should -BeLike 'ChatrmNoAnswer,*'
    }
}

Describe 'A native user when the server stops' {
    BeforeEach {
        $server = New-TestServer
        # bob first, so the only presence alice hears of is bob leaving. alice without reconnecting: the stop closes her connection.
        $bob = Connect-TestUser $server bob
        $alice = Connect-TestUser $server alice -Options @{ NoReconnect = $true }
    }

    AfterEach {
        Disconnect-AllTestUsers
        $server | Remove-TestServer
    }

    It 'sees its connection close, and a waiting Receive-ChatrmMessage -IncludePresence ends with ChatrmConnectionClosed' {
        $received = [System.Collections.Generic.List[object]]::new()
        $failure = $null
        $clock = [System.Diagnostics.Stopwatch]::StartNew()
        try {
            # bob leaving wakes alice's wait; the server is stopped from inside the pipeline, mid-wait.
            Disconnect-ChatrmServer -Connection $bob
            Receive-ChatrmMessage -Connection $alice -IncludePresence -Wait -Timeout 10 | ForEach-Object {
                $received.Add($_)
                Stop-Job -Job $server
            }
        }
        catch {
            $failure = $_
        }
        $clock.Stop()

        $received | Should -HaveCount 1
        "$($received[0].Kind) $($received[0].UserName)" | Should -Be 'Left bob'
        $failure | Should -Not -BeNullOrEmpty -Because 'a wait on a closed connection must not end quietly'
        $failure.FullyQualifiedErrorId | Should -BeLike 'ChatrmConnectionClosed*'
        $clock.Elapsed.TotalSeconds | Should -BeLessThan 8 -Because 'the wait ends when the connection closes, not at -Timeout'
        "$($alice.State)" | Should -Be 'Closed'
        $alice.CloseReason | Should -Match 'stopping' -Because 'the server says bye, with its reason, before it closes'

        Get-ChatrmUser -Connection $alice -ErrorAction SilentlyContinue -ErrorVariable problems | Should -BeNullOrEmpty
        $problems | Should -HaveCount 1
        $problems[0].FullyQualifiedErrorId | Should -BeLike 'ChatrmConnectionClosed*'
    }
}

Describe 'With -Protocol Classic to a port that never answers' {
    It 'connects, but warns that no welcome came, since a silent port and an original server look alike' {
        $silent = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
        $silent.Start()
        try {
            $port = $silent.LocalEndpoint.Port
            $connection = Connect-ChatrmServer -ComputerName 127.0.0.1 -Port $port -UserName alice -Protocol Classic -ErrorAction Stop -WarningVariable warnings -WarningAction SilentlyContinue
            "$($connection.State)" | Should -Be 'Open'
            $warnings | Should -HaveCount 1
            "$($warnings[0])" | Should -BeLike "*127.0.0.1:$port sent no welcome within 2 seconds*"
            "$($warnings[0])" | Should -BeLike "*first '_'*"
            "$($warnings[0])" | Should -BeLike '*TLS port*'
            Disconnect-ChatrmServer -Connection $connection
        }
        finally {
            $silent.Stop()
        }
    }

    It 'gives no such warning when a Chatrm server welcomes the classic handshake' {
        $server = New-TestServer
        try {
            $connection = Connect-ChatrmServer -ComputerName 127.0.0.1 -Port $server.Port -UserName alice -Protocol Classic -ErrorAction Stop -WarningVariable warnings
            $warnings | Should -HaveCount 0
            Disconnect-ChatrmServer -Connection $connection
        }
        finally {
            $server | Remove-TestServer
        }
    }
}

Describe 'Against an original server (a fake that reads and never answers)' {
    BeforeAll {
        $fake = Start-FakeServer -Mode Silent
    }

    AfterAll {
        Disconnect-AllTestUsers
        $fake | Stop-FakeServer
    }

    It 'fails the native protocol with ChatrmProtocolMismatch, suggests -Protocol Classic, and says EXIT first' {
        # This waits out the client's opening timeout (5 s): an original server never answers a hello.
        $clock = [System.Diagnostics.Stopwatch]::StartNew()
        $connection = Connect-ChatrmServer -ComputerName 127.0.0.1 -Port $fake.Port -UserName alice -ErrorAction SilentlyContinue -ErrorVariable problems
        $clock.Stop()

        $connection | Should -BeNullOrEmpty
        $problems | Should -HaveCount 1
        $problems[0].FullyQualifiedErrorId | Should -BeLike 'ChatrmProtocolMismatch,*'
        "$($problems[0].CategoryInfo.Category)" | Should -Be 'ProtocolError'
        "$($problems[0].Exception.Message)" | Should -Match '-Protocol Classic'
        @(Get-ChatrmConnection) | Should -HaveCount 0
        $clock.Elapsed.TotalSeconds | Should -BeGreaterOrEqual 4.5 -Because 'it gave the server its opening time'
        $clock.Elapsed.TotalSeconds | Should -BeLessThan 10

        # The original server crashes on a first line without '_', and on a close while it still reads:
        # the hello holds a '_', and EXIT stops its reader before the close.
        $session = Get-FakeSession $fake 0
        Wait-Until { $session.Ended } -Timeout 5 -Because 'the client to close the connection'
        $lines = $session.Lines.ToArray()
        $lines | Should -HaveCount 2
        $lines[0] | Should -BeLike '*_*'
        $hello = $lines[0] | ConvertFrom-Json
        $hello.type | Should -Be 'hello'
        $hello.protocol | Should -Be 'chatrm_native'
        $hello.version | Should -Be 1
        $hello.user | Should -Be 'alice'
        $lines[1] | Should -BeExactly 'EXIT'
    }

    It 'connects with -Protocol Classic and speaks the original client''s bytes' {
        # The fake serves one connection at a time; the native attempt above, if it ran, was the first.
        $earlier = $fake.Sessions.Count
        $out = @(Connect-ChatrmServer -ComputerName 127.0.0.1 -Port $fake.Port -UserName alice -Protocol Classic -Verbose -ErrorAction Stop 4>&1)
        $alice = @($out | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] })
        $alice | Should -HaveCount 1
        "$($alice[0].State)" | Should -Be 'Open'
        "$($alice[0].Protocol)" | Should -Be 'Classic'
        "$($out | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] })" | Should -Match 'original'

        $sent = Send-ChatrmMessage -Connection $alice[0] -To bob -Text 'hi_there' -PassThru
        "$($sent.Status)" | Should -Be 'Sent'
        # Sent, with the whole text, although an original server passes on only 'hi' (docs/protocol.md).
        $sent.Text | Should -BeExactly 'hi_there'
        Disconnect-ChatrmServer -Connection $alice[0]

        $session = Get-FakeSession $fake $earlier
        Wait-Until { $session.Ended } -Timeout 5 -Because 'the client to close the connection'
        $session.Lines.ToArray() | Should -Be @('alice_', 'alice_bob_hi_there', 'EXIT')
    }
}
