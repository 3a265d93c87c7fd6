using System.Threading.Tasks;

namespace Chatrm.Engine.Client
{
    /// <summary>A native send waiting for its status: what the SentMessage reports, and the task it settles.</summary>
    internal sealed class PendingSend
    {
        public PendingSend(string to, string text)
        {
            To = to;
            Text = text;
        }

        public string To { get; }
        public string Text { get; }
        public TaskCompletionSource<SentMessage> Fate { get; } = new TaskCompletionSource<SentMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
