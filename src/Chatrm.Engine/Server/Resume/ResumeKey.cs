using System;
using System.Collections.Generic;
using Chatrm.Engine.Messaging;

namespace Chatrm.Engine.Server.Resume
{
    /// <summary>Whose resume state: a user's name (as names compare, case-insensitive) and the token its hello gave (exactly).</summary>
    internal readonly struct ResumeKey : IEquatable<ResumeKey>
    {
        public ResumeKey(string userName, string token)
        {
            UserName = userName;
            Token = token;
        }

        public string UserName { get; }

        public string Token { get; }

        public bool Equals(ResumeKey other) =>
            UserNames.AreSame(UserName, other.UserName) && string.Equals(Token, other.Token, StringComparison.Ordinal);

        public override bool Equals(object obj) => obj is ResumeKey other && Equals(other);

        public override int GetHashCode() => (UserNames.Comparer.GetHashCode(UserName) * 397) ^ StringComparer.Ordinal.GetHashCode(Token);
    }
}
