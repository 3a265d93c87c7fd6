using System.Runtime.CompilerServices;

namespace Chatrm.Engine
{
    /// <summary>
    /// The method option for the few methods every message runs through (docs/performance.md, "Cold start"). On .NET
    /// they are compiled fully optimised at their first call, so they skip the JIT's tiers (and ReadyToRun, and dynamic
    /// PGO): a server a pwsh process just started routes its first messages at about its warm rate instead of through
    /// tier-0 and instrumented code while the JIT's one background thread competes with it for the cores. The
    /// netstandard2.0 build (Windows PowerShell) has no such option and keeps the JIT's own choice.
    /// </summary>
    internal static class HotPath
    {
#if NET
        internal const MethodImplOptions Options = MethodImplOptions.AggressiveOptimization;
#else
        internal const MethodImplOptions Options = 0;
#endif
    }
}
