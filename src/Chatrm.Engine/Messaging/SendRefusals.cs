namespace Chatrm.Engine.Messaging
{
    /// <summary>The words a sender is told when a message is refused: the same for both protocols.</summary>
    internal static class SendRefusals
    {
        public static Refusal RefusalOf(DeliveryStatus status)
        {
            switch (status)
            {
                case DeliveryStatus.UserOffline: return Refusal.UserOffline;
                case DeliveryStatus.ClusterUnavailable: return Refusal.ClusterUnavailable;
                default: return Refusal.UnknownUser;
            }
        }

        public static string TextOf(DeliveryStatus status, string to)
        {
            switch (status)
            {
                case DeliveryStatus.UserOffline: return to + " is offline";
                case DeliveryStatus.ClusterUnavailable: return to + " is on another server, and the cluster is unavailable";
                default: return "no user named " + Printable(to) + " is known here";
            }
        }

        /// <summary>What a classic sender is told of a message kept for its offline recipient.</summary>
        public static string Stored(string to) => to + " is offline; the message will wait for them";

        public static string TooSlow(string to) => to + " is not reading and was disconnected";

        public static string RateLimited(int perSecond) => $"at most {perSecond} messages a second; that one was not delivered";

        /// <summary>A name as a refusal quotes it: never empty, never longer than a valid name.</summary>
        public static string Printable(string name)
        {
            if (string.IsNullOrEmpty(name))
            {
                return "(empty)";
            }

            return name.Length > UserNames.MaxLength ? name.Substring(0, UserNames.MaxLength) + "..." : name;
        }
    }
}
