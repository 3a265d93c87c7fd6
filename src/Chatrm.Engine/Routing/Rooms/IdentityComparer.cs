using System.Collections.Generic;
using System.Runtime.CompilerServices;

namespace Chatrm.Engine.Routing.Rooms
{
    /// <summary>
    /// Sessions compared as themselves, never by name: rooms are per session, so a user that logged in again elsewhere
    /// is another member (netstandard2.0 has no ReferenceEqualityComparer).
    /// </summary>
    internal sealed class IdentityComparer<T> : IEqualityComparer<T>
        where T : class
    {
        public static readonly IdentityComparer<T> Instance = new IdentityComparer<T>();

        private IdentityComparer()
        {
        }

        public bool Equals(T x, T y) => ReferenceEquals(x, y);

        public int GetHashCode(T obj) => RuntimeHelpers.GetHashCode(obj);
    }
}
