namespace Chatrm.Engine.Transport
{
    /// <summary>Outcome of queueing a line for a peer.</summary>
    internal enum SendResult
    {
        Queued,
        Closed,
        QueueFull,
    }
}
