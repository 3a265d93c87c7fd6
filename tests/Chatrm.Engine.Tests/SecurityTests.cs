using System;
using System.IO;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Linq;
using System.Threading.Tasks;
using Xunit;

namespace Chatrm.Engine.Tests
{
    /// <summary>Passwords, TLS, and that nobody speaks as somebody else.</summary>
    public class SecurityTests
    {
        // Fewer iterations than a real file keeps the tests quick; the scheme is the same.
        private const int TestIterations = 1_000;

        private static CredentialStore Users(params string[] nameThenPassword)
        {
            var store = new CredentialStore();
            for (int i = 0; i < nameThenPassword.Length; i += 2)
            {
                store.Add(nameThenPassword[i], nameThenPassword[i + 1], TestIterations);
            }

            return store;
        }

        private static Task<ChatClient> LogInAsync(TestServer server, string name, string password, TlsClientOptions tls = null) =>
            ChatClient.ConnectAsync("127.0.0.1", server.EndPoint.Port, name, ChatProtocol.Chatrm,
                new ClientOptions { Password = password, Tls = tls });

        /// <summary>A self-signed certificate made for the test, with its private key.</summary>
        private static X509Certificate2 MakeCertificate()
        {
            using RSA rsa = RSA.Create(2048);
            var request = new CertificateRequest("CN=localhost", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            using X509Certificate2 made = request.CreateSelfSigned(DateTimeOffset.Now.AddMinutes(-5), DateTimeOffset.Now.AddHours(1));
            return X509CertificateLoader.LoadPkcs12(made.Export(X509ContentType.Pfx), null);
        }

        [Fact]
        public void HashesVerifyAndSurviveAFileRoundTrip()
        {
            CredentialStore store = Users("alice", "s3cret", "bob", "hunter2");
            Assert.True(store.Verify("ALICE", "s3cret"));
            Assert.False(store.Verify("alice", "S3cret"));
            Assert.False(store.Verify("carol", "s3cret"));
            Assert.False(store.Verify("alice", null));

            string path = Path.GetTempFileName();
            try
            {
                File.WriteAllText(path, store.ToFileText());
                string text = File.ReadAllText(path);
                Assert.DoesNotContain("s3cret", text);
                Assert.DoesNotContain("hunter2", text);

                CredentialStore loaded = CredentialStore.Load(path);
                Assert.True(loaded.Verify("bob", "hunter2"));
                Assert.False(loaded.Verify("bob", "s3cret"));
            }
            finally
            {
                File.Delete(path);
            }
        }

        [Fact]
        public void TheSamePasswordGetsADifferentSalt()
        {
            CredentialStore store = Users("alice", "same", "bob", "same");
            string[] lines = store.ToFileText().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.NotEqual(lines[1].Split(':')[3], lines[2].Split(':')[3]);
            Assert.NotEqual(lines[1].Split(':')[4], lines[2].Split(':')[4]);
        }

        [Fact]
        public void ABrokenFileSaysWhichLine()
        {
            string path = Path.GetTempFileName();
            try
            {
                File.WriteAllText(path, "# comment\nalice:plain:password\n");
                var e = Assert.Throws<InvalidDataException>(() => CredentialStore.Load(path));
                Assert.Contains("line 2", e.Message);
            }
            finally
            {
                File.Delete(path);
            }
        }

        /// <summary>A good line of a credential file for alice, as Export-ChatrmCredential writes it.</summary>
        private static string[] GoodLineParts() =>
            Users("alice", "s3cret").ToFileText().Split('\n', StringSplitOptions.RemoveEmptyEntries)[1].Split(':');

        [Theory]
        [InlineData(0, "bad_name", "'bad_name' cannot be a user name")]
        [InlineData(0, "", "the user name is empty")]
        [InlineData(0, "chatrm", "reserved")]
        [InlineData(0, "a-name-longer-than-thirty-two-chars", "cannot be a user name")]
        [InlineData(2, "0", "expected name:pbkdf2-sha256:iterations:salt:hash")]
        [InlineData(2, "-5", "expected name:pbkdf2-sha256:iterations:salt:hash")]
        [InlineData(2, "many", "expected name:pbkdf2-sha256:iterations:salt:hash")]
        [InlineData(2, "", "expected name:pbkdf2-sha256:iterations:salt:hash")]
        [InlineData(3, "not base64!", "must be base64")]
        [InlineData(4, "not base64!", "must be base64")]
        [InlineData(4, "AAAA", "the hash must be 32 bytes")]
        [InlineData(4, "", "the hash must be 32 bytes")]
        public void ACredentialFileLineWithABadFieldIsRefusedSayingWhichLineAndWhy(int field, string value, string expected)
        {
            string[] parts = GoodLineParts();
            parts[field] = value;
            string path = Path.GetTempFileName();
            try
            {
                // The good line first proves the reader got past it: the bad one is line 3.
                File.WriteAllText(path, "# comment\n" + string.Join(":", GoodLineParts()) + "\n" + string.Join(":", parts) + "\n");
                var e = Assert.Throws<InvalidDataException>(() => CredentialStore.Load(path));
                Assert.Contains("line 3", e.Message);
                Assert.Contains(expected, e.Message);
            }
            finally
            {
                File.Delete(path);
            }
        }

        [Fact]
        public void TheGoodLineOfTheBadLineTestsLoads()
        {
            // The control for the theory above: unchanged, the line loads and alice's password works.
            string path = Path.GetTempFileName();
            try
            {
                File.WriteAllText(path, string.Join(":", GoodLineParts()) + "\n");
                CredentialStore store = CredentialStore.Load(path);
                Assert.Equal(1, store.Count);
                Assert.True(store.Verify("alice", "s3cret"));
            }
            finally
            {
                File.Delete(path);
            }
        }

        [Fact]
        public async Task TheRightPasswordLogsInAndAWrongOneOrUnknownNameGetsTheSameAnswer()
        {
            await using var server = new TestServer(o => o.Credentials = Users("alice", "s3cret"));
            using ChatClient alice = await LogInAsync(server, "alice", "s3cret");
            Assert.Equal(ConnectionState.Open, alice.State);

            var wrong = await Assert.ThrowsAsync<ChatException>(() => LogInAsync(server, "alice", "guess"));
            var unknown = await Assert.ThrowsAsync<ChatException>(() => LogInAsync(server, "mallory", "guess"));
            var none = await Assert.ThrowsAsync<ChatException>(() => LogInAsync(server, "alice", null));
            Assert.All(new[] { wrong, unknown, none }, e => Assert.Equal(Refusal.AuthFailed, e.Refusal));
            Assert.Equal(wrong.Message.Replace("alice", "X"), unknown.Message.Replace("mallory", "X"));
        }

        [Fact]
        public async Task RepeatedFailuresFromAnAddressAreAnsweredMoreSlowly()
        {
            await using var server = new TestServer(o => o.Credentials = Users("alice", "s3cret"));
            var first = System.Diagnostics.Stopwatch.StartNew();
            await Assert.ThrowsAsync<ChatException>(() => LogInAsync(server, "alice", "a"));
            first.Stop();
            await Assert.ThrowsAsync<ChatException>(() => LogInAsync(server, "alice", "b"));
            await Assert.ThrowsAsync<ChatException>(() => LogInAsync(server, "alice", "c"));
            var fourth = System.Diagnostics.Stopwatch.StartNew();
            await Assert.ThrowsAsync<ChatException>(() => LogInAsync(server, "alice", "d"));
            fourth.Stop();

            // 100 ms, then 200, 400, 800: the fourth answer waits at least the 800 ms the server holds it.
            Assert.True(fourth.Elapsed >= TimeSpan.FromMilliseconds(750), $"fourth failure answered in {fourth.Elapsed}");
            Assert.True(fourth.Elapsed > first.Elapsed);

            // A good login clears the count.
            using ChatClient alice = await LogInAsync(server, "alice", "s3cret");
        }

        [Fact]
        public async Task AnAuthenticatedLoginReplacesTheOlderSession()
        {
            await using var server = new TestServer(o => o.Credentials = Users("alice", "s3cret", "bob", "pw"));
            using ChatClient stale = await LogInAsync(server, "alice", "s3cret");
            using ChatClient fresh = await LogInAsync(server, "alice", "s3cret");

            await Eventually.TrueAsync(() => stale.State == ConnectionState.Closed, "the stale session is closed");
            Assert.Contains("logged in again", stale.CloseReason);

            // Messages to alice now reach the fresh session.
            using ChatClient bob = await LogInAsync(server, "bob", "pw");
            SentMessage fate = await bob.SendAsync("alice", "which one?").WaitAsync(RawClient.Deadline);
            Assert.Equal(SendStatus.Delivered, fate.Status);
            Assert.Equal(new[] { "alice", "bob" }, server.Server.Router.OnlineUsers.OrderBy(n => n));
        }

        [Fact]
        public async Task WithoutPasswordsANameInUseIsNeverTakenOver()
        {
            await using var server = new TestServer();
            using ChatClient holder = await ChatClient.ConnectAsync("127.0.0.1", server.EndPoint.Port, "alice");
            var e = await Assert.ThrowsAsync<ChatException>(() => ChatClient.ConnectAsync("127.0.0.1", server.EndPoint.Port, "alice"));
            Assert.Equal(Refusal.NameTaken, e.Refusal);
            Assert.Equal(ConnectionState.Open, holder.State);
        }

        [Fact]
        public async Task ClassicUsersAreRefusedWhenPasswordsAreOnUnlessAllowed()
        {
            await using (var strict = new TestServer(o => o.Credentials = Users("alice", "s3cret")))
            {
                using RawClient carol = await strict.ConnectRawAsync();
                await carol.SendAsync("carol_\n");
                Assert.StartsWith("carol_chatrm_auth-required: ", await carol.ReadLineAsync());
                Assert.True(await carol.ClosedByServerAsync());
            }

            await using var lenient = new TestServer(o =>
            {
                o.Credentials = Users("alice", "s3cret");
                o.AllowClassic = true;
            });
            using RawClient dave = await lenient.JoinAsync("dave");

            // ...but never under a name that has a password: that would be speaking as alice.
            using RawClient fake = await lenient.ConnectRawAsync();
            await fake.SendAsync("ALICE_\n");
            Assert.StartsWith("ALICE_chatrm_auth-required: ", await fake.ReadLineAsync());
            Assert.False(lenient.IsOnline("alice"));
        }

        [Fact]
        public async Task NoOneSendsAsSomeoneElseInEitherProtocol()
        {
            await using var server = new TestServer();
            using RawClient mallory = await server.JoinAsync("mallory");
            using NativePeer eve = await server.JoinNativeAsync("eve");
            using ChatClient alice = await ChatClient.ConnectAsync("127.0.0.1", server.EndPoint.Port, "alice");

            // Classic: a line naming bob as sender is refused.
            await mallory.SendAsync("bob_alice_it is me, bob\n");
            Assert.StartsWith("mallory_chatrm_forged-sender: ", await mallory.ReadLineAsync());

            // Native: a "from" in a send is ignored; the server says who sent it.
            await eve.Raw.SendAsync("{\"type\":\"send\",\"ref\":\"1\",\"to\":\"alice\",\"from\":\"bob\",\"text\":\"it is me, bob\"}\n");
            await Eventually.TrueAsync(() => alice.MessagesWaiting == 1, "alice got eve's message");
            var message = Assert.IsType<ChatMessage>(Assert.Single(alice.Take(10)));
            Assert.Equal(("eve", "it is me, bob"), (message.From, message.Text));
        }

        [Fact]
        public async Task TlsCarriesTheNativeProtocolAndAPlainClassicPortServesOriginalClients()
        {
            using X509Certificate2 certificate = MakeCertificate();
            await using var server = new TestServer(o =>
            {
                o.Certificate = certificate;
                o.ClassicPort = 0;
            });
            var pinned = new TlsClientOptions { CertificateThumbprint = certificate.Thumbprint };
            using ChatClient alice = await LogInAsync(server, "alice", null, pinned);
            Assert.True(alice.IsEncrypted);
            using RawClient bob = await RawClient.JoinAsync(server.Server.ClassicEndPoint, "bob");

            SentMessage fate = await alice.SendAsync("bob", "over TLS").WaitAsync(RawClient.Deadline);
            Assert.Equal(SendStatus.Forwarded, fate.Status);
            Assert.Equal("bob_alice_over TLS", await bob.ReadLineAsync());

            // The classic port speaks only classic: a native hello there is a (refused) classic name.
            using RawClient confused = await RawClient.ConnectAsync(server.Server.ClassicEndPoint);
            await confused.SendAsync(NativePeer.Hello("carol") + "\n");
            Assert.Contains("chatrm_invalid-name: ", await confused.ReadLineAsync());
        }

        [Fact]
        public async Task ATlsPortSpeaksNothingElse()
        {
            using X509Certificate2 certificate = MakeCertificate();
            await using var server = new TestServer(o =>
            {
                o.Certificate = certificate;
                o.TlsHandshakeTimeout = TimeSpan.FromSeconds(2);
            });

            // Plain text on the TLS port is no handshake: the connection is closed and nobody joins.
            using RawClient plain = await server.ConnectRawAsync();
            await plain.SendAsync("carol_\n");
            Assert.True(await plain.ClosedByServerAsync());
            Assert.False(server.IsOnline("carol"));
            await server.WaitForEventAsync(ServerEventKind.HandshakeRefused);
        }

        // ---- Which certificate a client accepts (Tls.Accepts, the handshake's callback) ----

        [Theory]
        [InlineData(SslPolicyErrors.None)]
        [InlineData(SslPolicyErrors.RemoteCertificateChainErrors)]
        [InlineData(SslPolicyErrors.RemoteCertificateNameMismatch)]
        public void APinnedThumbprintAcceptsExactlyItsCertificateWhateverTheChainSays(SslPolicyErrors errors)
        {
            using X509Certificate2 certificate = MakeCertificate();
            using X509Certificate2 other = MakeCertificate();

            // The pin wins over the system's verdict both ways: its certificate in, any other out, even one the
            // system trusts (errors None: an otherwise valid certificate).
            Assert.True(Tls.Accepts(new TlsClientOptions { CertificateThumbprint = certificate.Thumbprint }, certificate, errors, out string none));
            Assert.Null(none);
            Assert.False(Tls.Accepts(new TlsClientOptions { CertificateThumbprint = other.Thumbprint }, certificate, errors, out string problem));
            Assert.Contains("is not the pinned " + other.Thumbprint, problem);
            Assert.Contains(certificate.Thumbprint, problem);
        }

        [Fact]
        public void AThumbprintMayBeTypedInLowerCaseAndWithSpaces()
        {
            using X509Certificate2 certificate = MakeCertificate();
            string spaced = string.Join(" ", Enumerable.Range(0, certificate.Thumbprint.Length / 2).Select(i => certificate.Thumbprint.Substring(2 * i, 2)));
            foreach (string typed in new[] { certificate.Thumbprint.ToLowerInvariant(), spaced, spaced.ToLowerInvariant() })
            {
                Assert.True(Tls.Accepts(new TlsClientOptions { CertificateThumbprint = typed }, certificate, SslPolicyErrors.RemoteCertificateChainErrors, out _), typed);
            }
        }

        [Fact]
        public void WithoutAPinTheSystemsVerdictStandsAndSkippingAcceptsAnything()
        {
            using X509Certificate2 certificate = MakeCertificate();
            Assert.True(Tls.Accepts(new TlsClientOptions(), certificate, SslPolicyErrors.None, out _));
            Assert.False(Tls.Accepts(new TlsClientOptions(), certificate, SslPolicyErrors.RemoteCertificateChainErrors, out string problem));
            Assert.Contains("not trusted", problem);
            Assert.True(Tls.Accepts(new TlsClientOptions { SkipCertificateCheck = true }, certificate, SslPolicyErrors.RemoteCertificateChainErrors, out _));
        }

        [Fact]
        public async Task ALowerCaseSpacedPinLogsInOverARealHandshake()
        {
            using X509Certificate2 certificate = MakeCertificate();
            await using var server = new TestServer(o => o.Certificate = certificate);
            string spaced = string.Join(" ", Enumerable.Range(0, certificate.Thumbprint.Length / 2).Select(i => certificate.Thumbprint.Substring(2 * i, 2))).ToLowerInvariant();
            using ChatClient alice = await LogInAsync(server, "alice", null, new TlsClientOptions { CertificateThumbprint = spaced });
            Assert.True(alice.IsEncrypted);
        }

        [Fact]
        public async Task ASilentClientOnTheTlsPortIsClosedAfterTheHandshakeTimeAndHoldsUpNobody()
        {
            using X509Certificate2 certificate = MakeCertificate();
            await using var server = new TestServer(o =>
            {
                o.Certificate = certificate;
                o.TlsHandshakeTimeout = TimeSpan.FromSeconds(1);
            });
            var clock = System.Diagnostics.Stopwatch.StartNew();
            using RawClient silent = await server.ConnectRawAsync(); // connects, then says nothing at all

            // Meanwhile others shake hands and chat: the silent one waits alone.
            var pinned = new TlsClientOptions { CertificateThumbprint = certificate.Thumbprint };
            using ChatClient alice = await LogInAsync(server, "alice", null, pinned);
            using ChatClient bob = await LogInAsync(server, "bob", null, pinned);
            Assert.Equal(SendStatus.Delivered, (await alice.SendAsync("bob", "still served").WaitAsync(RawClient.Deadline)).Status);

            // Then its time runs out: closed, refused, and never a user.
            Assert.True(await silent.ClosedByServerAsync());
            Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(0.9), $"closed after only {clock.ElapsedMilliseconds} ms");
            ServerEvent refused = await server.WaitForEventAsync(ServerEventKind.HandshakeRefused);
            Assert.Contains("TLS handshake", refused.Detail);
            Assert.Equal(2, server.Server.ConnectionCount);
        }

        [Fact]
        public async Task AnUntrustedOrWronglyPinnedCertificateIsRefusedAndSkippingTheCheckIsExplicit()
        {
            using X509Certificate2 certificate = MakeCertificate();
            await using var server = new TestServer(o => o.Certificate = certificate);

            var untrusted = await Assert.ThrowsAsync<ChatException>(() => LogInAsync(server, "alice", null, new TlsClientOptions()));
            Assert.Equal(Refusal.TlsFailed, untrusted.Refusal);
            Assert.Contains("not trusted", untrusted.Message);

            var wrongPin = await Assert.ThrowsAsync<ChatException>(() =>
                LogInAsync(server, "alice", null, new TlsClientOptions { CertificateThumbprint = new string('A', 40) }));
            Assert.Equal(Refusal.TlsFailed, wrongPin.Refusal);

            using ChatClient skipped = await LogInAsync(server, "alice", null, new TlsClientOptions { SkipCertificateCheck = true });
            Assert.True(skipped.IsEncrypted);
        }
    }
}
