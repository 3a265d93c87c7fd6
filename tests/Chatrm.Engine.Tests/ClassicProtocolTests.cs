using System;
using System.Linq;
using Xunit;

namespace Chatrm.Engine.Tests
{
    /// <summary>The pure parse and format functions: ClassicProtocol, UserNames, Refusals, ChatClient.SplitLines.</summary>
    public class ClassicProtocolTests
    {
        // --- Handshake ---

        [Theory]
        [InlineData("alice_", "alice")]          // what the original client sends
        [InlineData("alice", "alice")]           // nc users forget the underscore
        [InlineData("alice_4000", "alice")]      // NAME_PORT: the port is ignored
        [InlineData("alice_x_y", "alice")]       // only field 0 matters
        [InlineData("  alice_ \r", "alice")]     // surrounding white space is trimmed, as the original does
        [InlineData("_", "")]                    // no name at all: the caller refuses it
        [InlineData("", "")]
        public void ParseHandshakeTakesTheFirstField(string line, string expected)
        {
            Assert.Equal(expected, ClassicProtocol.ParseHandshake(line));
        }

        [Fact]
        public void FormatHandshakeIsWhatTheOriginalClientSends()
        {
            Assert.Equal("alice_\n", ClassicProtocol.FormatHandshake("alice"));
        }

        // --- Message lines from a registered user ---

        [Theory]
        [InlineData("alice_bob_hi")]   // SOURCE_DEST_TEXT: the original client
        [InlineData("bob_alice_hi")]   // DEST_SOURCE_TEXT: the original README
        [InlineData("ALICE_bob_hi")]   // the sender's name in any case
        [InlineData("bob_Alice_hi")]
        [InlineData(" alice _ bob _hi")] // fields are trimmed; the text is not
        public void BothMessageFormsAreRecognisedFromTheSendersName(string line)
        {
            ClassicLine parsed = ClassicProtocol.ParseClientLine(line, "alice");

            Assert.Equal(ClassicLineKind.Message, parsed.Kind);
            Assert.Equal("bob", parsed.To);
            Assert.Equal("hi", parsed.Text);
        }

        [Fact]
        public void SenderMatchingIsCaseInsensitiveOnTheRegisteredSideToo()
        {
            // Registered as "Alice", typing "alice".
            ClassicLine parsed = ClassicProtocol.ParseClientLine("alice_bob_hi", "Alice");

            Assert.Equal(ClassicLineKind.Message, parsed.Kind);
            Assert.Equal("bob", parsed.To);
        }

        [Theory]
        [InlineData("alice_bob_hi")]
        [InlineData("bob_alice_hi")]
        [InlineData(" alice _ bob _hi")]
        public void ARecipientSpelledAsThePreviousOneComesBackAsThatString(string line)
        {
            string previous = new string("bob".ToCharArray());
            ClassicLine parsed = ClassicProtocol.ParseClientLine(line, "alice", previous);

            Assert.Equal(ClassicLineKind.Message, parsed.Kind);
            Assert.Same(previous, parsed.To);
            Assert.Equal("hi", parsed.Text);
        }

        [Fact]
        public void ARecipientSpelledOtherwiseThanThePreviousOneIsItsOwnString()
        {
            ClassicLine parsed = ClassicProtocol.ParseClientLine("alice_BOB_hi", "alice", "bob");

            Assert.Equal("BOB", parsed.To);
            Assert.Equal("carol", ClassicProtocol.ParseClientLine("carol_bob_hi", "alice", "carol").ClaimedSender);
            Assert.Equal(ClassicLineKind.Forged, ClassicProtocol.ParseClientLine("carol_bob_hi", "alice", "carol").Kind);
        }

        [Fact]
        public void MessageToSelfIsAMessage()
        {
            ClassicLine parsed = ClassicProtocol.ParseClientLine("alice_alice_note", "alice");

            Assert.Equal(ClassicLineKind.Message, parsed.Kind);
            Assert.Equal("alice", parsed.To);
            Assert.Equal("note", parsed.Text);
        }

        [Theory]
        [InlineData("carol_bob_hi", "carol")]
        [InlineData("bob_carol_hi", "bob")]
        [InlineData("alicex_bob_hi", "alicex")] // a prefix of the name is not the name
        public void ALineNamingSomeoneElseAsSenderIsForged(string line, string claimed)
        {
            ClassicLine parsed = ClassicProtocol.ParseClientLine(line, "alice");

            Assert.Equal(ClassicLineKind.Forged, parsed.Kind);
            Assert.Equal(claimed, parsed.ClaimedSender);
            Assert.Null(parsed.To);
        }

        [Theory]
        [InlineData("alice_bob_hello_world", "hello_world")]
        [InlineData("alice_bob__", "_")]
        [InlineData("alice_bob_a_b_c_d", "a_b_c_d")]
        [InlineData("alice_bob_", "")]
        [InlineData("alice_bob_ spaced  ", " spaced  ")]
        public void OnlyTheFirstTwoUnderscoresSplitSoTextKeepsItsUnderscores(string line, string text)
        {
            // The original cut text at its next '_'; this protocol keeps all of it.
            ClassicLine parsed = ClassicProtocol.ParseClientLine(line, "alice");

            Assert.Equal(ClassicLineKind.Message, parsed.Kind);
            Assert.Equal("bob", parsed.To);
            Assert.Equal(text, parsed.Text);
        }

        [Theory]
        [InlineData("")]
        [InlineData(" ")]
        [InlineData("\t  ")]
        public void BlankLinesAreBlank(string line)
        {
            Assert.Equal(ClassicLineKind.Blank, ClassicProtocol.ParseClientLine(line, "alice").Kind);
        }

        [Theory]
        [InlineData("EXIT")]
        [InlineData("EXIT ")]   // the original trims before comparing
        [InlineData(" EXIT\t")]
        public void ExitEndsTheSession(string line)
        {
            Assert.Equal(ClassicLineKind.Exit, ClassicProtocol.ParseClientLine(line, "alice").Kind);
        }

        [Fact]
        public void ExitInsideAMessageIsJustText()
        {
            ClassicLine parsed = ClassicProtocol.ParseClientLine("alice_bob_EXIT", "alice");

            Assert.Equal(ClassicLineKind.Message, parsed.Kind);
            Assert.Equal("EXIT", parsed.Text);
        }

        [Theory]
        [InlineData("hello")]
        [InlineData("alice_bob")]     // one separator: no text field
        [InlineData("alicebob hi")]
        [InlineData("_")]
        public void FewerThanTwoSeparatorsIsMalformed(string line)
        {
            Assert.Equal(ClassicLineKind.Malformed, ClassicProtocol.ParseClientLine(line, "alice").Kind);
        }

        [Fact]
        public void TrySplitReportsTheThreeParts()
        {
            Assert.True(ClassicProtocol.TrySplit("a_b_c_d", out string first, out string second, out string rest));
            Assert.Equal(("a", "b", "c_d"), (first, second, rest));

            Assert.False(ClassicProtocol.TrySplit("a_b", out _, out _, out _));
            Assert.False(ClassicProtocol.TrySplit("ab", out _, out _, out _));
        }

        // --- Lines the server and client write ---

        [Fact]
        public void DeliveryIsDestSourceText()
        {
            Assert.Equal("bob_alice_hi_there\n", ClassicProtocol.FormatDelivery("bob", "alice", "hi_there"));
        }

        [Fact]
        public void ClientMessageIsSourceDestTextAsTheOriginalClientSends()
        {
            Assert.Equal("alice_bob_hi\n", ClassicProtocol.FormatClientMessage("alice", "bob", "hi"));
        }

        [Fact]
        public void TryParseDeliveryKeepsUnderscoresInText()
        {
            Assert.True(ClassicProtocol.TryParseDelivery("bob_alice_a_b", out string to, out string from, out string text));
            Assert.Equal(("bob", "alice", "a_b"), (to, from, text));
        }

        [Theory]
        [InlineData("unknown-user", "no user named a_b is known here")]
        [InlineData("line-too-long", "a_b_c\r\nsecond line\rthird")]
        [InlineData("welcome", "you are alice")]
        [InlineData("malformed-line", "send your name, the recipient and the text, separated by underscores")]
        public void NoticesHaveNoUnderscoreOrLineBreakInCodeOrText(string code, string text)
        {
            string notice = ClassicProtocol.FormatNotice("alice", code, text);

            // One line, addressed DEST_chatrm_..., so the original client shows all of it after [chatrm>>].
            const string prefix = "alice_chatrm_";
            Assert.StartsWith(prefix, notice);
            Assert.EndsWith("\n", notice);
            string body = notice.Substring(prefix.Length, notice.Length - prefix.Length - 1);
            Assert.DoesNotContain('_', body);
            Assert.DoesNotContain('\n', body);
            Assert.DoesNotContain('\r', body);
            Assert.StartsWith(code + ": ", body);
        }

        [Fact]
        public void NoticeRoundTripsThroughTheClientParsers()
        {
            string line = ClassicProtocol.FormatNotice("alice", "user-offline", "bob is offline").TrimEnd('\n');

            Assert.True(ClassicProtocol.TryParseDelivery(line, out string to, out string from, out string text));
            Assert.Equal("alice", to);
            Assert.Equal(UserNames.Server, from);
            Assert.True(ClassicProtocol.TryParseNotice(text, out string code, out string message));
            Assert.Equal("user-offline", code);
            Assert.Equal("bob is offline", message);
        }

        [Theory]
        [InlineData("hello there")]          // no colon
        [InlineData(": starts with colon")]  // empty code
        [InlineData("Bad-Code: upper case")] // codes are lower case
        [InlineData("a b: space in code")]
        [InlineData("12: digits")]
        public void ChatTextIsNotTakenForANotice(string text)
        {
            Assert.False(ClassicProtocol.TryParseNotice(text, out _, out _));
        }

        // --- User names ---

        [Theory]
        [InlineData("a")]
        [InlineData("Alice")]
        [InlineData("bob.smith-2")]
        [InlineData("0")]
        [InlineData("abcdefghijklmnopqrstuvwxyz012345")] // exactly 32
        public void ValidNames(string name)
        {
            Assert.True(UserNames.IsValid(name));
            Assert.Null(UserNames.Problem(name));
        }

        [Theory]
        [InlineData(null)]
        [InlineData("")]
        [InlineData("abcdefghijklmnopqrstuvwxyz0123456")] // 33
        [InlineData("a b")]
        [InlineData("a_b")]   // the separator can never be in a name
        [InlineData("héllo")] // ASCII only
        [InlineData("ａ")]    // full-width a
        [InlineData("a\0")]
        [InlineData("a\n")]
        [InlineData("a:b")]
        public void InvalidNames(string name)
        {
            Assert.False(UserNames.IsValid(name));
            Assert.NotNull(UserNames.Problem(name));
        }

        [Theory]
        [InlineData("chatrm")]
        [InlineData("ChatRM")]
        [InlineData("CHATRM")]
        public void TheServersNameIsReservedInAnyCase(string name)
        {
            Assert.True(UserNames.IsReserved(name));
            Assert.Contains("reserved", UserNames.Problem(name));
        }

        [Fact]
        public void NamesCompareWithoutCase()
        {
            Assert.True(UserNames.AreSame("Alice", "aLICE"));
            Assert.False(UserNames.AreSame("alice", "alice2"));
            Assert.Equal(UserNames.Comparer.GetHashCode("Alice"), UserNames.Comparer.GetHashCode("ALICE"));
        }

        // --- Refusal codes ---

        public static TheoryData<Refusal> AllRefusals()
        {
            var data = new TheoryData<Refusal>();
            foreach (Refusal r in Enum.GetValues<Refusal>().Where(r => r != Refusal.None))
            {
                data.Add(r);
            }

            return data;
        }

        [Theory]
        [MemberData(nameof(AllRefusals))]
        public void RefusalCodesRoundTrip(Refusal refusal)
        {
            string code = refusal.ToCode();

            Assert.Equal(refusal, Refusals.FromCode(code));
            Assert.Matches("^[a-z]+(-[a-z]+)*$", code); // never '_', and a notice parser accepts it
            Assert.True(ClassicProtocol.TryParseNotice(code + ": text", out string parsed, out _));
            Assert.Equal(code, parsed);
            Assert.Equal(refusal, new ServerNotice(code, "text", DateTime.Now).Refusal);
        }

        [Fact]
        public void RefusalCodesAreDistinct()
        {
            var codes = Enum.GetValues<Refusal>().Select(r => r.ToCode()).ToList();
            Assert.Equal(codes.Count, codes.Distinct().Count());
        }

        [Theory]
        [InlineData("no-such-code")]
        [InlineData("welcome")]
        [InlineData("UNKNOWN-USER")] // codes are exact
        [InlineData("")]
        public void UnknownCodesAreNone(string code)
        {
            Assert.Equal(Refusal.None, Refusals.FromCode(code));
        }

        [Fact]
        public void ErrorIdsArePrefixed()
        {
            Assert.Equal("ChatrmUnknownUser", Refusal.UnknownUser.ToErrorId());
            Assert.Equal("ChatrmNameTaken", Refusal.NameTaken.ToErrorId());
        }

        // --- ChatClient.SplitLines ---

        [Theory]
        [InlineData("one", new[] { "one" })]
        [InlineData("", new[] { "" })]                         // an empty message is still one (empty) line
        [InlineData("a\nb", new[] { "a", "b" })]
        [InlineData("a\r\nb", new[] { "a", "b" })]
        [InlineData("a\rb", new[] { "a", "b" })]
        [InlineData("a\n", new[] { "a" })]                     // a trailing break does not add an empty line
        [InlineData("a\r\n", new[] { "a" })]
        [InlineData("a\r", new[] { "a" })]
        [InlineData("\n", new[] { "" })]
        [InlineData("a\n\nb", new[] { "a", "", "b" })]       // a blank line in the middle is kept
        [InlineData("a\r\rb", new[] { "a", "", "b" })]       // two CRs are two breaks
        [InlineData("a\n\rb", new[] { "a", "", "b" })]       // LF CR is not one break
        [InlineData("x_y\r\nz_w\n", new[] { "x_y", "z_w" })]
        public void SplitLinesHandlesEveryLineEnding(string text, string[] expected)
        {
            Assert.Equal(expected, ChatClient.SplitLines(text).ToArray());
        }

        // --- Options ---

        [Fact]
        public void ServerOptionsRejectNonsense()
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => new ServerOptions { Port = 70000 }.Validate());
            Assert.Throws<ArgumentOutOfRangeException>(() => new ServerOptions { MaxLineBytes = 10 }.Validate());
            Assert.Throws<ArgumentOutOfRangeException>(() => new ServerOptions { HandshakeTimeout = TimeSpan.Zero }.Validate());
            Assert.Throws<ArgumentOutOfRangeException>(() => new ServerOptions { MaxLineBytes = 1000, MaxQueuedBytesPerConnection = 999 }.Validate());
            Assert.Throws<ArgumentNullException>(() => new ServerOptions { Address = null }.Validate());
            new ServerOptions().Validate(); // the defaults are sound
        }
    }
}
