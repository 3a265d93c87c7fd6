using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Threading.Tasks;
using Chatrm.Cluster;
using Xunit;

namespace Chatrm.Engine.Tests.Cluster
{
    /// <summary>Chatrm servers on a three-node NATS cluster: one NATS node stops during traffic, and nothing confirmed is lost.</summary>
    [Collection(ClusterCollection.Name)]
    public sealed class NatsClusterFaultTests
    {
        private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

        /// <summary>Logs in and takes <paramref name="count"/> messages, logging in again while JetStream still fails over (a login whose inbox could not be read gets it at the next).</summary>
        private static async Task<List<ChatMessage>> LoginForAsync(TestCluster.Member server, string name, int count)
        {
            var got = new List<ChatMessage>();
            await Eventually.TrueAsync(async () =>
            {
                got.Clear();
                try
                {
                    using ChatClient client = await server.ConnectAsync(name, options: new ClientOptions { NativeOpeningTimeout = TimeSpan.FromSeconds(15) });
                    DateTime until = DateTime.UtcNow + TimeSpan.FromSeconds(3);
                    while (got.Count < count && DateTime.UtcNow < until)
                    {
                        got.AddRange(client.Take(1000).OfType<ChatMessage>());
                        await Task.Delay(20);
                    }

                    await client.CloseAsync();
                }
                catch (ChatException)
                {
                }

                return got.Count >= count;
            }, Deadline + Deadline, $"{count} stored messages for {name}");
            return got;
        }

        /// <summary>Joins once JetStream's servers have chosen their leader (a fresh NATS cluster takes a few seconds).</summary>
        private static async Task<TestCluster.Member> JoinAsync(NatsCluster nats, string nodeName)
        {
            DateTime giveUp = DateTime.UtcNow + Deadline;
            while (true)
            {
                // The default lease: a NATS node's failover (JetStream choosing new leaders takes seconds) is shorter than it.
                var options = new ClusterOptions { NodeName = nodeName };
                foreach (string url in nats.Urls)
                {
                    options.Urls.Add(url);
                }

                try
                {
                    ClusterNode node = await ClusterNode.JoinAsync(options);
                    ChatServer server = node.CreateServer(new ServerOptions { Address = IPAddress.Loopback, Port = 0 });
                    try
                    {
                        server.Start();
                    }
                    catch
                    {
                        await node.DisposeAsync();
                        throw;
                    }

                    return new TestCluster.Member(node, server);
                }
                catch (Exception e) when ((e is ClusterJoinException || e is NATS.Client.Core.NatsException || e is TimeoutException) && DateTime.UtcNow < giveUp)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(250));
                }
            }
        }

        [Fact]
        public async Task ANatsNodeStoppingDuringTrafficLosesNoConfirmedMessageAndTheServersCarryOn()
        {
            await using NatsCluster nats = await NatsCluster.StartAsync(3);
            await using TestCluster.Member one = await JoinAsync(nats, "one");
            await using TestCluster.Member two = await JoinAsync(nats, "two");

            using (ChatClient away = await two.ConnectAsync("carol"))
            {
                await away.CloseAsync();
            }

            using ChatClient alice = await one.ConnectAsync("alice");
            using ChatClient bob = await two.ConnectAsync("bob");
            await Eventually.TrueAsync(() => one.Server.OnlineUsers.Contains("bob", UserNames.Comparer) && !one.Server.OnlineUsers.Contains("carol", UserNames.Comparer), Deadline, "bob seen and carol gone on one");

            var stored = new List<SentMessage>();
            for (int i = 0; i < 5; i++)
            {
                stored.Add(await alice.SendAsync("carol", "kept " + i).WaitAsync(Deadline));
            }

            Assert.All(stored, s => Assert.Equal(SendStatus.Stored, s.Status));

            // Traffic across the servers; halfway, the NATS server that server one is connected to is killed.
            var sends = new List<Task<SentMessage>>();
            for (int i = 0; i < 200; i++)
            {
                if (i == 100)
                {
                    int port = one.Node.NatsPort ?? throw new InvalidOperationException("server one is not connected to NATS");
                    await nats.Servers.Single(s => s.Port == port).KillAsync();
                }

                sends.Add(alice.SendAsync("bob", "m" + i));
                if (sends.Count % 20 == 0)
                {
                    await Task.WhenAll(sends.Skip(sends.Count - 20)).WaitAsync(Deadline);
                }
            }

            // Each has a fate, none lost in between: delivered (and so at bob), or kept (when the failover made bob's
            // server look gone for a moment), or refused as NATS was away.
            SentMessage[] fates = await Task.WhenAll(sends).WaitAsync(Deadline);
            Assert.All(fates, f => Assert.True(
                f.Status == SendStatus.Delivered || f.Status == SendStatus.Stored || (f.Status == SendStatus.Refused && (f.Reason == "cluster-unavailable" || f.Reason == "store-failed")),
                $"{f.Text}: {f.Status} {f.Reason}"));
            var received = new HashSet<string>();
            await Eventually.TrueAsync(() =>
            {
                received.UnionWith(bob.Take(1000).OfType<ChatMessage>().Select(m => m.Id));
                return fates.Where(f => f.Status == SendStatus.Delivered).All(f => received.Contains(f.Id));
            }, Deadline, "every delivered message at bob");

            // The servers carry on over the two NATS nodes left.
            await Eventually.TrueAsync(() => one.Node.State == ClusterState.Connected && two.Node.State == ClusterState.Connected, Deadline, "both servers connected");
            await Eventually.TrueAsync(async () => (await alice.SendAsync("bob", "after").WaitAsync(Deadline)).Status == SendStatus.Delivered, Deadline, "alice reaches bob after the fault");

            // What was stored, before the fault and during it, is in JetStream's other copies.
            List<ChatMessage> carols = await LoginForAsync(one, "carol", stored.Count);
            Assert.Equal(stored.Select(s => s.Id), carols.Select(m => m.Id));
            // A message kept for bob reaches him: live after all (its answer came later than the lease), from his inbox
            // while he stays (his server is told it was written, and his client shows an id once), or at his next login.
            string[] keptForBob = fates.Where(f => f.Status == SendStatus.Stored).Select(f => f.Id).ToArray();
            DateTime patience = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (keptForBob.Except(received).Any() && DateTime.UtcNow < patience)
            {
                received.UnionWith(bob.Take(1000).OfType<ChatMessage>().Select(m => m.Id));
                await Task.Delay(50);
            }

            string[] stillKept = keptForBob.Except(received).ToArray();
            if (stillKept.Length > 0)
            {
                bob.Dispose();
                received.UnionWith(bob.Take(1000).OfType<ChatMessage>().Select(m => m.Id));
                stillKept = keptForBob.Except(received).ToArray();
                await Eventually.TrueAsync(() => !one.Server.OnlineUsers.Contains("bob", UserNames.Comparer), Deadline, "bob gone");
                List<ChatMessage> bobs = await LoginForAsync(two, "bob", stillKept.Length);
                Assert.Subset(bobs.Select(m => m.Id).ToHashSet(), stillKept.ToHashSet());
            }
        }
    }
}
