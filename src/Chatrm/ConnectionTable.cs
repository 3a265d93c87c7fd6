using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation.Runspaces;
using System.Threading;

namespace Chatrm.PowerShell
{
    /// <summary>
    /// The connections of each runspace. A bot in a thread job has its own table, so its connection never
    /// becomes "the newest" of the session that started it. A runspace's connections close with it.
    /// </summary>
    internal static class ConnectionTable
    {
        private static readonly object Lock = new object();
        private static readonly Dictionary<Guid, List<ChatrmConnection>> Tables = new Dictionary<Guid, List<ChatrmConnection>>();
        private static int s_nextId;

        public static ChatrmConnection Add(Engine.ChatClient client, Engine.ClientOptions options)
        {
            var connection = new ChatrmConnection(Interlocked.Increment(ref s_nextId), client, options);
            Runspace runspace = Runspace.DefaultRunspace;
            Guid key = runspace?.InstanceId ?? Guid.Empty;
            lock (Lock)
            {
                if (!Tables.TryGetValue(key, out List<ChatrmConnection> list))
                {
                    list = new List<ChatrmConnection>();
                    Tables[key] = list;
                    if (runspace != null)
                    {
                        runspace.StateChanged += OnRunspaceStateChanged;
                    }
                }

                list.Add(connection);
            }

            return connection;
        }

        public static void Remove(ChatrmConnection connection)
        {
            lock (Lock)
            {
                foreach (List<ChatrmConnection> list in Tables.Values)
                {
                    list.Remove(connection);
                }
            }
        }

        /// <summary>This runspace's connections, oldest first.</summary>
        public static IReadOnlyList<ChatrmConnection> Current()
        {
            Guid key = Runspace.DefaultRunspace?.InstanceId ?? Guid.Empty;
            lock (Lock)
            {
                return Tables.TryGetValue(key, out List<ChatrmConnection> list) ? list.ToArray() : Array.Empty<ChatrmConnection>();
            }
        }

        /// <summary>This runspace's newest connection, open or not; null when it has none.</summary>
        public static ChatrmConnection Newest() => Current().LastOrDefault();

        public static ChatrmConnection Find(int id) => Current().FirstOrDefault(c => c.Id == id);

        private static void OnRunspaceStateChanged(object sender, RunspaceStateEventArgs e)
        {
            RunspaceState state = e.RunspaceStateInfo.State;
            if (state != RunspaceState.Closed && state != RunspaceState.Broken)
            {
                return;
            }

            var runspace = (Runspace)sender;
            List<ChatrmConnection> list;
            lock (Lock)
            {
                if (!Tables.TryGetValue(runspace.InstanceId, out list))
                {
                    return;
                }

                Tables.Remove(runspace.InstanceId);
            }

            runspace.StateChanged -= OnRunspaceStateChanged;
            foreach (ChatrmConnection connection in list)
            {
                _ = connection.Client.CloseAsync();
            }
        }
    }
}
