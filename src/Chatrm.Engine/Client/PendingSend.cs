using System.Threading.Tasks;

namespace Chatrm.Engine.Client
{
    /// <summary>A native send waiting for its status: what the SentMessage reports, and the task it settles.</summary>
    internal sealed class PendingSend
    {
        public PendingSend(long number, string to, string text, string frame)
        {
            Number = number;
            To = to;
            Text = text;
            Frame = frame;
        }

        /// <summary>The ref's number: a reconnect sends what still waits again in this order, with the same ref.</summary>
        public long Number { get; }

        /// <summary>The send frame as first written, ref and all: what a reconnect writes again.</summary>
        public string Frame { get; }

        public string To { get; }
        public string Text { get; }
        public TaskCompletionSource<SentMessage> Fate { get; } = new TaskCompletionSource<SentMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
