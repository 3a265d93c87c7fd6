using System;
using System.Collections.Generic;
using System.Security.Cryptography;
using System.Text;
using Chatrm.Engine.Messaging;
using Chatrm.Engine.Storage;

namespace Chatrm.Engine.Server.Resume
{
    /// <summary>
    /// Remembered refs to and from a store file's <see cref="KeptRef"/> rows: a stop writes them, the next start reads
    /// them. The token goes into the file as its SHA-256 only, as it never goes into a log.
    /// </summary>
    internal static class KeptRefs
    {
        /// <summary>The token as a store file names it: SHA-256 of its UTF-8, lower-case hex.</summary>
        public static string HashOf(string token)
        {
            using (SHA256 sha = SHA256.Create())
            {
                byte[] hash = sha.ComputeHash(Encoding.UTF8.GetBytes(token));
                var hex = new StringBuilder(hash.Length * 2);
                foreach (byte b in hash)
                {
                    hex.Append(b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture));
                }

                return hex.ToString();
            }
        }

        public static KeptRef ToKept(string userName, string tokenHash, SentRef sent, RememberedRef entry)
        {
            RefFate fate = entry.Fate;
            return new KeptRef
            {
                UserName = userName,
                TokenHash = tokenHash,
                Ref = sent.ToText(),
                Id = entry.Number,
                To = entry.To,
                SentAt = entry.SentAt,
                Fate = (int)fate.Kind,
                Reason = fate.Kind == FateKind.Refused ? fate.Reason.ToCode() : null,
                Message = fate.Message,
                Seq = fate.Seq,
                Recipients = fate.Recipients,
            };
        }

        /// <summary>The ref and what was remembered of it; false for a row this build cannot read (a fate it does not know).</summary>
        public static bool TryFromKept(KeptRef kept, out SentRef sent, out RememberedRef entry)
        {
            sent = SentRef.OfText(kept.Ref);
            entry = new RememberedRef(kept.Id, kept.To, DateTime.SpecifyKind(kept.SentAt, DateTimeKind.Utc));
            var kind = (FateKind)kept.Fate;
            if (kind <= FateKind.Pending || kind > FateKind.Refused || string.IsNullOrEmpty(kept.Ref))
            {
                return false;
            }

            Refusal reason = kind == FateKind.Refused ? Refusals.FromCode(kept.Reason) : Refusal.None;
            entry.Fate = new RefFate(kind, reason, kept.Message, kept.Seq, kept.Recipients);
            return true;
        }

        /// <summary>Rows of one user's token, whatever the case of the name in each.</summary>
        public static Dictionary<ResumeKey, List<KeptRef>> ByToken(IReadOnlyList<KeptRef> kept)
        {
            var byToken = new Dictionary<ResumeKey, List<KeptRef>>();
            foreach (KeptRef row in kept)
            {
                var key = new ResumeKey(row.UserName, row.TokenHash);
                if (!byToken.TryGetValue(key, out List<KeptRef> rows))
                {
                    byToken.Add(key, rows = new List<KeptRef>());
                }

                rows.Add(row);
            }

            return byToken;
        }
    }
}
