using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using Chatrm.Cluster;
using Xunit;

namespace Chatrm.Engine.Tests.Cluster
{
    /// <summary>What a server in a cluster does when NATS, or another server, goes away.</summary>
    [Collection(ClusterCollection.Name)]
    public sealed class ClusterFaultTests
    {
        private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

        private static Task<SentMessage> Fate(Task<SentMessage> send) => send.WaitAsync(Deadline);

        private static async Task<string> NextTextAsync(ChatClient client)
        {
            ChatMessage found = null;
            await Eventually.TrueAsync(() => (found = client.Take(1).OfType<ChatMessage>().FirstOrDefault()) != null, Deadline, "a message for " + client.UserName);
            return found.Text;
        }

        [Fact]
        public async Task WithNatsGoneEachServerServesItsOwnUsersRefusesTheOthersAtOnceAndRejoinsWhenItIsBack()
        {
            await using TestCluster cluster = await TestCluster.StartAsync(2);
            using ChatClient alice = await cluster[0].ConnectAsync("alice");
            using ChatClient amy = await cluster[0].ConnectAsync("amy");
            using ChatClient bob = await cluster[1].ConnectAsync("bob");
            await Eventually.TrueAsync(() => cluster[0].Server.OnlineUsers.Contains("bob"), Deadline, "bob seen on node 1");

            await cluster.KillNatsAsync();
            await Eventually.TrueAsync(() => cluster[0].Node.State == ClusterState.Reconnecting, Deadline, "node 1 reconnecting");

            // Local chat goes on; a message to the other server is refused at once, never left hanging.
            Assert.Equal(SendStatus.Delivered, (await Fate(alice.SendAsync("amy", "still here"))).Status);
            Assert.Equal("still here", await NextTextAsync(amy));
            var clock = Stopwatch.StartNew();
            SentMessage away = await Fate(alice.SendAsync("bob", "can you hear me"));
            Assert.Equal((SendStatus.Refused, "cluster-unavailable"), (away.Status, away.Reason));
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), "refused within 2 s, not after a timeout: " + clock.Elapsed);

            // A login while cut off is served here.
            using ChatClient carl = await cluster[0].ConnectAsync("carl");

            await cluster.RestartNatsAsync();
            await Eventually.TrueAsync(() => cluster.Members.All(m => m.Node.State == ClusterState.Connected), Deadline, "both nodes connected again");
            await Eventually.TrueAsync(() => cluster[1].Server.OnlineUsers.Contains("carl"), Deadline, "carl, who came while NATS was away, claimed once it is back");

            // Until node 1's view of the cluster is back, a send may still be refused, or kept (stored: its answer came
            // later than the lease, on a link NATS had just brought back). What reaches bob is what was delivered or
            // kept, each once; nothing refused.
            var fates = new System.Collections.Generic.Dictionary<string, SendStatus>();
            await Eventually.TrueAsync(async () =>
            {
                string text = "back again " + (fates.Count + 1);
                fates[text] = (await Fate(alice.SendAsync("bob", text))).Status;
                return fates[text] == SendStatus.Delivered;
            }, Deadline, "alice reaches bob again");

            string delivered = fates.Single(f => f.Value == SendStatus.Delivered).Key;
            var arrived = new System.Collections.Generic.List<string>();
            await Eventually.TrueAsync(() =>
            {
                arrived.AddRange(bob.Take(10).OfType<ChatMessage>().Select(m => m.Text));
                return arrived.Contains(delivered);
            }, Deadline, "the delivered one at bob");

            Assert.Equal(arrived.Count, arrived.Distinct().Count());
            Assert.All(arrived, text => Assert.NotEqual(SendStatus.Refused, fates[text]));
        }

        [Fact]
        public async Task AKilledServersUsersAreOfflineWithinTheLeaseTheirMessagesStoredTheirNamesFreeAndTheOthersChatOn()
        {
            await using TestCluster cluster = await TestCluster.StartAsync(2);
            var start = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
            start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Chatrm.ServerDriver.dll"));
            start.ArgumentList.Add("cluster");
            start.ArgumentList.Add(cluster.Nats.Url);
            start.ArgumentList.Add("doomed");
            using Process child = Process.Start(start);
            try
            {
                string first = await child.StandardOutput.ReadLineAsync().WaitAsync(Deadline);
                Assert.True(first != null && first.StartsWith("port ", StringComparison.Ordinal), "the server did not start: " + first);
                int port = int.Parse(first.Substring(5), System.Globalization.CultureInfo.InvariantCulture);

                using ChatClient alice = await cluster[0].ConnectAsync("alice");
                using ChatClient bob = await cluster[1].ConnectAsync("bob");
                using ChatClient dan = await ChatClient.ConnectAsync("127.0.0.1", port, "dan");
                await Eventually.TrueAsync(() => cluster[0].Server.ListUsers().Any(u => u.Name == "dan" && u.Node == "doomed"), Deadline, "dan seen on doomed");
                Assert.Equal(SendStatus.Delivered, (await Fate(alice.SendAsync("dan", "before"))).Status);

                child.Kill(entireProcessTree: true);
                await child.WaitForExitAsync();

                // Sent before anyone knows: handed to the dead server, then taken back and kept once the lease ends.
                Task<SentMessage> during = alice.SendAsync("dan", "during");

                // Within the lease (and a sweep), dan is offline everywhere and his name is free.
                var clock = Stopwatch.StartNew();
                await Eventually.TrueAsync(() => !cluster[0].Server.OnlineUsers.Contains("dan", UserNames.Comparer), Deadline, "dan gone after the lease");
                Assert.True(clock.Elapsed < TestCluster.Lease + TestCluster.Lease, "freed within two leases: " + clock.Elapsed);
                // What is sent to him now waits in the cluster's store, and reaches him through another server.
                SentMessage late = await Fate(alice.SendAsync("dan", "after"));
                Assert.Equal(SendStatus.Stored, late.Status);
                Assert.Equal(SendStatus.Stored, (await Fate(during)).Status);
                using ChatClient danAgain = await cluster[1].ConnectAsync("dan");
                Assert.Equal("during", await NextTextAsync(danAgain));
                Assert.Equal("after", await NextTextAsync(danAgain));

                // The two servers left chat on as before.
                Assert.Equal(SendStatus.Delivered, (await Fate(alice.SendAsync("bob", "we are fine"))).Status);
                Assert.Equal("we are fine", await NextTextAsync(bob));
            }
            finally
            {
                if (!child.HasExited)
                {
                    child.Kill(entireProcessTree: true);
                }
            }
        }
    }
}
