using System.Collections.Generic;
#if NET
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
#endif

namespace Chatrm.Engine.Server.Resume
{
    /// <summary>
    /// One resume token's refs, each for the resend window and at most a limit of them, forgotten oldest first: in
    /// the order remembered, lazily, as new ones come. Not thread-safe: its <see cref="ResumeState"/> locks it.
    /// </summary>
    internal sealed class RememberedRefs
    {
        private readonly Dictionary<SentRef, RememberedRef> _byRef = new Dictionary<SentRef, RememberedRef>(SentRef.Comparer);

        // Every ref in _byRef once, oldest first, with when it was remembered: what to forget next is at the front.
        private readonly Queue<InOrder> _inOrder = new Queue<InOrder>();
        private readonly long _windowTicks;
        private readonly int _limit;

        public RememberedRefs(long windowTicks, int limit)
        {
            _windowTicks = windowTicks;
            _limit = limit;
        }

        public int Count => _byRef.Count;

        /// <summary>
        /// Remembers a send by its ref at <paramref name="now"/> (ticks); false when the ref is remembered already, with
        /// what was remembered of it as <paramref name="known"/>. A ref past the window is forgotten first, so it is new.
        /// </summary>
        public bool TryRemember(SentRef sent, RememberedRef entry, long now, out RememberedRef known)
        {
            while (_inOrder.Count > 0 && now - _inOrder.Peek().At >= _windowTicks)
            {
                DropOldest();
            }

#if NET
            ref RememberedRef slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_byRef, sent, out bool exists);
            if (exists)
            {
                known = slot;
                return false;
            }

            slot = entry;
#else
            if (_byRef.TryGetValue(sent, out known))
            {
                return false;
            }

            _byRef.Add(sent, entry);
#endif
            known = default;
            _inOrder.Enqueue(new InOrder(sent, now));
            while (_byRef.Count > _limit)
            {
                DropOldest();
            }

            return true;
        }

        /// <summary>Records the fate told for message <paramref name="number"/>, if its ref is still remembered for it.</summary>
        public void Record(SentRef sent, long number, RefFate fate)
        {
#if NET
            ref RememberedRef slot = ref CollectionsMarshal.GetValueRefOrNullRef(_byRef, sent);
            if (!Unsafe.IsNullRef(ref slot) && slot.Number == number)
            {
                slot.Fate = fate;
            }
#else
            if (_byRef.TryGetValue(sent, out RememberedRef entry) && entry.Number == number)
            {
                entry.Fate = fate;
                _byRef[sent] = entry;
            }
#endif
        }

        /// <summary>The refs still within the window at <paramref name="now"/> whose fate is known, oldest first (a stop keeps these).</summary>
        public void CopyKnown(long now, List<KeyValuePair<SentRef, RememberedRef>> into)
        {
            foreach (InOrder remembered in _inOrder)
            {
                if (now - remembered.At < _windowTicks &&
                    _byRef.TryGetValue(remembered.Ref, out RememberedRef entry) && entry.Fate.Kind != FateKind.Pending)
                {
                    into.Add(new KeyValuePair<SentRef, RememberedRef>(remembered.Ref, entry));
                }
            }
        }

        private void DropOldest() => _byRef.Remove(_inOrder.Dequeue().Ref);

        private readonly struct InOrder
        {
            public InOrder(SentRef sent, long at)
            {
                Ref = sent;
                At = at;
            }

            public SentRef Ref { get; }

            public long At { get; }
        }
    }
}
