# Enter-ChatrmChat as a person uses it: two sessions in a real terminal (tmux), driven with send-keys and
# read with capture-pane; and with standard input redirected, as a script would pipe a conversation in.

BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    Import-ChatrmTestModule

    $script:TmuxMissing = -not (Get-Command tmux -ErrorAction SilentlyContinue)
    # A private tmux server, so the test never touches a person's own sessions.
    $script:TmuxSocket = "chatrm-test-$PID"
    $script:PwshDll = Join-Path $PSHOME 'pwsh.dll'
    $script:ScriptDir = Join-Path ([IO.Path]::GetTempPath()) "chatrm-interactive-$PID"
    $null = New-Item -ItemType Directory -Force $ScriptDir

    function Invoke-Tmux {
        & tmux -L $TmuxSocket @args
    }

    # Starts a pane that runs a PowerShell script; the pane stays after the script ends so it can be read.
    function Start-ChatPane {
        param([string] $Name, [string] $Script)
        $file = Join-Path $ScriptDir "$Name.ps1"
        Set-Content -Path $file -Value ("Import-Module '{0}'`n{1}`n'pane-done'" -f (Get-ChatrmTestModulePath), $Script)
        Invoke-Tmux new-session -d -s $Name -x 120 -y 30 "dotnet '$PwshDll' -NoProfile -NoLogo -File '$file'"
        Invoke-Tmux set-option -t $Name remain-on-exit on | Out-Null
    }

    function Get-Screen {
        param([string] $Name)
        (Invoke-Tmux capture-pane -p -t $Name) -join "`n"
    }

    function Wait-Screen {
        param([string] $Name, [string] $Like, [double] $Timeout = 15)
        # Contains, not -like: chat screens are full of [ and ], which -like reads as wildcards.
        Wait-Until { (Get-Screen $Name).Contains($Like) } -Timeout $Timeout -Because "pane $Name shows '$Like'. It shows:`n$(Get-Screen $Name)"
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

Describe 'Enter-ChatrmChat in a terminal' {
    BeforeAll {
        if ($TmuxMissing) { return }
        $server = New-TestServer
        $port = $server.Port
        Start-ChatPane alice "Enter-ChatrmChat -ComputerName 127.0.0.1 -Port $port -UserName alice -With bob"
        Start-ChatPane bob "Enter-ChatrmChat 127.0.0.1 $port bob -With alice"
        Wait-Until { $server.Users -contains 'alice' -and $server.Users -contains 'bob' } -Because 'both chat sessions joined'
        Wait-Screen alice '[to bob]>'
        Wait-Screen bob '[to alice]>'
    }

    AfterAll {
        Disconnect-AllTestUsers
        if (-not $TmuxMissing) { $server | Remove-TestServer }
    }

    BeforeEach {
        if ($TmuxMissing) { Set-ItResult -Skipped -Because 'tmux is not installed (apt-get install tmux); .ci/run installs it' }
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

        # The half-typed line is drawn again below the message, and finishing it sends it whole.
        $lines = @((Get-Screen alice) -split "`n" | Where-Object { $_.Trim() })
        $lines[-1] | Should -Be '[to bob]> hal'
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

Describe 'Enter-ChatrmChat with a connection passed in' {
    BeforeAll {
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
    }

    AfterAll {
        Disconnect-AllTestUsers
        $server | Remove-TestServer
    }

    It 'sends each input line until the input ends, then leaves' {
        $command = "Import-Module '$module'; Enter-ChatrmChat -ComputerName 127.0.0.1 -Port $($server.Port) -UserName scripted -With alice"
        $output = "first line", "second_line" | & dotnet $PwshDll -NoProfile -NonInteractive -Command $command 2>&1
        $LASTEXITCODE | Should -Be 0

        $received = @(Receive-ChatrmMessage -Connection $alice -Wait -Count 2 -Timeout 10)
        $received.Text | Should -Be @('first line', 'second_line')
        $received.From | Should -Be @('scripted', 'scripted')
        ($output -join "`n") | Should -BeLike '*Chatting as scripted with alice*'
        Wait-Until { $server.Users -notcontains 'scripted' } -Because 'the scripted user left at the end of input'
    }

    It 'obeys commands in the input, such as /to and /quit' {
        $command = "Import-Module '$module'; Enter-ChatrmChat 127.0.0.1 $($server.Port) scripted2 -With nobody"
        $lines = '/to alice', 'after switching', '/quit', 'never sent'
        $null = $lines | & dotnet $PwshDll -NoProfile -NonInteractive -Command $command 2>&1
        $LASTEXITCODE | Should -Be 0

        $received = @(Receive-ChatrmMessage -Connection $alice -Wait -Count 1 -Timeout 10)
        $received.Text | Should -Be 'after switching'
        # Nothing after /quit was sent.
        @(Receive-ChatrmMessage -Connection $alice -Timeout 0.3) | Should -BeNullOrEmpty
    }
}
