using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Cryptography.KeyDerivation;

namespace Chatrm.Engine
{
    /// <summary>
    /// Who may log in, as salted PBKDF2-SHA256 hashes; passwords are never kept. A file holds one user a line:
    /// name:pbkdf2-sha256:iterations:salt:hash (salt and hash in base64).
    /// </summary>
    public sealed class CredentialStore
    {
        public const int DefaultIterations = 100_000;
        private const string Scheme = "pbkdf2-sha256";
        private const int SaltBytes = 16;
        private const int HashBytes = 32;

        private readonly Dictionary<string, Entry> _entries = new Dictionary<string, Entry>(UserNames.Comparer);

        // Checked against when the name is unknown, so an unknown name costs as much time as a wrong password.
        private readonly Entry _decoy = Entry.Create("decoy", Guid.NewGuid().ToString(), DefaultIterations);

        public int Count => _entries.Count;


        public void Add(string userName, string password, int iterations = DefaultIterations)
        {
            string problem = UserNames.Problem(userName);
            if (problem != null)
            {
                throw new ArgumentException($"'{userName}' cannot be a user name: {problem}.", nameof(userName));
            }

            if (string.IsNullOrEmpty(password))
            {
                throw new ArgumentException("A password cannot be empty.", nameof(password));
            }

            _entries[userName] = Entry.Create(userName, password, iterations);
        }

        public bool Contains(string userName) => userName != null && _entries.ContainsKey(userName);

        /// <summary>True when the password is right for the user; as slow for an unknown user as for a wrong password.</summary>
        public bool Verify(string userName, string password)
        {
            bool known = userName != null && _entries.TryGetValue(userName, out Entry entry);
            entry = known ? _entries[userName] : _decoy;
            bool matches = entry.Matches(password ?? string.Empty);
            return known && matches;
        }

        /// <summary>
        /// Reads a file written by <see cref="ToFileText"/>. A line that is not name:pbkdf2-sha256:iterations:salt:hash,
        /// with a valid user name, a positive count, base64 salt and a 32-byte hash, throws <see cref="InvalidDataException"/>
        /// naming the line: a broken file starts no server, rather than one that lets nobody (or the wrong name) in.
        /// </summary>
        public static CredentialStore Load(string path)
        {
            var store = new CredentialStore();
            int lineNumber = 0;
            foreach (string raw in File.ReadAllLines(path))
            {
                lineNumber++;
                string line = raw.Trim();
                if (line.Length == 0 || line.StartsWith("#", StringComparison.Ordinal))
                {
                    continue;
                }

                string[] parts = line.Split(':');
                if (parts.Length != 5 || parts[1] != Scheme || !int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out int iterations) || iterations < 1)
                {
                    throw new InvalidDataException($"{path}, line {lineNumber}: expected name:{Scheme}:iterations:salt:hash.");
                }

                // A name no user can log in as (or that only the server may use) is a mistake in the file, not a user.
                string name = parts[0];
                string problem = name.Length == 0 ? "the user name is empty" : UserNames.Problem(name) is string why ? $"'{name}' cannot be a user name: {why}" : null;
                if (problem != null)
                {
                    throw new InvalidDataException($"{path}, line {lineNumber}: {problem}.");
                }

                byte[] salt, hash;
                try
                {
                    salt = Convert.FromBase64String(parts[3]);
                    hash = Convert.FromBase64String(parts[4]);
                }
                catch (FormatException)
                {
                    throw new InvalidDataException($"{path}, line {lineNumber}: the salt and hash must be base64.");
                }

                // A hash of another length never matches: that user could never log in, and nobody would know why.
                if (hash.Length != HashBytes)
                {
                    throw new InvalidDataException($"{path}, line {lineNumber}: the hash must be {HashBytes} bytes (base64), not {hash.Length}.");
                }

                store._entries[name] = new Entry(name, iterations, salt, hash);
            }

            return store;
        }

        /// <summary>The file's text: a comment, then one line a user.</summary>
        public string ToFileText()
        {
            var text = new StringBuilder();
            text.Append("# Chatrm credentials: name:").Append(Scheme).Append(":iterations:salt:hash. Passwords are not stored.\n");
            foreach (Entry entry in _entries.Values)
            {
                text.Append(entry.Name).Append(':').Append(Scheme).Append(':')
                    .Append(entry.Iterations.ToString(CultureInfo.InvariantCulture)).Append(':')
                    .Append(Convert.ToBase64String(entry.Salt)).Append(':')
                    .Append(Convert.ToBase64String(entry.Hash)).Append('\n');
            }

            return text.ToString();
        }

        private sealed class Entry
        {
            public Entry(string name, int iterations, byte[] salt, byte[] hash)
            {
                Name = name;
                Iterations = iterations;
                Salt = salt;
                Hash = hash;
            }

            public string Name { get; }
            public int Iterations { get; }
            public byte[] Salt { get; }
            public byte[] Hash { get; }

            public static Entry Create(string name, string password, int iterations)
            {
                var salt = new byte[SaltBytes];
                using (var random = RandomNumberGenerator.Create())
                {
                    random.GetBytes(salt);
                }

                return new Entry(name, iterations, salt, Derive(password, salt, iterations));
            }

            public bool Matches(string password)
            {
                byte[] candidate = Derive(password, Salt, Iterations);
                int difference = candidate.Length ^ Hash.Length;
                for (int i = 0; i < Math.Min(candidate.Length, Hash.Length); i++)
                {
                    difference |= candidate[i] ^ Hash[i];
                }

                return difference == 0;
            }

            private static byte[] Derive(string password, byte[] salt, int iterations)
            {
                return KeyDerivation.Pbkdf2(password, salt, KeyDerivationPrf.HMACSHA256, iterations, HashBytes);
            }
        }
    }
}
