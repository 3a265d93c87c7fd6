using System.Globalization;

namespace Chatrm.Bench;

/// <summary>--name value pairs and --flag switches.</summary>
public sealed class Options
{
    private readonly Dictionary<string, string> _values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    public Options(IEnumerable<string> args)
    {
        string pending = null;
        foreach (string arg in args)
        {
            if (arg.StartsWith("--", StringComparison.Ordinal))
            {
                if (pending != null) _values[pending] = "true";
                pending = arg.Substring(2);
            }
            else if (pending != null)
            {
                _values[pending] = arg;
                pending = null;
            }
            else
            {
                throw new ArgumentException("unexpected argument " + arg);
            }
        }

        if (pending != null) _values[pending] = "true";
    }

    public string Get(string name, string fallback = null) => _values.TryGetValue(name, out string v) ? v : fallback;

    public int Int(string name, int fallback) => _values.TryGetValue(name, out string v) ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;

    public double Double(string name, double fallback) => _values.TryGetValue(name, out string v) ? double.Parse(v, CultureInfo.InvariantCulture) : fallback;

    public bool Flag(string name) => _values.TryGetValue(name, out string v) && v != "false";
}
