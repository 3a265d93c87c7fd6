namespace Chatrm.Engine
{
    public enum ConnectionState
    {
        Open,
        Closed,
    }
}
