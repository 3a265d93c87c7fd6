using System;

namespace Chatrm.Engine.Transport
{
    /// <summary>Handles one incoming line's UTF-8 bytes; false stops reading.</summary>
    internal delegate bool LineHandler(ReadOnlySpan<byte> line);
}
