using System.Globalization;
using System.Text;

namespace Chatrm.PowerShell
{
    /// <summary>
    /// The line a person is typing in a chat, kept as whole grapheme clusters: Backspace removes what the screen
    /// shows as one character (an emoji with its skin tone or ZWJ parts, a letter with its combining marks), so
    /// the screen always shows what will be sent.
    /// </summary>
    internal sealed class LineEditor
    {
        private readonly StringBuilder _text = new StringBuilder();

        // A key gives one UTF-16 unit: the first half of a surrogate pair waits here for its second.
        private char? _highSurrogate;

        public string Text => _text.ToString();

        public bool IsEmpty => _text.Length == 0;

        /// <summary>Adds a typed character; returns what to echo, which is empty while half a surrogate pair waits.</summary>
        public string Type(char c)
        {
            if (char.IsHighSurrogate(c))
            {
                _highSurrogate = c;
                return string.Empty;
            }

            if (char.IsLowSurrogate(c))
            {
                if (_highSurrogate == null)
                {
                    return string.Empty;
                }

                string pair = new string(new[] { _highSurrogate.Value, c });
                _highSurrogate = null;
                _text.Append(pair);
                return pair;
            }

            // A half pair followed by anything else was never a character: drop it rather than send U+FFFD.
            _highSurrogate = null;
            if (char.IsControl(c))
            {
                return string.Empty;
            }

            _text.Append(c);
            return c.ToString();
        }

        /// <summary>Removes the last grapheme cluster; false when there was nothing to remove.</summary>
        public bool Backspace()
        {
            _highSurrogate = null;
            if (_text.Length == 0)
            {
                return false;
            }

            int lastStart = 0;
            TextElementEnumerator clusters = StringInfo.GetTextElementEnumerator(_text.ToString());
            while (clusters.MoveNext())
            {
                lastStart = clusters.ElementIndex;
            }

            _text.Length = lastStart;
            return true;
        }

        /// <summary>The line as typed, leaving the editor empty for the next one.</summary>
        public string Take()
        {
            string line = _text.ToString();
            Clear();
            return line;
        }

        public void Clear()
        {
            _text.Clear();
            _highSurrogate = null;
        }
    }
}
