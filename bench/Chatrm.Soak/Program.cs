using System;
using System.Globalization;
using System.IO;
using System.Text.Json;
using System.Threading.Tasks;

namespace Chatrm.Soak
{
    public static class Program
    {
        private const string Usage =
@"Chatrm.Soak: many native users on loopback, some reconnecting, every confirmed message checked; the server's
memory and connections must come back afterwards. Stops by itself. Exit code 0 when it passed.

  --users N                  users (300)
  --messages N               messages in all (1000 a second of --seconds: 60000); sending stops at N or at
                             80% of the time
  --seconds N                how long the run lasts (60)
  --reconnects-per-second X  disconnections and reconnections per second over all users (5)
  --window N                 messages a user may have in flight (16)
  --seed N                   random seed (changes each run; printed)
  --in-process               host the server in this process instead of a child process
  --managed-tolerance-mib N  how far the server's managed heap may end above its start (4, or 10% if more)
  --working-set-tolerance-mib N  the same for its working set (32)
  --json PATH                also write the figures as JSON";

        public static async Task<int> Main(string[] args)
        {
            if (args.Length == 1 && args[0] == "--serve")
            {
                return await ChildProcessHost.ServeAsync();
            }

            SoakOptions options;
            string json = null;
            try
            {
                options = Parse(args, out json);
            }
            catch (Exception e) when (e is ArgumentException || e is FormatException || e is IndexOutOfRangeException)
            {
                Console.Error.WriteLine(e.Message);
                Console.Error.WriteLine(Usage);
                return 2;
            }

            if (options == null)
            {
                Console.WriteLine(Usage);
                return 0;
            }

            SoakResult result = await SoakRunner.RunAsync(options, line => Console.WriteLine(DateTime.UtcNow.ToString("HH:mm:ss", CultureInfo.InvariantCulture) + " " + line));
            Console.WriteLine();
            Console.WriteLine(result.Summary());
            if (json != null)
            {
                File.WriteAllText(json, JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true }));
            }

            return result.Passed ? 0 : 1;
        }

        private static SoakOptions Parse(string[] args, out string json)
        {
            var options = new SoakOptions();
            json = null;
            bool messagesGiven = false;
            for (int i = 0; i < args.Length; i++)
            {
                string value() => args[++i];
                switch (args[i])
                {
                    case "-?":
                    case "-h":
                    case "--help":
                        return null;
                    case "--users": options.Users = int.Parse(value(), CultureInfo.InvariantCulture); break;
                    case "--messages": options.Messages = int.Parse(value(), CultureInfo.InvariantCulture); messagesGiven = true; break;
                    case "--seconds": options.Duration = TimeSpan.FromSeconds(double.Parse(value(), CultureInfo.InvariantCulture)); break;
                    case "--reconnects-per-second": options.ReconnectsPerSecond = double.Parse(value(), CultureInfo.InvariantCulture); break;
                    case "--window": options.Window = int.Parse(value(), CultureInfo.InvariantCulture); break;
                    case "--seed": options.Seed = int.Parse(value(), CultureInfo.InvariantCulture); break;
                    case "--in-process": options.InProcess = true; break;
                    case "--managed-tolerance-mib": options.ManagedToleranceBytes = (long)(double.Parse(value(), CultureInfo.InvariantCulture) * 1048576); break;
                    case "--working-set-tolerance-mib": options.WorkingSetToleranceBytes = (long)(double.Parse(value(), CultureInfo.InvariantCulture) * 1048576); break;
                    case "--json": json = value(); break;
                    default: throw new ArgumentException("Unknown option " + args[i] + ".");
                }
            }

            if (!messagesGiven)
            {
                options.Messages = (int)Math.Max(1, Math.Min(int.MaxValue, options.Duration.TotalSeconds * 1000));
            }

            options.Validate();
            return options;
        }
    }
}
