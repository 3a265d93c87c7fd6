using Chatrm.PowerShell;
using Xunit;

namespace Chatrm.Engine.Tests
{
    /// <summary>Enter-ChatrmChat's line editor, without a terminal: typing and Backspace over whole grapheme clusters.</summary>
    public class LineEditorTests
    {
        private const string Grin = "\U0001F600";
        // Woman technologist with a medium skin tone: woman, skin tone, ZWJ, laptop.
        private const string Technologist = "\U0001F469\U0001F3FD\u200D\U0001F4BB";
        // Family: man, ZWJ, woman, ZWJ, girl.
        private const string Family = "\U0001F468\u200D\U0001F469\u200D\U0001F467";
        private const string ThumbsUpDark = "\U0001F44D\U0001F3FF";
        // e followed by a combining acute accent and a combining dot below.
        private const string Decorated = "e\u0301\u0323";

        private static LineEditor Typed(string keys)
        {
            var editor = new LineEditor();
            foreach (char key in keys)
            {
                editor.Type(key);
            }

            return editor;
        }

        [Theory]
        [InlineData(Grin)]
        [InlineData(Technologist)]
        [InlineData(Family)]
        [InlineData(ThumbsUpDark)]
        [InlineData(Decorated)]
        [InlineData("\u00e9")]
        [InlineData("\u6f22")]
        public void Backspace_removes_one_whole_grapheme_cluster(string cluster)
        {
            LineEditor editor = Typed("hi " + cluster);
            Assert.True(editor.Backspace());
            Assert.Equal("hi ", editor.Text);
        }

        [Fact]
        public void Backspace_after_an_emoji_leaves_no_half_surrogate_to_send()
        {
            LineEditor editor = Typed("a" + Grin + Grin);
            editor.Backspace();
            Assert.Equal("a" + Grin, editor.Text);
            Assert.DoesNotContain('\uFFFD', editor.Text);
        }

        [Fact]
        public void Backspace_on_an_empty_line_does_nothing()
        {
            var editor = new LineEditor();
            Assert.False(editor.Backspace());
            Assert.True(editor.IsEmpty);
        }

        [Fact]
        public void A_surrogate_pair_is_echoed_once_it_is_whole()
        {
            var editor = new LineEditor();
            Assert.Equal(string.Empty, editor.Type(Grin[0]));
            Assert.Equal(Grin, editor.Type(Grin[1]));
            Assert.Equal(Grin, editor.Text);
        }

        [Fact]
        public void A_half_pair_followed_by_another_character_is_dropped()
        {
            var editor = new LineEditor();
            editor.Type('\uD83D');
            Assert.Equal("x", editor.Type('x'));
            editor.Type('\uDE00');
            Assert.Equal("x", editor.Text);
        }

        [Theory]
        [InlineData('\u0007')]
        [InlineData('\u001b')]
        [InlineData('\t')]
        [InlineData('\u007f')]
        [InlineData('\u009b')]
        public void Control_characters_are_not_typed(char key)
        {
            var editor = new LineEditor();
            Assert.Equal(string.Empty, editor.Type(key));
            Assert.True(editor.IsEmpty);
        }

        [Fact]
        public void Take_gives_the_line_and_starts_an_empty_one()
        {
            LineEditor editor = Typed("hello " + Technologist);
            Assert.Equal("hello " + Technologist, editor.Take());
            Assert.True(editor.IsEmpty);
        }
    }
}
