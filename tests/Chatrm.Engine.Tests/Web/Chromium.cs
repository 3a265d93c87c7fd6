using System;
using System.IO;
using System.Threading.Tasks;
using PuppeteerSharp;
using Xunit;

namespace Chatrm.Engine.Tests.Web
{
    /// <summary>Debian's chromium package, which the browser tests drive; .ci/run installs it.</summary>
    internal static class Chromium
    {
        /// <summary>Debian's, unless CHATRM_CHROMIUM names another build of Chromium.</summary>
        public static readonly string Path = Environment.GetEnvironmentVariable("CHATRM_CHROMIUM") is string other && other.Length > 0 ? other : "/usr/bin/chromium";

        public static bool IsInstalled => File.Exists(Path);

        /// <summary>On CI a missing browser fails the tests; elsewhere they report themselves skipped.</summary>
        public static bool Required => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>A test that needs Chromium: skipped without it, except on CI (CI=true), where it runs and fails.</summary>
    public sealed class ChromiumFactAttribute : FactAttribute
    {
        public ChromiumFactAttribute()
        {
            if (!Chromium.IsInstalled && !Chromium.Required)
            {
                Skip = "chromium is not installed (apt-get install chromium); .ci/run installs it";
            }
        }
    }

    /// <summary>One headless Chromium for a test class, closed at its end; each user gets a context of its own.</summary>
    public sealed class BrowserFixture : IAsyncLifetime
    {
        public IBrowser Browser { get; private set; }

        public async Task InitializeAsync()
        {
            if (!Chromium.IsInstalled)
            {
                return;
            }

            // The system's browser, never a downloaded one (no BrowserFetcher).
            Browser = await Puppeteer.LaunchAsync(new LaunchOptions
            {
                ExecutablePath = Chromium.Path,
                Headless = true,
                // The HTTPS test's certificate is self-signed, made for the test.
                Args = new[] { "--no-sandbox", "--ignore-certificate-errors" },
            });
        }

        public async Task DisposeAsync()
        {
            if (Browser != null)
            {
                await Browser.CloseAsync();
                Browser.Dispose();
            }
        }

        public IBrowser Require()
        {
            Assert.True(Browser != null, "These tests need Chromium at " + Chromium.Path + " (Debian's chromium package).");
            return Browser;
        }
    }
}
