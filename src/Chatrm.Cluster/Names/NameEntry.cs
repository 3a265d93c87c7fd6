using System;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Chatrm.Engine;

namespace Chatrm.Cluster.Names
{
    /// <summary>
    /// Who holds a user's name in the cluster, as its key-value entry says: the node, the protocol, since when, and a
    /// digest of the session's resume token (the same client coming back through another server takes its name over).
    /// </summary>
    internal sealed class NameEntry
    {
        public NameEntry(string name, int node, string protocol, DateTime since, string tokenDigest)
        {
            Name = name;
            Node = node;
            Protocol = protocol;
            Since = since;
            TokenDigest = tokenDigest;
        }

        public string Name { get; }

        public int Node { get; }

        public string Protocol { get; }

        public DateTime Since { get; }

        /// <summary>"-" for a session without a resume token.</summary>
        public string TokenDigest { get; }

        /// <summary>The bucket's key for a name: hex of its upper-case UTF-8, so nothing a user types becomes part of a key.</summary>
        public static string KeyOf(string name) => BucketWatch.KeyOf("u.", name);

        public static string DigestOf(string token)
        {
            if (token == null)
            {
                return "-";
            }

            return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(token)), 0, 16);
        }

        public string Encode() =>
            string.Join("|", Node.ToString(CultureInfo.InvariantCulture), Protocol, Since.Ticks.ToString(CultureInfo.InvariantCulture), TokenDigest, Name);

        /// <summary>Null for a value no node of this version wrote, or for a name that is not valid.</summary>
        public static NameEntry Decode(string value)
        {
            string[] parts = value?.Split('|', 5);
            if (parts == null || parts.Length != 5
                || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int node)
                || !long.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out long ticks)
                || ticks < DateTime.MinValue.Ticks || ticks > DateTime.MaxValue.Ticks
                || !UserNames.IsValid(parts[4]))
            {
                return null;
            }

            return new NameEntry(parts[4], node, parts[1], new DateTime(ticks, DateTimeKind.Utc), parts[3]);
        }
    }
}
