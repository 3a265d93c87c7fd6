# The built module as a user installs it: what it exports and what its manifest says.

BeforeDiscovery {
    # The -ForEach below is expanded at discovery, before BeforeAll runs.
    . $PSScriptRoot/TestHelpers.ps1
    $expectedCmdlets = Get-ExpectedChatrmCmdlets
}

BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    Import-ChatrmTestModule
    $script:ManifestPath = Get-ChatrmTestModulePath
    $script:Module = Get-Module Chatrm
    $script:ExpectedCmdlets = Get-ExpectedChatrmCmdlets
}

Describe 'The Chatrm module' {
    It 'is loaded from the built module folder' {
        $Module | Should -Not -BeNullOrEmpty
        $Module.ModuleBase | Should -Be (Split-Path -Parent $ManifestPath)
    }

    It 'exports exactly the expected cmdlets' {
        @($Module.ExportedCmdlets.Keys | Sort-Object) | Should -Be $ExpectedCmdlets
    }

    It 'exports no functions, aliases or variables besides the cmdlets' {
        # Everything is a cmdlet: anything else exported would be an accident of the build.
        $Module.ExportedFunctions.Count | Should -Be 0
        $Module.ExportedAliases.Count | Should -Be 0
        $Module.ExportedVariables.Count | Should -Be 0
        @(Get-Command -Module Chatrm).Count | Should -Be $ExpectedCmdlets.Count
    }

    It 'has a manifest that passes Test-ModuleManifest and lists the same cmdlets' {
        $manifest = Test-ModuleManifest -Path $ManifestPath -ErrorAction Stop
        $manifest.Name | Should -Be 'Chatrm'
        @($manifest.ExportedCmdlets.Keys | Sort-Object) | Should -Be $ExpectedCmdlets
    }

    It 'has its version stamped by the build, matching the assembly' {
        # The source manifest says 0.0.0; build.ps1 must replace it with the real version.
        $Module.Version | Should -Not -Be ([version]'0.0.0')
        $assembly = $Module.ImplementingAssembly.GetName().Version
        "$($Module.Version.Major).$($Module.Version.Minor).$($Module.Version.Build)" |
            Should -Be "$($assembly.Major).$($assembly.Minor).$($assembly.Build)"
    }

    # Enter-ChatrmChat talks to the person at the host and puts nothing on the pipeline.
    It '<_> declares an OutputType' -ForEach ($expectedCmdlets | Where-Object { $_ -ne 'Enter-ChatrmChat' }) {
        $command = Get-Command -Name $_ -Module Chatrm -ErrorAction Stop
        $command.CommandType | Should -Be 'Cmdlet'
        $command.OutputType.Count | Should -BeGreaterThan 0
        # The declared type must be a real, loadable type, not just a name.
        $command.OutputType[0].Type | Should -Not -BeNullOrEmpty
    }

    It 'has no exported cmdlet without an OutputType, including any not listed above' {
        $missing = @(Get-Command -Module Chatrm | Where-Object { $_.OutputType.Count -eq 0 -and $_.Name -ne 'Enter-ChatrmChat' }).Name
        $missing | Should -BeNullOrEmpty
    }
}
