using System;
using System.Threading.Tasks;
using Chatrm.Soak;
using Xunit;
using Xunit.Abstractions;

namespace Chatrm.Engine.Tests
{
    /// <summary>The soak runs alone: its load would slow the timing-sensitive tests, and theirs its memory figures.</summary>
    [CollectionDefinition(Name, DisableParallelization = true)]
    public sealed class SoakCollection
    {
        public const string Name = "Soak";
    }

    /// <summary>
    /// The short form of bench/Chatrm.Soak (docs/soak.md has a full run): 40 native users, 3,000 messages in 5 s,
    /// users disconnecting and reconnecting at random, the server in this process.
    /// </summary>
    [Collection(SoakCollection.Name)]
    public class SoakTests
    {
        private readonly ITestOutputHelper _output;

        public SoakTests(ITestOutputHelper output) => _output = output;

        [Fact]
        public async Task EveryConfirmedMessageArrivesOnceInOrderAndTheServerComesBack()
        {
            var options = new SoakOptions
            {
                Users = 40,
                Messages = 3000,
                Duration = TimeSpan.FromSeconds(5),
                ReconnectsPerSecond = 6,
                InProcess = true,
                // In process the working set holds the load's own code and buffers too: only the managed heap is held to it.
                WorkingSetToleranceBytes = 1L << 30,
            };

            SoakResult result = await SoakRunner.RunAsync(options, _output.WriteLine);
            _output.WriteLine(result.Summary());

            Assert.True(result.Violations == 0, $"{result.Violations} violations, first: {string.Join("; ", result.FirstViolations)}");
            Assert.True(result.Delivered > result.Sent / 2, $"only {result.Delivered} of {result.Sent} were delivered");
            Assert.True(result.Reconnects > 0, "nobody reconnected");
            Assert.True(result.ConnectionsBack, $"the server holds {result.After.Connections} connections, {result.After.Online} online");
            Assert.True(result.MemoryBack, $"managed heap {result.Baseline.ManagedBytes} before, {result.After.ManagedBytes} after");
        }
    }
}
