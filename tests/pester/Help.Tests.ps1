# Get-Help for every cmdlet, built from help/*.md into the module's MAML: complete, true to the cmdlets,
# and with examples that run as they stand (help/README.md says how examples are written and marked).

BeforeDiscovery {
    . $PSScriptRoot/TestHelpers.ps1
    Import-ChatrmTestModule
    # Every cmdlet the built module exports, including any that a list in the tests does not name yet.
    $cmdlets = @(Get-Command -Module Chatrm -CommandType Cmdlet | Sort-Object Name | ForEach-Object { @{ Name = $_.Name } })
}

BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    Import-ChatrmTestModule

    $script:Common = [System.Management.Automation.PSCmdlet]::CommonParameters + [System.Management.Automation.PSCmdlet]::OptionalCommonParameters

    # The parameters a user sees: the cmdlet's own, without the common ones (-WhatIf and -Confirm included).
    function Get-OwnParameter {
        param([System.Management.Automation.CommandInfo] $Command)
        @($Command.Parameters.Values | Where-Object Name -NotIn $Common)
    }

    function Get-ParameterHelp {
        param($Help)
        @($Help.parameters.parameter | Where-Object { $null -ne $_ })
    }

    function Get-HelpText {
        param($TextItems)
        (@($TextItems) | ForEach-Object { $_.Text }) -join "`n"
    }

    # 'interactive' examples wait for a person; help/README.md defines the marker.
    function Test-InteractiveExample {
        param($Example)
        $Example.title -match '\(interactive\)\s*-*\s*$'
    }

    # The fenced blocks in the remarks of a help file's examples (each example's first block is its code).
    function Get-RemarkBlock {
        param([string] $Name)
        $lines = [System.IO.File]::ReadAllLines((Join-Path $PSScriptRoot "../../help/$Name.md"))
        $inExamples = $false; $inFence = $false; $fencesInExample = 0; $block = $null
        foreach ($line in $lines) {
            if ($line -match '^## ') { $inExamples = $line -eq '## EXAMPLES'; continue }
            if (-not $inExamples) { continue }
            if ($line -match '^### ') { $fencesInExample = 0; continue }
            if ($line -match '^```') {
                if ($inFence) {
                    if ($fencesInExample -gt 1) { , $block.ToArray() }
                    $inFence = $false
                }
                else {
                    $inFence = $true; $fencesInExample++; $block = [System.Collections.Generic.List[string]]::new()
                }
                continue
            }
            if ($inFence) { $block.Add($line) }
        }
    }

    function Get-Indent([string] $Line) { $Line.Length - $Line.TrimStart(' ').Length }

    # The examples with code that does not wait for a person.
    function Get-RunnableExample {
        param($Help)
        @($Help.examples.example) | Where-Object { $null -ne $_ -and $_.code -and -not (Test-InteractiveExample $_) }
    }
}

Describe 'Get-Help <Name>' -ForEach $cmdlets {
    BeforeAll {
        $command = Get-Command -Name $Name -Module Chatrm -ErrorAction Stop
        $help = Get-Help -Name $Name -Full -ErrorAction Stop
        $helpParameters = Get-ParameterHelp $help
    }

    It 'comes from the module''s help file, not from the cmdlet''s metadata' {
        # Without a help file Get-Help makes a synopsis of the syntax and has no description.
        $help.PSObject.TypeNames | Should -Contain 'MamlCommandHelpInfo'
        $help.description | Should -Not -BeNullOrEmpty
    }

    It 'has a synopsis of its own' {
        $help.Synopsis | Should -Not -BeNullOrEmpty
        $help.Synopsis | Should -Not -BeLike "$Name *"
    }

    It 'has a description' {
        (Get-HelpText $help.description).Length | Should -BeGreaterThan 40
    }

    It 'has at least one example, each with code and remarks' {
        $examples = @($help.examples.example)
        $examples.Count | Should -BeGreaterThan 0
        foreach ($example in $examples) {
            $example.code | Should -Not -BeNullOrEmpty -Because $example.title
            (Get-HelpText $example.remarks).Trim() | Should -Not -BeNullOrEmpty -Because $example.title
        }
    }

    It 'shows the blocks in its examples'' remarks with their own layout' {
        # Get-Help trims each paragraph; a block whose first line is indented (a table's header) must keep it.
        $shown = @((Get-Help -Name $Name -Examples | Out-String -Width 250) -split "\r?\n" | ForEach-Object { ($_ -replace [string][char]0x200B, '').TrimEnd() })
        foreach ($block in @(Get-RemarkBlock $Name)) {
            $wanted = @($block | Where-Object { $_.Trim() })
            if ($wanted.Count -lt 2) { continue }
            $start = @(0..($shown.Count - 1) | Where-Object { $shown[$_].Trim() -ceq $wanted[0].Trim() })
            $start.Count | Should -BeGreaterThan 0 -Because "Get-Help $Name -Examples shows '$($wanted[0].Trim())'"
            $at = $start[0]
            $shownLines = @($shown[$at..($shown.Count - 1)] | Where-Object { $_.Trim() } | Select-Object -First $wanted.Count)
            for ($i = 1; $i -lt $wanted.Count; $i++) {
                $shownLines[$i].Trim() | Should -BeExactly $wanted[$i].Trim()
                ((Get-Indent $shownLines[$i]) - (Get-Indent $shownLines[0])) | Should -Be ((Get-Indent $wanted[$i]) - (Get-Indent $wanted[0])) -Because "line $($i + 1) of a block in $Name's examples keeps its place under the first: '$($wanted[$i])'"
            }
        }
    }

    It 'has at least one example that runs without a person' {
        @(Get-RunnableExample $help).Count | Should -BeGreaterThan 0
    }

    It 'documents every parameter, each with a description' {
        $documented = @($helpParameters.name)
        foreach ($parameter in (Get-OwnParameter $command)) {
            $documented | Should -Contain $parameter.Name -Because "-$($parameter.Name) is a parameter of $Name"
            $entry = $helpParameters | Where-Object name -EQ $parameter.Name
            (Get-HelpText $entry.description).Trim() | Should -Not -BeNullOrEmpty -Because "-$($parameter.Name) needs a description"
        }
    }

    It 'documents no parameter the cmdlet does not have' {
        foreach ($name in $helpParameters.name) {
            $command.Parameters.Keys | Should -Contain $name -Because "the help documents -$name"
        }
    }

    It 'documents each parameter''s type, position, whether it is required and what it takes from the pipeline' {
        foreach ($entry in $helpParameters) {
            $metadata = $command.Parameters[$entry.name]
            $sets = @($metadata.ParameterSets.Values)
            $because = "-$($entry.name) of $Name"

            $entry.type.name | Should -Be $metadata.ParameterType.Name -Because $because

            $required = [bool]($sets | Where-Object IsMandatory)
            $entry.required | Should -Be $required.ToString().ToLowerInvariant() -Because $because

            $positions = @($sets | Where-Object Position -GE 0 | ForEach-Object Position | Sort-Object -Unique)
            $expectedPosition = if ($positions.Count -gt 0) { "$($positions[0])" } else { 'named' }
            $entry.position | Should -Be $expectedPosition -Because $because

            [bool]($sets | Where-Object ValueFromPipeline) | Should -Be ($entry.pipelineInput -match 'ByValue') -Because "$because (pipeline input by value)"
            [bool]($sets | Where-Object ValueFromPipelineByPropertyName) | Should -Be ($entry.pipelineInput -match 'ByPropertyName') -Because "$because (pipeline input by property name)"
        }
    }

    It 'shows one syntax per parameter set, with that set''s parameters' {
        $syntaxes = @($help.syntax.syntaxItem | ForEach-Object { , @($_.parameter.name | Where-Object { $_ -and $_ -notin $Common } | Sort-Object) })
        $syntaxes.Count | Should -Be $command.ParameterSets.Count
        foreach ($set in $command.ParameterSets) {
            $names = @($set.Parameters.Name | Where-Object { $_ -notin $Common } | Sort-Object) -join ','
            @($syntaxes | ForEach-Object { $_ -join ',' }) | Should -Contain $names -Because "the parameter set $($set.Name) has $names"
        }
    }

    It 'documents its inputs and outputs, including every declared output type' {
        @($help.inputTypes.inputType.type.name | Where-Object { $_ }).Count | Should -BeGreaterThan 0
        $outputs = @($help.returnValues.returnValue.type.name | Where-Object { $_ } | ForEach-Object Trim)
        $outputs.Count | Should -BeGreaterThan 0
        foreach ($type in $command.OutputType) {
            $outputs | Should -Contain $type.Type.FullName
        }
    }
}

Describe 'The examples of Get-Help <Name>' -ForEach $cmdlets {
    BeforeAll {
        $help = Get-Help -Name $Name -Full -ErrorAction Stop
        $examples = @(Get-RunnableExample $help)
    }

    It 'run as they stand, in order, against a server on $port' {
        $jobsBefore = @(Get-Job | ForEach-Object InstanceId)
        $server = New-TestServer
        $ran = 0
        try {
            # One scope for the file's examples, so a later example can use what an earlier one made. No pwsh
            # stands in for one on the path, and Chatrm is not on the module path: an example that starts another
            # PowerShell must say how, as a user's would.
            & {
                param($port, $examples)
                $ErrorActionPreference = 'Stop'
                foreach ($example in $examples) {
                    $global:LASTEXITCODE = 0
                    try {
                        . ([scriptblock]::Create($example.code)) | Out-String -Width 200 | Out-Null
                    }
                    catch {
                        throw "$($example.title.Trim(' -')) failed: $($_.Exception.Message)"
                    }
                    if ($LASTEXITCODE) { throw "$($example.title.Trim(' -')): pwsh exited with $LASTEXITCODE" }
                }
            } $server.Port $examples
            $ran = $examples.Count
        }
        finally {
            Get-ChatrmConnection | Disconnect-ChatrmServer -ErrorAction SilentlyContinue
            Get-Job | Where-Object InstanceId -NotIn $jobsBefore | Remove-TestServer
            $server | Remove-TestServer
        }

        $ran | Should -Be $examples.Count
        $ran | Should -BeGreaterThan 0
        @(Get-ChatrmConnection).Count | Should -Be 0
    }
}
