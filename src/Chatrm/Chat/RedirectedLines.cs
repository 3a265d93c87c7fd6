using System;
using System.IO;
using System.Threading.Tasks;

namespace Chatrm.PowerShell
{
    /// <summary>
    /// Lines of redirected standard input, each read in the background so a chat can show what arrives meanwhile.
    /// A read cannot be taken back once started, so a line the chat did not use (it ended first: the server closed
    /// the connection, or Ctrl+C) is handed back: from then on Console.In gives that line first, and the script's
    /// next read of standard input, or the next chat, gets it.
    /// </summary>
    internal sealed class RedirectedLines
    {
        private Task<string> _next;

        public RedirectedLines()
        {
            _next = StartRead();
        }

        /// <summary>Completes with the next line, or null at the end of the input.</summary>
        public Task<string> Next => _next;

        /// <summary>The line Next completed with; reading the one after starts unless the input has ended.</summary>
        public string Take()
        {
            string line = _next.GetAwaiter().GetResult();
            _next = line == null ? null : StartRead();
            return line;
        }

        /// <summary>Gives back a line being read or read and not taken, so it is not lost to whoever reads next.</summary>
        public void HandBack()
        {
            if (_next == null)
            {
                return;
            }

            Console.SetIn(TextReader.Synchronized(new HandedBackLineReader(_next, Console.In)));
            _next = null;
        }

        private static Task<string> StartRead()
        {
            TextReader input = Console.In;
            return Task.Run(() => input.ReadLine());
        }

        /// <summary>Reads a handed-back line first, then the rest of the input.</summary>
        private sealed class HandedBackLineReader : TextReader
        {
            private readonly Task<string> _line;
            private readonly TextReader _rest;
            private string _unread;
            private int _position;

            public HandedBackLineReader(Task<string> line, TextReader rest)
            {
                _line = line;
                _rest = rest;
            }

            public override string ReadLine()
            {
                if (FillUnread())
                {
                    string line = _unread.Substring(_position, _unread.Length - _position - 1);
                    _position = _unread.Length;
                    return line;
                }

                return _rest.ReadLine();
            }

            public override int Peek() => FillUnread() ? _unread[_position] : _rest.Peek();

            public override int Read() => FillUnread() ? _unread[_position++] : _rest.Read();

            // True while some of the handed-back line (with its line break) is left; waits for it if still being read.
            private bool FillUnread()
            {
                if (_unread == null)
                {
                    string line = _line.GetAwaiter().GetResult();
                    _unread = line == null ? string.Empty : line + "\n";
                }

                return _position < _unread.Length;
            }
        }
    }
}
