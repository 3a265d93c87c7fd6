using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using Chatrm.Engine.Storage;
using Xunit;

namespace Chatrm.Engine.Tests
{
    /// <summary>Message ids come from blocks the store reserves; the next block is asked for before this one runs out.</summary>
    public sealed class MessageIdReservationTests
    {
        private const long Block = 256;

        [Fact]
        public async Task TheNextBlockIsReservedOnceHalfIsHandedOutSoNoSenderWaitsForTheStoresWrite()
        {
            HeldStore held = null;
            await using var server = new TestServer(
                store: limits => held = new HeldStore(new MemoryMessageStore(limits, TimeProvider.System)),
                prepare: s => s.IdBlockSize = Block);
            Assert.Equal(1, held.Reservations);

            // Every later reservation is as slow as the test wants: the messages must not wait for it.
            held.HoldReservations();
            try
            {
                using NativePeer alice = await server.JoinNativeAsync("alice");
                using NativePeer bob = await server.JoinNativeAsync("bob");
                var ids = new List<string>();
                for (int i = 0; i < 3 * Block / 4; i++)
                {
                    await alice.SendMessageAsync("bob", "m" + i, "r" + i);
                    ids.Add(NativePeer.Str(await bob.ExpectAsync("message"), "id"));
                }

                // Past half of the first block, the second was asked for; the messages went on while it is held.
                await Eventually.TrueAsync(() => held.Reservations == 2, "the next block asked for ahead of need");
                Assert.Equal(ids.Count, ids.Distinct().Count());
            }
            finally
            {
                held.ReleaseReservations();
            }
        }
    }
}
