using System.Collections.Generic;
using System.Linq;
using Chatrm.Engine;

namespace Chatrm.PowerShell
{
    /// <summary>What a chat shows for each thing that happens, with other people's text made safe to print.</summary>
    internal static class ChatLines
    {
        /// <summary>The prefix of a message line: [bob>>] and a space; a room's: [#ops bob>>].</summary>
        public static string MessagePrefix(ChatMessage message) => string.IsNullOrEmpty(message.Room)
            ? $"[{TerminalText.Neutralise(message.From)}>>] "
            : $"[{TerminalText.Neutralise(message.Room)} {TerminalText.Neutralise(message.From)}>>] ";

        /// <summary>A message's text as lines, the first to follow the prefix and the others indented under it.</summary>
        public static IReadOnlyList<string> MessageLines(ChatMessage message)
        {
            string indent = new string(' ', MessagePrefix(message).Length);
            string[] lines = TerminalText.Neutralise(message.Text).Split('\n');
            for (int i = 1; i < lines.Length; i++)
            {
                lines[i] = indent + lines[i];
            }

            return lines;
        }

        public static string Notice(ServerNotice notice) =>
            $"[{UserNames.Server}>>] {TerminalText.Neutralise(notice.Text)} ({TerminalText.Neutralise(notice.Code)})";

        public static string Refused(SentMessage message) =>
            $"[{UserNames.Server}>>] not delivered to {TerminalText.Neutralise(message.To)}: {TerminalText.Neutralise(message.Detail ?? message.Reason)} ({TerminalText.Neutralise(message.Reason)})";

        public static string Stored(SentMessage message) =>
            $"[{UserNames.Server}>>] {TerminalText.Neutralise(message.To)} is offline; the message waits for them";

        public static string Receipt(DeliveryReceipt receipt) =>
            $"* {TerminalText.Neutralise(receipt.To)} received your message #{TerminalText.Neutralise(receipt.Id)}";

        public static string Presence(PresenceEvent presence) =>
            $"* {TerminalText.Neutralise(presence.UserName)} {(presence.Kind == PresenceChange.Joined ? "joined" : "left")}" +
            (string.IsNullOrEmpty(presence.Room) ? string.Empty : " " + TerminalText.Neutralise(presence.Room));

        /// <summary>A reconnect's start and end, and what could not be fetched (the reason may hold a server's words).</summary>
        public static string Connection(ConnectionEvent change)
        {
            string reason = TerminalText.Neutralise(change.Reason);
            switch (change.Change)
            {
                case ConnectionChange.Reconnecting:
                    return $"* the connection dropped ({reason}); reconnecting";
                case ConnectionChange.Reconnected:
                    return $"* {reason} after {change.Attempts} attempt{(change.Attempts == 1 ? string.Empty : "s")}";
                default:
                    return $"* missed while away: {reason}";
            }
        }

        /// <summary>A room's members as a line says them: "2 members: alice, bob".</summary>
        public static string Members(RoomInfo room) =>
            $"{room.MemberCount} member{(room.MemberCount == 1 ? string.Empty : "s")}" +
            (room.Members.Count == 0 ? string.Empty : ": " + TerminalText.Neutralise(string.Join(", ", room.Members.OrderBy(m => m, UserNames.Comparer))));
    }
}
