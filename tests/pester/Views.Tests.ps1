# The default views of Chatrm's objects: someone else's text is shown safely, times read one way
# everywhere, and objects that come out of one command sit together in one table.

BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    Import-ChatrmTestModule

    # A ConnectionEvent as the client makes one (its constructor is the engine's own): a change, a reason, a time.
    function New-TestConnectionEvent {
        param([string] $Change, [string] $Reason, [datetime] $Time = [datetime]::UtcNow)
        $constructor = [Chatrm.Engine.ConnectionEvent].GetConstructors([System.Reflection.BindingFlags] 'NonPublic, Instance')[0]
        $constructor.Invoke(@([Chatrm.Engine.ConnectionChange] $Change, $Reason, $Time))
    }

    # What a terminal could act on: C0 controls but the line break, DEL, C1 controls, bidirectional overrides.
    $script:RawControl = '[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]'
    # ESC (a screen clear and a retitle ending in BEL), CSI as one C1 character, and a right-to-left override.
    $script:Hostile = "x`e[2J`e[Hcleared`e]0;PWNED`a and `u{9b}31m red `u{202e}txt.exe"

    function Get-Rendered {
        param([Parameter(Mandatory)] [object[]] $InputObject, [ValidateSet('Table', 'List', 'Default')] [string] $As)
        switch ($As) {
            'Table' { $InputObject | Format-Table | Out-String -Width 400 }
            'List' { $InputObject | Format-List | Out-String -Width 400 }
            'Default' { $InputObject | Out-String -Width 400 }
        }
    }
}

Describe 'Someone else''s text in the default views' {
    BeforeAll {
        $now = [datetime]::UtcNow
        $objects = @(
            @{ Kind = 'ChatMessage'; Object = [Chatrm.Engine.ChatMessage]::new('alice', 'bob', $Hostile, $now) }
            @{ Kind = 'SentMessage'; Object = [Chatrm.Engine.SentMessage]::new('bob', 'alice', $Hostile, $now, 'Refused', 'unknown-user', '7', $Hostile) }
            @{ Kind = 'ServerNotice'; Object = [Chatrm.Engine.ServerNotice]::new('unknown-user', $Hostile, $now) }
            @{ Kind = 'ServerEvent'; Object = [Chatrm.Engine.ServerEvent]::new('LineRefused', 'alice', $Hostile) }
            @{ Kind = 'PresenceEvent'; Object = [Chatrm.Engine.PresenceEvent]::new('Joined', "bob$Hostile", $now) }
            @{ Kind = 'UserInfo'; Object = [Chatrm.Engine.UserInfo]::new("bob$Hostile", 'Chatrm', $now) }
            @{ Kind = 'RoomInfo'; Object = [Chatrm.Engine.RoomInfo]::new("#ops$Hostile", 2, [string[]] @('alice', "bob$Hostile"), $true, $now) }
            @{ Kind = 'DeliveryReceipt'; Object = [Chatrm.Engine.DeliveryReceipt]::new("42$Hostile", "bob$Hostile", $now) }
            # A reconnect's reason is what the server said as the link ended.
            @{ Kind = 'ConnectionEvent'; Object = New-TestConnectionEvent -Change Reconnecting -Reason $Hostile -Time $now }
            # A message as Get-ChatrmHistory writes it: with the type name its history view is chosen by.
            @{ Kind = 'History'; Object = & {
                    $line = [psobject]::new([Chatrm.Engine.ChatMessage]::new('alice', 'bob', $Hostile, $now, '7', $now))
                    $line.PSObject.TypeNames.Insert(0, 'Chatrm.Engine.ChatMessage#History')
                    $line
                } }
        )
    }

    It 'shows no raw control character of a <Kind> in a table, a list or the default view' -ForEach @(
        @{ Kind = 'ChatMessage' }, @{ Kind = 'SentMessage' }, @{ Kind = 'ServerNotice' }, @{ Kind = 'ServerEvent' }, @{ Kind = 'PresenceEvent' }, @{ Kind = 'UserInfo' }, @{ Kind = 'RoomInfo' }
        @{ Kind = 'DeliveryReceipt' }, @{ Kind = 'History' }, @{ Kind = 'ConnectionEvent' }
    ) {
        $object = ($objects | Where-Object Kind -EQ $Kind).Object
        foreach ($as in 'Table', 'List', 'Default') {
            $rendered = Get-Rendered $object -As $as
            $rendered | Should -Match 'PWNED' -Because "the $as view of a $Kind still shows the text"
            $rendered | Should -Not -Match $RawControl -Because "the $as view of a $Kind must not hand the terminal its control characters"
        }
    }

    It 'shows ESC as ^[, BEL as ^G and a C1 control or a bidi override by its code point' {
        $rendered = Get-Rendered ($objects | Where-Object Kind -EQ 'ChatMessage').Object -As Table
        $rendered | Should -Match ([regex]::Escape('x^[[2J^[[Hcleared^[]0;PWNED^G'))
        $rendered | Should -Match ([regex]::Escape('<U+009B>31m'))
        $rendered | Should -Match ([regex]::Escape('<U+202E>txt.exe'))
    }

    It 'keeps the exact text in the properties, for scripts' {
        ($objects | Where-Object Kind -EQ 'ChatMessage').Object.Text | Should -BeExactly $Hostile
        ($objects | Where-Object Kind -EQ 'SentMessage').Object.Detail | Should -BeExactly $Hostile
    }

    It 'shows a received message and a server''s notice safely end to end, as Receive-ChatrmMessage emits them' {
        $server = New-TestServer
        try {
            $alice = Connect-TestUser $server alice
            $bob = Connect-TestUser $server bob
            Send-ChatrmMessage -Connection $alice -To bob -Text $Hostile
            $got = Receive-OneMessage -Connection $bob -From alice
            $got.Text | Should -BeExactly $Hostile
            $rendered = Get-Rendered $got -As Default
            $rendered | Should -Match 'PWNED'
            $rendered | Should -Not -Match $RawControl
        }
        finally {
            Disconnect-AllTestUsers
            $server | Remove-TestServer
        }
    }

    It 'shows a server''s notice as an error record without raw control characters' {
        # A classic server that says a hostile notice: the client turns it into a non-terminating error.
        $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
        $listener.Start()
        try {
            $accepted = $listener.AcceptTcpClientAsync()
            $bob = Connect-ChatrmServer -ComputerName 127.0.0.1 -Port $listener.LocalEndpoint.Port -UserName bob -Protocol Classic -ErrorAction Stop
            $tcp = $accepted.GetAwaiter().GetResult()
            $line = [System.Text.Encoding]::UTF8.GetBytes("bob_chatrm_unknown-user: $Hostile`n")
            $tcp.GetStream().Write($line, 0, $line.Length)
            $errors = [System.Collections.Generic.List[object]]::new()
            Wait-Until { Receive-ChatrmMessage -Connection $bob -ErrorAction Continue 2>&1 | ForEach-Object { $errors.Add($_) }; $errors.Count -gt 0 }
        }
        finally {
            Disconnect-AllTestUsers
            if ($tcp) { $tcp.Dispose() }
            $listener.Stop()
        }

        $record = $errors[0]
        $record | Should -BeOfType [System.Management.Automation.ErrorRecord]
        $record.FullyQualifiedErrorId | Should -BeLike 'ChatrmUnknownUser,*'
        $record.TargetObject.Text | Should -BeExactly $Hostile -Because 'the notice itself stays exact for scripts'
        $rendered = $record | Out-String -Width 400
        $rendered | Should -Match 'PWNED'
        $rendered | Should -Not -Match $RawControl
        $record.CategoryInfo.ToString() | Should -Not -Match $RawControl
    }
}

Describe 'Messages and presence together' {
    It 'sit in one table, as Receive-ChatrmMessage -IncludePresence emits them' {
        $now = [datetime]::UtcNow
        $stream = @(
            [Chatrm.Engine.ChatMessage]::new('alice', 'bob', 'hello', $now)
            [Chatrm.Engine.PresenceEvent]::new('Joined', 'carol', $now)
            [Chatrm.Engine.ChatMessage]::new('carol', 'bob', 'hi all', $now)
            [Chatrm.Engine.PresenceEvent]::new('Left', 'alice', $now)
        )
        $lines = @(($stream | Out-String -Width 200) -split "`n" | Where-Object { $_.Trim() })
        $lines | Should -HaveCount 6 -Because 'one header, one rule and a row per object, with no list blocks'
        $lines[0] | Should -Match '^ReceivedAt\s+From\s+To\s+Text'
        $lines[3] | Should -Match '\scarol\s+\(joined\)$'
        $lines[5] | Should -Match '\salice\s+\(left\)$'
    }
}

Describe 'Reconnects and gaps' {
    It 'sit in the messages'' table, as Receive-ChatrmMessage -IncludePresence emits them' {
        $now = [datetime]::UtcNow
        $stream = @(
            [Chatrm.Engine.ChatMessage]::new('alice', 'bob', 'hello', $now)
            New-TestConnectionEvent -Change Reconnecting -Reason 'server stopping' -Time $now
            New-TestConnectionEvent -Change Reconnected -Reason 'connected again to 127.0.0.1:5555' -Time $now
        )
        $lines = @(($stream | Out-String -Width 200) -split "`n" | Where-Object { $_.Trim() })
        $lines | Should -HaveCount 5 -Because 'one header, one rule and a row per object, with no list blocks'
        $lines[3] | Should -Match '\(reconnecting\) server stopping$'
        $lines[4] | Should -Match '\(reconnected\) connected again to 127\.0\.0\.1:5555$'
    }

    It 'shows a ConnectionEvent''s every property in its list view' {
        $rendered = New-TestConnectionEvent -Change Gap -Reason 'the history no longer holds them' | Format-List | Out-String -Width 200
        foreach ($label in 'Time', 'Change', 'Reason', 'Attempts', 'Room', 'MissedFrom', 'MissedTo') {
            $rendered | Should -Match "(?m)^$label\s+:" -Because "the list view shows $label"
        }
        $rendered | Should -Match 'Change\s+: Gap'
    }
}

Describe 'Receipts and history' {
    It 'sit in the messages'' table, as Receive-ChatrmMessage -IncludeReceipts emits them' {
        $now = [datetime]::UtcNow
        $stream = @(
            [Chatrm.Engine.ChatMessage]::new('alice', 'bob', 'hello', $now)
            [Chatrm.Engine.DeliveryReceipt]::new('42', 'carol', $now)
        )
        $lines = @(($stream | Out-String -Width 200) -split "`n" | Where-Object { $_.Trim() })
        $lines | Should -HaveCount 4 -Because 'one header, one rule and a row per object, with no list blocks'
        $lines[3] | Should -Match '\scarol\s+\(delivered #42\)$'
    }

    It 'shows history by Seq and SentAt, not by when it was asked for' {
        $sent = [datetime]::new(2026, 11, 26, 9, 12, 3, [DateTimeKind]::Utc)
        $line = [psobject]::new([Chatrm.Engine.ChatMessage]::new('alice', 'bob', 'lunch?', [datetime]::UtcNow, '7', $sent))
        $line.PSObject.TypeNames.Insert(0, 'Chatrm.Engine.ChatMessage#History')
        $lines = @(($line | Out-String -Width 200) -split "`n" | Where-Object { $_.Trim() })
        $lines[0] | Should -Match '^\s*Seq\s+SentAt\s+From\s+To\s+Text'
        $lines[2] | Should -Match ([regex]::Escape($sent.ToLocalTime().ToString('yyyy-MM-dd HH:mm:ss')) + '\s+alice\s+bob\s+lunch\?$')
    }
}

Describe 'Times outside UTC' {
    It 'compare with Get-Date and read as local time in table, list and CSV, in Asia/Tokyo' {
        # A child PowerShell in another zone: the zone is read once per process.
        $self = (Get-Process -Id $PID).Path
        $pwsh = @($self) + @(if ([System.IO.Path]::GetFileNameWithoutExtension($self) -eq 'dotnet') { Join-Path $PSHOME 'pwsh.dll' })
        $script = {
            param($ModulePath)
            $ErrorActionPreference = 'Stop'
            Import-Module $ModulePath
            $server = Start-ChatrmServer -Port 0
            try {
                $alice = Connect-ChatrmServer -ComputerName 127.0.0.1 -Port $server.Port -UserName alice
                $bob = Connect-ChatrmServer -ComputerName 127.0.0.1 -Port $server.Port -UserName bob
                $sent = Send-ChatrmMessage -Connection $alice -To bob -Text 'now' -PassThru
                $m = Receive-ChatrmMessage -Connection $bob -Wait -Count 1 -Timeout 10
                $user = Get-ChatrmUser -Connection $bob -Name alice
                $event = Receive-Job $server | Select-Object -First 1
                $fresh = (Get-Date).AddMinutes(-5)
                [pscustomobject]@{
                    Zone        = [System.TimeZoneInfo]::Local.BaseUtcOffset.TotalHours
                    Recent      = @($m | Where-Object ReceivedAt -gt $fresh).Count
                    Ages        = @($m.ReceivedAt, $m.SentAt, $sent.SentAt, $user.ConnectedAt, $alice.ConnectedAt, $event.Time) |
                        ForEach-Object { ((Get-Date) - $_).TotalMinutes }
                    Kinds       = @($m.ReceivedAt, $m.SentAt, $sent.SentAt, $user.ConnectedAt, $alice.ConnectedAt, $event.Time) | ForEach-Object { "$($_.Kind)" }
                    Table       = ($m | Format-Table | Out-String)
                    List        = ($m | Format-List | Out-String)
                    Csv         = ($m | ConvertTo-Csv | ConvertFrom-Csv).ReceivedAt
                    Local       = $m.ReceivedAt.ToString('yyyy-MM-dd HH:mm')
                    LocalString = $m.ReceivedAt.ToString()
                } | ConvertTo-Json -Compress
            }
            finally {
                Get-ChatrmConnection | Disconnect-ChatrmServer
                $server | Stop-Job
            }
        }

        $saved = $env:TZ
        try {
            $env:TZ = 'Asia/Tokyo'
            $json = & $pwsh[0] @($pwsh | Select-Object -Skip 1) -NoProfile -NonInteractive -Command "& { $script } '$(Get-ChatrmTestModulePath)'"
        }
        finally {
            $env:TZ = $saved
        }
        $LASTEXITCODE | Should -Be 0
        $got = ($json | Select-Object -Last 1) | ConvertFrom-Json
        $got.Zone | Should -Be 9 -Because 'the child runs in Asia/Tokyo'
        $got.Recent | Should -Be 1 -Because 'a message received just now is newer than five minutes ago'
        foreach ($age in $got.Ages) { $age | Should -BeLessThan 1; $age | Should -BeGreaterThan -1 }
        $got.Kinds | Should -Be @('Local', 'Local', 'Local', 'Local', 'Local', 'Local')
        $got.Table | Should -Match ([regex]::Escape($got.Local))
        $got.List | Should -Match ([regex]::Escape($got.Local))
        $got.Csv | Should -Be $got.LocalString -Because 'Export-Csv shows the same local time'
    }
}
