# Servers belong to the runspace that started them, as connections do: a thread job's server is its own,
# ends with it, and Stop-ChatrmServer there never reaches the session's servers.

BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    Import-ChatrmTestModule
    $modulePath = Get-ChatrmTestModulePath

    function Test-Listening {
        param([int] $Port)
        $tcp = [System.Net.Sockets.TcpClient]::new([System.Net.Sockets.AddressFamily]::InterNetwork)
        try { $tcp.ConnectAsync([System.Net.IPAddress]::Loopback, $Port).Wait(2000) } catch { $false } finally { $tcp.Dispose() }
    }
}

Describe 'Servers and runspaces' {
    It 'a server started in a thread job is not in the session''s Get-Job, and stops when the job''s runspace ends' {
        $before = @(Get-Job | ForEach-Object InstanceId)
        $job = Start-ThreadJob -ArgumentList $modulePath -ScriptBlock {
            param($ModulePath)
            Import-Module $ModulePath
            $server = Start-ChatrmServer -Port 0 -Name 'in-a-thread-job'
            [pscustomobject]@{ Port = $server.Port; Seen = @(Get-Job -Name 'in-a-thread-job').Count }
        }
        try {
            $result = $job | Wait-Job -Timeout 30 | Receive-Job
            $result.Seen | Should -Be 1 -Because 'the thread job sees its own server'
            @(Get-Job | Where-Object { $_.InstanceId -notin $before -and $_.PSJobTypeName -eq 'ChatrmServer' }) | Should -HaveCount 0
            @(Get-Job -Name 'in-a-thread-job' -ErrorAction SilentlyContinue) | Should -HaveCount 0
        }
        finally {
            $job | Remove-Job -Force
        }

        Wait-Until { -not (Test-Listening $result.Port) } -Because 'the thread job''s server stops with its runspace'
    }

    It 'Stop-ChatrmServer without arguments in a thread job stops only that runspace''s servers' {
        $server = New-TestServer -Options @{ Name = 'the-session-s-own' }
        try {
            $job = Start-ThreadJob -ArgumentList $modulePath -ScriptBlock {
                param($ModulePath)
                Import-Module $ModulePath
                $mine = Start-ChatrmServer -Port 0
                $stopped = @(Stop-ChatrmServer -PassThru -Confirm:$false)
                $named = @(Stop-ChatrmServer -Name 'the-session-s-own' -PassThru -Confirm:$false -ErrorAction SilentlyContinue)
                [pscustomobject]@{ Stopped = $stopped.Count; Named = $named.Count; MineState = "$($mine.JobStateInfo.State)" }
            }
            $result = $job | Wait-Job -Timeout 30 | Receive-Job
            $job | Remove-Job -Force
            $result.Stopped | Should -Be 1
            $result.MineState | Should -Be 'Stopped'
            $result.Named | Should -Be 0 -Because 'the session''s server is not the thread job''s to stop'
            "$($server.JobStateInfo.State)" | Should -Be 'Running'
            Test-Listening $server.Port | Should -BeTrue
        }
        finally {
            $server | Remove-TestServer
        }
    }
}
