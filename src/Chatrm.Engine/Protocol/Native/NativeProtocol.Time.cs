using System;
using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Text.Json;

namespace Chatrm.Engine.Protocol.Native
{
    /// <summary>Times on the wire: ISO 8601 in UTC, with this thread's last time kept as written.</summary>
    internal static partial class NativeProtocol
    {
        public static string FormatTime(DateTime time)
        {
            Span<byte> utf8 = stackalloc byte[TimeBytes];
            int length = FormatTime(time, utf8);
            return Utf8.GetString(utf8.Slice(0, length).ToArray());
        }

        // "2026-11-26T09:12:03.1234567Z"
        private const int TimeBytes = 28;

        /// <summary>ISO 8601 in UTC with seven decimals: the round-trip ("O") format of a UTC time.</summary>
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        private static int FormatTime(DateTime time, Span<byte> destination)
        {
            // The messages of one read share their time (LineTransport.ReadTicks), and each is written twice (its
            // message and its confirmation): this thread's last time, as written, is mostly the one asked for.
            DateTime utc = time.ToUniversalTime();
            byte[] last = t_lastTime ?? (t_lastTime = new byte[TimeBytes]);
            if (t_lastTimeLength == 0 || utc.Ticks != t_lastTimeTicks)
            {
                Utf8Formatter.TryFormat(utc, last, out t_lastTimeLength, new StandardFormat('O'));
                t_lastTimeTicks = utc.Ticks;
            }

            new ReadOnlySpan<byte>(last, 0, t_lastTimeLength).CopyTo(destination);
            return t_lastTimeLength;
        }

        [ThreadStatic] private static byte[] t_lastTime;
        [ThreadStatic] private static int t_lastTimeLength;
        [ThreadStatic] private static long t_lastTimeTicks;

        private static void WriteTime(Utf8JsonWriter writer, JsonEncodedText name, DateTime time)
        {
            Span<byte> utf8 = stackalloc byte[TimeBytes];
            int length = FormatTime(time, utf8);
            writer.WriteString(name, utf8.Slice(0, length));
        }

        private static bool TryParseTime(string text, out DateTime time) =>
            DateTime.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out time);
    }
}
