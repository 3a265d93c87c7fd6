using System;
using System.IO;

namespace Chatrm.Engine.Tests
{
    /// <summary>A store file's path in a folder of its own under the temp folder, deleted (with the store's side files) when disposed.</summary>
    internal sealed class TempStoreFile : IDisposable
    {
        private readonly string _folder = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "chatrm-test-" + Guid.NewGuid().ToString("N"));

        public TempStoreFile()
        {
            Directory.CreateDirectory(_folder);
            Path = System.IO.Path.Combine(_folder, "chatrm.db");
        }

        public string Path { get; }

        public void Dispose()
        {
            try
            {
                Directory.Delete(_folder, recursive: true);
            }
            catch (IOException)
            {
                // A file the store still closes; the temp folder is the system's to clean then.
            }
        }
    }
}
