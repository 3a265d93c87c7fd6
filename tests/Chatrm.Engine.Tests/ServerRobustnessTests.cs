using System;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Xunit;

namespace Chatrm.Engine.Tests
{
    /// <summary>What a server does with bytes that are too many, too few, too slow or just wrong.</summary>
    public class ServerRobustnessTests
    {
        [Fact]
        public async Task AOneMebibyteLineIsRefusedAndTheConnectionStaysInStep()
        {
            await using var server = new TestServer();
            using RawClient alice = await server.JoinAsync("alice");
            using RawClient bob = await server.JoinAsync("bob");

            // Looks like a message to bob, but far beyond the 16 KiB limit.
            await alice.SendAsync("alice_bob_" + new string('x', 1024 * 1024) + "\n");
            await alice.SendAsync("alice_bob_after\n");

            Assert.StartsWith("alice_chatrm_line-too-long: ", await alice.ReadLineAsync());
            // Nothing of the long line reached bob, and the next line did.
            Assert.Equal("bob_alice_after", await bob.ReadLineAsync());

            // Exactly one refusal: the next thing alice hears is the answer to a fresh line.
            await alice.SendAsync("alice_alice_marker\n");
            Assert.Equal("alice_alice_marker", await alice.ReadLineAsync());

            ServerEvent refused = await server.WaitForEventAsync(ServerEventKind.LineRefused, "alice");
            Assert.StartsWith("line-too-long", refused.Detail);
        }

        [Fact]
        public async Task ALineJustOverTheLimitIsRefusedAndOneAtTheLimitPasses()
        {
            await using var server = new TestServer(o => o.MaxLineBytes = 64);
            using RawClient alice = await server.JoinAsync("alice");

            string atLimit = "alice_alice_" + new string('a', 64 - "alice_alice_".Length);
            string overLimit = atLimit + "b";
            Assert.Equal(64, atLimit.Length);

            await alice.SendAsync(overLimit + "\n");
            Assert.StartsWith("alice_chatrm_line-too-long: ", await alice.ReadLineAsync());

            // The limit counts the line without its line ending, whether \n or \r\n.
            await alice.SendAsync(atLimit + "\n");
            Assert.Equal(atLimit, await alice.ReadLineAsync());
            await alice.SendAsync(atLimit + "\r\n");
            Assert.Equal(atLimit, await alice.ReadLineAsync());
        }

        [Fact]
        public async Task ALineAtTheLimitPassesWhenItsCrLfArrivesInPieces()
        {
            await using var server = new TestServer(o => o.MaxLineBytes = 64);
            using RawClient alice = await server.JoinAsync("alice");
            string atLimit = "alice_alice_" + new string('a', 64 - "alice_alice_".Length);

            // The \r may reach the server before the \n; it is part of the line ending, not of the line.
            // A ping in the same write is a barrier: once its echo is back, the server has read the
            // 64 bytes and the \r (one segment, one read) and looked at them without a newline.
            await alice.SendAsync("alice_alice_ping\n" + atLimit + "\r");
            Assert.Equal("alice_alice_ping", await alice.ReadLineAsync());
            await alice.SendAsync("\n");
            Assert.Equal(atLimit, await alice.ReadLineAsync());

            // One byte more is still too long, however its ending arrives.
            await alice.SendAsync("alice_alice_ping\n" + atLimit + "b\r");
            Assert.Equal("alice_alice_ping", await alice.ReadLineAsync());
            await alice.SendAsync("\n");
            Assert.StartsWith("alice_chatrm_line-too-long: ", await alice.ReadLineAsync());
        }

        [Fact]
        public async Task ALineSentByteByByteIsReassembled()
        {
            await using var server = new TestServer();
            using RawClient alice = await server.ConnectRawAsync();
            using RawClient bob = await server.JoinAsync("bob");

            // Handshake and message one byte per write, including a multi-byte character split apart.
            await alice.SendByteByByteAsync("alice_\n");
            Assert.StartsWith("alice_chatrm_welcome: ", await alice.ReadLineAsync());
            await alice.SendByteByByteAsync("alice_bob_slow ✓ typing\r\n");

            Assert.Equal("bob_alice_slow ✓ typing", await bob.ReadLineAsync());
        }

        [Fact]
        public async Task ManyLinesInOneWriteAreAllDelivered()
        {
            await using var server = new TestServer();
            using RawClient alice = await server.JoinAsync("alice");
            using RawClient bob = await server.JoinAsync("bob");

            await alice.SendAsync("alice_bob_1\nbob_alice_2\r\nalice_bob_3\n");

            Assert.Equal("bob_alice_1", await bob.ReadLineAsync());
            Assert.Equal("bob_alice_2", await bob.ReadLineAsync());
            Assert.Equal("bob_alice_3", await bob.ReadLineAsync());
        }

        [Theory]
        [InlineData(false)] // a clean close
        [InlineData(true)]  // a reset, as from a crashed client
        public async Task ADisconnectMidLineDoesNotDisturbOthers(bool reset)
        {
            await using var server = new TestServer();
            using RawClient alice = await server.JoinAsync("alice");
            using RawClient bob = await server.JoinAsync("bob");
            using RawClient carol = await server.JoinAsync("carol");

            await carol.SendAsync("carol_bob_half a lin");
            if (reset)
            {
                carol.Abort();
            }
            else
            {
                carol.Dispose();
            }

            // The original exited on any disconnect. Here carol just leaves; her partial line goes nowhere.
            await server.WaitForEventAsync(ServerEventKind.UserLeft, "carol");
            Assert.False(server.IsOnline("carol"));
            await alice.SendAsync("alice_bob_hi\n");
            Assert.Equal("bob_alice_hi", await bob.ReadLineAsync());

            // A new connection can still join.
            using RawClient dave = await server.JoinAsync("dave");
            Assert.True(server.Server.IsRunning);
        }

        [Fact]
        public async Task GarbageInTheHandshakeIsRefused()
        {
            await using var server = new TestServer();
            using RawClient client = await server.ConnectRawAsync();

            // Invalid UTF-8, NUL and control bytes where a name belongs.
            await client.SendAsync(new byte[] { 0xFF, 0xFE, 0x00, 0xC3, 0x28, 0x01, (byte)'_', (byte)'\n' });

            var lines = await client.ReadUntilClosedAsync();
            Assert.StartsWith("unnamed_chatrm_invalid-name: ", Assert.Single(lines));

            using RawClient alice = await server.JoinAsync("alice");
            Assert.True(server.IsOnline("alice"));
        }

        [Fact]
        public async Task GarbageFromAUserDoesNotCrashTheServer()
        {
            await using var server = new TestServer();
            using RawClient alice = await server.JoinAsync("alice");
            using RawClient bob = await server.JoinAsync("bob");

            // Garbage in the name fields: neither is alice, so it reads as forged.
            await alice.SendAsync(new byte[] { 0xFF, 0x00, (byte)'_', 0xC0, 0xAF, (byte)'_', 0x00, (byte)'\n' });
            Assert.StartsWith("alice_chatrm_forged-sender: ", await alice.ReadLineAsync());

            // Garbage in the text of a proper message is delivered (as well as UTF-8 allows) and harms nothing.
            byte[] message = Encoding.ASCII.GetBytes("alice_bob_").Concat(new byte[] { 0xFF, 0x00, 0x07 }).Concat(Encoding.ASCII.GetBytes("ok\n")).ToArray();
            await alice.SendAsync(message);
            string received = await bob.ReadLineAsync();
            Assert.StartsWith("bob_alice_", received);
            Assert.EndsWith("ok", received);

            // A line of nothing but NULs has no separators.
            await alice.SendAsync(new byte[] { 0, 0, 0, (byte)'\n' });
            Assert.StartsWith("alice_chatrm_malformed-line: ", await alice.ReadLineAsync());

            await alice.SendAsync("alice_bob_fine\n");
            Assert.Equal("bob_alice_fine", await bob.ReadLineAsync());
            Assert.DoesNotContain(server.Events, e => e.Kind == ServerEventKind.ServerError);
        }

        [Fact]
        public async Task ARecipientThatNeverReadsIsDisconnectedAndTheSenderIsTold()
        {
            await using var server = new TestServer(o =>
            {
                o.MaxQueuedBytesPerConnection = 64 * 1024;
                o.CloseGrace = TimeSpan.FromMilliseconds(200);
            });
            using RawClient alice = await server.JoinAsync("alice");
            using RawClient bob = await server.JoinAsync("bob"); // bob never reads again
            using RawClient carol = await server.JoinAsync("carol");

            // alice floods bob until she hears he is too slow. Her notices are read as they come,
            // so only bob's side backs up. The socket buffers hold a few MiB before the queue grows.
            using var done = new CancellationTokenSource();
            Task<string> tooSlow = Task.Run(async () =>
            {
                while (true)
                {
                    string line = await alice.ReadLineAsync();
                    if (line.StartsWith("alice_chatrm_recipient-too-slow: ", StringComparison.Ordinal))
                    {
                        done.Cancel();
                        return line;
                    }
                }
            });
            byte[] chunk = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("alice_bob_" + new string('z', 8000) + "\n", 8)));
            long sent = 0;
            while (!done.IsCancellationRequested && sent < 512L * 1024 * 1024)
            {
                await alice.SendAsync(chunk);
                sent += chunk.Length;
            }

            Assert.Contains("bob", await tooSlow.WaitAsync(RawClient.Deadline));
            ServerEvent left = await server.WaitForEventAsync(ServerEventKind.UserLeft, "bob");
            Assert.Contains("too slow", left.Detail);

            // Everyone else carries on.
            await carol.SendAsync("carol_carol_unaffected\n");
            Assert.Equal("carol_carol_unaffected", await carol.ReadLineAsync());
        }
    }
}
