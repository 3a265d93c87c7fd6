using System;
using System.Net;
using System.Threading.Tasks;
using Chatrm.Engine;

namespace Chatrm.ServerDriver
{
    /// <summary>
    /// <c>serve PATH</c>: a server on 127.0.0.1 and a free port with its store in PATH; prints "port N" once it listens,
    /// and stops when its standard input closes (or after a minute, should the test that started it be gone).
    /// </summary>
    internal static class Program
    {
        private static async Task<int> Main(string[] args)
        {
            if (args.Length != 2 || args[0] != "serve")
            {
                Console.Error.WriteLine("usage: Chatrm.ServerDriver serve PATH");
                return 2;
            }

            using var server = new ChatServer(new ServerOptions { Address = IPAddress.Loopback, Port = 0, StorePath = args[1] });
            server.Start();
            Console.Out.WriteLine("port " + server.LocalEndPoint.Port);
            Console.Out.Flush();

            Task closed = Task.Run(() => Console.In.ReadToEnd());
            await Task.WhenAny(closed, Task.Delay(TimeSpan.FromMinutes(1)));
            await server.StopAsync();
            return 0;
        }
    }
}
