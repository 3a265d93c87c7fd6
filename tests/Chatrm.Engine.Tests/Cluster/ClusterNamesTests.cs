using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using Xunit;

namespace Chatrm.Engine.Tests.Cluster
{
    /// <summary>A name is one user's across the whole cluster: claimed atomically, taken over only with proof, freed on leaving.</summary>
    [Collection(ClusterCollection.Name)]
    public sealed class ClusterNamesTests
    {
        private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(15);

        [Fact]
        public async Task FiftySimultaneousLoginsOfOneNameSpreadOverThreeServersLetExactlyOneIn()
        {
            await using TestCluster cluster = await TestCluster.StartAsync(3);
            var attempts = Enumerable.Range(0, 50).Select(async i =>
            {
                ChatProtocol protocol = i % 5 == 4 ? ChatProtocol.Classic : ChatProtocol.Chatrm;
                try
                {
                    return await cluster[i % 3].ConnectAsync("zoe", protocol);
                }
                catch (ChatException e) when (e.Refusal == Refusal.NameTaken)
                {
                    return null;
                }
            }).ToList();

            ChatClient[] results = await Task.WhenAll(attempts).WaitAsync(TimeSpan.FromSeconds(60));
            var winners = results.Where(c => c != null).ToList();
            try
            {
                Assert.Single(winners);

                // And it stays so: every server sees one zoe, on the winner's node.
                foreach (TestCluster.Member member in cluster.Members)
                {
                    await Eventually.TrueAsync(() => member.Server.ListUsers().Count(u => u.Name == "zoe") == 1, Deadline, "one zoe listed");
                }
            }
            finally
            {
                winners.ForEach(c => c.Dispose());
            }
        }

        [Fact]
        public async Task ANameFreedOnOneServerCanBeTakenOnAnother()
        {
            await using TestCluster cluster = await TestCluster.StartAsync(2);
            ChatClient first = await cluster[0].ConnectAsync("yan");
            await Eventually.TrueAsync(() => cluster[1].Server.OnlineUsers.Contains("yan"), Deadline, "yan seen on node 2");
            var refused = await Assert.ThrowsAsync<ChatException>(() => cluster[1].ConnectAsync("YAN"));
            Assert.Equal(Refusal.NameTaken, refused.Refusal);

            await first.CloseAsync();
            first.Dispose();
            await Eventually.TrueAsync(() => !cluster[1].Server.OnlineUsers.Contains("yan", UserNames.Comparer), Deadline, "yan gone from node 2's view");
            using ChatClient second = await cluster[1].ConnectAsync("yan");
            Assert.Equal(ConnectionState.Open, second.State);
        }

        [Fact]
        public async Task APasswordLoginOnAnotherServerReplacesTheOlderSession()
        {
            var credentials = new CredentialStore();
            credentials.Add("alice", "s3cret", 1_000);
            await using TestCluster cluster = await TestCluster.StartAsync(2, o => o.Credentials = credentials);
            using ChatClient first = await cluster[0].ConnectAsync("alice", options: new ClientOptions { Password = "s3cret" });
            await Eventually.TrueAsync(() => cluster[1].Server.OnlineUsers.Contains("alice"), Deadline, "alice seen on node 2");

            using ChatClient second = await cluster[1].ConnectAsync("alice", options: new ClientOptions { Password = "s3cret" });

            await Eventually.TrueAsync(() => first.State == ConnectionState.Closed, Deadline, "the first session closed");
            Assert.Equal(ConnectionState.Open, second.State);
            foreach (TestCluster.Member member in cluster.Members)
            {
                await Eventually.TrueAsync(
                    () => member.Server.ListUsers().Where(u => u.Name == "alice").Select(u => u.Node).SequenceEqual(new[] { "node-2" }),
                    Deadline, "alice listed once, on node 2");
            }
        }

        [Fact]
        public async Task LinesSentRightAfterTheOpeningWaitForTheClaimAndKeepTheirOrder()
        {
            await using TestCluster cluster = await TestCluster.StartAsync(2);
            using ChatClient bob = await cluster[1].ConnectAsync("bob");
            await Eventually.TrueAsync(() => cluster[0].Server.OnlineUsers.Contains("bob"), Deadline, "bob seen on node 1");

            // The original client writes its handshake and its first lines at once, before any answer.
            using RawClient raw = await RawClient.ConnectAsync(cluster[0].Server.LocalEndPoint);
            await raw.SendAsync("carol_\ncarol_bob_one\ncarol_bob_two\ncarol_bob_three\n");

            var texts = new List<string>();
            await Eventually.TrueAsync(() =>
            {
                texts.AddRange(bob.Take(10).OfType<ChatMessage>().Select(m => m.Text));
                return texts.Count >= 3;
            }, Deadline, "three messages for bob");
            Assert.Equal(new[] { "one", "two", "three" }, texts);
        }
    }
}
