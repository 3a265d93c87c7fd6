using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using Xunit;

namespace Chatrm.Engine.Tests.Cluster
{
    /// <summary>Users on different servers of one cluster chat as if on one: both protocols, with the same fates.</summary>
    [Collection(ClusterCollection.Name)]
    public sealed class ClusterRoutingTests
    {
        private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

        private static Task<SentMessage> Fate(Task<SentMessage> send) => send.WaitAsync(Deadline);

        private static async Task<ChatMessage> NextMessageAsync(ChatClient client)
        {
            ChatMessage found = null;
            await Eventually.TrueAsync(() => (found = client.Take(1).OfType<ChatMessage>().FirstOrDefault()) != null, Deadline, "a message for " + client.UserName);
            return found;
        }

        private static async Task UntilSeesAsync(ChatServer server, string user) =>
            await Eventually.TrueAsync(() => server.OnlineUsers.Contains(user, UserNames.Comparer), Deadline, user + " seen across the cluster");

        [Fact]
        public async Task ANativeMessageToAUserOnAnotherServerIsDeliveredWithItsIdAndBothWays()
        {
            await using TestCluster cluster = await TestCluster.StartAsync(2);
            using ChatClient alice = await cluster[0].ConnectAsync("alice");
            using ChatClient bob = await cluster[1].ConnectAsync("bob");
            await UntilSeesAsync(cluster[0].Server, "bob");
            await UntilSeesAsync(cluster[1].Server, "alice");

            SentMessage sent = await Fate(alice.SendAsync("bob", "hello from node 1 ✓"));
            Assert.Equal(SendStatus.Delivered, sent.Status);
            ChatMessage got = await NextMessageAsync(bob);
            Assert.Equal(("alice", "bob", "hello from node 1 ✓", sent.Id), (got.From, got.To, got.Text, got.Id));

            SentMessage back = await Fate(bob.SendAsync("alice", "and back"));
            Assert.Equal(SendStatus.Delivered, back.Status);
            Assert.Equal("and back", (await NextMessageAsync(alice)).Text);
            Assert.NotEqual(sent.Id, back.Id);
        }

        [Fact]
        public async Task AClassicUserOnOneServerAndANativeUserOnAnotherChatInTheOriginalsBytes()
        {
            await using TestCluster cluster = await TestCluster.StartAsync(2);
            using RawClient carol = await cluster[0].JoinRawAsync("carol");
            using ChatClient dave = await cluster[1].ConnectAsync("dave");
            await UntilSeesAsync(cluster[0].Server, "dave");
            await UntilSeesAsync(cluster[1].Server, "carol");

            // The native side hears it forwarded (a classic client cannot confirm); the line is the one a lone server writes.
            SentMessage sent = await Fate(dave.SendAsync("carol", "hi carol"));
            Assert.Equal(SendStatus.Forwarded, sent.Status);
            Assert.Equal("carol_dave_hi carol", await carol.ReadLineAsync());

            await carol.SendAsync("carol_dave_hi dave\n");
            ChatMessage got = await NextMessageAsync(dave);
            Assert.Equal(("carol", "hi dave"), (got.From, got.Text));
        }

        [Fact]
        public async Task AMessageToAUserWhoLeftAnotherServerIsStoredForThemAndAnUnknownNameRefusedUnknown()
        {
            await using TestCluster cluster = await TestCluster.StartAsync(2);
            using ChatClient alice = await cluster[0].ConnectAsync("alice");
            ChatClient bob = await cluster[1].ConnectAsync("bob");
            await UntilSeesAsync(cluster[0].Server, "bob");
            await bob.CloseAsync();
            bob.Dispose();
            await Eventually.TrueAsync(() => !cluster[0].Server.OnlineUsers.Contains("bob", UserNames.Comparer), Deadline, "bob gone from the cluster's view");

            SentMessage offline = await Fate(alice.SendAsync("bob", "are you there"));
            Assert.Equal(SendStatus.Stored, offline.Status);
            SentMessage unknown = await Fate(alice.SendAsync("nobody", "hello?"));
            Assert.Equal((SendStatus.Refused, "unknown-user"), (unknown.Status, unknown.Reason));
        }

        [Fact]
        public async Task EveryServerListsTheWholeClustersUsersWithEachOnesNode()
        {
            await using TestCluster cluster = await TestCluster.StartAsync(3);
            var clients = new List<ChatClient>();
            try
            {
                for (int i = 0; i < 3; i++)
                {
                    clients.Add(await cluster[i].ConnectAsync("user" + i));
                }

                foreach (TestCluster.Member member in cluster.Members)
                {
                    await Eventually.TrueAsync(() => member.Server.ListUsers().Count == 3, Deadline, "three users listed");
                    var nodes = member.Server.ListUsers().OrderBy(u => u.Name).Select(u => (u.Name, u.Node)).ToList();
                    Assert.Equal(new[] { ("user0", "node-1"), ("user1", "node-2"), ("user2", "node-3") }, nodes);
                }

                // A client asks its own server, and hears of everyone.
                IReadOnlyList<UserInfo> heard = await clients[0].GetUsersAsync(Deadline);
                Assert.Equal(new[] { "user0", "user1", "user2" }, heard.Select(u => u.Name).OrderBy(n => n));
            }
            finally
            {
                clients.ForEach(c => c.Dispose());
            }
        }
    }

    /// <summary>The cluster tests start nats-server and several servers each: one at a time on two cores.</summary>
    [CollectionDefinition(Name, DisableParallelization = true)]
    public sealed class ClusterCollection
    {
        public const string Name = "cluster";
    }
}
