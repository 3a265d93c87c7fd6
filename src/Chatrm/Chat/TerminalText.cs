using System.Globalization;
using System.Text;

namespace Chatrm.PowerShell
{
    /// <summary>Makes other people's text safe to print: no escape sequences, no control characters, no direction overrides.</summary>
    public static class TerminalText
    {
        // A tab's width depends on the column it lands in, which a table cell or an indented line does not know;
        // a fixed four spaces reads as a tab and cannot move the cursor.
        private const string TabAsSpaces = "    ";

        /// <summary>
        /// The text with line breaks kept (CRLF and a lone CR become LF, so a CR cannot overwrite what went before),
        /// tabs as four spaces, other C0 controls as ^X (ESC as ^[), DEL as ^?, and C1 controls and bidirectional
        /// overrides and isolates as &lt;U+XXXX&gt;.
        /// </summary>
        public static string Neutralise(string text)
        {
            if (string.IsNullOrEmpty(text))
            {
                return string.Empty;
            }

            var safe = new StringBuilder(text.Length);
            for (int i = 0; i < text.Length; i++)
            {
                char c = text[i];
                if (c == '\n')
                {
                    safe.Append('\n');
                }
                else if (c == '\r')
                {
                    safe.Append('\n');
                    if (i + 1 < text.Length && text[i + 1] == '\n')
                    {
                        i++;
                    }
                }
                else if (c == '\t')
                {
                    safe.Append(TabAsSpaces);
                }
                else if (c < ' ')
                {
                    // ESC shows as ^[, BEL as ^G, ...: visible, and harmless to the terminal.
                    safe.Append('^').Append((char)(c + 64));
                }
                else if (c == '\u007f')
                {
                    safe.Append("^?");
                }
                else if ((c >= '\u0080' && c <= '\u009f') || (c >= '\u202a' && c <= '\u202e') || (c >= '\u2066' && c <= '\u2069'))
                {
                    // C1 controls (a terminal may take \u009b as an escape) and bidirectional overrides.
                    safe.Append(string.Format(CultureInfo.InvariantCulture, "<U+{0:X4}>", (int)c));
                }
                else
                {
                    safe.Append(c);
                }
            }

            return safe.ToString();
        }
    }
}
