# The message store end to end (issue 16): offline messages that survive a restart of the server on the same
# -StorePath, receipts, Get-ChatrmHistory for a direct conversation and a room (and refused for a room one is not
# in), the store's parameters of Start-ChatrmServer, and Enter-ChatrmChat showing a conversation's last lines in a
# real terminal (tmux). Every server is on port 0 on 127.0.0.1 and stopped; every store file is a temp file,
# deleted; every wait polls against a deadline. Every block is tagged StoreServer.

BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    Import-ChatrmTestModule

    # A store file that does not exist yet, in the temp folder; Remove-TestStore deletes it and SQLite's files beside it.
    function New-TestStorePath { Join-Path ([IO.Path]::GetTempPath()) "chatrm-store-$([guid]::NewGuid().ToString('n')).db" }
    function Remove-TestStore {
        param([string] $Path)
        if ($Path) { Get-Item "$Path*" -ErrorAction SilentlyContinue | Remove-Item -Force -ErrorAction SilentlyContinue }
    }

    <#
        A history read once it holds $Count lines. A room's post is answered Posted before its line of history is
        committed (only a direct message's Delivered waits for that), so a read right after a post may not have it yet.
    #>
    function Wait-History {
        param([int] $Count, [scriptblock] $Read)
        $state = @{ Lines = @() }
        Wait-Until -Because "$Count lines of history" { $state.Lines = @(& $Read); $state.Lines.Count -ge $Count }
        $state.Lines
    }

    # Every message waiting for $Connection up to a round trip with $Peer: nothing that came is missed.
    function Receive-AllWaiting {
        param($Connection, $Peer)
        @((Receive-ThroughRoundTrip -Connection $Connection -Peer $Peer).Messages)
    }
}

Describe 'Offline messages across a restart of the server' -Tag StoreServer {
    BeforeEach {
        $store = New-TestStorePath
        $servers = [System.Collections.Generic.List[object]]::new()
        $servers.Add((New-TestServer -Options @{ StorePath = $store }))
    }

    AfterEach {
        Disconnect-AllTestUsers
        $servers | Remove-TestServer
        Remove-TestStore $store
    }

    It 'gives bob what alice sent while he was away, once and in order, after Stop-Job and a new server on the same file' {
        # bob has logged in once, so the server knows him; then he is away.
        Disconnect-ChatrmServer (Connect-TestUser $servers[0] bob)
        $alice = Connect-TestUser $servers[0] alice
        $sent = @('first', 'second_with_underscore', "third`nwith a line break" | Send-ChatrmMessage -To bob -Connection $alice -PassThru)
        @($sent.Status | Select-Object -Unique) | Should -Be @('Stored')
        @($sent.Id | Select-Object -Unique) | Should -HaveCount 3
        Disconnect-ChatrmServer $alice

        Stop-Job -Job $servers[0]
        $servers.Add((New-TestServer -Options @{ StorePath = $store }))

        $bob = Connect-TestUser $servers[1] bob
        $got = @(Receive-ChatrmMessage -Connection $bob -Wait -Count 3 -Timeout 10)
        $got.Text | Should -Be @('first', 'second_with_underscore', "third`nwith a line break")
        $got.Id | Should -Be $sent.Id
        @($got.From | Select-Object -Unique) | Should -Be @('alice')
        for ($i = 0; $i -lt 3; $i++) {
            $got[$i].SentAt.ToUniversalTime() | Should -Be $sent[$i].SentAt.ToUniversalTime()
        }

        # Nothing more, and nothing again: bob's client confirmed each, so a third server has nothing for him.
        $alice = Connect-TestUser $servers[1] alice
        @(Receive-AllWaiting $bob $alice) | Should -HaveCount 0
        Get-ChatrmConnection | Disconnect-ChatrmServer
        Stop-Job -Job $servers[1]
        $servers.Add((New-TestServer -Options @{ StorePath = $store }))
        $bob = Connect-TestUser $servers[2] bob
        $alice = Connect-TestUser $servers[2] alice
        @(Receive-AllWaiting $bob $alice) | Should -HaveCount 0
    }
}

Describe 'History across a restart of the server' -Tag StoreServer {
    BeforeEach {
        $store = New-TestStorePath
        $servers = [System.Collections.Generic.List[object]]::new()
        $servers.Add((New-TestServer -Options @{ StorePath = $store }))
    }

    AfterEach {
        Disconnect-AllTestUsers
        $servers | Remove-TestServer
        Remove-TestStore $store
    }

    It 'keeps a direct conversation and a room''s posts, and a room made again carries on its Seq' {
        $alice = Connect-TestUser $servers[0] alice
        $bob = Connect-TestUser $servers[0] bob
        Send-ChatrmMessage -To bob -Text 'before the restart' -Connection $alice
        $null = Join-ChatrmRoom -Room '#ops' -Connection $alice
        $first = Send-ChatrmMessage -To '#ops' -Text 'first post' -Connection $alice -PassThru
        $before = @(Get-ChatrmHistory -With bob -Connection $alice)
        Get-ChatrmConnection | Disconnect-ChatrmServer

        Stop-Job -Job $servers[0]
        $servers.Add((New-TestServer -Options @{ StorePath = $store }))
        $alice = Connect-TestUser $servers[1] alice
        $bob = Connect-TestUser $servers[1] bob

        $after = @(Get-ChatrmHistory -With alice -Connection $bob)
        $after.Text | Should -Be @('before the restart')
        $after.Id | Should -Be $before.Id
        $after.Seq | Should -Be $before.Seq

        $null = Join-ChatrmRoom -Room '#ops' -Connection $alice
        $second = Send-ChatrmMessage -To '#ops' -Text 'second post' -Connection $alice -PassThru
        $second.Seq | Should -Be ($first.Seq + 1)
        $second.Id | Should -Not -Be $first.Id
        $lines = @(Wait-History 2 { Get-ChatrmHistory -Room '#ops' -Connection $alice })
        $lines.Text | Should -Be @('first post', 'second post')
        $lines.Seq | Should -Be @($first.Seq, $second.Seq)
    }
}

Describe 'Offline messages on a running server' -Tag StoreServer {
    BeforeEach {
        $servers = @(New-TestServer)
    }

    AfterEach {
        Disconnect-AllTestUsers
        $servers | Remove-TestServer
    }

    It 'tells alice, still connected, when bob confirms what was stored for him' {
        Disconnect-ChatrmServer (Connect-TestUser $servers[0] bob)
        $alice = Connect-TestUser $servers[0] alice
        $stored = Send-ChatrmMessage -To bob -Text 'call me' -Connection $alice -PassThru
        $stored.Status | Should -Be 'Stored'

        $bob = Connect-TestUser $servers[0] bob
        (Receive-OneMessage -Connection $bob -From alice).Text | Should -Be 'call me'

        # A hashtable, because the condition runs in a child scope.
        $state = @{ Receipts = @() }
        Wait-Until -Because 'the receipt for bob' {
            $state.Receipts += @(Receive-ChatrmMessage -Connection $alice -IncludeReceipts | Where-Object { $_ -is [Chatrm.Engine.DeliveryReceipt] })
            $state.Receipts.Count -gt 0
        }
        $state.Receipts | Should -HaveCount 1
        $state.Receipts[0].Id | Should -Be $stored.Id
        $state.Receipts[0].To | Should -Be 'bob'
        $state.Receipts[0].Status | Should -Be 'Delivered'
        $state.Receipts[0].Time | Should -BeOfType [datetime]

        # Without -IncludeReceipts none comes out: a later receipt is passed over.
        Disconnect-ChatrmServer $bob
        (Send-ChatrmMessage -To bob -Text 'again' -Connection $alice -PassThru).Status | Should -Be 'Stored'
        $bob = Connect-TestUser $servers[0] bob
        (Receive-OneMessage -Connection $bob -From alice).Text | Should -Be 'again'
        # bob's ack came before his reply of the round trip, so its receipt came to alice before the reply, and was dropped.
        $null = Receive-AllWaiting $alice $bob
        @(Receive-ChatrmMessage -Connection $alice -IncludeReceipts) | Should -HaveCount 0
    }

    It 'tells a classic sender with a warning, not an error, that its message waits for an offline user' {
        Disconnect-ChatrmServer (Connect-TestUser $servers[0] bob)
        $classic = Connect-TestUser $servers[0] carol -Protocol Classic
        (Send-ChatrmMessage -To bob -Text 'from the old days' -Connection $classic -PassThru).Status | Should -Be 'Sent'
        $state = @{ Warnings = @(); Errors = @() }
        Wait-Until -Because 'the stored notice' {
            $w = $null; $e = $null
            $null = Receive-ChatrmMessage -Connection $classic -WarningVariable w -WarningAction SilentlyContinue -ErrorVariable e -ErrorAction SilentlyContinue
            $state.Warnings += @($w); $state.Errors += @($e)
            $state.Warnings.Count -gt 0
        }
        $state.Errors | Should -HaveCount 0
        "$($state.Warnings[0])" | Should -BeLike 'Server to carol: *bob*(stored).'

        $bob = Connect-TestUser $servers[0] bob
        (Receive-OneMessage -Connection $bob -From carol).Text | Should -Be 'from the old days'
    }

    It 'refuses a message to a name the server has never seen, as before, with ChatrmUnknownUser' {
        $alice = Connect-TestUser $servers[0] alice
        $errors = $null
        $sent = Send-ChatrmMessage -To nobody -Text 'hello?' -Connection $alice -PassThru -ErrorAction SilentlyContinue -ErrorVariable errors
        $sent.Status | Should -Be 'Refused'
        $errors[0].FullyQualifiedErrorId | Should -BeLike 'ChatrmUnknownUser,*'
    }
}

Describe 'Get-ChatrmHistory' -Tag StoreServer {
    BeforeEach {
        $server = New-TestServer
        $alice = Connect-TestUser $server alice
        $bob = Connect-TestUser $server bob
    }

    AfterEach {
        Disconnect-AllTestUsers
        $server | Remove-TestServer
    }

    It 'returns a direct conversation, both ways, ascending by Seq, the same for both of its people' {
        Send-ChatrmMessage -To bob -Text 'one' -Connection $alice
        Send-ChatrmMessage -To alice -Text 'two' -Connection $bob
        Send-ChatrmMessage -To bob -Text 'three' -Connection $alice

        $mine = @(Get-ChatrmHistory -With bob -Connection $alice)
        $mine.Text | Should -Be @('one', 'two', 'three')
        $mine.From | Should -Be @('alice', 'bob', 'alice')
        $mine.To | Should -Be @('bob', 'alice', 'bob')
        $mine[1].Seq | Should -Be ($mine[0].Seq + 1)
        $mine[2].Seq | Should -Be ($mine[1].Seq + 1)
        $mine | ForEach-Object { $_.Room | Should -Be ''; $_.SentAt | Should -BeOfType [datetime]; $_.Id | Should -Not -BeNullOrEmpty }
        $mine[0].PSObject.TypeNames[0] | Should -Be 'Chatrm.Engine.ChatMessage#History'

        $theirs = @(Get-ChatrmHistory -With ALICE -Connection $bob)
        $theirs.Id | Should -Be $mine.Id
        $theirs.Seq | Should -Be $mine.Seq

        # -Last keeps the newest; -Before pages back from the first Seq of an answer; -After keeps what is above.
        (Get-ChatrmHistory -With bob -Last 1 -Connection $alice).Text | Should -Be 'three'
        @(Get-ChatrmHistory -With bob -Before $mine[2].Seq -Last 1 -Connection $alice).Text | Should -Be @('two')
        @(Get-ChatrmHistory -With bob -After $mine[0].Seq -Connection $alice).Text | Should -Be @('two', 'three')

        # History is not the inbox: bob's messages still wait for him, and reading history took none.
        @(Receive-ChatrmMessage -Connection $bob).Text | Should -Be @('one', 'three')
    }

    It 'returns a room''s posts with their Seq to its members, and refuses one who is not in it with ChatrmAccessDenied' {
        $null = Join-ChatrmRoom -Room '#ops' -Connection $alice
        $null = Join-ChatrmRoom -Room '#ops' -Connection $bob
        $posted = @('deploying', 'done' | Send-ChatrmMessage -To '#ops' -Connection $alice -PassThru)

        $lines = @(Wait-History 2 { Get-ChatrmHistory -Room '#OPS' -Connection $bob })
        $lines.Text | Should -Be @('deploying', 'done')
        $lines.Seq | Should -Be $posted.Seq
        @($lines.Room | Select-Object -Unique) | Should -Be @('#ops')
        # -With takes a room's name too, as Send-ChatrmMessage -To does.
        @(Get-ChatrmHistory '#ops' -Connection $alice).Id | Should -Be $lines.Id

        $carol = Connect-TestUser $server carol
        $denied = $null
        $out = Get-ChatrmHistory -Room '#ops' -Connection $carol -ErrorAction SilentlyContinue -ErrorVariable denied
        $out | Should -BeNullOrEmpty
        $denied | Should -HaveCount 1
        $denied[0].FullyQualifiedErrorId | Should -Be 'ChatrmAccessDenied,Chatrm.PowerShell.GetChatrmHistoryCommand'
        $denied[0].CategoryInfo.Category | Should -Be 'PermissionDenied'
        $denied[0].TargetObject | Should -Be '#ops'
        $denied[0].Exception.Message | Should -BeLike '*carol*#ops*'

        # A member who left can no longer read it.
        Exit-ChatrmRoom -Room '#ops' -Connection $bob
        { Get-ChatrmHistory -Room '#ops' -Connection $bob -ErrorAction Stop } | Should -Throw -ErrorId 'ChatrmAccessDenied,*'
    }

    It 'reads from the server''s side with -Job: a room, and two users'' conversation, with no check of who asks' {
        $null = Join-ChatrmRoom -Room '#ops' -Connection $alice
        Send-ChatrmMessage -To '#ops' -Text 'post' -Connection $alice
        Send-ChatrmMessage -To bob -Text 'direct' -Connection $alice

        $room = @(Wait-History 1 { Get-ChatrmHistory -Job $server -Room '#ops' })
        $room.Text | Should -Be @('post')
        $room[0].Room | Should -Be '#ops'
        $direct = @($server | Get-ChatrmHistory -With bob, alice)
        $direct.Text | Should -Be @('direct')
        $direct[0].Id | Should -Be (Get-ChatrmHistory -With bob -Connection $alice).Id
        $direct[0].PSObject.TypeNames[0] | Should -Be 'Chatrm.Engine.ChatMessage#History'

        { Get-ChatrmHistory -Job $server -With bob } | Should -Throw -ErrorId 'ChatrmInvalidHistoryQuestion,*'
        { Get-ChatrmHistory -With bob, carol -Connection $alice } | Should -Throw -ErrorId 'ChatrmInvalidHistoryQuestion,*'
    }

    It 'completes -Room with the server''s rooms, and -With with a room''s name begun with #' {
        $null = Join-ChatrmRoom -Room '#ops', '#dev' -Connection $alice
        $line = "Get-ChatrmHistory -Connection $($bob.Id) -Room '#o"
        @((TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText) | Should -Be @("'#ops'")
        $line = "Get-ChatrmHistory -Connection $($bob.Id) -With '#d"
        @((TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText) | Should -Be @("'#dev'")
    }

    It 'fails with ChatrmInvalidRoom before asking, for a name that cannot be a room''s' {
        { Get-ChatrmHistory -Room 'ops' -Connection $alice -ErrorAction Stop } | Should -Throw -ErrorId 'ChatrmInvalidRoom,*'
        { Get-ChatrmHistory -With 'no one' -Connection $alice -ErrorAction Stop } | Should -Throw -ErrorId 'ChatrmInvalidName,*'
        { Get-ChatrmHistory -With bob -Last 1001 -Connection $alice } | Should -Throw -ErrorId 'ParameterArgumentValidationError,*'
    }

    It 'fails with ChatrmProtocolMismatch on a classic connection' {
        $classic = Connect-TestUser $server carol -Protocol Classic
        { Get-ChatrmHistory -With bob -Connection $classic -ErrorAction Stop } | Should -Throw -ErrorId 'ChatrmProtocolMismatch,*'
    }
}

Describe 'A server without history' -Tag StoreServer {
    It 'answers Get-ChatrmHistory with ChatrmHistoryOff, and still keeps offline messages' {
        $server = New-TestServer -Options @{ History = 'None' }
        try {
            Disconnect-ChatrmServer (Connect-TestUser $server bob)
            $alice = Connect-TestUser $server alice
            (Send-ChatrmMessage -To bob -Text 'later' -Connection $alice -PassThru).Status | Should -Be 'Stored'
            $off = $null
            Get-ChatrmHistory -With bob -Connection $alice -ErrorAction SilentlyContinue -ErrorVariable off
            $off[0].FullyQualifiedErrorId | Should -BeLike 'ChatrmHistoryOff,*'
            $off[0].CategoryInfo.Category | Should -Be 'NotEnabled'

            $bob = Connect-TestUser $server bob
            (Receive-OneMessage -Connection $bob -From alice).Text | Should -Be 'later'
        }
        finally {
            Disconnect-AllTestUsers
            $server | Remove-TestServer
        }
    }
}

Describe 'The store''s parameters of Start-ChatrmServer' -Tag StoreServer {
    BeforeEach {
        $store = New-TestStorePath
        $server = $null
    }

    AfterEach {
        Disconnect-AllTestUsers
        $server | Remove-TestServer
        Remove-TestStore $store
    }

    It 'refuses a second server on a store file another holds, with ChatrmServerStartFailed, and the first runs on' {
        $server = New-TestServer -Options @{ StorePath = $store }
        $jobs = @(Get-Job).Count
        $failure = $null
        try { Start-ChatrmServer -Port 0 -StorePath $store } catch { $failure = $_ }
        $failure.FullyQualifiedErrorId | Should -BeLike 'ChatrmServerStartFailed,*'
        $failure.CategoryInfo.Category | Should -Be 'OpenError'
        @(Get-Job).Count | Should -Be $jobs
        "$($server.JobStateInfo.State)" | Should -Be 'Running'
        Disconnect-ChatrmServer (Connect-TestUser $server alice)
    }

    It 'refuses a file that is not a Chatrm store and leaves it as it was' {
        Set-Content -Path $store -Value 'my notes, not a database'
        $before = Get-FileHash $store
        { Start-ChatrmServer -Port 0 -StorePath $store } | Should -Throw -ErrorId 'ChatrmServerStartFailed,*'
        (Get-FileHash $store).Hash | Should -Be $before.Hash
    }

    It 'takes a relative -StorePath from the current location' {
        Push-Location ([IO.Path]::GetTempPath())
        try {
            $server = New-TestServer -Options @{ StorePath = (Split-Path -Leaf $store) }
        }
        finally {
            Pop-Location
        }
        Disconnect-ChatrmServer (Connect-TestUser $server alice)
        Wait-Until -Because 'the store file is made' { Test-Path $store }
    }

    It 'refuses a message past -MaxInboxMessages with ChatrmInboxFull, and keeps the ones before it' {
        $server = New-TestServer -Options @{ MaxInboxMessages = 2 }
        Disconnect-ChatrmServer (Connect-TestUser $server bob)
        $alice = Connect-TestUser $server alice
        $errors = $null
        $sent = @('a', 'b', 'c' | Send-ChatrmMessage -To bob -Connection $alice -PassThru -ErrorAction SilentlyContinue -ErrorVariable errors)
        $sent.Status | Should -Be @('Stored', 'Stored', 'Refused')
        $sent[2].Reason | Should -Be 'inbox-full'
        $errors | Should -HaveCount 1
        $errors[0].FullyQualifiedErrorId | Should -BeLike 'ChatrmInboxFull,*'
        $errors[0].CategoryInfo.Category | Should -Be 'LimitsExceeded'

        $bob = Connect-TestUser $server bob
        @(Receive-ChatrmMessage -Connection $bob -Wait -Count 2 -Timeout 10).Text | Should -Be @('a', 'b')
    }

    It 'refuses -MaxInboxBytes below -MaxLineLength before starting anything' {
        $jobs = @(Get-Job).Count
        { Start-ChatrmServer -Port 0 -MaxInboxBytes 1000 -MaxLineLength 2000 } | Should -Throw -ErrorId 'ChatrmServerStartFailed,*'
        @(Get-Job).Count | Should -Be $jobs
    }
}

Describe 'Enter-ChatrmChat shows a conversation''s last lines, in a terminal' -Tag StoreServer {
    BeforeAll {
        $script:TmuxMissing = -not (Get-Command tmux -CommandType Application -ErrorAction SilentlyContinue)
        if (-not $TmuxMissing) { $null = Test-RequiredTool tmux }
        $script:TmuxSocket = "chatrm-store-test-$PID"
        $script:PwshDll = Join-Path $PSHOME 'pwsh.dll'
        $script:ScriptDir = Join-Path ([IO.Path]::GetTempPath()) "chatrm-store-$PID"
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
        $carol = Connect-TestUser $server carol
    }

    AfterEach {
        if (-not $TmuxMissing) { Invoke-Tmux kill-session -t alice 2>$null }
        Disconnect-AllTestUsers
        $server | Remove-TestServer
    }

    It 'opens on bob with their last lines, and /to carol and /join #ops show theirs' {
        # alice's earlier session: what the chat will show her again.
        $earlier = Connect-TestUser $server alice
        Send-ChatrmMessage -To bob -Text 'before the chat' -Connection $earlier
        Send-ChatrmMessage -To alice -Text 'bob answered' -Connection $bob
        Send-ChatrmMessage -To carol -Text 'hi carol' -Connection $earlier
        $null = Join-ChatrmRoom -Room '#ops' -Connection $bob
        Send-ChatrmMessage -To '#ops' -Text 'room line' -Connection $bob
        $null = Wait-History 1 { Get-ChatrmHistory -Job $server -Room '#ops' }
        Disconnect-ChatrmServer $earlier

        $file = Join-Path $ScriptDir 'alice.ps1'
        Set-Content -Path $file -Value ("Import-Module '{0}'`nEnter-ChatrmChat -ComputerName 127.0.0.1 -Port {1} -UserName alice -With bob`n'pane-done'" -f (Get-ChatrmTestModulePath), $server.Port)
        Invoke-Tmux new-session -d -s alice -x 120 -y 30 "dotnet '$PwshDll' -NoProfile -NoLogo -File '$file'"
        Invoke-Tmux set-option -t alice remain-on-exit on | Out-Null
        Wait-Screen alice 'The last 2 lines with bob:'
        Wait-Screen alice '[alice>>] before the chat'
        Wait-Screen alice '[bob>>] bob answered'
        Wait-Screen alice '[to bob]>'

        Send-Keys alice '/to carol' -Enter
        Wait-Screen alice 'The last line with carol:'
        Wait-Screen alice '[alice>>] hi carol'

        Send-Keys alice '/join #ops' -Enter
        Wait-Screen alice 'The last line in #ops:'
        Wait-Screen alice '[#ops bob>>] room line'
        Send-Keys alice '/quit' -Enter
        Wait-Screen alice 'pane-done'
    }
}
