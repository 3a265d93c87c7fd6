using System;

namespace Chatrm.Engine
{
    /// <summary>
    /// A store file could not be opened: another server holds it, it is not a Chatrm store, it was made by a newer
    /// version, or it is damaged. The file is left as it was; the message says what to do.
    /// </summary>
    public sealed class StoreOpenException : Exception
    {
        public StoreOpenException(string path, string message, Exception inner = null)
            : base(message, inner)
        {
            Path = path;
        }

        /// <summary>The store file that was asked for.</summary>
        public string Path { get; }
    }
}
