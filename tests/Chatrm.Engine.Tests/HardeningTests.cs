using System;
using System.Linq;
using System.Text;
using System.Threading.Tasks;
using Xunit;

namespace Chatrm.Engine.Tests
{
    /// <summary>Misbehaving bytes and peers: each is handled, and nobody else notices.</summary>
    public class HardeningTests
    {
        [Fact]
        public async Task ControlCharactersAndNulBytesInTextPassThroughWithoutBreakingTheLine()
        {
            await using var server = new TestServer();
            using RawClient alice = await server.JoinAsync("alice");
            using RawClient bob = await server.JoinAsync("bob");

            // NUL, BEL, ESC and DEL are text to the server: carried as they are, one line still one line.
            await alice.SendAsync("alice_bob_a\0b\u0007c\u001b[2Jd\u007f\n");
            Assert.Equal("bob_alice_a\0b\u0007c\u001b[2Jd\u007f", await bob.ReadLineAsync());
        }

        [Fact]
        public async Task InvalidUtf8BecomesReplacementCharactersAndTheNextLineIsFine()
        {
            await using var server = new TestServer();
            using RawClient alice = await server.JoinAsync("alice");
            using RawClient bob = await server.JoinAsync("bob");

            byte[] broken = Encoding.ASCII.GetBytes("alice_bob_x").Concat(new byte[] { 0xC3, 0x28, 0xFF, 0xFE }).Concat(Encoding.ASCII.GetBytes("y\n")).ToArray();
            await alice.SendAsync(broken);
            Assert.Equal("bob_alice_x\uFFFD(\uFFFD\uFFFDy", await bob.ReadLineAsync());

            await alice.SendAsync("alice_bob_clean\n");
            Assert.Equal("bob_alice_clean", await bob.ReadLineAsync());
        }

        [Fact]
        public async Task ANativeFrameSplitAtEveryByteIsReadWhole()
        {
            await using var server = new TestServer();
            using RawClient raw = await server.ConnectRawAsync();
            await raw.SendByteByByteAsync(NativePeer.Hello("alice") + "\n");
            Assert.Contains("\"type\":\"welcome\"", await raw.ReadLineAsync());

            using RawClient bob = await server.JoinAsync("bob");
            await raw.SendByteByByteAsync("{\"type\":\"send\",\"ref\":\"1\",\"to\":\"bob\",\"text\":\"h\u00e9llo \u2713\"}\n");
            Assert.Equal("bob_alice_h\u00e9llo \u2713", await bob.ReadLineAsync());
        }

        [Fact]
        public async Task ADribblingConnectionIsCutOffAtTheHandshakeTimeAndBlocksNobody()
        {
            await using var server = new TestServer(o => o.HandshakeTimeout = TimeSpan.FromSeconds(1));
            using RawClient slow = await server.ConnectRawAsync();

            // One byte at a time, slowly, never finishing a name: while it dribbles, others join and chat.
            Task<string> refusal = slow.ReadLineAsync();
            string name = "slowpoke-who-never-finishes";
            using RawClient alice = await server.JoinAsync("alice");
            using RawClient bob = await server.JoinAsync("bob");
            for (int i = 0; !refusal.IsCompleted && i < name.Length; i++)
            {
                try
                {
                    await slow.SendAsync(new[] { (byte)name[i] });
                }
                catch (System.IO.IOException)
                {
                    break;
                }

                await alice.SendAsync("alice_bob_while " + i + "\n");
                Assert.Equal("bob_alice_while " + i, await bob.ReadLineAsync());
                await Task.WhenAny(refusal, Task.Delay(100));
            }

            Assert.StartsWith("unnamed_chatrm_handshake-timeout: ", await refusal);
            Assert.True(await slow.ClosedByServerAsync());
        }

        [Fact]
        public async Task StoppingDeliversWhatIsAlreadyQueuedThenSaysGoodbye()
        {
            // The stop is what is tested; await using stops the server too when an assertion fails before it.
            var server = new TestServer();
            await using (server)
            {
                using ChatClient alice = await server.ConnectNativeAsync("alice");
                using RawClient bob = await server.JoinAsync("bob");

                // Every message is queued for bob (Forwarded) before the stop; bob reads nothing until after it.
                SentMessage[] fates = await Task.WhenAll(Enumerable.Range(0, 200).Select(i => alice.SendAsync("bob", "queued " + i)))
                    .WaitAsync(RawClient.Deadline);
                Assert.All(fates, f => Assert.Equal(SendStatus.Forwarded, f.Status));
                await server.Server.StopAsync();

                for (int i = 0; i < 200; i++)
                {
                    Assert.Equal("bob_alice_queued " + i, await bob.ReadLineAsync());
                }

                Assert.StartsWith("bob_chatrm_server-stopping: ", await bob.ReadLineAsync());
                Assert.True(await bob.ClosedByServerAsync());
            }
        }
    }
}
