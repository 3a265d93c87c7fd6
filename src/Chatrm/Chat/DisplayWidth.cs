using System.Globalization;

namespace Chatrm.PowerShell
{
    /// <summary>
    /// How many terminal columns text takes, and which row a cursor ends on when text wraps. The rule is small on
    /// purpose: a grapheme cluster takes two columns when it starts with an East Asian wide or fullwidth character
    /// (Hangul, CJK ideographs and punctuation, kana, fullwidth forms), with a pictographic emoji (U+1F300 to U+1F64F,
    /// U+1F680 to U+1F6FF, U+1F900 to U+1F9FF, U+1FA70 to U+1FAFF), with a regional indicator (a flag), or holds the
    /// emoji presentation selector U+FE0F; none when it starts with a combining mark, a format or a control
    /// character; one otherwise. Not covered: the few BMP symbols that are emoji by default (such as U+231A), which
    /// count as one column, and terminals that draw an emoji ZWJ sequence as its parts, which take more.
    /// </summary>
    internal static class DisplayWidth
    {
        /// <summary>The columns of a whole string: the sum over its grapheme clusters.</summary>
        public static int Of(string text)
        {
            int width = 0;
            TextElementEnumerator clusters = StringInfo.GetTextElementEnumerator(text ?? string.Empty);
            while (clusters.MoveNext())
            {
                width += OfCluster(clusters.GetTextElement());
            }

            return width;
        }

        /// <summary>The columns of one grapheme cluster: 0, 1 or 2.</summary>
        public static int OfCluster(string cluster)
        {
            if (string.IsNullOrEmpty(cluster))
            {
                return 0;
            }

            int first = char.ConvertToUtf32(cluster, 0);
            switch (CharUnicodeInfo.GetUnicodeCategory(cluster, 0))
            {
                case UnicodeCategory.NonSpacingMark:
                case UnicodeCategory.EnclosingMark:
                case UnicodeCategory.Format:
                case UnicodeCategory.Control:
                    return 0;
            }

            return IsWide(first) || cluster.IndexOf('\uFE0F') >= 0 ? 2 : 1;
        }

        /// <summary>
        /// The row, counted from the row the text starts on, where the cursor stands after writing the text from
        /// the first column of a terminal this many columns wide. A cluster that does not fit in what is left of a
        /// row goes to the next one, as terminals wrap; a row filled exactly keeps the cursor on it until more comes.
        /// </summary>
        public static int CursorRow(string text, int terminalWidth)
        {
            if (terminalWidth < 1)
            {
                return 0;
            }

            int row = 0;
            int column = 0;
            TextElementEnumerator clusters = StringInfo.GetTextElementEnumerator(text ?? string.Empty);
            while (clusters.MoveNext())
            {
                int width = OfCluster(clusters.GetTextElement());
                if (width == 0)
                {
                    continue;
                }

                if (column > 0 && column + width > terminalWidth)
                {
                    row++;
                    column = 0;
                }

                column += width;
            }

            return row;
        }

        private static bool IsWide(int c) =>
            (c >= 0x1100 && c <= 0x115F)
            || (c >= 0x2E80 && c <= 0x303E)
            || (c >= 0x3041 && c <= 0x33FF)
            || (c >= 0x3400 && c <= 0x4DBF)
            || (c >= 0x4E00 && c <= 0x9FFF)
            || (c >= 0xA000 && c <= 0xA4CF)
            || (c >= 0xAC00 && c <= 0xD7A3)
            || (c >= 0xF900 && c <= 0xFAFF)
            || (c >= 0xFE30 && c <= 0xFE4F)
            || (c >= 0xFF00 && c <= 0xFF60)
            || (c >= 0xFFE0 && c <= 0xFFE6)
            || (c >= 0x1F1E6 && c <= 0x1F1FF)
            || (c >= 0x1F300 && c <= 0x1F64F)
            || (c >= 0x1F680 && c <= 0x1F6FF)
            || (c >= 0x1F900 && c <= 0x1F9FF)
            || (c >= 0x1FA70 && c <= 0x1FAFF)
            || (c >= 0x20000 && c <= 0x3FFFD);
    }
}
