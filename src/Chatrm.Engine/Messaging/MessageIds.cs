namespace Chatrm.Engine.Messaging
{
    /// <summary>
    /// A message id as the server keeps it: one positive long, the server's identity in the high bits and its
    /// sequence in the low 48, so ids of different servers never meet and a lone server's (identity 0) are its
    /// plain sequence numbers. Kept as one number so the unconfirmed table and the writer stay as fast as before;
    /// the wire form is in <see cref="Protocol.Native.NativeProtocol.MessageIdText"/>.
    /// </summary>
    internal static class MessageIds
    {
        public const int SequenceBits = 48;

        public const long MaxSequence = (1L << SequenceBits) - 1;

        /// <summary>15 bits: the id stays positive.</summary>
        public const int MaxServerId = 32767;

        public static long Compose(int serverId, long sequence) => ((long)serverId << SequenceBits) | sequence;

        public static int ServerOf(long id) => (int)(id >> SequenceBits);

        public static long SequenceOf(long id) => id & MaxSequence;
    }
}
