using System.Threading.Tasks;
using Xunit;

namespace Chatrm.Engine.Tests
{
    public class SmokeTests
    {
        [Fact]
        public async Task TwoOriginalClientsChatBothWays()
        {
            await using var server = new TestServer();
            using RawClient alice = await server.JoinAsync("alice");
            using RawClient bob = await server.JoinAsync("bob");

            await alice.SendAsync("alice_bob_hello_world\n");
            Assert.Equal("bob_alice_hello_world", await bob.ReadLineAsync());

            await bob.SendAsync("alice_bob_hi back\n");
            Assert.Equal("alice_bob_hi back", await alice.ReadLineAsync());
        }

        [Fact]
        public async Task ChatClientTalksToRawClient()
        {
            await using var server = new TestServer();
            using ChatClient alice = await server.ConnectAsync("alice");
            Assert.True(alice.ServerIsChatrm);
            using RawClient bob = await server.JoinAsync("bob");

            alice.Send("bob", "hi_there");
            Assert.Equal("bob_alice_hi_there", await bob.ReadLineAsync());

            Task arrival = alice.NextArrival();
            await bob.SendAsync("bob_alice_yo\n");
            await arrival.WaitAsync(RawClient.Deadline);
            var items = alice.Take(10);
            var message = Assert.IsType<ChatMessage>(Assert.Single(items));
            Assert.Equal("bob", message.From);
            Assert.Equal("yo", message.Text);
        }
    }
}
