# -WhatIf and -Confirm on the cmdlets that start and stop servers: with -WhatIf nothing listens and nothing
# stops; Start-ChatrmServer asks first only when $ConfirmPreference is Low, Stop-ChatrmServer from Medium.

BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    Import-ChatrmTestModule

    # A port nothing listens on, held (bound, not listening) until the file's tests end, so that nobody else is
    # given it meanwhile; a listener can still bind it, which is what the tests look for.
    $script:ReservedPorts = [System.Collections.Generic.List[object]]::new()
    function Get-FreePort {
        $reserved = New-ReservedPort
        $script:ReservedPorts.Add($reserved)
        $reserved.Port
    }

    # True when nothing listens on 127.0.0.1:$Port: we can listen there ourselves.
    function Test-PortFree {
        param([int] $Port)
        $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, $Port)
        try { $listener.Start(); $true }
        catch [System.Net.Sockets.SocketException] { $false }
        finally { $listener.Stop() }
    }

    function Get-ServerJob { @(Get-Job | Where-Object PSJobTypeName -EQ 'ChatrmServer') }

    <#
        Runs a script in a runspace of its own, which has no host to ask the user with: a cmdlet that wants
        to confirm fails there with HostFunctionNotImplemented instead of waiting for an answer.
        Returns the script's output and errors.
    #>
    function Invoke-WithoutHost {
        param([Parameter(Mandatory)] [string] $Script, [object[]] $Arguments = @())
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript("Import-Module '$(Get-ChatrmTestModulePath)'").AddStatement().AddScript($Script)
            foreach ($argument in $Arguments) { $null = $ps.AddArgument($argument) }
            $output = @(try { $ps.Invoke() } catch { $_ })
            [pscustomobject]@{ Output = $output; Errors = @($ps.Streams.Error) }
        }
        finally {
            $ps.Dispose()
        }
    }
}

AfterAll {
    foreach ($reserved in $ReservedPorts) { $reserved.Dispose() }
}

Describe 'Start-ChatrmServer -WhatIf' {
    It 'starts nothing: no job, no output, and the port stays free' {
        $port = Get-FreePort
        $before = (Get-ServerJob).Count
        $result = Start-ChatrmServer -Port $port -WhatIf
        $result | Should -BeNullOrEmpty
        (Get-ServerJob).Count | Should -Be $before
        Test-PortFree $port | Should -BeTrue
    }

    It 'starts nothing when $WhatIfPreference is set' {
        $port = Get-FreePort
        $before = (Get-ServerJob).Count
        $WhatIfPreference = $true
        try { $result = Start-ChatrmServer -Port $port } finally { $WhatIfPreference = $false }
        $result | Should -BeNullOrEmpty
        (Get-ServerJob).Count | Should -Be $before
        Test-PortFree $port | Should -BeTrue
    }

    It 'still starts a server with -WhatIf:$false' {
        $server = Start-ChatrmServer -Port 0 -Address 127.0.0.1 -WhatIf:$false
        try {
            $server.State | Should -Be 'Running'
            Test-PortFree $server.Port | Should -BeFalse
        }
        finally {
            $server | Remove-TestServer
        }
    }
}

Describe 'Start-ChatrmServer and $ConfirmPreference' {
    It 'asks first when $ConfirmPreference is Low, and listens on nothing when it cannot ask' {
        $port = Get-FreePort
        $result = Invoke-WithoutHost -Arguments $port -Script {
            param($Port)
            $ConfirmPreference = 'Low'
            Start-ChatrmServer -Port $Port -Address 127.0.0.1
        }.ToString()
        $result.Errors.FullyQualifiedErrorId | Should -BeLike 'HostFunctionNotImplemented,*StartChatrmServer*'
        Test-PortFree $port | Should -BeTrue
    }

    It 'does not ask when $ConfirmPreference is Medium (its impact is Low)' {
        $result = Invoke-WithoutHost -Script {
            $ConfirmPreference = 'Medium'
            # Its state is read here: the server belongs to this runspace and stops when it is disposed.
            $job = Start-ChatrmServer -Port 0 -Address 127.0.0.1
            [pscustomobject]@{ Job = $job; State = "$($job.JobStateInfo.State)" }
        }.ToString()
        try {
            $result.Errors | Should -BeNullOrEmpty
            $result.Output.Count | Should -Be 1
            $result.Output[0].State | Should -Be 'Running'
        }
        finally {
            $result.Output.Job | Where-Object { $_ -is [System.Management.Automation.Job] } | Remove-TestServer
        }
    }
}

Describe 'Stop-ChatrmServer -WhatIf and -Confirm' {
    BeforeEach {
        $server = New-TestServer
        $alice = Connect-TestUser $server alice
        $bob = Connect-TestUser $server bob
    }

    AfterEach {
        Disconnect-AllTestUsers
        $server | Remove-TestServer
    }

    It 'stops nothing with -WhatIf, by job, by name or all, and the users go on chatting' {
        Stop-ChatrmServer -Job $server -WhatIf -PassThru | Should -BeNullOrEmpty
        Stop-ChatrmServer -Name $server.Name -WhatIf
        Stop-ChatrmServer -WhatIf
        $server | Stop-ChatrmServer -WhatIf

        $server.State | Should -Be 'Running'
        Test-PortFree $server.Port | Should -BeFalse
        Assert-UsersCanChat -A $alice -B $bob
    }

    It 'asks first when $ConfirmPreference is Medium, and stops nothing when it cannot ask' {
        $result = Invoke-WithoutHost -Arguments $server -Script {
            param($Job)
            $ConfirmPreference = 'Medium'
            Stop-ChatrmServer -Job $Job
        }.ToString()
        $result.Errors.FullyQualifiedErrorId | Should -BeLike 'HostFunctionNotImplemented,*StopChatrmServer*'
        $server.State | Should -Be 'Running'
        Assert-UsersCanChat -A $alice -B $bob
    }

    It 'does not ask when $ConfirmPreference is High, the default' {
        $result = Invoke-WithoutHost -Arguments $server -Script {
            param($Job)
            $ConfirmPreference = 'High'
            Stop-ChatrmServer -Job $Job -PassThru
        }.ToString()
        $result.Errors | Should -BeNullOrEmpty
        $result.Output.Count | Should -Be 1
        $server.State | Should -Be 'Stopped'
        # It reconnects by default, so the drop shows as Reconnecting, not Closed.
        Wait-Until { "$($alice.State)" -ne 'Open' } -Because "alice's connection to drop with the server"
    }

    It 'stops with -Confirm:$false even when $ConfirmPreference is Low' {
        $ConfirmPreference = 'Low'
        try { Stop-ChatrmServer -Job $server -Confirm:$false } finally { $ConfirmPreference = 'High' }
        $server.State | Should -Be 'Stopped'
        Test-PortFree $server.Port | Should -BeTrue
    }
}

Describe 'Disconnect-ChatrmServer -WhatIf' {
    BeforeEach {
        $server = New-TestServer
        $alice = Connect-TestUser $server alice
    }

    AfterEach {
        Disconnect-AllTestUsers
        $server | Remove-TestServer
    }

    It 'closes nothing with -WhatIf, and the connection stays in the session' {
        $out = Disconnect-ChatrmServer $alice -WhatIf -PassThru
        $out | Should -BeNullOrEmpty
        "$($alice.State)" | Should -Be 'Open'
        @(Get-ChatrmConnection).Id | Should -Contain $alice.Id
    }

    It 'does not ask when $ConfirmPreference is Medium (its impact is Low), and closes the connection' {
        & { $ConfirmPreference = 'Medium'; Disconnect-ChatrmServer $alice }
        "$($alice.State)" | Should -Be 'Closed'
    }
}
