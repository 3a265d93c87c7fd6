# Rooms end to end (issue 15): cmdlet users, an original client speaking its own bytes, a bot in another
# runspace, the errors and limits a script sees, both sides of Get-ChatrmRoom, completion of -Room, and
# Enter-ChatrmChat in a real terminal (tmux) joining a room. Every server is on port 0 on 127.0.0.1 and
# stopped; every wait polls against a deadline. Every block is tagged RoomServer: it needs a server that
# routes rooms (the sessions' room wiring), so `-TagFilter RoomServer` runs them alone.

BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    Import-ChatrmTestModule

    # Receives up to $Count messages (of one room, with -Room) within $Timeout seconds.
    function Receive-Room {
        param($Connection, [string] $Room, [int] $Count = 1, [double] $Timeout = 10)
        $params = @{ Connection = $Connection; Wait = $true; Count = $Count; Timeout = $Timeout }
        if ($Room) { $params.Room = $Room }
        @(Receive-ChatrmMessage @params)
    }

    function Get-Completion {
        param([Parameter(Mandatory)] [string] $Line)
        @((TabExpansion2 -inputScript $Line -cursorColumn $Line.Length).CompletionMatches)
    }
}

Describe 'A room shared by cmdlet users and an original client' -Tag RoomServer {
    BeforeEach {
        $server = New-TestServer
        $alice = Connect-TestUser $server alice
        $bob = Connect-TestUser $server bob
        $carol = $null
    }

    AfterEach {
        $carol | Close-RawClient
        Disconnect-AllTestUsers
        $server | Remove-TestServer
    }

    It 'gives every member every other member''s messages, in one order, in the original''s bytes to the original client' {
        $joined = Join-ChatrmRoom -Room '#ops' -Connection $alice
        $joined.Name | Should -Be '#ops'
        $joined.IsMember | Should -BeTrue
        $joined.Members | Should -Be @('alice')
        $joined.JoinedAt | Should -BeOfType [datetime]

        # By value from the pipeline, and the answer lists both.
        $both = '#ops' | Join-ChatrmRoom -Connection $bob
        $both.MemberCount | Should -Be 2
        @($both.Members | Sort-Object) | Should -Be @('alice', 'bob')

        # The original client names the room as the one it chats with: its first line joins it and is posted.
        $carol = New-RawClient -Port $server.Port -Name carol
        Send-RawLine $carol 'carol_#ops_hello'

        $atAlice = Receive-Room $alice -Room '#ops'
        $atBob = Receive-Room $bob -Room '#ops'
        foreach ($message in @($atAlice) + @($atBob)) {
            $message.Room | Should -Be '#ops'
            $message.To | Should -Be '#ops'
            $message.From | Should -Be 'carol'
            $message.Text | Should -Be 'hello'
        }
        $atAlice[0].Seq | Should -Be $atBob[0].Seq
        $first = $atAlice[0].Seq

        # A post from a cmdlet user: Posted, the room's next Seq, to the two other members.
        $posted = Send-ChatrmMessage -To '#ops' -Text 'hi all' -Connection $alice -PassThru
        $posted.Status | Should -Be 'Posted'
        $posted.Seq | Should -Be ($first + 1)
        $posted.Recipients | Should -Be 2

        (Read-RawLineLike $carol '*alice: hi all' -Timeout 10) | Should -BeExactly 'carol_#ops_alice: hi all'
        $atBob = Receive-Room $bob -Room '#ops'
        $atBob[0].Seq | Should -Be ($first + 1)
        $atBob[0].From | Should -Be 'alice'

        # The sender does not get its own post back.
        @(Receive-ChatrmMessage -Connection $alice -Room '#ops') | Should -HaveCount 0
    }

    It 'keeps every member''s order the same under posts from three senders at once' {
        $null = Join-ChatrmRoom -Room '#ops' -Connection $alice
        $null = Join-ChatrmRoom -Room '#ops' -Connection $bob
        $carol = New-RawClient -Port $server.Port -Name carol
        Send-RawLine $carol 'carol_#ops_c0'
        $null = Receive-Room $alice -Room '#ops'
        $null = Receive-Room $bob -Room '#ops'

        1..20 | ForEach-Object { "a$_" } | Send-ChatrmMessage -To '#ops' -Connection $alice -Timeout 0
        1..20 | ForEach-Object { "b$_" } | Send-ChatrmMessage -To '#ops' -Connection $bob -Timeout 0
        1..20 | ForEach-Object { Send-RawLine $carol "carol_#ops_c$_" }

        # Each cmdlet member sees the other two senders' 40 posts; their Seqs are one order with no gaps.
        $atAlice = Receive-Room $alice -Room '#ops' -Count 40 -Timeout 20
        $atBob = Receive-Room $bob -Room '#ops' -Count 40 -Timeout 20
        $atAlice | Should -HaveCount 40
        $atBob | Should -HaveCount 40
        $seqs = @($atAlice.Seq) + @($atBob.Seq) | Sort-Object -Unique
        $seqs | Should -HaveCount 60
        ($seqs[-1] - $seqs[0]) | Should -Be 59
        @($atAlice.Seq) | Should -Be @($atAlice.Seq | Sort-Object)
        @($atBob.Seq) | Should -Be @($atBob.Seq | Sort-Object)
        # What both saw (carol's posts), they saw in the same order.
        @($atAlice | Where-Object From -EQ carol | ForEach-Object Seq) | Should -Be @($atBob | Where-Object From -EQ carol | ForEach-Object Seq)
    }

    It 'Receive-ChatrmMessage -Room takes only that room''s messages and leaves the rest waiting' {
        $null = Join-ChatrmRoom -Room '#ops', '#dev' -Connection $alice
        $null = Join-ChatrmRoom -Room '#ops', '#dev' -Connection $bob
        Send-ChatrmMessage -To '#dev' -Text 'in dev' -Connection $bob
        Send-ChatrmMessage -To alice -Text 'direct' -Connection $bob
        Send-ChatrmMessage -To '#ops' -Text 'in ops' -Connection $bob

        $ops = Receive-Room $alice -Room '#OPS'
        $ops.Text | Should -Be 'in ops'
        $rest = @(Receive-Room $alice -Count 2)
        $rest.Text | Should -Be @('in dev', 'direct')
        $rest[0].Room | Should -Be '#dev'
        $rest[1].Room | Should -Be ''
        $rest[1].Seq | Should -BeNullOrEmpty
    }

    It 'Receive-ChatrmMessage -IncludePresence shows members joining and leaving a room one is in' {
        $null = Join-ChatrmRoom -Room '#ops' -Connection $alice
        $null = Join-ChatrmRoom -Room '#ops' -Connection $bob
        $null = Exit-ChatrmRoom -Room '#ops' -Connection $bob

        $state = @{ Seen = [System.Collections.Generic.List[object]]::new() }
        Wait-Until -Because 'alice hears bob join and leave #ops' {
            foreach ($item in @(Receive-ChatrmMessage -Connection $alice -IncludePresence -Room '#ops')) { $state.Seen.Add($item) }
            $state.Seen.Count -ge 2
        }
        $state.Seen[0] | Should -BeOfType [Chatrm.Engine.PresenceEvent]
        $state.Seen | ForEach-Object { "$($_.UserName) $($_.Kind) $($_.Room)" } | Should -Be @('bob Joined #ops', 'bob Left #ops')
    }

    It 'a classic cmdlet user joins by sending, and reads the room''s messages with Room set' {
        $dave = Connect-TestUser $server dave -Protocol Classic
        $null = Join-ChatrmRoom -Room '#ops' -Connection $alice

        { Join-ChatrmRoom -Room '#ops' -Connection $dave -ErrorAction Stop } | Should -Throw -ErrorId 'ChatrmProtocolMismatch,*'

        Send-ChatrmMessage -To '#ops' -Text 'dave here' -Connection $dave
        (Receive-Room $alice -Room '#ops').From | Should -Be 'dave'

        Send-ChatrmMessage -To '#ops' -Text 'hi dave' -Connection $alice
        $atDave = Receive-Room $dave -Room '#ops'
        $atDave.From | Should -Be 'alice'
        $atDave.Text | Should -Be 'hi dave'
        $atDave.Seq | Should -BeNullOrEmpty
    }
}

Describe 'A room bot in another runspace' -Tag RoomServer {
    BeforeAll {
        $server = New-TestServer
        $alice = Connect-TestUser $server alice
        $null = Join-ChatrmRoom -Room '#ops' -Connection $alice

        $bot = [powershell]::Create()
        $null = $bot.AddScript({
                param($ModulePath, $Port)
                Import-Module $ModulePath
                $null = Connect-ChatrmServer -ComputerName 127.0.0.1 -Port $Port -UserName bot
                $null = Join-ChatrmRoom -Room '#ops'
                Receive-ChatrmMessage -Room '#ops' -Wait | ForEach-Object { Send-ChatrmMessage -To '#ops' -Text "seen: $($_.Text)" }
            }).AddArgument((Get-ChatrmTestModulePath)).AddArgument($server.Port)
        $running = $bot.BeginInvoke()
    }

    AfterAll {
        if ($bot) { $bot.Stop(); $bot.Dispose() }
        Disconnect-AllTestUsers
        $server | Remove-TestServer
    }

    It 'answers each post in the room, in the room, and never itself' {
        Wait-Until -Because 'the bot joins #ops' { (Get-ChatrmRoom -Job $server -Room '#ops' -ErrorAction SilentlyContinue).Members -contains 'bot' }

        Send-ChatrmMessage -To '#ops' -Text 'one' -Connection $alice
        Send-ChatrmMessage -To '#ops' -Text 'two' -Connection $alice
        $answers = Receive-Room $alice -Room '#ops' -Count 2
        $answers.Text | Should -Be @('seen: one', 'seen: two')
        $answers.From | Should -Be @('bot', 'bot')

        # Its own posts are not given back to it, so nothing more comes.
        @(Receive-ChatrmMessage -Connection $alice -Room '#ops' -Wait -Timeout 0.5) | Should -HaveCount 0
    }

    It 'stops when its pipeline is stopped, as with Ctrl+C' {
        $stopping = $bot.BeginStop($null, $null)
        $stopping.AsyncWaitHandle.WaitOne([TimeSpan]::FromSeconds(10)) | Should -BeTrue
        $bot.InvocationStateInfo.State | Should -Be 'Stopped'
    }
}

Describe 'Room errors a script can tell apart' -Tag RoomServer {
    BeforeAll {
        $server = New-TestServer
        $alice = Connect-TestUser $server alice
    }

    AfterAll {
        Disconnect-AllTestUsers
        $server | Remove-TestServer
    }

    It 'posting to a room one is not in is a non-terminating ChatrmNotInRoom, and the pipeline goes on' {
        $sent = Send-ChatrmMessage -To '#nowhere' -Text 'x' -Connection $alice -PassThru -ErrorVariable problem -ErrorAction SilentlyContinue
        $sent.Status | Should -Be 'Refused'
        $sent.Reason | Should -Be 'not-in-room'
        $problem | Should -HaveCount 1
        $problem[0].FullyQualifiedErrorId | Should -BeLike 'ChatrmNotInRoom,*'
        $problem[0].CategoryInfo.Category | Should -Be 'InvalidOperation'
        $after = 'still running'
        $after | Should -Be 'still running'
    }

    It 'a bad room name is ChatrmInvalidRoom, and the other rooms named are joined' -ForEach @(
        @{ Bad = 'ops' }, @{ Bad = '#has space' }, @{ Bad = '#' }, @{ Bad = '#' + ('x' * 33) }
    ) {
        $joined = Join-ChatrmRoom -Room $Bad, '#fine' -Connection $alice -ErrorVariable problem -ErrorAction SilentlyContinue
        $problem | Should -HaveCount 1
        $problem[0].FullyQualifiedErrorId | Should -BeLike 'ChatrmInvalidRoom,*'
        $problem[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        $joined.Name | Should -Be '#fine'
        $null = Exit-ChatrmRoom -Room '#fine' -Connection $alice
    }

    It 'Send-ChatrmMessage and Receive-ChatrmMessage refuse a bad room name' {
        Send-ChatrmMessage -To '#a_b' -Text 'x' -Connection $alice -ErrorVariable problem -ErrorAction SilentlyContinue
        $problem[0].FullyQualifiedErrorId | Should -BeLike 'ChatrmInvalidRoom,*'
        { Receive-ChatrmMessage -Room 'ops' -Connection $alice } | Should -Throw -ErrorId 'ChatrmInvalidRoom,*'
    }

    It 'leaving a room one is not in is ChatrmNotInRoom' {
        Exit-ChatrmRoom -Room '#never' -Connection $alice -ErrorVariable problem -ErrorAction SilentlyContinue
        $problem[0].FullyQualifiedErrorId | Should -BeLike 'ChatrmNotInRoom,*'
    }

    It 'Exit-ChatrmRoom -PassThru returns the room with the members it has left, and the last to leave ends it' {
        $bob = Connect-TestUser $server bob
        $null = Join-ChatrmRoom -Room '#pair' -Connection $alice
        $null = Join-ChatrmRoom -Room '#pair' -Connection $bob
        $left = Exit-ChatrmRoom -Room '#pair' -Connection $alice -PassThru
        $left.MemberCount | Should -Be 1
        $left.IsMember | Should -BeFalse
        Get-ChatrmRoom -Room '#pair' -Connection $bob | Should -Not -BeNullOrEmpty

        # By property name: a room from Get-ChatrmRoom binds -Room by its Name.
        Get-ChatrmRoom -Room '#pair' -Connection $bob | Exit-ChatrmRoom -Connection $bob
        Get-ChatrmRoom -Job $server | Where-Object Name -EQ '#pair' | Should -BeNullOrEmpty
        Get-ChatrmRoom -Room '#pair' -Connection $alice -ErrorVariable problem -ErrorAction SilentlyContinue
        $problem[0].FullyQualifiedErrorId | Should -BeLike 'ChatrmRoomNotFound,*'
        $bob | Disconnect-ChatrmServer
    }
}

Describe 'Room limits, set with Start-ChatrmServer' -Tag RoomServer {
    AfterEach {
        Disconnect-AllTestUsers
        $limited | Remove-TestServer
    }

    It '-MaxRoomsPerUser refuses one room too many with ChatrmTooManyRooms, naming the parameter' {
        $limited = New-TestServer -Options @{ MaxRoomsPerUser = 2 }
        $alice = Connect-TestUser $limited alice
        $joined = Join-ChatrmRoom -Room '#a', '#b', '#c' -Connection $alice -ErrorVariable problem -ErrorAction SilentlyContinue
        $joined.Name | Should -Be @('#a', '#b')
        $problem | Should -HaveCount 1
        $problem[0].FullyQualifiedErrorId | Should -BeLike 'ChatrmTooManyRooms,*'
        $problem[0].CategoryInfo.Category | Should -Be 'LimitsExceeded'
        $problem[0].Exception.Message | Should -BeLike '*-MaxRoomsPerUser*'
    }

    It '-MaxMembersPerRoom refuses one member too many with ChatrmRoomFull' {
        $limited = New-TestServer -Options @{ MaxMembersPerRoom = 1 }
        $alice = Connect-TestUser $limited alice
        $bob = Connect-TestUser $limited bob
        $null = Join-ChatrmRoom -Room '#ops' -Connection $alice
        Join-ChatrmRoom -Room '#ops' -Connection $bob -ErrorVariable problem -ErrorAction SilentlyContinue
        $problem[0].FullyQualifiedErrorId | Should -BeLike 'ChatrmRoomFull,*'
        $problem[0].Exception.Message | Should -BeLike '*-MaxMembersPerRoom*'
    }

    It '-MaxRooms refuses a room too many on the server with ChatrmNoMoreRooms' {
        $limited = New-TestServer -Options @{ MaxRooms = 1 }
        $alice = Connect-TestUser $limited alice
        $null = Join-ChatrmRoom -Room '#ops' -Connection $alice
        Join-ChatrmRoom -Room '#dev' -Connection $alice -ErrorVariable problem -ErrorAction SilentlyContinue
        $problem[0].FullyQualifiedErrorId | Should -BeLike 'ChatrmNoMoreRooms,*'
        $problem[0].Exception.Message | Should -BeLike '*-MaxRooms*'
    }
}

Describe 'Get-ChatrmRoom from both sides' -Tag RoomServer {
    BeforeAll {
        $server = New-TestServer
        $alice = Connect-TestUser $server alice
        $bob = Connect-TestUser $server bob
        $null = Join-ChatrmRoom -Room '#ops', '#dev' -Connection $bob
        $null = Join-ChatrmRoom -Room '#ops' -Connection $alice
    }

    AfterAll {
        Disconnect-AllTestUsers
        $server | Remove-TestServer
    }

    It 'lists every room by name, with member counts and whether the asker is in it' {
        $rooms = @(Get-ChatrmRoom -Connection $alice)
        $rooms.Name | Should -Be @('#dev', '#ops')
        $rooms.MemberCount | Should -Be @(1, 2)
        $rooms.IsMember | Should -Be @($false, $true)
    }

    It 'gives one room named, with its members, and filters by wildcard' {
        $ops = Get-ChatrmRoom -Room '#ops' -Connection $alice
        @($ops.Members | Sort-Object) | Should -Be @('alice', 'bob')
        $ops.JoinedAt | Should -BeOfType [datetime]
        (Get-ChatrmRoom -Room '#d*' -Connection $alice).Name | Should -Be '#dev'
    }

    It 'with -Job lists the server''s rooms with all their members, without a connection' {
        $rooms = @(Get-ChatrmRoom -Job $server)
        $rooms.Name | Should -Be @('#dev', '#ops')
        $rooms[0].Members | Should -Be @('bob')
        @($rooms[1].Members | Sort-Object) | Should -Be @('alice', 'bob')
        (Get-ChatrmRoom -Job $server -Room '#ops').MemberCount | Should -Be 2
    }

    It 'shows rooms in a table of their own' {
        $table = Get-ChatrmRoom -Connection $alice | Format-Table | Out-String
        $table | Should -BeLike '*Name*MemberCount*IsMember*'
        $table | Should -BeLike '*#ops*'
    }

    It 'completes -Room with the server''s rooms, quoted, since # starts a comment' {
        @((Get-Completion "Join-ChatrmRoom -Connection $($alice.Id) -Room ").CompletionText) | Should -Be @("'#dev'", "'#ops'")
        @((Get-Completion "Get-ChatrmRoom -Connection $($alice.Id) -Room '#o").CompletionText) | Should -Be @("'#ops'")
        @((Get-Completion "Receive-ChatrmMessage -Connection $($alice.Id) -Room d").CompletionText) | Should -Be @("'#dev'")
        @((Get-Completion "Send-ChatrmMessage -Connection $($alice.Id) -To '#").CompletionText) | Should -Be @("'#dev'", "'#ops'")
    }
}

Describe 'Enter-ChatrmChat in a room, in a terminal' -Tag RoomServer {
    BeforeAll {
        $script:TmuxMissing = -not (Get-Command tmux -CommandType Application -ErrorAction SilentlyContinue)
        if (-not $TmuxMissing) { $null = Test-RequiredTool tmux }
        $script:TmuxSocket = "chatrm-rooms-test-$PID"
        $script:PwshDll = Join-Path $PSHOME 'pwsh.dll'
        $script:ScriptDir = Join-Path ([IO.Path]::GetTempPath()) "chatrm-rooms-$PID"
        $null = New-Item -ItemType Directory -Force $ScriptDir

        function Invoke-Tmux { & tmux -L $TmuxSocket @args }
        function Get-Screen { param([string] $Name) (Invoke-Tmux capture-pane -p -t $Name) -join "`n" }
        function Wait-Screen {
            param([string] $Name, [string] $Like, [double] $Timeout = 15)
            try { Wait-Until { (Get-Screen $Name).Contains($Like) } -Timeout $Timeout -Because "pane $Name to show '$Like'" }
            catch { throw "$($_.Exception.Message) It shows:`n$(Get-Screen $Name)" }
        }
        function Send-Keys {
            param([string] $Name, [string] $Text, [switch] $Enter)
            Invoke-Tmux send-keys -t $Name -l $Text
            if ($Enter) { Invoke-Tmux send-keys -t $Name Enter }
        }

        if (-not $TmuxMissing) { Invoke-Tmux start-server `; set-option -s exit-empty off }
    }

    AfterAll {
        if (-not $TmuxMissing) { Invoke-Tmux kill-server 2>$null }
        Remove-Item -Recurse -Force $ScriptDir -ErrorAction SilentlyContinue
    }

    BeforeEach {
        $server = $null
        if ($TmuxMissing) {
            Set-ItResult -Skipped -Because 'tmux is not installed (apt-get install tmux); .ci/run installs it'
            return
        }

        $server = New-TestServer
        $bob = Connect-TestUser $server bob
        $null = Join-ChatrmRoom -Room '#ops' -Connection $bob
        $file = Join-Path $ScriptDir 'alice.ps1'
        Set-Content -Path $file -Value ("Import-Module '{0}'`nEnter-ChatrmChat -ComputerName 127.0.0.1 -Port {1} -UserName alice -With bob`n'pane-done'" -f (Get-ChatrmTestModulePath), $server.Port)
        Invoke-Tmux new-session -d -s alice -x 120 -y 30 "dotnet '$PwshDll' -NoProfile -NoLogo -File '$file'"
        Invoke-Tmux set-option -t alice remain-on-exit on | Out-Null
        Wait-Screen alice '[to bob]>'
    }

    AfterEach {
        if (-not $TmuxMissing) { Invoke-Tmux kill-session -t alice 2>$null }
        Disconnect-AllTestUsers
        $server | Remove-TestServer
    }

    It '/join #ops joins the room, lines typed are posted there, and room lines show as [#ops bob>>] text' {
        Send-Keys alice '/join #ops' -Enter
        Wait-Screen alice 'Joined #ops: 2 members'
        Wait-Screen alice '[in #ops]>'

        Send-Keys alice 'hello room' -Enter
        $posted = Receive-Room $bob -Room '#ops'
        $posted.From | Should -Be 'alice'
        $posted.Text | Should -Be 'hello room'

        Send-ChatrmMessage -To '#ops' -Text 'hi alice' -Connection $bob
        Send-ChatrmMessage -To alice -Text 'just you' -Connection $bob
        Wait-Screen alice '[#ops bob>>] hi alice'
        Wait-Screen alice '[bob>>] just you'

        Send-Keys alice '/rooms' -Enter
        Wait-Screen alice 'Rooms: #ops (2, joined)'
        Send-Keys alice '/who #ops' -Enter
        Wait-Screen alice '#ops: 2 members: alice, bob'

        Send-Keys alice '/part' -Enter
        Wait-Screen alice 'Left #ops. Now chatting with bob.'
        Wait-Until -Because 'alice left #ops' { (Get-ChatrmRoom -Job $server -Room '#ops').MemberCount -eq 1 }
        Send-Keys alice '/quit' -Enter
        Wait-Screen alice 'pane-done'
    }
}
