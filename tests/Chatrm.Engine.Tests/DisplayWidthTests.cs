using Chatrm.PowerShell;
using Xunit;

namespace Chatrm.Engine.Tests
{
    /// <summary>The columns Enter-ChatrmChat counts for text, and the row its cursor ends on when a line wraps.</summary>
    public class DisplayWidthTests
    {
        [Theory]
        [InlineData("", 0)]
        [InlineData("abc", 3)]
        [InlineData("\u00e9", 1)]                                     // precomposed é
        [InlineData("e\u0301", 1)]                                    // e and a combining acute accent
        [InlineData("\u6f22\u5b57", 4)]                               // two CJK ideographs
        [InlineData("\ud55c\uae00", 4)]                               // two Hangul syllables
        [InlineData("\uff21", 2)]                                     // fullwidth A
        [InlineData("\U0001F600", 2)]                                 // an emoji
        [InlineData("\U0001F44D\U0001F3FD", 2)]                       // with a skin tone
        [InlineData("\U0001F469\U0001F3FD\u200D\U0001F4BB", 2)]       // a ZWJ sequence
        [InlineData("\U0001F1EF\U0001F1F5", 2)]                       // a flag: two regional indicators
        [InlineData("\u2764\uFE0F", 2)]                               // a heart with emoji presentation
        [InlineData("\u2764", 1)]                                     // the same heart as text
        [InlineData("a\U0001F600b", 4)]
        public void Counts_columns_per_grapheme_cluster(string text, int columns)
        {
            Assert.Equal(columns, DisplayWidth.Of(text));
        }

        [Theory]
        [InlineData("", 10, 0)]
        [InlineData("abcde", 10, 0)]
        [InlineData("abcdefghij", 10, 0)]       // a row filled exactly: the cursor waits at its end
        [InlineData("abcdefghijk", 10, 1)]
        [InlineData("abcdefghijklmnopqrstu", 10, 2)]
        [InlineData("abcdefghijklmnopqrst", 10, 1)]
        public void Finds_the_cursor_row_of_a_wrapped_line(string text, int terminalWidth, int row)
        {
            Assert.Equal(row, DisplayWidth.CursorRow(text, terminalWidth));
        }

        [Fact]
        public void A_wide_character_that_does_not_fit_goes_to_the_next_row()
        {
            // Nine narrow columns leave one: the emoji cannot straddle the edge, so it starts row 1.
            Assert.Equal(1, DisplayWidth.CursorRow("abcdefghi\U0001F600", 10));
            Assert.Equal(0, DisplayWidth.CursorRow("abcdefgh\U0001F600", 10));
        }

        [Fact]
        public void Five_emoji_fill_exactly_ten_columns()
        {
            Assert.Equal(0, DisplayWidth.CursorRow(string.Concat(System.Linq.Enumerable.Repeat("\U0001F600", 5)), 10));
            Assert.Equal(1, DisplayWidth.CursorRow(string.Concat(System.Linq.Enumerable.Repeat("\U0001F600", 6)), 10));
        }
    }
}
