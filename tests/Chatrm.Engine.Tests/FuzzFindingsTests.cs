using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Chatrm.Fuzz;
using Xunit;

namespace Chatrm.Engine.Tests
{
    /// <summary>
    /// What fuzzing (fuzz/, ./build.ps1 Fuzz) found, each input inline as afl-fuzz found it (or minimised), so it
    /// stays fixed. The harnesses' invariants are in fuzz/Chatrm.Fuzz/Targets.cs.
    /// </summary>
    public class FuzzFindingsTests
    {
        /// <summary>Every seed of fuzz/corpus through its harness: each one keeps every invariant.</summary>
        [Theory]
        [MemberData(nameof(Seeds))]
        public void EverySeedKeepsTheHarnessesInvariants(string target, string seed)
        {
            byte[] input = File.ReadAllBytes(Path.Combine(CorpusFolder(), target, seed));
            Action<byte[]> harness = target switch
            {
                "classic" => Targets.Classic,
                "native" => Targets.Native,
                _ => Targets.Framing,
            };

            harness(input);
        }

        public static IEnumerable<object[]> Seeds() =>
            new[] { "classic", "native", "framing" }.SelectMany(target =>
                Directory.EnumerateFiles(Path.Combine(CorpusFolder(), target))
                    .Select(file => new object[] { target, Path.GetFileName(file) })
                    .OrderBy(row => (string)row[1], StringComparer.Ordinal));

        // fuzz/corpus, copied beside the tests by the project file.
        private static string CorpusFolder() => Path.Combine(AppContext.BaseDirectory, "fuzz-corpus");

        /// <summary>
        /// native target, in a zone west of UTC: a users entry without a readable connectedAt was read as
        /// default(DateTime), which has no kind; Format took it for local time and wrote 0001-01-01T04:57:00Z
        /// (New York), so the frame did not round trip. Now it reads as the earliest time in UTC.
        /// </summary>
        [Theory]
        [InlineData("{\"type\":\"users\",\"users\":[{}]}")]
        [InlineData("{\"type\":\"users\",\"ref\":\"8\",\"users\":[{\"name\":\"e\",\"protocol\":null,\"connectedAt\":\"yesterday\"}]}")]
        [InlineData("{\"type\":\"users\",\"users\":[{\"name\":\"bob\",\"protocol\":\"cic\",\"connectedAt\":5}]}")]
        public void AUserWithoutAReadableConnectedAtIsTheEarliestTimeInUtc(string line)
        {
            Assert.True(NativeProtocol.TryParse(line, out NativeFrame frame, out string problem), problem);
            UserInfo user = Assert.Single(frame.Users);

            Assert.Equal(DateTimeKind.Utc, user.ConnectedAtUtc.Kind);
            Assert.Equal(DateTime.MinValue.Ticks, user.ConnectedAtUtc.Ticks);
            string formatted = NativeProtocol.Format(frame);
            Assert.Contains("\"connectedAt\":\"0001-01-01T00:00:00.0000000Z\"", formatted);

            Assert.True(NativeProtocol.TryParse(formatted.TrimEnd('\n'), out NativeFrame again, out problem), problem);
            Assert.Equal(user.ConnectedAtUtc, Assert.Single(again.Users).ConnectedAtUtc);
            Assert.Equal(formatted, NativeProtocol.Format(again));
        }
    }
}
