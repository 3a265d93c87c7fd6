namespace Chatrm.Engine
{
    public enum ChatProtocol
    {
        /// <summary>Chatrm's native protocol: JSON frames, confirmed delivery, who is online, any text.</summary>
        Chatrm,
        /// <summary>The original Chatrm's bytes: NAME_ then SOURCE_DEST_TEXT lines.</summary>
        Classic,
    }
}
