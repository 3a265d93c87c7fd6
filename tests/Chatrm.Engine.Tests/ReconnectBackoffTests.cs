using System;
using Chatrm.Engine.Client;
using Xunit;

namespace Chatrm.Engine.Tests
{
    public class ReconnectBackoffTests
    {
        [Theory]
        [InlineData(0, 100)]
        [InlineData(1, 200)]
        [InlineData(5, 3200)]
        [InlineData(6, 5000)]
        [InlineData(40, 5000)]
        [InlineData(int.MaxValue, 5000)]
        public void CeilingDoublesFrom100MsUpTo5Seconds(int attempt, int ms) =>
            Assert.Equal(TimeSpan.FromMilliseconds(ms), ReconnectBackoff.Ceiling(attempt));

        [Fact]
        public void WaitIsFullJitterWithinZeroAndTheCeiling()
        {
            var random = new Random(17);
            for (int attempt = 0; attempt < 12; attempt++)
            {
                Assert.Equal(TimeSpan.Zero, ReconnectBackoff.Wait(attempt, 0));
                Assert.Equal(ReconnectBackoff.Ceiling(attempt), ReconnectBackoff.Wait(attempt, 1));
                TimeSpan wait = ReconnectBackoff.Wait(attempt, random.NextDouble());
                Assert.InRange(wait, TimeSpan.Zero, ReconnectBackoff.Ceiling(attempt));
            }

            Assert.Throws<ArgumentOutOfRangeException>(() => ReconnectBackoff.Wait(0, 1.5));
            Assert.Throws<ArgumentOutOfRangeException>(() => ReconnectBackoff.Ceiling(-1));
        }
    }
}
