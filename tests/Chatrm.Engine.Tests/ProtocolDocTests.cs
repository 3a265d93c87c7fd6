using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using System.Threading.Tasks;
using Xunit;
using static Chatrm.Engine.Tests.NativePeer;

namespace Chatrm.Engine.Tests
{
    /// <summary>
    /// docs/protocol.md against the server: each point a native client written from the doc alone would rely on,
    /// typed as raw lines, so that the doc and the server cannot drift apart unnoticed.
    /// </summary>
    public class ProtocolDocTests
    {
        private static string RepositoryFile(string relative)
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            {
                string path = Path.Combine(dir.FullName, relative);
                if (File.Exists(path))
                {
                    return path;
                }
            }

            throw new FileNotFoundException("not found above the test's directory", relative);
        }

        private static readonly Lazy<string> ProtocolDoc = new Lazy<string>(() => File.ReadAllText(RepositoryFile(Path.Combine("docs", "protocol.md"))));

        /// <summary>The codes the doc's tables list: a row that starts with a code in backticks.</summary>
        private static HashSet<string> CodesInTables() =>
            new HashSet<string>(Regex.Matches(ProtocolDoc.Value, @"^\| `([a-z]+(?:-[a-z]+)*)` \|", RegexOptions.Multiline).Select(m => m.Groups[1].Value));

        // ---- 17: every code has its row ----

        public static IEnumerable<object[]> EveryRefusal() =>
            Enum.GetValues<Refusal>().Where(r => r != Refusal.None).Select(r => new object[] { r });

        [Theory]
        [MemberData(nameof(EveryRefusal))]
        public void EveryRefusalCodeHasARowInTheProtocolDoc(Refusal refusal)
        {
            string code = refusal.ToCode();
            Assert.True(CodesInTables().Contains(code), $"docs/protocol.md has no table row for `{code}` ({refusal})");
        }
    }
}
