using System;
using Chatrm.Engine.Messaging;

namespace Chatrm.Engine.Server
{
    /// <summary>Telling this user (and the operator) why something was refused.</summary>
    internal sealed partial class ServerConnection
    {
        private void OnLineTooLong()
        {
            if (!_registered)
            {
                // Chatrm's client, meeting this classic notice in answer to its hello, reports the opening as too long.
                RefuseHandshake(null, Refusal.LineTooLong, "the opening line is limited to " + _transport.MaxLineBytes + " bytes");
                _transport.StopReading();
                return;
            }

            Refuse(Refusal.LineTooLong, _session.DescribeLineTooLong(_server.Options.MaxLineBytes));
        }

        /// <summary>Tells this user why something was refused, in its protocol, and the operator too.</summary>
        internal void Refuse(Refusal refusal, string text)
        {
            Tell(refusal, text);
            _server.Raise(ServerEventKind.LineRefused, UserName, refusal.ToCode() + ": " + text);
        }

        /// <summary>
        /// Tells this user something in its protocol: a native error frame or a classic notice. A native frame
        /// goes through <see cref="Queued"/>, as every native frame does; <paramref name="evenIfFull"/> lets the
        /// last word to a user being dropped pass a full queue.
        /// </summary>
        private void Tell(Refusal refusal, string text, bool evenIfFull = false) => _session.Tell(refusal, text, evenIfFull);

        /// <summary>
        /// A name that was refused, for the operator's log: control, format and separator characters (escapes,
        /// bidi overrides, line breaks) and lone surrogates become '?', and it is cut at the name limit. Null when empty.
        /// </summary>
        internal static string Loggable(string name)
        {
            if (string.IsNullOrEmpty(name))
            {
                return null;
            }

            var safe = new System.Text.StringBuilder(Math.Min(name.Length, UserNames.MaxLength) + 3);
            for (int i = 0; i < name.Length && safe.Length < UserNames.MaxLength; i++)
            {
                char c = name[i];
                if (char.IsHighSurrogate(c) && i + 1 < name.Length && char.IsLowSurrogate(name[i + 1]))
                {
                    safe.Append(c).Append(name[++i]);
                    continue;
                }

                System.Globalization.UnicodeCategory category = char.GetUnicodeCategory(c);
                bool unsafeChar = category == System.Globalization.UnicodeCategory.Control
                    || category == System.Globalization.UnicodeCategory.Format
                    || category == System.Globalization.UnicodeCategory.LineSeparator
                    || category == System.Globalization.UnicodeCategory.ParagraphSeparator
                    || category == System.Globalization.UnicodeCategory.Surrogate;
                safe.Append(unsafeChar ? '?' : c);
            }

            return safe.Length < name.Length ? safe.Append("...").ToString() : safe.ToString();
        }
    }
}
