using System;
using System.IO;
using Chatrm.Cluster.Wire;
using Chatrm.Engine.Messaging;
using Chatrm.Engine.Routing;
using Xunit;

namespace Chatrm.Engine.Tests.Cluster
{
    /// <summary>Frames between servers as bytes: the reader reused from frame to frame.</summary>
    public sealed class ClusterFrameTests
    {
        private static ChatEnvelope Envelope(long number, string text = "\"hi\"") =>
            new ChatEnvelope(number, "alice", "bob", null, System.Text.Encoding.UTF8.GetBytes(text), new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc),
                "r" + number, null, new SenderAddress(1, 42), senderHearsStatus: true);

        [Fact]
        public void AReusedReaderStopsAtItsFrameEndAndReadsTheNextFrameWhole()
        {
            byte[] good = ClusterFrame.Deliver(Envelope(5, "\"second\""));

            // A frame cut short, followed in the batch by a whole one: reading the first must fail, not run on into the second.
            byte[] first = ClusterFrame.Deliver(Envelope(4, "\"first and longer\""));
            byte[] batch = new byte[(first.Length - 6) + good.Length];
            Array.Copy(first, batch, first.Length - 6);
            Array.Copy(good, 0, batch, first.Length - 6, good.Length);

            BinaryReader cut = ClusterFrame.Open(batch, 0, first.Length - 6);
            Assert.Throws<EndOfStreamException>(() => ClusterFrame.ReadEnvelope(cut));
            ClusterFrame.Close(cut, failed: true);

            BinaryReader next = ClusterFrame.Open(batch, first.Length - 6, good.Length);
            ChatEnvelope read = ClusterFrame.ReadEnvelope(next);
            ClusterFrame.Close(next, failed: false);
            Assert.Equal(5, read.Number);
            Assert.Equal("second", read.Text);
            Assert.Equal("r5", read.SenderRef);

            // And once more on the same thread, the reader now reused.
            BinaryReader again = ClusterFrame.Open(good, 0, good.Length);
            Assert.Equal(5, ClusterFrame.ReadEnvelope(again).Number);
            ClusterFrame.Close(again, failed: false);
        }
    }
}
