namespace Chatrm.Engine
{
    public enum PresenceChange
    {
        Joined,
        Left,
    }
}
