using System;
using Chatrm.PowerShell;
using Xunit;

namespace Chatrm.Engine.Tests
{
    /// <summary>TerminalText.Neutralise, and the chat lines built with it: other people's text cannot drive the terminal.</summary>
    public class TerminalTextTests
    {
        [Theory]
        [InlineData("plain text", "plain text")]
        [InlineData("x\u001b[2J", "x^[[2J")]                 // ESC: clear screen
        [InlineData("\u001b]0;PWNED\u0007", "^[]0;PWNED^G")] // OSC retitle and BEL
        [InlineData("a\u0000b", "a^@b")]
        [InlineData("a\u007fb", "a^?b")]                     // DEL
        [InlineData("a\u009b2Jb", "a<U+009B>2Jb")]           // C1 CSI, an escape to some terminals
        [InlineData("\u0085\u0090\u009d", "<U+0085><U+0090><U+009D>")]
        [InlineData("abc\u202edcba", "abc<U+202E>dcba")]     // right-to-left override
        [InlineData("\u202a\u202b\u202c\u202d", "<U+202A><U+202B><U+202C><U+202D>")]
        [InlineData("\u2066x\u2067y\u2068z\u2069", "<U+2066>x<U+2067>y<U+2068>z<U+2069>")] // isolates
        [InlineData("caf\u00e9 \u6f22 \U0001F600", "caf\u00e9 \u6f22 \U0001F600")]
        public void Makes_controls_visible_and_keeps_the_rest(string text, string shown)
        {
            Assert.Equal(shown, TerminalText.Neutralise(text));
        }

        [Theory]
        [InlineData("one\ntwo", "one\ntwo")]
        [InlineData("one\r\ntwo", "one\ntwo")]
        [InlineData("one\rtwo", "one\ntwo")]                 // a lone CR cannot overwrite what went before
        [InlineData("one\r\n\r\ntwo", "one\n\ntwo")]
        [InlineData("a\tb", "a    b")]
        public void Shows_line_breaks_as_line_breaks_and_tabs_as_spaces(string text, string shown)
        {
            Assert.Equal(shown, TerminalText.Neutralise(text));
        }

        [Theory]
        [InlineData(null)]
        [InlineData("")]
        public void Empty_text_is_empty(string text)
        {
            Assert.Equal(string.Empty, TerminalText.Neutralise(text));
        }

        [Fact]
        public void A_server_notice_is_neutralised()
        {
            var notice = new ServerNotice("idle\u001b[2J", "bye\u001b]0;x\u0007", DateTime.UtcNow);
            Assert.Equal("[chatrm>>] bye^[]0;x^G (idle^[[2J)", ChatLines.Notice(notice));
        }

        [Fact]
        public void A_refusal_reason_and_detail_are_neutralised()
        {
            var refused = new SentMessage("alice", "bob", "hi", DateTime.UtcNow, SendStatus.Refused, "unknown-user\u009b", detail: "no \u202euser\u001b[5m");
            Assert.Equal("[chatrm>>] not delivered to bob: no <U+202E>user^[[5m (unknown-user<U+009B>)", ChatLines.Refused(refused));

            var noDetail = new SentMessage("alice", "bob", "hi", DateTime.UtcNow, SendStatus.Refused, "bad\u0007");
            Assert.Equal("[chatrm>>] not delivered to bob: bad^G (bad^G)", ChatLines.Refused(noDetail));
        }

        [Fact]
        public void A_message_shows_each_line_under_its_prefix()
        {
            var message = new ChatMessage("bob\u001b", "alice", "first\r\nsecond\tend\u001b[H", DateTime.UtcNow);
            Assert.Equal("[bob^[>>] ", ChatLines.MessagePrefix(message));
            Assert.Equal(new[] { "first", "          second    end^[[H" }, ChatLines.MessageLines(message));
        }
    }
}
