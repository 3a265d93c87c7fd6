using System;
using System.Diagnostics;
using System.Threading.Tasks;
using Xunit;

namespace Chatrm.Engine.Tests
{
    /// <summary>Waits for a condition by polling against a deadline, instead of sleeping a guessed time.</summary>
    internal static class Eventually
    {
        public static readonly TimeSpan DefaultDeadline = TimeSpan.FromSeconds(10);

        private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(15);

        public static Task TrueAsync(Func<bool> condition, TimeSpan deadline, string what = null) =>
            TrueAsync(() => Task.FromResult(condition()), deadline, what);

        /// <summary>The same, for a condition that has to ask something (a send whose fate it awaits, say).</summary>
        public static async Task TrueAsync(Func<Task<bool>> condition, TimeSpan deadline, string what = null)
        {
            var clock = Stopwatch.StartNew();
            while (!await condition())
            {
                if (clock.Elapsed > deadline)
                {
                    Assert.Fail($"Not true within {deadline.TotalSeconds:0.###} s: {what ?? "condition"}");
                }

                await Task.Delay(PollInterval);
            }
        }

        public static Task TrueAsync(Func<bool> condition, string what = null) =>
            TrueAsync(condition, DefaultDeadline, what);
    }
}
