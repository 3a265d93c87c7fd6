# Enter-ChatrmChat as a person uses it: two sessions in a real terminal (tmux), driven with send-keys and
# read with capture-pane; and with standard input redirected, as a script would pipe a conversation in.

BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    Import-ChatrmTestModule

    # On CI a missing tmux fails the terminal tests (Test-RequiredTool throws in their BeforeAll); elsewhere
    # they report themselves skipped, and the closing line counts them.
    $script:TmuxMissing = -not (Get-Command tmux -CommandType Application -ErrorAction SilentlyContinue)
    # A private tmux server, so the test never touches a person's own sessions.
    $script:TmuxSocket = "chatrm-test-$PID"
    $script:PwshDll = Join-Path $PSHOME 'pwsh.dll'
    $script:ScriptDir = Join-Path ([IO.Path]::GetTempPath()) "chatrm-interactive-$PID"
    $null = New-Item -ItemType Directory -Force $ScriptDir

    function Invoke-Tmux {
        & tmux -L $TmuxSocket @args
    }

    # A server that stays for the whole file: killing a test's last pane would otherwise end it, and the
    # next test's new-session would race its exit ("server exited unexpectedly").
    if (-not $TmuxMissing) { Invoke-Tmux start-server `; set-option -s exit-empty off }

    # Starts a pane that runs a PowerShell script; the pane stays after the script ends so it can be read.
    function Start-ChatPane {
        param([string] $Name, [string] $Script, [int] $Width = 120)
        $file = Join-Path $ScriptDir "$Name.ps1"
        Set-Content -Path $file -Value ("Import-Module '{0}'`n{1}`n'pane-done'" -f (Get-ChatrmTestModulePath), $Script)
        Invoke-Tmux new-session -d -s $Name -x $Width -y 30 "dotnet '$PwshDll' -NoProfile -NoLogo -File '$file'"
        Invoke-Tmux set-option -t $Name remain-on-exit on | Out-Null
    }

    function Stop-ChatPane {
        param([string] $Name)
        if (-not $TmuxMissing) { Invoke-Tmux kill-session -t $Name 2>$null }
    }

    function Get-Screen {
        param([string] $Name)
        (Invoke-Tmux capture-pane -p -t $Name) -join "`n"
    }

    # The screen's last line that is not blank: where the line being typed is drawn.
    function Get-LastScreenLine {
        param([string] $Name)
        @((Get-Screen $Name) -split "`n" | Where-Object { $_.Trim() })[-1]
    }

    function Wait-Screen {
        param([string] $Name, [string] $Like, [double] $Timeout = 15)
        # Contains, not -like: chat screens are full of [ and ], which -like reads as wildcards.
        try {
            Wait-Until { (Get-Screen $Name).Contains($Like) } -Timeout $Timeout -Because "pane $Name to show '$Like'"
        }
        catch {
            # What the pane shows when the wait gave up, not when it began.
            throw "$($_.Exception.Message) It shows:`n$(Get-Screen $Name)"
        }
    }

    # Starts alice's and bob's chats with each other on $Server, and waits until both can type.
    function Start-ChatPair {
        param($Server)
        $port = $Server.Port
        Start-ChatPane alice "Enter-ChatrmChat -ComputerName 127.0.0.1 -Port $port -UserName alice -With bob"
        Start-ChatPane bob "Enter-ChatrmChat 127.0.0.1 $port bob -With alice"
        Wait-Until { $Server.Users -contains 'alice' -and $Server.Users -contains 'bob' } -Because 'both chat sessions joined'
        Wait-Screen alice '[to bob]>'
        Wait-Screen bob '[to alice]>'
    }

    function Send-Keys {
        param([string] $Name, [string] $Text, [switch] $Enter)
        Invoke-Tmux send-keys -t $Name -l $Text
        if ($Enter) { Invoke-Tmux send-keys -t $Name Enter }
    }
}

AfterAll {
    if (-not $TmuxMissing) { Invoke-Tmux kill-server 2>$null }
    Remove-Item -Recurse -Force $ScriptDir -ErrorAction SilentlyContinue
}

# Each test has its own server and its own two fresh chat sessions: none depends on what another typed.
Describe 'Enter-ChatrmChat in a terminal' {
    BeforeAll {
        $null = Test-RequiredTool tmux
    }

    BeforeEach {
        $server = $null
        if ($TmuxMissing) {
            Set-ItResult -Skipped -Because 'tmux is not installed (apt-get install tmux); .ci/run installs it'
            return
        }

        $server = New-TestServer
        Start-ChatPair $server
    }

    AfterEach {
        Stop-ChatPane alice
        Stop-ChatPane bob
        Disconnect-AllTestUsers
        $server | Remove-TestServer
    }

    It 'sends a typed line to the peer, who sees it as [alice>>] text' {
        Send-Keys alice 'hello bob_and underscores' -Enter
        Wait-Screen bob '[alice>>] hello bob_and underscores'
    }

    It 'shows an incoming line without mangling the line being typed' {
        Send-Keys alice 'hal'
        Wait-Screen alice '[to bob]> hal'
        Send-Keys bob 'ping from bob' -Enter
        Wait-Screen alice '[bob>>] ping from bob'

        # The half-typed line is drawn again below the message (once the redraw is done: poll, do not race
        # it), and finishing it sends it whole.
        Wait-Until { (Get-LastScreenLine alice) -eq '[to bob]> hal' } -Timeout 15 -Because 'the half-typed line is drawn again last'
        Get-LastScreenLine alice | Should -Be '[to bob]> hal'
        Send-Keys alice 'f done' -Enter
        Wait-Screen bob '[alice>>] half done'
    }

    It 'lists who is online with /who' {
        Send-Keys bob '/who' -Enter
        Wait-Screen bob 'Online: alice, bob'
    }

    It 'switches peer with /to, and says when a message is not delivered' {
        Send-Keys bob '/to nobody' -Enter
        Wait-Screen bob '[to nobody]>'
        Send-Keys bob 'anyone there?' -Enter
        Wait-Screen bob 'not delivered to nobody'
        (Get-Screen bob).Contains('(unknown-user)') | Should -BeTrue
        Send-Keys bob '/to alice' -Enter
        Wait-Screen bob '[to alice]>'
    }

    It 'neutralises escape sequences and control characters from other users' {
        # A line on alice's screen before the escapes, to show that they did not clear it.
        Send-Keys bob 'ping from bob' -Enter
        Wait-Screen alice '[bob>>] ping from bob'
        $mallory = Connect-TestUser $server mallory
        # Would retitle the window, clear the screen and ring the bell if printed raw.
        $evil = "title`e]0;pwned`a clear`e[2J end"
        Send-ChatrmMessage -Connection $mallory -To alice -Text $evil -ErrorAction Stop
        Wait-Screen alice '[mallory>>] title^[]0;pwned^G clear^[[2J end'
        # The screen was not cleared: earlier lines are still there.
        (Get-Screen alice).Contains('[bob>>] ping from bob') | Should -BeTrue -Because 'the screen was not cleared'
        Disconnect-ChatrmServer -Connection $mallory
    }

    It 'shows multi-line text as one message with its lines indented' {
        $carol = Connect-TestUser $server carol
        Send-ChatrmMessage -Connection $carol -To alice -Text "first line`nsecond line" -ErrorAction Stop
        Wait-Screen alice "[carol>>] first line`n          second line"
        Disconnect-ChatrmServer -Connection $carol
    }

    It 'leaves with /quit and closes the connection it opened' {
        Send-Keys alice '/quit' -Enter
        Wait-Screen alice 'pane-done'
        Wait-Until { $server.Users -notcontains 'alice' } -Because 'alice left the server'
    }

    It 'leaves with Ctrl+C and closes the connection it opened' {
        Invoke-Tmux send-keys -t bob C-c
        Wait-Until { $server.Users -notcontains 'bob' } -Because 'bob left the server'
    }
}

Describe 'Enter-ChatrmChat across a restart of the server' {
    BeforeAll {
        $null = Test-RequiredTool tmux
    }

    BeforeEach {
        $servers = [System.Collections.Generic.List[object]]::new()
        $store = Join-Path ([IO.Path]::GetTempPath()) "chatrm-chat-restart-$([guid]::NewGuid().ToString('n')).db"
        if ($TmuxMissing) {
            Set-ItResult -Skipped -Because 'tmux is not installed (apt-get install tmux); .ci/run installs it'
            return
        }

        $servers.Add((New-TestServer -Options @{ StorePath = $store }))
        Start-ChatPair $servers[0]
    }

    AfterEach {
        Stop-ChatPane alice
        Stop-ChatPane bob
        Stop-ChatPane carol
        Disconnect-AllTestUsers
        $servers | Remove-TestServer
        Get-Item "$store*" -ErrorAction SilentlyContinue | Remove-Item -Force -ErrorAction SilentlyContinue
    }

    It 'shows the drop and the return, and the chat goes on' {
        $port = $servers[0].Port
        Stop-Job -Job $servers[0]
        Wait-Screen alice '* the connection dropped'
        Wait-Screen alice 'lines you type meanwhile go once it is back'

        $servers.Add((Start-ServerOnPort -Port $port -StorePath $store))

        Wait-Screen alice "* connected again to 127.0.0.1:$port" -Timeout 30
        Wait-Screen bob "* connected again to 127.0.0.1:$port" -Timeout 30
        Send-Keys alice 'after the restart' -Enter
        Wait-Screen bob '[alice>>] after the restart'
        (Get-Screen alice).Contains('pane-done') | Should -BeFalse -Because 'the chat did not end on the drop'
    }

    It 'opened on a room while its connection reconnects, joins the room once the connection is back' {
        $port = $servers[0].Port
        # The pane's own poll for the state the chat opens in, bounded; the pane is killed after the test anyway.
        Start-ChatPane carol (@(
                "`$connection = Connect-ChatrmServer 127.0.0.1 $port carol"
                "'carol-connected'"
                "`$deadline = [DateTime]::UtcNow.AddSeconds(20)"
                "while (`$connection.State -ne 'Reconnecting' -and [DateTime]::UtcNow -lt `$deadline) { Start-Sleep -Milliseconds 20 }"
                "Enter-ChatrmChat -Connection `$connection -With '#ops'"
            ) -join "`n")
        Wait-Screen carol 'carol-connected'
        Stop-Job -Job $servers[0]
        Wait-Screen carol 'Chatting as carol in #ops'

        $servers.Add((Start-ServerOnPort -Port $port -StorePath $store))

        Wait-Screen carol "* connected again to 127.0.0.1:$port" -Timeout 30
        Wait-Screen carol 'Joined #ops'
        $dave = Connect-TestUser $servers[1] dave
        $null = Join-ChatrmRoom -Connection $dave -Room '#ops' -ErrorAction Stop
        Send-ChatrmMessage -Connection $dave -To '#ops' -Text 'the room is back' -ErrorAction Stop
        Wait-Screen carol '[#ops dave>>] the room is back'
    }
}

Describe 'Enter-ChatrmChat line editing in a wide and a narrow terminal' {
    BeforeAll {
        $null = Test-RequiredTool tmux
        if ($TmuxMissing) { return }
        $server = New-TestServer
        $grin = [char]::ConvertFromUtf32(0x1F600)
        $thumbsUpSkinTone = [char]::ConvertFromUtf32(0x1F44D) + [char]::ConvertFromUtf32(0x1F3FD)

        # A chat pane of its own for one test, talking to a peer connected in this process.
        function Start-EditorPane {
            param([string] $Name, [int] $Width, [string] $Peer)
            Start-ChatPane $Name "Enter-ChatrmChat 127.0.0.1 $($server.Port) $Name -With $Peer" -Width $Width
            Wait-Screen $Name "[to $Peer]>"
        }

        function Stop-EditorPane {
            param([string] $Name)
            Invoke-Tmux kill-session -t $Name 2>$null
        }

        # The screen's lines as the terminal wrapped them.
        function Get-Rows {
            param([string] $Name)
            @(Invoke-Tmux capture-pane -p -t $Name | ForEach-Object TrimEnd)
        }

        # The screen's lines with wrapped rows joined back into the lines written.
        function Get-JoinedLines {
            param([string] $Name)
            @(Invoke-Tmux capture-pane -p -J -t $Name | ForEach-Object TrimEnd | Where-Object { $_ })
        }

        # Waits until the last line on screen is the prompt and the typed text, drawn once.
        function Wait-InputLine {
            param([string] $Name, [string] $Expected)
            Wait-Until {
                $lines = Get-JoinedLines $Name
                $lines.Count -gt 0 -and $lines[-1] -ceq $Expected
            } -Because "pane $Name ends with '$Expected'. It shows:`n$((Get-Rows $Name) -join "`n")"
        }

        function Get-Count {
            param([string[]] $Lines, [string] $Part)
            @($Lines | Where-Object { $_.Contains($Part) }).Count
        }
    }

    AfterAll {
        Disconnect-AllTestUsers
        if (-not $TmuxMissing) { $server | Remove-TestServer }
    }

    BeforeEach {
        if ($TmuxMissing) { Set-ItResult -Skipped -Because 'tmux is not installed (apt-get install tmux); .ci/run installs it' }
    }

    It 'removes a whole emoji with Backspace, so what is sent is what the screen showed (wide)' {
        $peer = Connect-TestUser $server peer1
        try {
            Start-EditorPane wide1 -Width 120 -Peer peer1
            Send-Keys wide1 "smile $grin$grin"
            Wait-InputLine wide1 "[to peer1]> smile $grin$grin"
            Invoke-Tmux send-keys -t wide1 BSpace
            Wait-InputLine wide1 "[to peer1]> smile $grin"
            Invoke-Tmux send-keys -t wide1 Enter
            (Receive-OneMessage $peer wide1).Text | Should -BeExactly "smile $grin"

            # An emoji with a skin tone is one character too: Backspace removes both code points.
            Send-Keys wide1 "a$thumbsUpSkinTone"
            Invoke-Tmux send-keys -t wide1 BSpace
            Send-Keys wide1 'b' -Enter
            (Receive-OneMessage $peer wide1).Text | Should -BeExactly 'ab'
        }
        finally {
            Stop-EditorPane wide1
            Disconnect-ChatrmServer -Connection $peer
        }
    }

    It 'erases every row of a wrapped line when a message arrives, then draws it again (narrow)' {
        $peer = Connect-TestUser $server peer2
        try {
            Start-EditorPane narrow2 -Width 30 -Peer peer2
            # 12 columns of prompt, 6 + 50 + 5 of text and a 2-column emoji: three rows of 30.
            $typed = 'start-' + ('x' * 50) + "-end $grin"
            Send-Keys narrow2 $typed
            Wait-InputLine narrow2 "[to peer2]> $typed"

            Send-ChatrmMessage -Connection $peer -To narrow2 -Text 'while you type' -ErrorAction Stop
            Wait-Screen narrow2 '[peer2>>] while you type'
            Wait-InputLine narrow2 "[to peer2]> $typed"
            Get-Count (Get-Rows narrow2) '[to peer2]> start-' | Should -Be 1 -Because 'the rows the line spanned were erased before it was drawn again'
            Get-Count (Get-JoinedLines narrow2) '-end' | Should -Be 1

            Invoke-Tmux send-keys -t narrow2 Enter
            (Receive-OneMessage $peer narrow2).Text | Should -BeExactly $typed
        }
        finally {
            Stop-EditorPane narrow2
            Disconnect-ChatrmServer -Connection $peer
        }
    }

    It 'draws a wrapped line again when the window is resized, and still erases all of it later' {
        $peer = Connect-TestUser $server peer3
        try {
            Start-EditorPane resize3 -Width 40 -Peer peer3
            $typed = 'start-' + ('y' * 60) + "-end $grin"
            Send-Keys resize3 $typed
            Wait-InputLine resize3 "[to peer3]> $typed"

            foreach ($width in 24, 70) {
                Invoke-Tmux resize-window -t resize3 -x $width
                Wait-InputLine resize3 "[to peer3]> $typed"
                Send-ChatrmMessage -Connection $peer -To resize3 -Text "at $width columns" -ErrorAction Stop
                Wait-Screen resize3 "[peer3>>] at $width columns"
                Wait-InputLine resize3 "[to peer3]> $typed"
                Get-Count (Get-Rows resize3) '[to peer3]> start-' | Should -Be 1 -Because "at $width columns the old rows were erased"
            }
        }
        finally {
            Stop-EditorPane resize3
            Disconnect-ChatrmServer -Connection $peer
        }
    }

    It 'leaves no half emoji behind when Backspace takes it off a wrapped row (narrow)' {
        $peer = Connect-TestUser $server peer4
        try {
            Start-EditorPane narrow4 -Width 30 -Peer peer4
            # The prompt and 18 letters fill the first row exactly; the emoji starts the second.
            $fill = 'z' * (30 - '[to peer4]> '.Length)
            Send-Keys narrow4 "$fill$grin"
            Wait-InputLine narrow4 "[to peer4]> $fill$grin"
            Invoke-Tmux send-keys -t narrow4 BSpace
            Wait-InputLine narrow4 "[to peer4]> $fill"
            (Get-Rows narrow4 | Where-Object { $_ })[-1] | Should -BeExactly "[to peer4]> $fill"

            Send-Keys narrow4 '!' -Enter
            (Receive-OneMessage $peer narrow4).Text | Should -BeExactly "$fill!"
        }
        finally {
            Stop-EditorPane narrow4
            Disconnect-ChatrmServer -Connection $peer
        }
    }
}

Describe 'Enter-ChatrmChat with a connection passed in' {
    BeforeAll {
        $null = Test-RequiredTool tmux
        if ($TmuxMissing) { return }
        $server = New-TestServer
        Start-ChatPane dave @"
`$c = Connect-ChatrmServer 127.0.0.1 $($server.Port) dave
Enter-ChatrmChat -Connection `$c -With erin
"state after chat: `$(`$c.State)"
Disconnect-ChatrmServer `$c
"@
        Wait-Screen dave '[to erin]>'
    }

    AfterAll {
        Stop-ChatPane dave
        if (-not $TmuxMissing) { $server | Remove-TestServer }
    }

    BeforeEach {
        if ($TmuxMissing) { Set-ItResult -Skipped -Because 'tmux is not installed (apt-get install tmux); .ci/run installs it' }
    }

    It 'leaves that connection open' {
        Send-Keys dave '/quit' -Enter
        Wait-Screen dave 'state after chat: Open'
        Wait-Screen dave 'pane-done'
    }
}

Describe 'Enter-ChatrmChat with redirected input' {
    BeforeAll {
        $server = New-TestServer
        $alice = Connect-TestUser $server alice
        $module = Get-ChatrmTestModulePath

        # A PowerShell running a command with its standard input kept open, so a test decides when each line comes.
        function Start-ChatProcess {
            param([string] $Command)
            $start = [System.Diagnostics.ProcessStartInfo]::new('dotnet')
            foreach ($argument in $PwshDll, '-NoProfile', '-NonInteractive', '-Command', $Command) { $start.ArgumentList.Add($argument) }
            $start.RedirectStandardInput = $true
            $start.RedirectStandardOutput = $true
            $start.RedirectStandardError = $true
            $process = [System.Diagnostics.Process]::Start($start)
            [pscustomobject]@{ Process = $process; Output = $process.StandardOutput.ReadToEndAsync(); Errors = $process.StandardError.ReadToEndAsync() }
        }

        function Stop-ChatProcess {
            param($Chat)
            if (-not $Chat.Process.HasExited) { $Chat.Process.Kill($true) }
            $Chat.Process.Dispose()
        }
    }

    AfterAll {
        Disconnect-AllTestUsers
        $server | Remove-TestServer
    }

    It 'sends each input line until the input ends, then leaves' {
        $command = "Import-Module '$module'; Enter-ChatrmChat -ComputerName 127.0.0.1 -Port $($server.Port) -UserName scripted -With alice"
        $child = Invoke-TestPwsh -ArgumentList '-NoProfile', '-NonInteractive', '-Command', $command -InputLines 'first line', 'second_line'
        $output = $child.All
        $child.ExitCode | Should -Be 0

        $received = @(Receive-ChatrmMessage -Connection $alice -Wait -Count 2 -Timeout 10)
        $received.Text | Should -Be @('first line', 'second_line')
        $received.From | Should -Be @('scripted', 'scripted')
        ($output -join "`n") | Should -BeLike '*Chatting as scripted with alice*'
        Wait-Until { $server.Users -notcontains 'scripted' } -Because 'the scripted user left at the end of input'
    }

    It 'obeys commands in the input, such as /to and /quit' {
        $command = "Import-Module '$module'; Enter-ChatrmChat 127.0.0.1 $($server.Port) scripted2 -With nobody"
        $lines = '/to alice', 'after switching', '/quit', 'never sent'
        $child = Invoke-TestPwsh -ArgumentList '-NoProfile', '-NonInteractive', '-Command', $command -InputLines $lines
        $child.ExitCode | Should -Be 0

        $received = @(Receive-ChatrmMessage -Connection $alice -Wait -Count 1 -Timeout 10)
        $received.Text | Should -Be 'after switching'
        # Nothing after /quit was sent.
        @(Receive-ChatrmMessage -Connection $alice -Timeout 0.3) | Should -BeNullOrEmpty
    }

    It 'shows CRLF text as line breaks and tabs as spaces' {
        $chat = Start-ChatProcess "Import-Module '$module'; Enter-ChatrmChat 127.0.0.1 $($server.Port) crlfreader -With alice"
        try {
            Wait-Until { $server.Users -contains 'crlfreader' } -Because 'the reader joined'
            $sent = Send-ChatrmMessage -Connection $alice -To crlfreader -Text "one`r`ntwo`tcolumn" -PassThru -ErrorAction Stop
            $sent.Status | Should -Be 'Delivered'
            $chat.Process.StandardInput.Close()
            $chat.Process.WaitForExit(30000) | Should -BeTrue -Because 'the chat ends with its input'
            $output = $chat.Output.Result -replace "`r", ''
            $output | Should -BeLike "*[[]alice>>] one`n$(' ' * 10)two    column*"
            $output | Should -Not -BeLike '*^M*'
            $output | Should -Not -BeLike '*^I*'
        }
        finally {
            Stop-ChatProcess $chat
        }
    }

    It 'refuses -With a name no server accepts, before connecting' {
        $command = "Import-Module '$module'; Enter-ChatrmChat 127.0.0.1 $($server.Port) spacey -With 'a b'; `"succeeded: `$?`"; `$Error[0].FullyQualifiedErrorId"
        $output = (Invoke-TestPwsh -ArgumentList '-NoProfile', '-NonInteractive', '-Command', $command).All -join "`n"
        $output | Should -BeLike '*succeeded: False*'
        $output | Should -BeLike '*ChatrmInvalidName,*'
        $output | Should -Not -BeLike '*Chatting as*'
        $server.Users | Should -Not -Contain 'spacey'
    }

    It 'gives an error record, not a chat, for a connection that is closed' {
        $command = "Import-Module '$module'; `$c = Connect-ChatrmServer 127.0.0.1 $($server.Port) closedone; Disconnect-ChatrmServer `$c; " +
            "Enter-ChatrmChat -Connection `$c -With alice; `"succeeded: `$?`"; `$Error[0].FullyQualifiedErrorId"
        $output = (Invoke-TestPwsh -ArgumentList '-NoProfile', '-NonInteractive', '-Command', $command).All -join "`n"
        $output | Should -BeLike '*succeeded: False*'
        $output | Should -BeLike '*ChatrmConnectionClosed,*'
        $output | Should -Not -BeLike '*Chatting as*'
    }

    It 'leaves the next line of input to the script when the server ends the chat' {
        # The child marks the moment its chat has returned: a line written after that is the script's. (A line
        # written before the chat has seen the server's goodbye is still the chat's to read.)
        $ended = Join-Path $ScriptDir "chat-ended-$([guid]::NewGuid().ToString('n'))"
        $chat = Start-ChatProcess "Import-Module '$module'; Enter-ChatrmChat 127.0.0.1 $($server.Port) kicked -With alice; `$null = New-Item -ItemType File '$ended'; 'next line: ' + [Console]::In.ReadLine()"
        try {
            $chat.Process.StandardInput.WriteLine('in the chat')
            $chat.Process.StandardInput.Flush()
            (Receive-OneMessage $alice kicked -Timeout 15).Text | Should -Be 'in the chat'

            Disconnect-ChatrmUser -Job $server -Name kicked -Confirm:$false
            Wait-Until { $server.Users -notcontains 'kicked' } -Because 'the server ended the chat'
            Wait-Until { Test-Path $ended } -Because 'the chat returns once the server has ended it'
            $chat.Process.StandardInput.WriteLine('for the script')
            $chat.Process.StandardInput.Close()
            $chat.Process.WaitForExit(30000) | Should -BeTrue -Because 'the child ends once its input is read'
            $chat.Output.Result | Should -BeLike '*next line: for the script*' -Because "the chat's reader must not swallow it. stderr: $($chat.Errors.Result)"
        }
        finally {
            Stop-ChatProcess $chat
        }
    }
}
