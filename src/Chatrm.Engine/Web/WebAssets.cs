using System;
using System.Collections.Generic;
using System.IO;

namespace Chatrm.Engine.Web
{
    /// <summary>The web client's files, embedded in the assembly (Web/Assets): plain HTML, CSS and JavaScript, nothing built.</summary>
    internal static class WebAssets
    {
        private static readonly Dictionary<string, (string Resource, string ContentType)> Files = new Dictionary<string, (string, string)>(StringComparer.Ordinal)
        {
            ["/"] = ("index.html", "text/html; charset=utf-8"),
            ["/index.html"] = ("index.html", "text/html; charset=utf-8"),
            ["/app.js"] = ("app.js", "text/javascript; charset=utf-8"),
            ["/app.css"] = ("app.css", "text/css; charset=utf-8"),
        };

        private static readonly Dictionary<string, byte[]> Loaded = new Dictionary<string, byte[]>(StringComparer.Ordinal);

        /// <summary>The file served at <paramref name="path"/>, or false for any other path.</summary>
        public static bool TryGet(string path, out byte[] content, out string contentType)
        {
            content = null;
            contentType = null;
            if (!Files.TryGetValue(path, out (string Resource, string ContentType) file))
            {
                return false;
            }

            contentType = file.ContentType;
            lock (Loaded)
            {
                if (!Loaded.TryGetValue(file.Resource, out content))
                {
                    using Stream stream = typeof(WebAssets).Assembly.GetManifestResourceStream("Chatrm.Web." + file.Resource)
                        ?? throw new InvalidOperationException("The web client's " + file.Resource + " is missing from the assembly.");
                    using var copy = new MemoryStream();
                    stream.CopyTo(copy);
                    content = copy.ToArray();
                    Loaded[file.Resource] = content;
                }
            }

            return true;
        }
    }
}
