using System;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;
using Xunit;

namespace Chatrm.Engine.Tests
{
    /// <summary>The line readers on their own (plain TCP, and TLS): framing across receives, the limit, and how reading ends.</summary>
    public class LineTransportTests
    {
        private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);
        private static readonly UTF8Encoding Utf8 = new UTF8Encoding(false);

        // What the handlers saw, in order: a line's text, or TooLong for a refused line.
        private const string TooLong = "#too-long";

        [Theory]
        [InlineData(false)]
        [InlineData(true)]
        public async Task LinesSplitAtEveryByteAreReadWhole(bool tls)
        {
            const int limit = 64;
            string atLimit = new string('a', limit);
            string overLimit = new string('b', limit + 1);
            string payload = "one\r\n" + atLimit + "\r\n" + overLimit + "\n" + "h\u00e9llo \u2713\n" + atLimit + "\n" + "\n" + overLimit + "\r\n" + "last\n";
            byte[] bytes = Utf8.GetBytes(payload);
            string[] expected = { "one", atLimit, TooLong, "h\u00e9llo \u2713", atLimit, string.Empty, TooLong, "last" };

            using var pair = await LinePair.ConnectAsync(tls);
            using var transport = pair.NewTransport(limit);
            var seen = new Seen();
            Task<ReadEnd> reading = seen.Read(transport);

            for (int split = 0; split <= bytes.Length; split++)
            {
                // The first piece goes with a ping in one write: once the ping is handled, the piece has been received
                // and looked at, so the rest arrives in a later receive.
                await pair.SendAsync(Concat(Utf8.GetBytes("ping " + split + "\n"), bytes.AsSpan(0, split).ToArray()));
                Assert.Equal("ping " + split, await seen.NextAsync());
                await pair.SendAsync(bytes.AsSpan(split).ToArray());
                foreach (string line in expected)
                {
                    Assert.Equal(line, await seen.NextAsync());
                }
            }

            // A clean close mid-line: the partial line is not handed over.
            await pair.SendAsync(Utf8.GetBytes("half a li"));
            await pair.CloseSendingAsync();
            Assert.Equal(ReadEnd.PeerClosed, await reading.WaitAsync(Deadline));
            Assert.Equal(0, seen.Count);
        }

        [Theory]
        [InlineData(100)]
        [InlineData(4000)]
        [InlineData(4097)]
        [InlineData(20_000)]
        [InlineData(40_000)]
        public async Task ALongLineThatArrivesInPiecesIsReadWhole(int firstPiece)
        {
            // The partial line kept between reads moves to a small buffer when it fits and grows back for the next
            // read, or stays in (or doubles) the read buffer when it does not: every size must come out whole.
            const int limit = 64 * 1024;
            var text = new StringBuilder();
            for (int i = 0; i < 50_000; i++) text.Append((char)('a' + i % 26));
            string line = text.ToString();
            byte[] bytes = Utf8.GetBytes(line + "\n");

            using var pair = await SocketPair.ConnectAsync();
            using var transport = new LineTransport(pair.Near, limit, long.MaxValue);
            var seen = new Seen();
            Task<ReadEnd> reading = seen.Read(transport);

            // Sent in one write with a ping, the first piece is received (at least its start) before the rest is sent.
            pair.Far.Send(Concat(Utf8.GetBytes("ping\n"), bytes.AsSpan(0, firstPiece).ToArray()));
            Assert.Equal("ping", await seen.NextAsync());
            pair.Far.Send(bytes, firstPiece, bytes.Length - firstPiece, SocketFlags.None);
            Assert.Equal(line, await seen.NextAsync());

            pair.Far.Shutdown(SocketShutdown.Send);
            Assert.Equal(ReadEnd.PeerClosed, await reading.WaitAsync(Deadline));
        }

        [Fact]
        public async Task ALineByteByByteIsReadWhole()
        {
            using var pair = await SocketPair.ConnectAsync();
            using var transport = new LineTransport(pair.Near, 64, long.MaxValue);
            var seen = new Seen();
            Task<ReadEnd> reading = seen.Read(transport);

            foreach (byte b in Utf8.GetBytes("slow \u2713\r\nnext\n"))
            {
                pair.Far.Send(new[] { b });
            }

            Assert.Equal("slow \u2713", await seen.NextAsync());
            Assert.Equal("next", await seen.NextAsync());
            pair.Far.Shutdown(SocketShutdown.Send);
            Assert.Equal(ReadEnd.PeerClosed, await reading.WaitAsync(Deadline));
        }

        [Theory]
        [InlineData(false, false)]
        [InlineData(true, false)]
        [InlineData(false, true)]
        [InlineData(true, true)]
        public async Task LinesLongerThanTheReceiveBufferPassUpToTheLimit(bool withCr, bool tls)
        {
            // Longer than one pooled buffer: the partial line is carried over and its buffer grows.
            const int limit = ServerOptions.DefaultMaxLineBytes;
            string ending = withCr ? "\r\n" : "\n";
            string atLimit = new string('x', limit - 1) + "y";
            string overLimit = atLimit + "z";

            using var pair = await LinePair.ConnectAsync(tls);
            using var transport = pair.NewTransport(limit);
            var seen = new Seen();
            Task<ReadEnd> reading = seen.Read(transport);

            Task sending = pair.SendAsync(Utf8.GetBytes(atLimit + ending + overLimit + ending + "after" + ending + atLimit + ending));
            Assert.Equal(atLimit, await seen.NextAsync());
            Assert.Equal(TooLong, await seen.NextAsync());
            Assert.Equal("after", await seen.NextAsync());
            Assert.Equal(atLimit, await seen.NextAsync());
            await sending.WaitAsync(Deadline);

            await pair.CloseSendingAsync();
            Assert.Equal(ReadEnd.PeerClosed, await reading.WaitAsync(Deadline));
            Assert.Equal(0, seen.Count);
        }

        [Theory]
        [InlineData(false)]
        [InlineData(true)]
        public async Task AnOverLongLineIsRefusedOnceWhileItArrivesAndTheNextLineIsFine(bool tls)
        {
            using var pair = await LinePair.ConnectAsync(tls);
            using var transport = pair.NewTransport(64);
            var seen = new Seen();
            Task<ReadEnd> reading = seen.Read(transport);

            // Refused as soon as it is over the limit, before its newline; then skipped up to it, however long.
            await pair.SendAsync(Utf8.GetBytes(new string('x', 100)));
            Assert.Equal(TooLong, await seen.NextAsync());
            for (int i = 0; i < 20; i++)
            {
                await pair.SendAsync(Utf8.GetBytes(new string('x', 5000)));
            }

            await pair.SendAsync(Utf8.GetBytes("\nfine\n"));
            Assert.Equal("fine", await seen.NextAsync());
            Assert.Equal(0, seen.Count);
            transport.StopReading();
            Assert.Equal(ReadEnd.Stopped, await reading.WaitAsync(Deadline));
        }

        [Theory]
        [InlineData(false)]
        [InlineData(true)]
        public async Task StopReadingEndsAnIdleReadFromAnyThreadAndTheConnectionStaysUp(bool tls)
        {
            using var pair = await LinePair.ConnectAsync(tls);
            using var transport = pair.NewTransport(64);
            var seen = new Seen();
            Task<ReadEnd> reading = seen.Read(transport);

            // A partial line waits in the reader, and nothing more comes.
            await pair.SendAsync(Utf8.GetBytes("ping\nhalf a li"));
            Assert.Equal("ping", await seen.NextAsync());
            Assert.False(reading.IsCompleted);

            await Task.Run(transport.StopReading);
            Assert.Equal(ReadEnd.Stopped, await reading.WaitAsync(Deadline));
            Assert.Equal(0, seen.Count);

            // The peer noticed nothing: its connection still carries what the transport sends.
            Assert.Equal(SendResult.Queued, transport.Send("still here\n"));
            Assert.Equal("still here", await pair.ReadLineAsync());

            if (!tls)
            {
                // Over plain TCP reading stays stopped (see LineTransport.StopReading; over TLS a stop ends one read).
                Assert.Equal(ReadEnd.Stopped, await transport.ReadLinesAsync((string _) => true, () => { }, CancellationToken.None).WaitAsync(Deadline));
            }
        }

        [Fact]
        public async Task StopReadingBeforeReadingMakesTheReadEndAtOnce()
        {
            using var pair = await SocketPair.ConnectAsync();
            using var transport = new LineTransport(pair.Near, 64, long.MaxValue);
            pair.Far.Send(Utf8.GetBytes("never handled\n"));
            transport.StopReading();

            var seen = new Seen();
            Assert.Equal(ReadEnd.Stopped, await seen.Read(transport).WaitAsync(Deadline));
            Assert.Equal(0, seen.Count);
        }

        [Fact]
        public async Task StopReadingFromAHandlerEndsTheReadAfterTheLinesAlreadyReceived()
        {
            using var pair = await SocketPair.ConnectAsync();
            using var transport = new LineTransport(pair.Near, 64, long.MaxValue);
            var lines = new List<string>();
            Task<ReadEnd> reading = ReadStoppingAtStop(transport, lines);

            pair.Far.Send(Utf8.GetBytes("a\nstop\nb\n"));
            Assert.Equal(ReadEnd.Stopped, await reading.WaitAsync(Deadline));
            Assert.Equal(new[] { "a", "stop", "b" }, lines);
        }

        [Fact]
        public async Task AHandlerReturningFalseStopsAtThatLine()
        {
            using var pair = await SocketPair.ConnectAsync();
            using var transport = new LineTransport(pair.Near, 64, long.MaxValue);
            var lines = new List<string>();
            pair.Far.Send(Utf8.GetBytes("a\nstop\nb\n"));
            ReadEnd end = await transport.ReadLinesAsync((string line) => { lines.Add(line); return line != "stop"; }, () => { }, CancellationToken.None).WaitAsync(Deadline);
            Assert.Equal(ReadEnd.Stopped, end);
            Assert.Equal(new[] { "a", "stop" }, lines);
        }

        [Fact]
        public async Task EveryLineOfOneReadHasOneReadTimeAndTheNextReadItsOwn()
        {
            using var pair = await SocketPair.ConnectAsync();
            using var transport = new LineTransport(pair.Near, 64, long.MaxValue);
            var times = new List<long>();
            var firstReadHandled = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);

            // Sent before the reading starts: one read takes both lines.
            pair.Far.Send(Utf8.GetBytes("a\nb\n"));
            Task<ReadEnd> reading = transport.ReadLinesAsync(
                (string line) =>
                {
                    lock (times) times.Add(transport.ReadTicks);
                    if (line == "b") firstReadHandled.TrySetResult(true);
                    return line != "stop";
                },
                () => { },
                CancellationToken.None);
            await firstReadHandled.Task.WaitAsync(Deadline);
            long first = times[0];
            await Eventually.TrueAsync(() => DateTime.UtcNow.Ticks > first, "the clock moves on");

            pair.Far.Send(Utf8.GetBytes("stop\n"));
            Assert.Equal(ReadEnd.Stopped, await reading.WaitAsync(Deadline));
            Assert.Equal(first, times[1]);
            Assert.True(times[2] > first, "a later read reads the clock again");
        }

        [Fact]
        public async Task AHandlerThatThrowsFaultsTheRead()
        {
            using var pair = await SocketPair.ConnectAsync();
            using var transport = new LineTransport(pair.Near, 64, long.MaxValue);
            Task<ReadEnd> reading = transport.ReadLinesAsync((string line) => throw new FormatException("bad " + line), () => { }, CancellationToken.None);
            pair.Far.Send(Utf8.GetBytes("x\n"));
            var thrown = await Assert.ThrowsAsync<FormatException>(() => reading.WaitAsync(Deadline));
            Assert.Equal("bad x", thrown.Message);
        }

        [Theory]
        [InlineData(false, false)] // a clean close
        [InlineData(true, false)]  // a reset
        [InlineData(false, true)]
        [InlineData(true, true)]
        public async Task APeerGoneMidLineEndsTheReadWithoutHandingOverThePartialLine(bool reset, bool tls)
        {
            using var pair = await LinePair.ConnectAsync(tls);
            using var transport = pair.NewTransport(64);
            var seen = new Seen();
            Task<ReadEnd> reading = seen.Read(transport);

            await pair.SendAsync(Utf8.GetBytes("whole\nhalf a li"));
            Assert.Equal("whole", await seen.NextAsync());
            if (reset)
            {
                pair.Reset();
            }
            else
            {
                await pair.CloseSendingAsync();
            }

            Assert.Equal(reset ? ReadEnd.Failed : ReadEnd.PeerClosed, await reading.WaitAsync(Deadline));
            Assert.Equal(0, seen.Count);
        }

        [Theory]
        [InlineData(false)]
        [InlineData(true)]
        public async Task DisposingEndsAnIdleReadAsStopped(bool tls)
        {
            using var pair = await LinePair.ConnectAsync(tls);
            var transport = pair.NewTransport(64);
            Task<ReadEnd> reading = new Seen().Read(transport);
            Assert.False(reading.IsCompleted);
            transport.Dispose();
            Assert.Equal(ReadEnd.Stopped, await reading.WaitAsync(Deadline));
        }

        [Fact]
        public async Task AWriteThatFailsInAnyWayEndsTheOutputSoLaterSendsAreRefusedClosed()
        {
            using var pair = await SocketPair.ConnectAsync();
            using var transport = new LineTransport(pair.Near, 64, long.MaxValue, new StreamThatCannotWrite());
            Assert.Equal(SendResult.Queued, transport.Send("first\n"));
            await Eventually.TrueAsync(() => transport.Send("later\n") == SendResult.Closed, Deadline);
        }

        /// <summary>A stream whose writes fail with neither a socket nor an I/O error, as a broken TLS stream's can.</summary>
        private sealed class StreamThatCannotWrite : Stream
        {
            public override bool CanRead => true;
            public override bool CanSeek => false;
            public override bool CanWrite => true;
            public override long Length => throw new NotSupportedException();
            public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
            public override void Flush() => throw new InvalidOperationException("this stream cannot write");
            public override int Read(byte[] buffer, int offset, int count) => 0;
            public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
            public override void SetLength(long value) => throw new NotSupportedException();
            public override void Write(byte[] buffer, int offset, int count) => throw new InvalidOperationException("this stream cannot write");
        }

        [Fact]
        public async Task CancellingTheTokenStopsEveryIdleReadUnderIt()
        {
            using var stopping = new CancellationTokenSource();
            using var other = new CancellationTokenSource();
            var pairs = new List<SocketPair>();
            var transports = new List<LineTransport>();
            try
            {
                var readings = new List<Task<ReadEnd>>();
                for (int i = 0; i < 4; i++)
                {
                    pairs.Add(await SocketPair.ConnectAsync());
                    transports.Add(new LineTransport(pairs[i].Near, 64, long.MaxValue));
                    readings.Add(transports[i].ReadLinesAsync((string _) => true, () => { }, i == 3 ? other.Token : stopping.Token));
                }

                // One ends before the token is cancelled; the others are idle when it is.
                pairs[0].Far.Shutdown(SocketShutdown.Send);
                Assert.Equal(ReadEnd.PeerClosed, await readings[0].WaitAsync(Deadline));

                stopping.Cancel();
                Assert.Equal(ReadEnd.Stopped, await readings[1].WaitAsync(Deadline));
                Assert.Equal(ReadEnd.Stopped, await readings[2].WaitAsync(Deadline));

                // A read under another token goes on, and a read started under the cancelled token ends at once.
                Assert.False(readings[3].IsCompleted);
                using var late = await SocketPair.ConnectAsync();
                using var lateTransport = new LineTransport(late.Near, 64, long.MaxValue);
                Assert.Equal(ReadEnd.Stopped, await lateTransport.ReadLinesAsync((string _) => true, () => { }, stopping.Token).WaitAsync(Deadline));

                pairs[3].Far.Send(Utf8.GetBytes("x\n"));
                other.Cancel();
                Assert.Equal(ReadEnd.Stopped, await readings[3].WaitAsync(Deadline));
            }
            finally
            {
                transports.ForEach(t => t.Dispose());
                pairs.ForEach(p => p.Dispose());
            }
        }

        [Fact]
        public async Task ATokenStopsReadsAgainAfterEveryReadUnderItHasEnded()
        {
            // Reads come and go under one token; the one still reading when it is cancelled stops.
            using var stopping = new CancellationTokenSource();
            for (int round = 0; round < 3; round++)
            {
                using var pair = await SocketPair.ConnectAsync();
                using var transport = new LineTransport(pair.Near, 64, long.MaxValue);
                Task<ReadEnd> reading = transport.ReadLinesAsync((string _) => true, () => { }, stopping.Token);
                if (round < 2)
                {
                    pair.Far.Shutdown(SocketShutdown.Send);
                    Assert.Equal(ReadEnd.PeerClosed, await reading.WaitAsync(Deadline));
                }
                else
                {
                    stopping.Cancel();
                    Assert.Equal(ReadEnd.Stopped, await reading.WaitAsync(Deadline));
                }
            }
        }

        [Fact]
        public async Task AStopEndsAReadEvenWhenTheStreamIgnoresCancellation()
        {
            // .NET Framework's SslStream (Windows PowerShell) ignores the token of a pending read: a stop must not
            // wait for the peer to send something. No TLS needed to show it: any stream will do.
            using var pair = await SocketPair.ConnectAsync();
            using var stream = new DeafToCancellation(new NetworkStream(pair.Near, ownsSocket: false));
            using var transport = new LineTransport(pair.Near, 64, long.MaxValue, stream);
            var seen = new Seen();
            Task<ReadEnd> reading = seen.Read(transport);

            await pair.Far.SendAsync(Utf8.GetBytes("one\nhalf"), SocketFlags.None);
            Assert.Equal("one", await seen.NextAsync());

            await Task.Run(transport.StopReading);
            Assert.Equal(ReadEnd.Stopped, await reading.WaitAsync(Deadline));

            // The read left pending ends with the connection, quietly.
            transport.Dispose();
        }

        /// <summary>A stream whose reads, once started, cannot be cancelled.</summary>
        private sealed class DeafToCancellation : Stream
        {
            private readonly Stream _inner;

            public DeafToCancellation(Stream inner) => _inner = inner;

            public override bool CanRead => true;
            public override bool CanSeek => false;
            public override bool CanWrite => true;
            public override long Length => throw new NotSupportedException();
            public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

            public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
                _inner.ReadAsync(buffer, offset, count, CancellationToken.None);

            public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);
            public override void Write(byte[] buffer, int offset, int count) => _inner.Write(buffer, offset, count);
            public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
                _inner.WriteAsync(buffer, offset, count, cancellationToken);
            public override void Flush() => _inner.Flush();
            public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
            public override void SetLength(long value) => throw new NotSupportedException();

            protected override void Dispose(bool disposing)
            {
                if (disposing)
                {
                    _inner.Dispose();
                }

                base.Dispose(disposing);
            }
        }

        [Theory]
        [InlineData(false)]
        [InlineData(true)]
        public async Task SendJoinedWritesTheLineThePartsMake(bool tls)
        {
            using var pair = await LinePair.ConnectAsync(tls);
            var transport = pair.NewTransport(64);

            Assert.Equal(SendResult.Queued, transport.SendJoined('_', "bob", "al\u00efce", "h\u00e9llo_there \u2713"));
            Assert.Equal(SendResult.Queued, transport.SendJoined('_', "bob", "carol", string.Empty));
            Assert.Equal("bob_al\u00efce_h\u00e9llo_there \u2713", await pair.ReadLineAsync());
            Assert.Equal("bob_carol_", await pair.ReadLineAsync());

            transport.Dispose();
            Assert.Equal(SendResult.Closed, transport.SendJoined('_', "bob", "carol", "late"));
        }

        [Fact]
        public async Task TlsStopReadingBeforeReadingOrFromAHandlerEndsTheRead()
        {
            using var pair = await LinePair.ConnectAsync(tls: true);
            using var transport = pair.NewTransport(64);
            await pair.SendAsync(Utf8.GetBytes("a\nstop\nb\n"));
            transport.StopReading();
            var seen = new Seen();
            Assert.Equal(ReadEnd.Stopped, await seen.Read(transport).WaitAsync(Deadline));
            Assert.Equal(0, seen.Count);

            // That stop was used up (as a cancelled pipe read's was): the next read goes on until a handler stops it.
            var lines = new List<string>();
            Task<ReadEnd> reading = ReadStoppingAtStop(transport, lines);
            Assert.Equal(ReadEnd.Stopped, await reading.WaitAsync(Deadline));
            Assert.Equal(new[] { "a", "stop", "b" }, lines);
        }

        [Fact]
        public async Task TlsCancellingTheTokenStopsAnIdleRead()
        {
            using var stopping = new CancellationTokenSource();
            using var pair = await LinePair.ConnectAsync(tls: true);
            using var transport = pair.NewTransport(64);
            Task<ReadEnd> reading = transport.ReadLinesAsync((string _) => true, () => { }, stopping.Token);
            Assert.False(reading.IsCompleted);
            stopping.Cancel();
            Assert.Equal(ReadEnd.Stopped, await reading.WaitAsync(Deadline));

            // Started under a cancelled token, a read ends at once.
            Assert.Equal(ReadEnd.Stopped, await transport.ReadLinesAsync((string _) => true, () => { }, stopping.Token).WaitAsync(Deadline));
        }

        private static byte[] Concat(byte[] a, byte[] b)
        {
            var all = new byte[a.Length + b.Length];
            a.CopyTo(all, 0);
            b.CopyTo(all, a.Length);
            return all;
        }

        /// <summary>Reads lines into <paramref name="lines"/>; the handler of a line "stop" stops the reading.</summary>
        private static Task<ReadEnd> ReadStoppingAtStop(LineTransport transport, List<string> lines) =>
            transport.ReadLinesAsync(
                (string line) =>
                {
                    lines.Add(line);
                    if (line == "stop")
                    {
                        transport.StopReading();
                    }

                    return true;
                },
                () => { },
                CancellationToken.None);

        /// <summary>The lines (and refusals) a read hands over, to be awaited one by one.</summary>
        private sealed class Seen
        {
            private readonly Channel<string> _lines = Channel.CreateUnbounded<string>();

            public int Count => _lines.Reader.Count;

            public Task<ReadEnd> Read(LineTransport transport) =>
                transport.ReadLinesAsync(
                    line => _lines.Writer.TryWrite(Utf8.GetString(line)),
                    () => _lines.Writer.TryWrite(TooLong),
                    CancellationToken.None);

            public async Task<string> NextAsync() => await _lines.Reader.ReadAsync().AsTask().WaitAsync(Deadline);
        }

        /// <summary>
        /// A <see cref="SocketPair"/>, plain or with TLS over it: a transport reads the near end (through TLS when asked), and the
        /// test plays the peer on Far.
        /// </summary>
        private sealed class LinePair : IDisposable
        {
            private static readonly Lazy<X509Certificate2> Certificate = new Lazy<X509Certificate2>(() =>
            {
                using RSA rsa = RSA.Create(2048);
                var request = new CertificateRequest("CN=localhost", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
                using X509Certificate2 made = request.CreateSelfSigned(DateTimeOffset.Now.AddMinutes(-5), DateTimeOffset.Now.AddHours(1));
                return X509CertificateLoader.LoadPkcs12(made.Export(X509ContentType.Pfx), null);
            });

            private readonly SocketPair _sockets;

            // Null for plain TCP.
            private readonly SslStream _nearTls;
            private readonly SslStream _farTls;

            private LinePair(SocketPair sockets, SslStream near, SslStream far)
            {
                _sockets = sockets;
                _nearTls = near;
                _farTls = far;
            }

            public Socket Far => _sockets.Far;

            public static async Task<LinePair> ConnectAsync(bool tls)
            {
                SocketPair sockets = await SocketPair.ConnectAsync();
                if (!tls)
                {
                    return new LinePair(sockets, null, null);
                }

                var near = new SslStream(new NetworkStream(sockets.Near, ownsSocket: false));
                var far = new SslStream(new NetworkStream(sockets.Far, ownsSocket: false), false, (_, _, _, _) => true);
                await Task.WhenAll(near.AuthenticateAsServerAsync(Certificate.Value), far.AuthenticateAsClientAsync("localhost")).WaitAsync(Deadline);
                return new LinePair(sockets, near, far);
            }

            public LineTransport NewTransport(int maxLineBytes) => new LineTransport(_sockets.Near, maxLineBytes, long.MaxValue, _nearTls);

            /// <summary>Sends the bytes in one write (with TLS, one record).</summary>
            public async Task SendAsync(byte[] bytes)
            {
                if (_farTls == null)
                {
                    await Far.SendAsync(bytes, SocketFlags.None).WaitAsync(Deadline);
                    return;
                }

                await _farTls.WriteAsync(bytes).AsTask().WaitAsync(Deadline);
                await _farTls.FlushAsync().WaitAsync(Deadline);
            }

            /// <summary>The next line the peer received, without its newline.</summary>
            public async Task<string> ReadLineAsync()
            {
                if (_farTls == null)
                {
                    return await _sockets.ReadFarLineAsync();
                }

                var line = new List<byte>();
                var one = new byte[1];
                using var cts = new CancellationTokenSource(Deadline);
                while (await _farTls.ReadAsync(one, cts.Token) == 1 && one[0] != (byte)'\n')
                {
                    line.Add(one[0]);
                }

                return Utf8.GetString(line.ToArray());
            }

            /// <summary>The peer ends its side cleanly (with TLS, saying so first).</summary>
            public async Task CloseSendingAsync()
            {
                if (_farTls != null)
                {
                    await _farTls.ShutdownAsync().WaitAsync(Deadline);
                }

                Far.Shutdown(SocketShutdown.Send);
            }

            /// <summary>The peer resets the connection.</summary>
            public void Reset()
            {
                Far.LingerState = new LingerOption(true, 0);
                Far.Close();
            }

            public void Dispose()
            {
                _farTls?.Dispose();
                _nearTls?.Dispose();
                _sockets.Dispose();
            }
        }
    }
}
