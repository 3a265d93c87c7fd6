# The module's two builds: PowerShell 7 loads the .NET 10 one, compiled ReadyToRun; the netstandard2.0 one,
# for Windows PowerShell 5.1, is laid out beside it and is what the manifest names for the Desktop edition.

BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    Import-ChatrmTestModule
    $script:ManifestPath = Get-ChatrmTestModulePath
    $script:ModuleBase = Split-Path -Parent $ManifestPath

    # What an assembly file says of itself, read from its metadata without loading it.
    function Get-AssemblyFacts([string] $Path) {
        $stream = [System.IO.File]::OpenRead($Path)
        try {
            $pe = [System.Reflection.PortableExecutable.PEReader]::new($stream)
            $reader = [System.Reflection.Metadata.PEReaderExtensions]::GetMetadataReader($pe)
            $framework = $null
            foreach ($handle in $reader.GetAssemblyDefinition().GetCustomAttributes()) {
                $attribute = $reader.GetCustomAttribute($handle)
                if ($attribute.Constructor.Kind -ne [System.Reflection.Metadata.HandleKind]::MemberReference) { continue }
                $parent = $reader.GetMemberReference([System.Reflection.Metadata.MemberReferenceHandle]$attribute.Constructor).Parent
                if ($parent.Kind -ne [System.Reflection.Metadata.HandleKind]::TypeReference) { continue }
                $type = $reader.GetTypeReference([System.Reflection.Metadata.TypeReferenceHandle]$parent)
                if ($reader.GetString($type.Name) -ne 'TargetFrameworkAttribute') { continue }
                # The blob: prolog 0x0001, then the constructor's one string argument.
                $blob = $reader.GetBlobReader($attribute.Value)
                $null = $blob.ReadUInt16()
                $framework = $blob.ReadSerializedString()
            }
            [pscustomobject]@{
                TargetFramework = $framework
                # A ReadyToRun image carries native code, found through the CLI header's ManagedNativeHeader.
                ReadyToRun      = $pe.PEHeaders.CorHeader.ManagedNativeHeaderDirectory.Size -gt 0
            }
        }
        finally {
            $stream.Dispose()
        }
    }
}

Describe 'The build PowerShell 7 loads' {
    It 'is the .NET 10 build, from the net10.0 folder, for the cmdlets and the engine alike' {
        $PSVersionTable.PSEdition | Should -Be 'Core'
        foreach ($name in 'Chatrm', 'Chatrm.Engine') {
            $assembly = [System.AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { $_.GetName().Name -eq $name }
            @($assembly).Count | Should -Be 1 -Because "one $name is loaded"
            $framework = $assembly.GetCustomAttributes([System.Runtime.Versioning.TargetFrameworkAttribute], $false)[0].FrameworkName
            $framework | Should -Be '.NETCoreApp,Version=v10.0'
            $assembly.Location | Should -Be (Join-Path $ModuleBase "net10.0/$name.dll")
        }
        (Get-Command Start-ChatrmServer).ImplementingType.Assembly.Location | Should -Be (Join-Path $ModuleBase 'net10.0/Chatrm.dll')
    }

    It 'is compiled ReadyToRun' {
        foreach ($name in 'Chatrm', 'Chatrm.Engine') {
            (Get-AssemblyFacts (Join-Path $ModuleBase "net10.0/$name.dll")).ReadyToRun | Should -BeTrue -Because "$name.dll ships precompiled"
        }
    }

    It 'uses the framework''s own System.Text.Json, shipping none of its own' {
        $json = [System.Text.Json.JsonSerializer].Assembly
        $json.Location | Should -BeLike "$([System.Runtime.InteropServices.RuntimeEnvironment]::GetRuntimeDirectory())*"
        Test-Path -LiteralPath (Join-Path $ModuleBase 'net10.0/System.Text.Json.dll') | Should -BeFalse
    }
}

Describe 'The build for Windows PowerShell 5.1' {
    It 'is a netstandard2.0 build, in IL, beside the .NET 10 one' {
        foreach ($name in 'Chatrm', 'Chatrm.Engine') {
            $facts = Get-AssemblyFacts (Join-Path $ModuleBase "netstandard2.0/$name.dll")
            $facts.TargetFramework | Should -Be '.NETStandard,Version=v2.0'
            $facts.ReadyToRun | Should -BeFalse
        }
        # What .NET Framework lacks and netstandard2.0 needs.
        Test-Path -LiteralPath (Join-Path $ModuleBase 'netstandard2.0/System.Text.Json.dll') | Should -BeTrue
    }

    It 'is the one the manifest names for the Desktop edition, and the .NET 10 one for Core' {
        # The manifest's own expressions, evaluated for each edition.
        $ast = [System.Management.Automation.Language.Parser]::ParseFile($ManifestPath, [ref]$null, [ref]$null)
        $table = $ast.Find({ param($node) $node -is [System.Management.Automation.Language.HashtableAst] }, $false)
        $entries = @{}
        foreach ($pair in $table.KeyValuePairs) { $entries[$pair.Item1.Value] = $pair.Item2.Extent.Text }

        foreach ($case in @(@{ Edition = 'Desktop'; Root = 'netstandard2.0/Chatrm.dll'; Version = '5.1' },
                @{ Edition = 'Core'; Root = 'net10.0/Chatrm.dll'; Version = '7.6' })) {
            $root = & ([scriptblock]::Create($entries['RootModule'].Replace('$PSEdition', "'$($case.Edition)'")))
            $root | Should -Be $case.Root
            Test-Path -LiteralPath (Join-Path $ModuleBase $root) | Should -BeTrue
            & ([scriptblock]::Create($entries['PowerShellVersion'].Replace('$PSEdition', "'$($case.Edition)'"))) | Should -Be $case.Version
        }
    }
}
