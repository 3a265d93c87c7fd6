using Chatrm.Engine.Messaging;

namespace Chatrm.Engine.Storage
{
    /// <summary>The key a conversation's history is kept under: a room's name, or the two people of a direct one.</summary>
    internal static class Conversations
    {
        /// <summary>The same key whoever of the two asks: both names lower-cased (as names compare), in order, joined by a space (no name holds one).</summary>
        public static string Direct(string one, string other)
        {
            // Every direct message is kept as history, and a reader thread mostly carries one sender's messages to
            // one recipient (the same string instances): the key made last on this thread is reused for them.
            if (ReferenceEquals(one, t_one) && ReferenceEquals(other, t_other))
            {
                return t_key;
            }

            t_key = MakeDirect(one, other);
            t_one = one;
            t_other = other;
            return t_key;
        }

        [System.ThreadStatic]
        private static string t_one, t_other, t_key;

        private static string MakeDirect(string one, string other)
        {
            string a = one.ToLowerInvariant();
            string b = other.ToLowerInvariant();
            return string.CompareOrdinal(a, b) <= 0 ? a + " " + b : b + " " + a;
        }

        /// <summary>A room's key: its name lower-cased, as room names compare.</summary>
        public static string Room(string room) => room.ToLowerInvariant();

        /// <summary>The conversation a message belongs to.</summary>
        public static string Of(StoredMessage message) =>
            RoomNames.IsRoom(message.To) ? Room(message.To) : Direct(message.From, message.To);
    }
}
