namespace Chatrm.Engine
{
    public enum ConnectionState
    {
        Open,
        Closed,

        /// <summary>The connection dropped and is being made again (ClientOptions.Reconnect).</summary>
        Reconnecting,
    }
}
