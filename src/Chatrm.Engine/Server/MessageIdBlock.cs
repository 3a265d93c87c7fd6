using System.Runtime.CompilerServices;

namespace Chatrm.Engine.Server
{
    /// <summary>
    /// One sender's ids, taken from the server's counter in blocks: bumping one counter per message took a locked
    /// instruction on a cache line both cores fought over. They stay unique, and one sender's ids still rise.
    /// A field of its one user (a struct, no lock): only that connection's reader calls <see cref="Next"/>.
    /// </summary>
    internal struct MessageIdBlock
    {
        private const int Size = 64;
        private long _next;
        private long _end;

        // Inlined into its one caller, as the code was before it had a type of its own.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public long Next(ChatServer server)
        {
            if (_next == _end)
            {
                _end = server.ReserveMessageIds(Size);
                _next = _end - Size;
            }

            return ++_next;
        }
    }
}
