namespace Chatrm.Engine.Protocol
{
    /// <summary>The protocol names users are listed with.</summary>
    internal static class ProtocolNames
    {
        public const string Chatrm = "chatrm";
        public const string Classic = "classic";
    }
}
