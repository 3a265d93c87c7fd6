# Start-ChatrmServer -WebPort: the web client's port as the cmdlet sets it up. The page itself is tested in a real
# browser by the engine's tests (tests/Chatrm.Engine.Tests/Web/BrowserTests.cs).

BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    Import-ChatrmTestModule
}

Describe 'Start-ChatrmServer -WebPort' {
    AfterEach {
        Disconnect-AllTestUsers
        $server | Remove-TestServer
    }

    It 'serves the page at the job''s WebUri, with a policy that forbids inline script' {
        $server = Start-ChatrmServer -Port 0 -WebPort 0
        $server.WebPort | Should -BeGreaterThan 0
        $server.WebPort | Should -Not -Be $server.Port
        $server.WebUri | Should -Be "http://127.0.0.1:$($server.WebPort)/"

        $page = Invoke-WebRequest -Uri $server.WebUri -UseBasicParsing
        $page.StatusCode | Should -Be 200
        "$($page.Headers['Content-Security-Policy'])" | Should -Be "default-src 'self'; connect-src 'self' ws: wss:; script-src 'self'; style-src 'self'"
        "$($page.Headers['X-Content-Type-Options'])" | Should -Be 'nosniff'
        $page.Content | Should -Match '<script src="app.js" defer></script>'
    }

    It 'lets a web user chat with a cmdlet user as a native user' {
        $server = Start-ChatrmServer -Port 0 -WebPort 0
        $bob = Connect-TestUser $server bob
        $socket = [System.Net.WebSockets.ClientWebSocket]::new()
        try {
            $socket.Options.SetRequestHeader('Origin', "http://127.0.0.1:$($server.WebPort)")
            $socket.ConnectAsync([uri]"ws://127.0.0.1:$($server.WebPort)/ws", [Threading.CancellationToken]::None).Wait(10000) | Should -BeTrue
            $send = {
                param([string] $Frame)
                $bytes = [Text.Encoding]::UTF8.GetBytes($Frame)
                $socket.SendAsync([ArraySegment[byte]]::new($bytes), 'Text', $true, [Threading.CancellationToken]::None).Wait(10000) | Should -BeTrue
            }
            & $send '{"type":"hello","protocol":"chatrm_native","version":1,"user":"alice"}'
            & $send '{"type":"send","ref":"1","to":"bob","text":"hi from the web"}'

            $message = Receive-ChatrmMessage -Connection $bob -Wait -Count 1 -Timeout 10
            $message.From | Should -Be 'alice'
            $message.Text | Should -Be 'hi from the web'
            (Get-ChatrmUser -Connection $bob | Where-Object Name -EQ 'alice').Protocol | Should -Be 'Chatrm'
        }
        finally {
            $socket.Dispose()
        }
    }

    It 'fails with ChatrmServerStartFailed on a web port in use, naming it, and leaves no job' {
        $taken = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
        $taken.Start()
        try {
            $webPort = $taken.LocalEndpoint.Port
            $jobsBefore = @(Get-Job).Count
            { Start-ChatrmServer -Port 0 -WebPort $webPort } | Should -Throw -ErrorId 'ChatrmServerStartFailed,*'
            try { Start-ChatrmServer -Port 0 -WebPort $webPort } catch { $_.Exception.Message | Should -Match "web port $webPort" }
            @(Get-Job).Count | Should -Be $jobsBefore
        }
        finally {
            $taken.Stop()
        }
    }

    It 'gives a WebUri on loopback for a server on every address' {
        $server = Start-ChatrmServer -Port 0 -WebPort 0 -Address 0.0.0.0
        $server.WebUri | Should -Be "http://127.0.0.1:$($server.WebPort)/"
        (Invoke-WebRequest -Uri $server.WebUri -UseBasicParsing).StatusCode | Should -Be 200
    }

    It 'serves nothing without -WebPort' {
        $server = Start-ChatrmServer -Port 0
        $server.WebPort | Should -BeNullOrEmpty
        $server.WebUri | Should -BeNullOrEmpty
    }
}
