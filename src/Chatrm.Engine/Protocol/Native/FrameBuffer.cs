using System;
using System.Buffers;

namespace Chatrm.Engine.Protocol.Native
{
    /// <summary>A growable byte buffer for one thread's frame writer; it keeps its array between frames.</summary>
    internal sealed class FrameBuffer : IBufferWriter<byte>
    {
        private byte[] _buffer = new byte[256];
        private int _used;

        public ReadOnlySpan<byte> Written => new ReadOnlySpan<byte>(_buffer, 0, _used);

        public void Clear()
        {
            // A huge frame (a long users list) should not pin its buffer on this thread forever.
            if (_buffer.Length > 64 * 1024)
            {
                _buffer = new byte[256];
            }

            _used = 0;
        }

        public void Append(byte b)
        {
            GetSpan(1)[0] = b;
            _used++;
        }

        public void Advance(int count) => _used += count;

        public Memory<byte> GetMemory(int sizeHint = 0)
        {
            Reserve(sizeHint);
            return new Memory<byte>(_buffer, _used, _buffer.Length - _used);
        }

        public Span<byte> GetSpan(int sizeHint = 0)
        {
            Reserve(sizeHint);
            return new Span<byte>(_buffer, _used, _buffer.Length - _used);
        }

        private void Reserve(int sizeHint)
        {
            int needed = _used + Math.Max(sizeHint, 1);
            if (needed > _buffer.Length)
            {
                Array.Resize(ref _buffer, Math.Max(needed, _buffer.Length * 2));
            }
        }
    }
}
