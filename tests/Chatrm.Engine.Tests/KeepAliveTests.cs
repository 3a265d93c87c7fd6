using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json.Nodes;
using System.Threading.Tasks;
using Chatrm.Engine.Protocol;
using Xunit;

namespace Chatrm.Engine.Tests
{
    /// <summary>
    /// Keepalive's decisions with the clock in the test's hands: time measured, not ticks counted, so timer
    /// callbacks that run late and then together (a loaded machine, a blocked thread pool) drop nobody.
    /// </summary>
    public class KeepAliveTests
    {
        private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(200);
        private static readonly long P = Interval.Ticks / 2; // the checks' period

        /// <summary>Runs checks at the given times (in periods from the start) and says what each decided.</summary>
        private static List<KeepAliveStep> Run(params (double At, bool Heard)[] checks)
        {
            var schedule = new KeepAliveSchedule(Interval, 0);
            var peer = new KeepAlivePeer();
            var steps = new List<KeepAliveStep>();
            foreach ((double at, bool heard) in checks)
            {
                long now = (long)(at * P);
                steps.Add(peer.Check(schedule, now, heard, schedule.Check(now)));
            }

            return steps;
        }

        private static (double, bool) Quiet(double at) => (at, false);

        private static (double, bool) Heard(double at) => (at, true);

        [Fact]
        public void ChecksRunEveryHalfInterval()
        {
            Assert.Equal(TimeSpan.FromMilliseconds(100), new KeepAliveSchedule(Interval, 0).Period);
        }

        [Fact]
        public void APeerIsPingedAfterAnIntervalOfSilenceAndGivenUpAnIntervalAfterThePing()
        {
            Assert.Equal(
                new[] { KeepAliveStep.None, KeepAliveStep.None, KeepAliveStep.Ping, KeepAliveStep.None, KeepAliveStep.GiveUp },
                Run(Heard(1), Quiet(2), Quiet(3), Quiet(4), Quiet(5)));
        }

        [Fact]
        public void TimerJitterOfAFewPercentMovesNothing()
        {
            // Checks that come a little early or late still ping and give up at the same checks.
            Assert.Equal(
                new[] { KeepAliveStep.None, KeepAliveStep.None, KeepAliveStep.Ping, KeepAliveStep.None, KeepAliveStep.GiveUp },
                Run(Heard(1), Quiet(1.97), Quiet(2.95), Quiet(4.02), Quiet(4.93)));
        }

        [Fact]
        public void AnAnswerResetsTheClock()
        {
            Assert.Equal(
                new[] { KeepAliveStep.None, KeepAliveStep.None, KeepAliveStep.Ping, KeepAliveStep.None, KeepAliveStep.None, KeepAliveStep.Ping },
                Run(Heard(1), Quiet(2), Quiet(3), Heard(4), Quiet(5), Quiet(6)));
        }

        [Fact]
        public void ChecksThatPiledUpDuringAStallAndRunTogetherDoNotCountAsTimePassing()
        {
            // Heard, then the process stalls for five periods; the five checks due meanwhile run at once. The first
            // pings (the silence was real), the rest decide nothing: none of them gave the answer a chance.
            List<KeepAliveStep> steps = Run(Heard(1), Quiet(6), Quiet(6), Quiet(6), Quiet(6), Quiet(6), Heard(7));
            Assert.Equal(new[] { KeepAliveStep.None, KeepAliveStep.Ping, KeepAliveStep.None, KeepAliveStep.None, KeepAliveStep.None, KeepAliveStep.None, KeepAliveStep.None }, steps);
        }

        [Fact]
        public void ALateCheckNeverGivesUpEvenWhenThePingIsOld()
        {
            // Pinged at 3; the next check runs at 6, late: the answer may be queued behind it. The one after it
            // comes on time and is too soon after the late one to count... until the next, which gives up.
            Assert.Equal(
                new[] { KeepAliveStep.None, KeepAliveStep.None, KeepAliveStep.Ping, KeepAliveStep.None, KeepAliveStep.None, KeepAliveStep.GiveUp },
                Run(Heard(1), Quiet(2), Quiet(3), Quiet(6), Quiet(6.4), Quiet(7.4)));
        }

        [Fact]
        public void AnAnswerReadAfterAStallSavesThePeer()
        {
            // Pinged at 3, then a stall: the answer is read once the process runs again, before the next check on time.
            Assert.DoesNotContain(KeepAliveStep.GiveUp, Run(Heard(1), Quiet(2), Quiet(3), Quiet(8), Quiet(8), Heard(9), Quiet(10)));
        }

        [Theory]
        [InlineData(1.0, true)]
        [InlineData(0.8, true)]
        [InlineData(1.2, true)]
        [InlineData(0.7, false)]
        [InlineData(1.3, false)]
        [InlineData(0.0, false)]
        [InlineData(5.0, false)]
        public void ACheckIsOnTimeWithinAQuarterPeriodOfItsPlace(double periods, bool onTime)
        {
            var schedule = new KeepAliveSchedule(Interval, 0);
            Assert.Equal(onTime, schedule.Check((long)(periods * P)));
        }

        [Fact]
        public async Task SweepsRunBackToBackPingAndDropNobodyOnARealServer()
        {
            // An interval no test waits out: only sweeps run by hand, all at once, as a stalled timer's would.
            await using var server = new TestServer(o => o.KeepAliveInterval = TimeSpan.FromMinutes(10));
            using NativePeer mute = await server.JoinNativeAsync("mute");
            for (int i = 0; i < 10; i++)
            {
                server.Server.SweepKeepAlive();
            }

            List<JsonObject> before = await mute.DrainAsync();
            Assert.Empty(before.Select(f => f.ToJsonString()));
            Assert.True(server.IsOnline("mute"));
            Assert.DoesNotContain(server.Events, e => e.Kind == ServerEventKind.UserLeft);
        }
    }
}
