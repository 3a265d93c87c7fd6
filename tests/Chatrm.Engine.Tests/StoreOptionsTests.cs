using System;
using Xunit;

namespace Chatrm.Engine.Tests
{
    /// <summary>The store's server options: their defaults, and values that make no sense refused before anything starts.</summary>
    public class StoreOptionsTests
    {
        [Fact]
        public void TheDefaultsAreAMemoryStoreWithThirtyDaysOfHistoryAndRoomyInboxes()
        {
            var options = new ServerOptions();
            Assert.Null(options.StorePath);
            Assert.True(options.KeepHistory);
            Assert.Equal((30, 30, 10_000, 16L * 1024 * 1024), (options.HistoryDays, options.InboxDays, options.MaxInboxMessages, options.MaxInboxBytes));
            options.Validate();
        }

        [Theory]
        [InlineData(nameof(ServerOptions.HistoryDays))]
        [InlineData(nameof(ServerOptions.InboxDays))]
        [InlineData(nameof(ServerOptions.MaxInboxMessages))]
        [InlineData(nameof(ServerOptions.MaxInboxBytes))]
        public void ALimitOfNothingIsRefusedNamingIt(string name)
        {
            var options = new ServerOptions();
            typeof(ServerOptions).GetProperty(name).SetValue(options, Convert.ChangeType(0, typeof(ServerOptions).GetProperty(name).PropertyType));

            var e = Assert.Throws<ArgumentOutOfRangeException>(() => options.Validate());
            Assert.Equal(name, e.ParamName);
        }

        [Fact]
        public void AnInboxSmallerThanOneLongestLineIsRefused()
        {
            var options = new ServerOptions { MaxInboxBytes = ServerOptions.DefaultMaxLineBytes - 1 };
            Assert.Equal(nameof(ServerOptions.MaxInboxBytes), Assert.Throws<ArgumentOutOfRangeException>(() => options.Validate()).ParamName);
        }

        [Fact]
        public void ABlankStorePathIsRefusedRatherThanTakenForMemory()
        {
            var options = new ServerOptions { StorePath = "  " };
            Assert.Equal(nameof(ServerOptions.StorePath), Assert.Throws<ArgumentException>(() => options.Validate()).ParamName);
        }

        [Fact]
        public void AStoreThatCannotBeOpenedFailsTheStartWithItsWords()
        {
            using var file = new TempStoreFile();
            System.IO.File.WriteAllText(file.Path, "not a database, and long enough to look like a file someone cares about");
            using var server = new ChatServer(new ServerOptions { Address = System.Net.IPAddress.Loopback, StorePath = file.Path });

            StoreOpenException e = Assert.Throws<StoreOpenException>(() => server.Start());

            Assert.Equal(file.Path, e.Path);
            Assert.Null(server.LocalEndPoint);
            Assert.Equal("not a database, and long enough to look like a file someone cares about", System.IO.File.ReadAllText(file.Path));
        }
    }
}
