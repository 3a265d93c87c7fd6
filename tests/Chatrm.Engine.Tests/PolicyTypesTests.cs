using System;
using System.Collections.Generic;
using Xunit;

namespace Chatrm.Engine.Tests
{
    /// <summary>The small types cut out of the connection and the client, on their own: no sockets.</summary>
    public class PolicyTypesTests
    {
        private const long Start = 1_000_000_000;

        [Fact]
        public void ARateLimiterStartsFullAndRefusesPastASecondsWorth()
        {
            var limiter = new RateLimiter();
            for (int i = 0; i < 5; i++)
            {
                Assert.True(limiter.TryTake(5, Start));
            }

            Assert.False(limiter.TryTake(5, Start));
        }

        [Fact]
        public void ARateLimiterRefillsAtTheRateAndHoldsNoMoreThanASecond()
        {
            var limiter = new RateLimiter();
            for (int i = 0; i < 10; i++)
            {
                limiter.TryTake(10, Start);
            }

            // A tenth of a second brings one token at 10 a second.
            Assert.True(limiter.TryTake(10, Start + TimeSpan.TicksPerSecond / 10));
            Assert.False(limiter.TryTake(10, Start + TimeSpan.TicksPerSecond / 10));

            // An hour of quiet still holds only a second's worth.
            long later = Start + TimeSpan.TicksPerHour;
            int taken = 0;
            while (limiter.TryTake(10, later))
            {
                taken++;
            }

            Assert.Equal(10, taken);
        }

        [Fact]
        public void ARateOfZeroIsNoLimit()
        {
            var limiter = new RateLimiter();
            for (int i = 0; i < 10_000; i++)
            {
                Assert.True(limiter.TryTake(0, Start));
            }
        }

        [Fact]
        public void AFullInboxDropsItsOldestMessageAndCountsIt()
        {
            var inbox = new ClientInbox(capacity: 2);
            inbox.Add(Message("a", "1"));
            inbox.Add(Message("a", "2"));
            inbox.Add(Message("a", "3"));

            Assert.Equal(2, inbox.MessagesWaiting);
            Assert.Equal(1, inbox.MessagesDropped);
            List<object> taken = inbox.Take(10, null, includePresence: false);
            Assert.Equal(new[] { "2", "3" }, Texts(taken));
            Assert.Equal(0, inbox.MessagesWaiting);
        }

        [Fact]
        public void TakingFromOneSenderLeavesTheOthersInOrder()
        {
            var inbox = new ClientInbox(capacity: 10);
            inbox.Add(Message("a", "1"));
            inbox.Add(Message("b", "2"));
            inbox.Add(Message("a", "3"));
            inbox.Add(Message("b", "4"));

            Assert.Equal(new[] { "1", "3" }, Texts(inbox.Take(10, "A", includePresence: false)));
            Assert.Equal(new[] { "2", "4" }, Texts(inbox.Take(10, null, includePresence: false)));
        }

        [Fact]
        public void AnArrivalWakesTheWaiterAndClosingWakesItForGood()
        {
            var inbox = new ClientInbox(capacity: 10);
            var waiting = inbox.NextArrival();
            Assert.False(waiting.IsCompleted);
            inbox.Add(Message("a", "1"));
            Assert.True(waiting.IsCompleted);

            var beforeClose = inbox.NextArrival();
            Assert.True(inbox.TryClose(out var arrival));
            Assert.False(inbox.TryClose(out _));
            arrival.TrySetResult(true);
            Assert.True(beforeClose.IsCompleted);
            Assert.True(inbox.NextArrival().IsCompleted);
        }

        private static ChatMessage Message(string from, string text) => new ChatMessage(from, "me", text, default);

        private static IEnumerable<string> Texts(List<object> items)
        {
            foreach (object item in items)
            {
                yield return ((ChatMessage)item).Text;
            }
        }
    }
}
