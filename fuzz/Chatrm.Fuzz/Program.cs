using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using SharpFuzz;

namespace Chatrm.Fuzz
{
    /// <summary>
    /// dotnet Chatrm.Fuzz.dll TARGET              one harness, fed by afl-fuzz through SharpFuzz (or stdin once)
    /// dotnet Chatrm.Fuzz.dll TARGET --replay P... runs the harness on each file (or each file in each folder)
    ///
    /// TARGET is classic, native or framing (see <see cref="Targets"/>). A harness throws when an invariant breaks
    /// or the engine throws, and afl-fuzz records the input as a crash.
    /// </summary>
    public static class Program
    {
        private static readonly Dictionary<string, Action<byte[]>> All = new Dictionary<string, Action<byte[]>>(StringComparer.OrdinalIgnoreCase)
        {
            ["classic"] = Targets.Classic,
            ["native"] = Targets.Native,
            ["framing"] = Targets.Framing,
        };

        public static int Main(string[] args)
        {
            if (args.Length == 0 || !All.TryGetValue(args[0], out Action<byte[]> target))
            {
                Console.Error.WriteLine("usage: Chatrm.Fuzz (" + string.Join("|", All.Keys) + ") [--replay FILE-OR-FOLDER...]");
                return 2;
            }

            try
            {
                if (args.Length > 1 && args[1] == "--replay")
                {
                    return Replay(target, args.Skip(2));
                }

                var buffer = new MemoryStream();
                Fuzzer.Run(stream =>
                {
                    buffer.SetLength(0);
                    stream.CopyTo(buffer);
                    try
                    {
                        target(buffer.ToArray());
                    }
                    finally
                    {
                        Targets.EndTrace();
                    }
                });
                return 0;
            }
            finally
            {
                Targets.Shutdown();
            }
        }

        /// <summary>Runs the target on files; prints each failure with its exception. 1 when any failed.</summary>
        private static int Replay(Action<byte[]> target, IEnumerable<string> paths)
        {
            int ran = 0, failed = 0;
            foreach (string path in paths)
            {
                IEnumerable<string> files = Directory.Exists(path)
                    ? Directory.EnumerateFiles(path).Where(f => !Path.GetFileName(f).StartsWith('.') && !f.EndsWith(".txt", StringComparison.Ordinal)).OrderBy(f => f, StringComparer.Ordinal)
                    : new[] { path };
                foreach (string file in files)
                {
                    ran++;
                    try
                    {
                        target(File.ReadAllBytes(file));
                    }
                    catch (Exception e)
                    {
                        failed++;
                        Console.WriteLine("FAIL " + file);
                        Console.WriteLine("  " + e.ToString().Replace("\n", "\n  "));
                    }
                }
            }

            Console.WriteLine($"{ran} inputs, {failed} failed");
            return failed == 0 ? 0 : 1;
        }
    }
}
