# Sustained traffic through healthy connections. The send-queue bounds exist to cut off a peer that
# stopped reading; a peer that keeps up must never meet them, however many bytes go by.

BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    Import-ChatrmTestModule

    $script:Chunk = 'z' * 15KB   # under the server's 16 KiB line limit
    $script:Batches = 100        # 100 x 50 x 15 KiB = about 75 MB, many times the 4 MiB queue bound
}

Describe 'Megabytes through connections that keep up' {
    BeforeEach {
        $server = New-TestServer
        $alice = Connect-TestUser $server alice
        $bob = Connect-TestUser $server bob
    }

    AfterEach {
        Disconnect-AllTestUsers
        $server | Remove-TestServer
    }

    It 'never disconnects a reader that keeps up as too slow' {
        $carol = New-RawClient -Port $server.Port -Name carol
        try {
            $line = 'carol_bob_' + $Chunk
            for ($b = 1; $b -le $Batches; $b++) {
                for ($i = 0; $i -lt 50; $i++) { Send-RawLine $carol $line }
                Send-RawLine $carol "carol_bob_marker $b"
                # bob reads everything before the next batch: he is as prompt a reader as there is.
                try {
                    $got = @(Receive-ChatrmMessage -Connection $bob -Wait -Count 51 -Timeout 5)
                }
                catch {
                    $why = @(Receive-Job -Job $server) | Where-Object { "$($_.Kind)" -eq 'UserLeft' -and $_.UserName -eq 'bob' }
                    throw "bob was disconnected in batch $b of $Batches ($($why.Detail)): $_"
                }
                $got.Count | Should -Be 51 -Because "bob must get all of batch $b"
                $got[-1].Text | Should -Be "marker $b"
            }
        }
        finally {
            $carol | Close-RawClient
        }

        $server.Users | Should -Contain 'bob'
    }

    It 'never refuses a cmdlet sender whose server keeps up' {
        for ($b = 1; $b -le $Batches; $b++) {
            1..50 | ForEach-Object { $Chunk } | Send-ChatrmMessage -Connection $alice -To bob -ErrorAction SilentlyContinue -ErrorVariable +refused
            $refused | Should -HaveCount 0 -Because "alice's sends in batch $b were all written to a server that reads everything"
            Send-ChatrmMessage -Connection $alice -To bob -Text "marker $b"
            $got = @(Receive-ChatrmMessage -Connection $bob -Wait -Count 51 -Timeout 5)
            $got.Count | Should -Be 51
            $got[-1].Text | Should -Be "marker $b"
        }
    }
}
