using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Chatrm.Bench;

/// <summary>Users who connect, register or subscribe, and then say nothing: what each costs the server.</summary>
public sealed class IdleUsers : IDisposable
{
    private readonly List<Conn> _conns = new List<Conn>();

    public int Connected => _conns.Count;
    public int Failed { get; private set; }
    public string FirstFailure { get; private set; }
    public double Seconds { get; private set; }

    public static async Task<IdleUsers> ConnectAsync(Wire wire, IPEndPoint endPoint, int count, int concurrency = 128)
    {
        var users = new IdleUsers();
        var clock = Stopwatch.StartNew();
        int next = 0;
        object gate = new object();

        async Task Worker()
        {
            while (true)
            {
                int k = Interlocked.Increment(ref next);
                if (k > count) return;
                lock (gate)
                {
                    // Out of file handles or ports: stop trying rather than hammer.
                    if (users.Failed > 20) return;
                }

                Conn conn = null;
                try
                {
                    conn = await Conn.ConnectAsync(endPoint, 1024, CancellationToken.None);
                    await wire.OpenIdleAsync(conn, "i" + k);
                    conn.ReleaseBuffer();
                    lock (gate) users._conns.Add(conn);
                }
                catch (Exception e)
                {
                    conn?.Dispose();
                    lock (gate)
                    {
                        users.Failed++;
                        users.FirstFailure ??= e.GetType().Name + ": " + e.Message;
                    }
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(Worker)));
        users.Seconds = clock.Elapsed.TotalSeconds;
        return users;
    }

    public void Dispose()
    {
        foreach (Conn conn in _conns) conn.Dispose();
        _conns.Clear();
    }
}
