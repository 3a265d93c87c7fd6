<#
.SYNOPSIS
    Shared helpers for the Chatrm Pester suite. Dot-source in BeforeAll:  . $PSScriptRoot/TestHelpers.ps1
.DESCRIPTION
    Everything here waits with a deadline: nothing sleeps a fixed time to "let things happen".
    Servers listen on 127.0.0.1 with a port the system picks; tests clean up what they start.
#>

# The built module: $env:CHATRM_MODULE_PATH (set by Invoke-Tests.ps1), else out/Chatrm beside the sources.
function Get-ChatrmTestModulePath {
    $path = $env:CHATRM_MODULE_PATH
    if ([string]::IsNullOrWhiteSpace($path)) {
        $path = Join-Path $PSScriptRoot '../../out/Chatrm'
    }

    $path = (Resolve-Path -LiteralPath $path -ErrorAction Stop).ProviderPath
    if (Test-Path -LiteralPath $path -PathType Container) {
        $path = Join-Path $path 'Chatrm.psd1'
    }

    if (-not (Test-Path -LiteralPath $path -PathType Leaf)) {
        throw "No built Chatrm module at '$path'. Run ./build.ps1 Build first, or set CHATRM_MODULE_PATH."
    }

    return $path
}

function Import-ChatrmTestModule {
    Import-Module (Get-ChatrmTestModulePath) -ErrorAction Stop
}

# The cmdlets the module must export: exactly these. A new cmdlet is added here on purpose, with its tests.
function Get-ExpectedChatrmCmdlets {
    @(
        'Connect-ChatrmServer'
        'Disconnect-ChatrmServer'
        'Disconnect-ChatrmUser'
        'Enter-ChatrmChat'
        'Exit-ChatrmRoom'
        'Export-ChatrmCredential'
        'Get-ChatrmConnection'
        'Get-ChatrmHistory'
        'Get-ChatrmRoom'
        'Get-ChatrmUser'
        'Join-ChatrmRoom'
        'Receive-ChatrmMessage'
        'Send-ChatrmMessage'
        'Start-ChatrmServer'
        'Stop-ChatrmServer'
    )
}

<#
    Polls a condition every 20 ms until it is true; throws when the deadline passes.
    The condition runs in a child scope: it can read the test's variables, but assignments stay local
    (use a hashtable to carry results out).
#>
function Wait-Until {
    param(
        [Parameter(Mandatory, Position = 0)] [scriptblock] $Condition,
        [double] $Timeout = 10,
        [string] $Because
    )

    $waitUntilDeadline = [DateTime]::UtcNow.AddSeconds($Timeout)
    while ($true) {
        if (& $Condition) { return }
        if ([DateTime]::UtcNow -ge $waitUntilDeadline) {
            $waitUntilWhat = if ($Because) { $Because } else { "{ $($Condition.ToString().Trim()) }" }
            throw "Timed out after $Timeout s waiting for $waitUntilWhat."
        }

        # A short blocking wait between polls; this is the poll interval, not a synchronisation sleep.
        [System.Threading.Thread]::Sleep(20)
    }
}

<#
    Whether a tool the tests drive (tmux, ...) is on PATH. Missing on CI ($env:CI is 'true', as .ci/run
    and CI services set it) is an error: the tests that need it must fail, never count as passed or skipped.
    Elsewhere they may report themselves skipped, and the closing line counts them.
#>
function Test-RequiredTool {
    param([Parameter(Mandatory)] [string] $Name, [string] $Install = "apt-get install $Name")
    if (Get-Command $Name -CommandType Application -ErrorAction SilentlyContinue) { return $true }
    if ($env:CI -eq 'true') {
        throw "$Name is required on CI and was not found ($Install; .ci/run installs it)."
    }

    return $false
}

<#
    Runs a fresh PowerShell (the one running the tests, as dotnet pwsh.dll) with $ArgumentList, writing
    $InputLines to its standard input and then closing it. Returns ExitCode, Output (standard output's
    lines), Errors (standard error's) and All. A child that has not ended after $Timeout seconds is killed
    with everything it started, and the test fails: a hang is reported, never waited out.
#>
function Invoke-TestPwsh {
    param(
        [Parameter(Mandatory)] [string[]] $ArgumentList,
        [string[]] $InputLines = @(),
        [double] $Timeout = 120
    )

    $info = [System.Diagnostics.ProcessStartInfo]::new('dotnet')
    $info.ArgumentList.Add((Join-Path $PSHOME 'pwsh.dll'))
    foreach ($argument in $ArgumentList) { $info.ArgumentList.Add($argument) }
    $info.UseShellExecute = $false
    $info.RedirectStandardInput = $true
    $info.RedirectStandardOutput = $true
    $info.RedirectStandardError = $true
    $child = [System.Diagnostics.Process]::Start($info)
    try {
        $stdout = $child.StandardOutput.ReadToEndAsync()
        $stderr = $child.StandardError.ReadToEndAsync()
        $child.StandardInput.NewLine = "`n"
        foreach ($line in $InputLines) { $child.StandardInput.WriteLine($line) }
        $child.StandardInput.Close()

        if (-not $child.WaitForExit([int]($Timeout * 1000))) {
            $child.Kill($true)
            $child.WaitForExit()
            throw "The child PowerShell ($($ArgumentList -join ' ')) did not end within $Timeout s and was killed. It wrote:`n$($stdout.Result)$($stderr.Result)"
        }

        # The streams end with the process; the wait with no timeout returns once they are read.
        $child.WaitForExit()
        $output = @($stdout.Result -split '\r?\n' | Where-Object { $_ -ne '' })
        $errors = @($stderr.Result -split '\r?\n' | Where-Object { $_ -ne '' })
        [pscustomobject]@{
            ExitCode = $child.ExitCode
            Output   = $output
            Errors   = $errors
            All      = @($output) + @($errors)
        }
    }
    finally {
        $child.Dispose()
    }
}

<#
    A loopback port that nothing listens on while the returned socket lives (.Port; Dispose it when done):
    bound but not listening, so a connection there is refused and the system hands the port to nobody else
    meanwhile. Taking a free port and letting it go races whatever else is starting listeners.
#>
function New-ReservedPort {
    $socket = [System.Net.Sockets.Socket]::new([System.Net.Sockets.AddressFamily]::InterNetwork,
        [System.Net.Sockets.SocketType]::Stream, [System.Net.Sockets.ProtocolType]::Tcp)
    $socket.Bind([System.Net.IPEndPoint]::new([System.Net.IPAddress]::Loopback, 0))
    $socket | Add-Member -MemberType ScriptProperty -Name Port -Value { $this.LocalEndPoint.Port } -PassThru
}

# ---- Servers ----------------------------------------------------------------------------------------------

function New-TestServer {
    param([hashtable] $Options = @{})
    Start-ChatrmServer -Port 0 -Address 127.0.0.1 @Options -ErrorAction Stop
}

<#
    A server on a given port (a restart's): the old one's port and store file may take a moment to be let go,
    so a start that fails is tried again until the deadline.
#>
function Start-ServerOnPort {
    param([Parameter(Mandatory)] [int] $Port, [string] $StorePath, [double] $Timeout = 20)
    $options = @{ Port = $Port; Address = '127.0.0.1'; ErrorAction = 'Stop' }
    if ($StorePath) { $options.StorePath = $StorePath }
    $deadline = [DateTime]::UtcNow.AddSeconds($Timeout)
    while ($true) {
        try {
            return Start-ChatrmServer @options
        }
        catch {
            if ([DateTime]::UtcNow -ge $deadline) { throw "No server on port $Port within $Timeout s: $($_.Exception.Message)" }
            # The poll interval of a retry, not a synchronisation sleep.
            [System.Threading.Thread]::Sleep(50)
        }
    }
}

# Stops and removes a server job; quiet when it is already gone, so it is safe in AfterEach/finally.
function Remove-TestServer {
    param([Parameter(ValueFromPipeline)] $Server)
    process {
        if ($null -eq $Server) { return }
        Stop-Job -Job $Server -ErrorAction SilentlyContinue
        Remove-Job -Job $Server -Force -ErrorAction SilentlyContinue
    }
}

<#
    Reads the server job's events (Receive-Job drains them) until one matches; returns it.
    Events read on the way are kept in $Seen, if given, so the caller can look at them too.
#>
function Wait-ServerEvent {
    param(
        [Parameter(Mandatory)] $Server,
        [Parameter(Mandatory)] [string] $Kind,
        [string] $UserName,
        [double] $Timeout = 10,
        [System.Collections.Generic.List[object]] $Seen
    )

    # A hashtable, because the condition runs in a child scope and cannot assign to our variables.
    $state = @{ Found = $null }
    Wait-Until -Timeout $Timeout -Because "a $Kind event$(if ($UserName) { " for $UserName" }) from the server" {
        foreach ($e in @(Receive-Job -Job $Server)) {
            if ($null -ne $Seen) { $Seen.Add($e) }
            if ($null -eq $state.Found -and "$($e.Kind)" -eq $Kind -and (-not $UserName -or $e.UserName -eq $UserName)) {
                $state.Found = $e
            }
        }
        $null -ne $state.Found
    }

    return $state.Found
}

# ---- Cmdlet users -------------------------------------------------------------------------------------------

# Without -Protocol the cmdlet's default applies (the native protocol).
function Connect-TestUser {
    param(
        [Parameter(Mandatory, Position = 0)] $Server,
        [Parameter(Mandatory, Position = 1)] [string] $Name,
        [ValidateSet('Chatrm', 'Classic')] [string] $Protocol,
        [hashtable] $Options = @{}
    )
    $params = @{} + $Options
    if ($Protocol) { $params.Protocol = $Protocol }
    Connect-ChatrmServer -ComputerName 127.0.0.1 -Port $Server.Port -UserName $Name @params -ErrorAction Stop
}

# Disconnects every connection this session still has (AfterEach / AfterAll).
function Disconnect-AllTestUsers {
    Get-ChatrmConnection | Disconnect-ChatrmServer -ErrorAction SilentlyContinue
}

# Waits for one message from a given sender, or fails; the message is returned.
function Receive-OneMessage {
    param(
        [Parameter(Mandatory)] $Connection,
        [string] $From,
        [double] $Timeout = 5
    )

    $params = @{ Connection = $Connection; Wait = $true; Count = 1; Timeout = $Timeout }
    if ($From) { $params.From = $From }
    $message = Receive-ChatrmMessage @params
    if ($null -eq $message) {
        throw "$($Connection.UserName) received nothing$(if ($From) { " from $From" }) within $Timeout s."
    }

    return $message
}

<#
    Reads everything the server sent $Connection up to a fresh reply from $Peer, and returns it as
    Messages and Errors (the server's notices). A server handles a user's lines in order, so every notice
    about lines sent before this call is in $Connection's stream ahead of the reply: nothing is missed.
#>
function Receive-ThroughRoundTrip {
    param([Parameter(Mandatory)] $Connection, [Parameter(Mandatory)] $Peer)

    $token = "sync-$([guid]::NewGuid().ToString('n'))"
    Send-ChatrmMessage -Connection $Connection -To $Peer.UserName -Text $token -ErrorAction Stop
    $there = Receive-OneMessage -Connection $Peer -From $Connection.UserName
    if ($there.Text -ne $token) {
        throw "$($Peer.UserName) got '$($there.Text)' from $($Connection.UserName) before the round trip's '$token'."
    }

    Send-ChatrmMessage -Connection $Peer -To $Connection.UserName -Text $token -ErrorAction Stop
    # Read one message at a time (errors come out on the way) until the reply.
    $stream = [System.Collections.Generic.List[object]]::new()
    $deadline = [DateTime]::UtcNow.AddSeconds(5)
    while ($stream.Count -eq 0 -or $stream[-1] -is [System.Management.Automation.ErrorRecord] -or $stream[-1].Text -ne $token) {
        $left = ($deadline - [DateTime]::UtcNow).TotalSeconds
        if ($left -le 0) {
            throw "$($Connection.UserName) did not get the round trip's reply from $($Peer.UserName) within 5 s."
        }
        $before = $stream.Count
        Receive-ChatrmMessage -Connection $Connection -Wait -Count 1 -Timeout $left -ErrorAction Continue 2>&1 | ForEach-Object { $stream.Add($_) }
        if ($stream.Count -eq $before) {
            throw "$($Connection.UserName) did not get the round trip's reply from $($Peer.UserName) within 5 s."
        }
    }

    [pscustomobject]@{
        Messages = @($stream | Where-Object { $_ -isnot [System.Management.Automation.ErrorRecord] } | Select-Object -SkipLast 1)
        Errors   = @($stream | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] })
        Stream   = @($stream | Select-Object -SkipLast 1)
    }
}

<#
    Sends one message that the server is expected to refuse, then reads the sender's stream up to a round
    trip with $Peer. Where the refusal surfaces depends on the protocol: the native protocol makes it an
    error from Send-ChatrmMessage itself (SendErrors); the classic protocol can only send a notice, which
    Receive-ChatrmMessage turns into an error (ReceiveErrors). Both are collected, so a test can check both.
#>
function Send-ThroughRoundTrip {
    param(
        [Parameter(Mandatory)] $Connection,
        [Parameter(Mandatory)] [string] $To,
        [Parameter(Mandatory)] [AllowEmptyString()] [string] $Text,
        [Parameter(Mandatory)] $Peer
    )

    $sendErrors = $null
    $sent = Send-ChatrmMessage -Connection $Connection -To $To -Text $Text -PassThru -ErrorAction SilentlyContinue -ErrorVariable sendErrors
    $got = Receive-ThroughRoundTrip -Connection $Connection -Peer $Peer
    [pscustomobject]@{
        Sent          = $sent
        SendErrors    = @($sendErrors)
        ReceiveErrors = $got.Errors
        Messages      = $got.Messages
    }
}

<#
    Asserts that a Send-ThroughRoundTrip result holds exactly one refusal with the given error id, reported
    where the protocol reports it; returns that error record.
#>
function Assert-RefusedOnce {
    param(
        [Parameter(Mandatory)] $Result,
        [Parameter(Mandatory)] [ValidateSet('Chatrm', 'Classic')] [string] $Protocol,
        [Parameter(Mandatory)] [string] $ErrorId,
        [Parameter(Mandatory)] [string] $To
    )

    $Result.Messages | Should -HaveCount 0 -Because 'a refusal is not a message'
    if ($Protocol -eq 'Chatrm') {
        $Result.SendErrors | Should -HaveCount 1 -Because 'the native protocol tells Send-ChatrmMessage what became of each message'
        $Result.ReceiveErrors | Should -HaveCount 0 -Because 'a refusal is reported once, by Send-ChatrmMessage'
        $record = $Result.SendErrors[0]
        # The error is about that message: its target is the refused SentMessage.
        $record.TargetObject | Should -BeOfType 'Chatrm.Engine.SentMessage'
        $record.TargetObject.To | Should -Be $To
        "$($record.TargetObject.Status)" | Should -Be 'Refused'
        "$($Result.Sent.Status)" | Should -Be 'Refused' -Because '-PassThru shows the same fate'
    }
    else {
        $Result.SendErrors | Should -HaveCount 0 -Because 'the classic protocol has no answer to a sent line; the server''s notice comes later'
        $Result.ReceiveErrors | Should -HaveCount 1 -Because 'the server''s notice comes out of Receive-ChatrmMessage'
        $record = $Result.ReceiveErrors[0]
        "$($Result.Sent.Status)" | Should -Be 'Sent'
    }

    $record.FullyQualifiedErrorId | Should -BeLike "$ErrorId,*"
    return $record
}

<#
    The health check after every kind of bad input: two users exchange a fresh message both ways.
    Throws (failing the test) when either direction does not arrive intact.
#>
function Assert-UsersCanChat {
    param([Parameter(Mandatory)] $A, [Parameter(Mandatory)] $B)

    foreach ($pair in @(@($A, $B), @($B, $A))) {
        $sender, $receiver = $pair
        $text = "ping_$([guid]::NewGuid().ToString('n'))"
        Send-ChatrmMessage -Connection $sender -To $receiver.UserName -Text $text -ErrorAction Stop
        $got = Receive-OneMessage -Connection $receiver -From $sender.UserName
        if ($got.Text -ne $text) {
            throw "$($receiver.UserName) got '$($got.Text)' from $($sender.UserName), expected '$text'."
        }
    }
}

# ---- A raw TCP client speaking the original's bytes --------------------------------------------------------

<#
    Opens a TCP connection to a server. With -Name, sends the original client's handshake NAME_\n
    and returns after reading the first line the server sends back (in .Welcome).
#>
function New-RawClient {
    param(
        [Parameter(Mandatory)] [int] $Port,
        [string] $Name,
        [double] $Timeout = 5,
        # Set before connecting, so the window the connection starts with is that small too.
        [int] $ReceiveBufferSize
    )

    $tcp = [System.Net.Sockets.TcpClient]::new([System.Net.Sockets.AddressFamily]::InterNetwork)
    $tcp.NoDelay = $true
    if ($ReceiveBufferSize) { $tcp.Client.ReceiveBufferSize = $ReceiveBufferSize }
    if (-not $tcp.ConnectAsync([System.Net.IPAddress]::Loopback, $Port).Wait([TimeSpan]::FromSeconds($Timeout))) {
        $tcp.Dispose()
        throw "No TCP connection to 127.0.0.1:$Port within $Timeout s."
    }

    $stream = $tcp.GetStream()
    $utf8 = [System.Text.UTF8Encoding]::new($false)
    $writer = [System.IO.StreamWriter]::new($stream, $utf8, 4096, $true)
    $writer.NewLine = "`n"
    $writer.AutoFlush = $true
    $client = [pscustomobject]@{
        Tcp     = $tcp
        Stream  = $stream
        Reader  = [System.IO.StreamReader]::new($stream, $utf8, $false, 4096, $true)
        Writer  = $writer
        Pending = $null   # a ReadLineAsync still running after a timed-out read; the next read takes it over
        Welcome = $null
    }

    if ($Name) {
        Send-RawLine $client "${Name}_"
        $client.Welcome = Read-RawLine $client -Timeout $Timeout
    }

    return $client
}

function Send-RawLine {
    param([Parameter(Mandatory, Position = 0)] $Client, [Parameter(Mandatory, Position = 1)] [AllowEmptyString()] [string] $Line)
    $Client.Writer.Write($Line + "`n")
}

function Send-RawBytes {
    param([Parameter(Mandatory, Position = 0)] $Client, [Parameter(Mandatory, Position = 1)] [byte[]] $Bytes)
    $Client.Stream.Write($Bytes, 0, $Bytes.Length)
    $Client.Stream.Flush()
}

<#
    Reads one line (without its newline) with a deadline; throws when none comes in time.
    Returns $null when the server closed the connection.
#>
function Read-RawLine {
    param([Parameter(Mandatory, Position = 0)] $Client, [double] $Timeout = 5)

    if ($null -eq $Client.Pending) {
        $Client.Pending = $Client.Reader.ReadLineAsync()
    }

    $task = $Client.Pending
    try {
        $done = $task.Wait([TimeSpan]::FromSeconds($Timeout))
    }
    catch [AggregateException] {
        # The socket failed (e.g. reset by the peer): as good as closed for these tests.
        $Client.Pending = $null
        return $null
    }

    if (-not $done) {
        throw "No line from the server within $Timeout s."
    }

    $Client.Pending = $null
    return $task.Result
}

# Reads lines until one matches the pattern (skipping others); returns it.
function Read-RawLineLike {
    param([Parameter(Mandatory, Position = 0)] $Client, [Parameter(Mandatory, Position = 1)] [string] $Pattern, [double] $Timeout = 5)

    $deadline = [DateTime]::UtcNow.AddSeconds($Timeout)
    while ($true) {
        $left = ($deadline - [DateTime]::UtcNow).TotalSeconds
        if ($left -le 0) { throw "No line like '$Pattern' within $Timeout s." }
        $line = Read-RawLine $Client -Timeout $left
        if ($null -eq $line) { throw "The server closed the connection before a line like '$Pattern' came." }
        if ($line -like $Pattern) { return $line }
    }
}

function Close-RawClient {
    param([Parameter(ValueFromPipeline)] $Client)
    process {
        if ($null -eq $Client) { return }
        try { $Client.Writer.Dispose() } catch { }
        try { $Client.Reader.Dispose() } catch { }
        $Client.Tcp.Dispose()
    }
}

# ---- A raw TCP client speaking the native protocol ----------------------------------------------------------

# The opening frame Chatrm's own client sends.
function Get-NativeHelloLine {
    param([Parameter(Mandatory)] [string] $Name)
    [ordered]@{ type = 'hello'; protocol = 'chatrm_native'; version = 1; user = $Name } | ConvertTo-Json -Compress
}

<#
    Opens a raw connection that says the native hello for $Name and reads the server's answer (in .Welcome,
    as text). After that it does only what the test makes it do: it never answers a ping by itself.
#>
function New-RawNativeClient {
    param(
        [Parameter(Mandatory)] [int] $Port,
        [Parameter(Mandatory)] [string] $Name,
        [double] $Timeout = 5
    )

    $client = New-RawClient -Port $Port -Timeout $Timeout
    Send-RawLine $client (Get-NativeHelloLine $Name)
    $client.Welcome = Read-RawLine $client -Timeout $Timeout
    return $client
}

# ---- A fake server in a thread job --------------------------------------------------------------------------

<#
    A TCP listener on 127.0.0.1 (port picked by the system) playing a server that a test cannot start:
      Silent             reads every line and never answers, as the original server does to a native hello;
      WelcomeThenSilent  answers the first line with a native welcome, then never sends anything again.
    It serves one connection at a time (as the original does). Each connection is a session in .Sessions,
    in order: .Lines is every line it sent, .Ended turns true when the client closed it.
    Always end it with Stop-FakeServer.
#>
function Start-FakeServer {
    param([ValidateSet('Silent', 'WelcomeThenSilent')] [string] $Mode = 'Silent')

    $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
    $listener.Start()
    $fake = [pscustomobject]@{
        Port     = $listener.LocalEndpoint.Port
        Mode     = $Mode
        Listener = $listener
        Sessions = [System.Collections.Concurrent.ConcurrentQueue[object]]::new()
        # Completed by Stop-FakeServer; every wait in the job also waits for it, so the job always ends.
        Stop     = [System.Threading.Tasks.TaskCompletionSource[bool]]::new()
        Job      = $null
    }

    $fake.Job = Start-ThreadJob -Name "chatrm-fake-server-$($fake.Port)" -ArgumentList $listener, $fake.Sessions, $fake.Stop.Task, $Mode -ScriptBlock {
        param($Listener, $Sessions, $Stop, $Mode)
        $ErrorActionPreference = 'Stop'
        $utf8 = [System.Text.UTF8Encoding]::new($false)

        # True when the task finished first, false when the fake server is being stopped.
        function Wait-OrStop($Task) {
            [System.Threading.Tasks.Task]::WaitAny([System.Threading.Tasks.Task[]]@($Task, $Stop)) -eq 0
        }

        while ($true) {
            $accept = $Listener.AcceptTcpClientAsync()
            if (-not (Wait-OrStop $accept)) { return }
            $tcp = $accept.GetAwaiter().GetResult()
            $session = [hashtable]::Synchronized(@{
                Lines = [System.Collections.Concurrent.ConcurrentQueue[string]]::new()
                Ended = $false
                Tcp   = $tcp
            })
            $Sessions.Enqueue($session)
            $stream = $tcp.GetStream()
            $reader = [System.IO.StreamReader]::new($stream, $utf8)
            try {
                while ($true) {
                    $read = $reader.ReadLineAsync()
                    if (-not (Wait-OrStop $read)) { return }
                    $line = $read.GetAwaiter().GetResult()
                    if ($null -eq $line) { break }
                    $first = $session.Lines.Count -eq 0
                    $session.Lines.Enqueue($line)
                    if ($first -and $Mode -eq 'WelcomeThenSilent') {
                        $user = ($line | ConvertFrom-Json).user
                        $welcome = [ordered]@{ type = 'welcome'; protocol = 'chatrm_native'; version = 1; user = $user; keepAlive = 60; maxFrameBytes = 16384 } |
                            ConvertTo-Json -Compress
                        $bytes = $utf8.GetBytes($welcome + "`n")
                        $stream.Write($bytes, 0, $bytes.Length)
                    }
                }
            }
            catch [System.IO.IOException] {
                # The client reset the connection: as good as closed.
            }
            finally {
                $session.Ended = $true
                $tcp.Dispose()
            }
        }
    }

    return $fake
}

# Waits for the fake server's session number $Index (0 first) and returns it.
function Get-FakeSession {
    param([Parameter(Mandatory)] $Fake, [int] $Index = 0, [double] $Timeout = 10)

    Wait-Until -Timeout $Timeout -Because "connection $Index to the fake server" {
        $Fake.Sessions.Count -gt $Index -or $Fake.Job.State -ne 'Running'
    }
    if ($Fake.Sessions.Count -le $Index) {
        throw "The fake server ended without connection ${Index}: $($Fake.Job.State) $(Receive-Job -Job $Fake.Job 2>&1 | Out-String)"
    }

    return $Fake.Sessions.ToArray()[$Index]
}

function Stop-FakeServer {
    param([Parameter(ValueFromPipeline)] $Fake)
    process {
        if ($null -eq $Fake) { return }
        $null = $Fake.Stop.TrySetResult($true)
        $Fake.Listener.Stop()
        if ($Fake.Job) {
            $null = $Fake.Job | Wait-Job -Timeout 5
            Remove-Job -Job $Fake.Job -Force -ErrorAction SilentlyContinue
        }
        foreach ($session in $Fake.Sessions.ToArray()) { $session.Tcp.Dispose() }
    }
}

# ---- NATS, for a cluster ------------------------------------------------------------------------------------

<#
    A nats-server with JetStream on 127.0.0.1 and a port it picks (-p -1), its store in $StoreFolder and its log
    beside it, where the port is read from. Returns Process, Url and Port; Stop-TestNats kills it. Needs
    Debian's nats-server.
#>
function Start-TestNats {
    param([Parameter(Mandatory)] [string] $StoreFolder, [double] $Timeout = 20)
    $path = (Get-Command nats-server -CommandType Application -ErrorAction Stop | Select-Object -First 1).Source
    $null = New-Item -ItemType Directory -Force $StoreFolder
    $log = Join-Path $StoreFolder 'nats.log'
    $start = [System.Diagnostics.ProcessStartInfo]::new($path)
    foreach ($arg in '-a', '127.0.0.1', '-p', '-1', '-js', '-sd', $StoreFolder, '-l', $log) { $start.ArgumentList.Add($arg) }
    $start.UseShellExecute = $false
    $process = [System.Diagnostics.Process]::Start($start)
    $state = @{ Port = 0 }
    try {
        Wait-Until -Timeout $Timeout -Because 'nats-server to say where it listens' {
            if ($process.HasExited) { throw "nats-server exited at its start (exit code $($process.ExitCode))." }
            $line = if (Test-Path $log) { Select-String -Path $log -Pattern 'Listening for client connections on [^:\s]+:(\d+)' | Select-Object -First 1 }
            if ($line) { $state.Port = [int] $line.Matches[0].Groups[1].Value }
            $state.Port -gt 0
        }
    }
    catch {
        if (-not $process.HasExited) { $process.Kill($true) }
        throw
    }

    [pscustomobject]@{ Process = $process; Port = $state.Port; Url = "nats://127.0.0.1:$($state.Port)" }
}

function Stop-TestNats {
    param([Parameter(ValueFromPipeline)] $Nats)
    process {
        if ($null -eq $Nats) { return }
        if (-not $Nats.Process.HasExited) { $Nats.Process.Kill($true) }
        $null = $Nats.Process.WaitForExit(10000)
        $Nats.Process.Dispose()
    }
}
