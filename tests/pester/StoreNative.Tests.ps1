# The SQLite store's native library (e_sqlite3) ships with the module and loads inside pwsh, not only under xunit:
# pwsh's own deps.json knows nothing of the module's, so the library must sit where .NET looks for it.

BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    Import-ChatrmTestModule
    $script:Engine = [Chatrm.Engine.StoreOpenException].Assembly
    $script:Folder = Join-Path ([System.IO.Path]::GetTempPath()) ("chatrm-store-" + [guid]::NewGuid().ToString('N'))
    $null = New-Item -ItemType Directory -Path $Folder

    # The store is internal to the engine; the server opens it. Here it is reached through reflection.
    function Open-TestStore([string] $Path) {
        $store = $Engine.GetType('Chatrm.Engine.Storage.SqliteMessageStore', $true)
        $limits = [Activator]::CreateInstance($Engine.GetType('Chatrm.Engine.Storage.StoreLimits', $true))
        try {
            $store.GetMethod('Open').Invoke($null, @($Path, $limits, [System.TimeProvider]::System))
        }
        catch {
            # PowerShell wraps what the method threw (MethodInvocationException, TargetInvocationException).
            $thrown = $_.Exception
            while ($thrown.InnerException -and $thrown -isnot [Chatrm.Engine.StoreOpenException]) { $thrown = $thrown.InnerException }
            throw $thrown
        }
    }
}

AfterAll {
    Remove-Item -LiteralPath $Folder -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'The message store inside PowerShell' {
    It 'opens an SQLite store file from the imported module, and it keeps what it was given' {
        $path = Join-Path $Folder 'chatrm.db'
        $store = Open-TestStore $path
        try {
            $store.RememberUser('alice')
            $store.Flush([TimeSpan]::FromSeconds(10)) | Should -BeTrue
        }
        finally {
            $store.Dispose()
        }

        $again = Open-TestStore $path
        try {
            $again.IsKnownUser('ALICE') | Should -BeTrue
        }
        finally {
            $again.Dispose()
        }
    }

    It 'ships the native SQLite library beside the .NET 10 assemblies' {
        $moduleBase = Split-Path -Parent (Get-ChatrmTestModulePath)
        @(Get-ChildItem (Join-Path $moduleBase 'net10.0') -File | Where-Object Name -Match '^(lib)?e_sqlite3\.(so|dylib|dll)$').Count |
            Should -Be 1
    }

    It 'refuses a file that is not a store with a StoreOpenException a user can read' {
        $path = Join-Path $Folder 'notes.txt'
        Set-Content -LiteralPath $path -Value 'not a database'
        { Open-TestStore $path } | Should -Throw -ExceptionType ([Chatrm.Engine.StoreOpenException]) -ExpectedMessage '*not a Chatrm message store*'
    }
}
