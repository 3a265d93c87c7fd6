<#
.SYNOPSIS
    Turns the cmdlet help written as markdown in help/<Cmdlet-Name>.md into the MAML file Get-Help reads.
.DESCRIPTION
    help/README.md describes the markdown layout this reads. Each help/<Verb-Noun>.md becomes one
    command:command element of one MAML file (for a binary module: <Assembly>.dll-Help.xml in a culture
    folder beside the module). The markdown is the source; the MAML is built, never edited.

    Syntax is built from the parameters: each parameter set named under "## SYNTAX" gets the parameters
    whose "Parameter Sets" line names it or says (All). The code block under each set's heading is for
    people reading the markdown and is not read here.

    A file that lacks a section Get-Help needs (SYNOPSIS, DESCRIPTION, EXAMPLES, PARAMETERS, a parameter's
    yaml block, ...) stops the conversion with an error that names the file, so bad help fails the build.
.EXAMPLE
    ./tools/ConvertTo-Maml.ps1 -Path ./help -OutputPath ./out/Chatrm/en-US/Chatrm.dll-Help.xml
#>
[CmdletBinding()]
param(
    # The folder holding <Verb-Noun>.md files.
    [Parameter(Mandatory)] [string] $Path,

    # The MAML file to write.
    [Parameter(Mandatory)] [string] $OutputPath
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0

$ns = @{
    msh     = 'http://msh'
    maml    = 'http://schemas.microsoft.com/maml/2004/10'
    command = 'http://schemas.microsoft.com/maml/dev/command/2004/10'
    dev     = 'http://schemas.microsoft.com/maml/dev/2004/10'
}

# ---- Reading the markdown ------------------------------------------------------------------------------

# Splits lines into sections at headings of one level ('## ' or '### '), ignoring '#' inside code fences.
# Returns the lines before the first heading as .Lead and each section as { Title; Lines }.
function Split-Heading {
    param([string[]] $Lines, [int] $Level)

    $marker = ('#' * $Level) + ' '
    $lead = [System.Collections.Generic.List[string]]::new()
    $sections = [System.Collections.Generic.List[object]]::new()
    $current = $lead
    $inFence = $false
    foreach ($line in $Lines) {
        if ($line -match '^\s*```') { $inFence = -not $inFence }
        if (-not $inFence -and $line.StartsWith($marker)) {
            $current = [System.Collections.Generic.List[string]]::new()
            $sections.Add([pscustomobject]@{ Title = $line.Substring($marker.Length).Trim(); Lines = $current })
            continue
        }
        $current.Add($line)
    }

    [pscustomobject]@{ Lead = $lead.ToArray(); Sections = $sections.ToArray() }
}

# Splits lines into text and fenced code blocks, in order: { Kind = 'Text'|'Code'; Info; Lines }.
function Split-Fence {
    param([string[]] $Lines)

    $blocks = [System.Collections.Generic.List[object]]::new()
    $current = $null
    foreach ($line in $Lines) {
        if ($line -match '^\s*```(.*)$') {
            if ($null -ne $current -and $current.Kind -eq 'Code') {
                $blocks.Add($current)
                $current = $null
            }
            else {
                if ($null -ne $current) { $blocks.Add($current) }
                $current = [pscustomobject]@{ Kind = 'Code'; Info = $Matches[1].Trim(); Lines = [System.Collections.Generic.List[string]]::new() }
            }
            continue
        }
        if ($null -eq $current) {
            $current = [pscustomobject]@{ Kind = 'Text'; Info = ''; Lines = [System.Collections.Generic.List[string]]::new() }
        }
        $current.Lines.Add($line)
    }
    if ($null -ne $current) {
        if ($current.Kind -eq 'Code') { throw "a code fence is not closed" }
        $blocks.Add($current)
    }

    return $blocks.ToArray()
}

# A fenced block's lines as one paragraph that keeps its layout in Get-Help. Get-Help trims each paragraph,
# which takes the first line's indentation and no other's (a table's header would lose its place over its
# columns): the indentation every line shares goes, and what the first line still has is kept behind a zero
# width space, which Trim leaves alone and a terminal does not show.
function Format-Preformatted {
    param([string[]] $Lines)

    $shared = @($Lines | Where-Object { $_.Trim() } | ForEach-Object { $_.Length - $_.TrimStart(' ').Length } | Measure-Object -Minimum).Minimum
    if (-not $shared) { $shared = 0 }
    $kept = @($Lines | ForEach-Object { if ($_.Trim()) { $_.Substring($shared) } else { '' } })
    if ($kept.Count -gt 0 -and $kept[0] -match '^\s') { $kept[0] = [string][char]0x200B + $kept[0] }
    return $kept -join "`n"
}

# Markdown text to the paragraphs of maml:para: blank lines separate paragraphs, a list item starts one,
# lines of a paragraph join with spaces, and a fenced block is one paragraph kept line for line.
function ConvertTo-Paragraph {
    param([string[]] $Lines)

    $paragraphs = [System.Collections.Generic.List[string]]::new()
    foreach ($block in (Split-Fence $Lines)) {
        if ($block.Kind -eq 'Code') {
            # Get-Help indents every line of a paragraph alike, so the block keeps its own layout.
            $paragraphs.Add((Format-Preformatted @($block.Lines)))
            continue
        }

        $words = [System.Collections.Generic.List[string]]::new()
        foreach ($line in @($block.Lines) + '') {
            $text = $line.Trim()
            if ($text -eq '' -or $text -match '^([-*]|\d+\.)\s') {
                if ($words.Count -gt 0) { $paragraphs.Add($words -join ' '); $words.Clear() }
            }
            if ($text -ne '') { $words.Add($text) }
        }
    }

    return $paragraphs.ToArray()
}

function Get-Section {
    param($Parsed, [string] $Title, [switch] $Optional)

    $found = @($Parsed.Sections | Where-Object Title -EQ $Title)
    if ($found.Count -eq 0) {
        if ($Optional) { return $null }
        throw "it has no '## $Title' section"
    }
    return $found[0]
}

# The "Key: Value" lines of a parameter's yaml block.
function ConvertFrom-SimpleYaml {
    param([string[]] $Lines)

    $map = [ordered]@{}
    foreach ($line in $Lines) {
        if ($line -match '^\s*([^:]+):\s*(.*)$') { $map[$Matches[1].Trim()] = $Matches[2].Trim() }
    }
    return $map
}

function Read-CommandHelp {
    param([string] $File)

    $lines = [System.IO.File]::ReadAllLines($File)
    $top = Split-Heading $lines 1
    if ($top.Sections.Count -ne 1) { throw "it must have exactly one '# Verb-Noun' title" }
    $name = $top.Sections[0].Title
    $expected = [System.IO.Path]::GetFileNameWithoutExtension($File)
    if ($name -ne $expected) { throw "its title '$name' does not match its file name '$expected'" }

    $doc = Split-Heading $top.Sections[0].Lines 2

    $synopsis = @(ConvertTo-Paragraph (Get-Section $doc 'SYNOPSIS').Lines)
    $description = @(ConvertTo-Paragraph (Get-Section $doc 'DESCRIPTION').Lines)
    if ($synopsis.Count -eq 0) { throw 'its SYNOPSIS is empty' }
    if ($description.Count -eq 0) { throw 'its DESCRIPTION is empty' }

    $sets = @((Split-Heading (Get-Section $doc 'SYNTAX').Lines 3).Sections | ForEach-Object { ($_.Title -replace '\(Default\)', '').Trim() })
    if ($sets.Count -eq 0) { throw "its SYNTAX names no parameter set ('### SetName' headings)" }

    $examples = foreach ($section in (Split-Heading (Get-Section $doc 'EXAMPLES').Lines 3).Sections) {
        $blocks = @(Split-Fence $section.Lines)
        $code = @($blocks | Where-Object Kind -EQ 'Code')
        if ($code.Count -eq 0) { throw "its example '$($section.Title)' has no code block" }
        $first = [array]::IndexOf($blocks, $code[0])
        if ($first -gt 0 -and @(ConvertTo-Paragraph @($blocks[0].Lines)).Count -gt 0) {
            throw "its example '$($section.Title)' has text before its code; Get-Help shows remarks after the code, so put it there"
        }
        $after = if ($first + 1 -lt $blocks.Count) {
            foreach ($block in $blocks[($first + 1)..($blocks.Count - 1)]) {
                if ($block.Kind -eq 'Code') { '```' + $block.Info; $block.Lines; '```' } else { $block.Lines }
            }
        }
        [pscustomobject]@{
            Title   = $section.Title
            Code    = ($code[0].Lines -join "`n").Trim()
            Remarks = @(ConvertTo-Paragraph @($after))
        }
    }
    if (@($examples).Count -eq 0) { throw "its EXAMPLES has no '### Example' heading" }

    $parameters = foreach ($section in (Split-Heading (Get-Section $doc 'PARAMETERS').Lines 3).Sections) {
        if ($section.Title -eq 'CommonParameters') { continue }
        if ($section.Title -notmatch '^-(\w+)$') { throw "its parameter heading '$($section.Title)' is not '### -Name'" }
        $parameterName = $Matches[1]
        $blocks = @(Split-Fence $section.Lines)
        $yaml = @($blocks | Where-Object { $_.Kind -eq 'Code' -and $_.Info -eq 'yaml' })
        if ($yaml.Count -ne 1) { throw "its parameter -$parameterName needs one yaml block" }
        $fields = ConvertFrom-SimpleYaml $yaml[0].Lines
        foreach ($key in 'Type', 'Parameter Sets', 'Required', 'Position', 'Accept pipeline input') {
            if (-not $fields.Contains($key)) { throw "its parameter -$parameterName has no '$key' in its yaml block" }
        }
        $text = foreach ($block in $blocks) { if ($block.Kind -eq 'Text') { $block.Lines } }
        $paramSets = @($fields['Parameter Sets'] -split ',' | ForEach-Object Trim | Where-Object { $_ })
        foreach ($set in $paramSets) {
            if ($set -ne '(All)' -and $set -notin $sets) { throw "its parameter -$parameterName names a set '$set' that SYNTAX does not" }
        }
        [pscustomobject]@{
            Name           = $parameterName
            Description    = @(ConvertTo-Paragraph @($text))
            Type           = $fields['Type']
            Sets           = $paramSets
            Aliases        = $(if ($fields.Contains('Aliases') -and $fields['Aliases']) { $fields['Aliases'] } else { 'none' })
            AcceptedValues = @(if ($fields.Contains('Accepted values') -and $fields['Accepted values']) { $fields['Accepted values'] -split ',' | ForEach-Object Trim })
            Required       = $fields['Required'] -eq 'True'
            Position       = $(if ($fields['Position'] -eq 'Named') { 'named' } else { $fields['Position'] })
            Default        = $(if ($fields.Contains('Default value')) { $fields['Default value'] } else { 'None' })
            Pipeline       = $fields['Accept pipeline input']
            Globbing       = $fields.Contains('Accept wildcard characters') -and $fields['Accept wildcard characters'] -eq 'True'
        }
    }

    # INPUTS / OUTPUTS: one '### Type' heading each, with its description below.
    $typed = {
        param($section)
        if ($null -eq $section) { return }
        foreach ($item in (Split-Heading $section.Lines 3).Sections) {
            [pscustomobject]@{ Type = $item.Title; Description = @(ConvertTo-Paragraph $item.Lines) }
        }
    }

    $notes = Get-Section $doc 'NOTES' -Optional
    $related = Get-Section $doc 'RELATED LINKS' -Optional
    $links = if ($related) {
        foreach ($line in $related.Lines) {
            if ($line -match '^\s*[-*]\s*\[([^\]]+)\]\(([^)]*)\)') {
                # A link to a sibling .md is a link to that cmdlet's help: Get-Help shows the name alone.
                [pscustomobject]@{ Text = $Matches[1]; Uri = $(if ($Matches[2] -match '^https?://') { $Matches[2] } else { '' }) }
            }
        }
    }

    [pscustomobject]@{
        Name        = $name
        Synopsis    = $synopsis
        Description = $description
        Sets        = $sets
        Examples    = @($examples)
        Parameters  = @($parameters)
        Inputs      = @(& $typed (Get-Section $doc 'INPUTS'))
        Outputs     = @(& $typed (Get-Section $doc 'OUTPUTS'))
        Notes       = @(if ($notes) { ConvertTo-Paragraph $notes.Lines })
        Links       = @($links)
    }
}

# ---- Writing MAML --------------------------------------------------------------------------------------

function Write-Element {
    param([System.Xml.XmlWriter] $Writer, [string] $Prefix, [string] $Name, [string] $Text)
    $Writer.WriteElementString($Prefix, $Name, $ns[$Prefix], $Text)
}

function Write-Para {
    param([System.Xml.XmlWriter] $Writer, [string] $Prefix, [string] $Name, [string[]] $Paragraphs)
    $Writer.WriteStartElement($Prefix, $Name, $ns[$Prefix])
    foreach ($p in $Paragraphs) { Write-Element $Writer maml para $p }
    $Writer.WriteEndElement()
}

function Write-Parameter {
    param([System.Xml.XmlWriter] $Writer, $Parameter, [bool] $Required)

    $isSwitch = $Parameter.Type -eq 'SwitchParameter'
    $w = $Writer
    $w.WriteStartElement('command', 'parameter', $ns.command)
    $w.WriteAttributeString('required', $Required.ToString().ToLowerInvariant())
    $w.WriteAttributeString('variableLength', ($Parameter.Type -like '*[[]]').ToString().ToLowerInvariant())
    $w.WriteAttributeString('globbing', $Parameter.Globbing.ToString().ToLowerInvariant())
    $w.WriteAttributeString('pipelineInput', $Parameter.Pipeline)
    $w.WriteAttributeString('position', $Parameter.Position)
    $w.WriteAttributeString('aliases', $Parameter.Aliases)
    Write-Element $w maml name $Parameter.Name
    Write-Para $w maml description $Parameter.Description
    if (@($Parameter.AcceptedValues).Count -gt 0) {
        $w.WriteStartElement('command', 'parameterValueGroup', $ns.command)
        foreach ($value in $Parameter.AcceptedValues) {
            $w.WriteStartElement('command', 'parameterValue', $ns.command)
            $w.WriteAttributeString('required', 'false')
            $w.WriteAttributeString('variableLength', 'false')
            $w.WriteString($value)
            $w.WriteEndElement()
        }
        $w.WriteEndElement()
    }
    if (-not $isSwitch) {
        $w.WriteStartElement('command', 'parameterValue', $ns.command)
        $w.WriteAttributeString('required', 'true')
        $w.WriteAttributeString('variableLength', 'false')
        $w.WriteString($Parameter.Type)
        $w.WriteEndElement()
    }
    $w.WriteStartElement('dev', 'type', $ns.dev)
    Write-Element $w maml name $Parameter.Type
    $w.WriteEndElement()
    Write-Element $w dev defaultValue $Parameter.Default
    $w.WriteEndElement()
}

function Write-TypeList {
    param([System.Xml.XmlWriter] $Writer, [string] $ListName, [string] $ItemName, $Items)
    $Writer.WriteStartElement('command', $ListName, $ns.command)
    foreach ($item in $Items) {
        $Writer.WriteStartElement('command', $ItemName, $ns.command)
        $Writer.WriteStartElement('dev', 'type', $ns.dev)
        Write-Element $Writer maml name $item.Type
        $Writer.WriteEndElement()
        Write-Para $Writer maml description $item.Description
        $Writer.WriteEndElement()
    }
    $Writer.WriteEndElement()
}

function Write-Command {
    param([System.Xml.XmlWriter] $Writer, $Help)

    $w = $Writer
    $verb, $noun = $Help.Name -split '-', 2
    $w.WriteStartElement('command', 'command', $ns.command)

    $w.WriteStartElement('command', 'details', $ns.command)
    Write-Element $w command name $Help.Name
    Write-Element $w command verb $verb
    Write-Element $w command noun $noun
    Write-Para $w maml description $Help.Synopsis
    $w.WriteEndElement()

    Write-Para $w maml description $Help.Description

    $w.WriteStartElement('command', 'syntax', $ns.command)
    foreach ($set in $Help.Sets) {
        $w.WriteStartElement('command', 'syntaxItem', $ns.command)
        Write-Element $w maml name $Help.Name
        $inSet = @($Help.Parameters | Where-Object { $_.Sets -contains '(All)' -or $_.Sets -contains $set })
        # Positional parameters first, by position, then the rest as the markdown lists them.
        $ordered = @($inSet | Where-Object Position -NE 'named' | Sort-Object { [int]$_.Position }) + @($inSet | Where-Object Position -EQ 'named')
        foreach ($parameter in $ordered) { Write-Parameter $w $parameter $parameter.Required }
        $w.WriteEndElement()
    }
    $w.WriteEndElement()

    $w.WriteStartElement('command', 'parameters', $ns.command)
    foreach ($parameter in $Help.Parameters) { Write-Parameter $w $parameter $parameter.Required }
    $w.WriteEndElement()

    Write-TypeList $w inputTypes inputType $Help.Inputs
    Write-TypeList $w returnValues returnValue $Help.Outputs

    if (@($Help.Notes).Count -gt 0) {
        $w.WriteStartElement('maml', 'alertSet', $ns.maml)
        $w.WriteStartElement('maml', 'alert', $ns.maml)
        foreach ($p in $Help.Notes) { Write-Element $w maml para $p }
        $w.WriteEndElement()
        $w.WriteEndElement()
    }

    $w.WriteStartElement('command', 'examples', $ns.command)
    foreach ($example in $Help.Examples) {
        $w.WriteStartElement('command', 'example', $ns.command)
        Write-Element $w maml title "---------- $($example.Title) ----------"
        Write-Para $w maml introduction @()
        Write-Element $w dev code $example.Code
        # The empty paragraph leaves a blank line before the next example's title.
        Write-Para $w dev remarks (@($example.Remarks) + '')
        $w.WriteEndElement()
    }
    $w.WriteEndElement()

    $w.WriteStartElement('command', 'relatedLinks', $ns.command)
    foreach ($link in $Help.Links) {
        $w.WriteStartElement('maml', 'navigationLink', $ns.maml)
        Write-Element $w maml linkText $link.Text
        Write-Element $w maml uri $link.Uri
        $w.WriteEndElement()
    }
    $w.WriteEndElement()

    $w.WriteEndElement()
}

# ---- Main ----------------------------------------------------------------------------------------------

$files = @(Get-ChildItem -LiteralPath $Path -Filter '*-*.md' -File | Sort-Object Name)
if ($files.Count -eq 0) { throw "No <Verb-Noun>.md help files in '$Path'." }

$helps = foreach ($file in $files) {
    try { Read-CommandHelp $file.FullName }
    catch { throw "Help file '$($file.Name)': $($_.Exception.Message)" }
}

$directory = Split-Path -Parent $OutputPath
if ($directory -and -not (Test-Path -LiteralPath $directory)) { $null = New-Item -ItemType Directory -Force $directory }

$settings = [System.Xml.XmlWriterSettings]::new()
$settings.Indent = $true
$settings.Encoding = [System.Text.UTF8Encoding]::new($false)
$settings.NewLineChars = "`n"
$writer = [System.Xml.XmlWriter]::Create($OutputPath, $settings)
try {
    $writer.WriteStartDocument()
    $writer.WriteStartElement('helpItems', $ns.msh)
    $writer.WriteAttributeString('schema', 'maml')
    foreach ($prefix in 'maml', 'command', 'dev') {
        $writer.WriteAttributeString('xmlns', $prefix, $null, $ns[$prefix])
    }
    foreach ($help in $helps) { Write-Command $writer $help }
    $writer.WriteEndElement()
    $writer.WriteEndDocument()
}
finally {
    $writer.Dispose()
}

Write-Verbose "Wrote help for $(@($helps).Count) cmdlets to $OutputPath"
