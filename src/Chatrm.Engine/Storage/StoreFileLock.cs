using System;
using System.IO;

namespace Chatrm.Engine.Storage
{
    /// <summary>
    /// Holds <c>&lt;store&gt;.lock</c> open with no sharing for the store's life, so a second server on the same file is
    /// told so at start (on Linux and macOS .NET takes an flock for FileShare.None). The lock goes with the process,
    /// however it ends; the empty file stays.
    /// </summary>
    internal sealed class StoreFileLock : IDisposable
    {
        private readonly FileStream file;

        private StoreFileLock(FileStream file)
        {
            this.file = file;
        }

        public static StoreFileLock Take(string storePath)
        {
            string lockPath = storePath + ".lock";
            try
            {
                return new StoreFileLock(new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
            }
            catch (IOException ex)
            {
                throw new StoreOpenException(storePath, $"The message store '{storePath}' is in use by another Chatrm server (its lock file '{lockPath}' is held). Stop that server, or give this one another -StorePath.", ex);
            }
            catch (UnauthorizedAccessException ex)
            {
                throw new StoreOpenException(storePath, $"The message store's lock file '{lockPath}' cannot be opened: {ex.Message}", ex);
            }
        }

        public void Dispose() => file.Dispose();
    }
}
