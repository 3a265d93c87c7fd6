namespace Chatrm.Engine.Protocol.Native
{
    /// <summary>Frame types of the native protocol (docs/protocol.md).</summary>
    internal static class FrameType
    {
        public const string Hello = "hello";
        public const string Welcome = "welcome";
        public const string Send = "send";
        public const string Status = "status";

        /// <summary>Batched confirmations: several messages of one sender delivered (see <see cref="NativeFrame.Batch"/>).</summary>
        public const string Delivered = "delivered";
        public const string Message = "message";
        public const string Ack = "ack";
        public const string Who = "who";
        public const string Users = "users";
        public const string Presence = "presence";
        public const string Ping = "ping";
        public const string Pong = "pong";
        public const string Bye = "bye";
        public const string Error = "error";

        /// <summary>Client to server: join a room (<see cref="NativeFrame.Room"/>); answered with a <see cref="Room"/> frame.</summary>
        public const string Join = "join";

        /// <summary>Client to server: leave a room; answered with a <see cref="Room"/> frame.</summary>
        public const string Part = "part";

        /// <summary>Server to client: one room as the asking user sees it (the answer to join, part and who with a room).</summary>
        public const string Room = "room";

        /// <summary>Both ways: the client asks for every room the server has; the server's answer lists them.</summary>
        public const string Rooms = "rooms";

        /// <summary>
        /// Both ways: the client asks for a conversation's history (<see cref="NativeFrame.With"/> or
        /// <see cref="NativeFrame.Room"/>, with <see cref="NativeFrame.Last"/>, <see cref="NativeFrame.Before"/>,
        /// <see cref="NativeFrame.After"/>); the server's answer lists it in <see cref="NativeFrame.Messages"/>.
        /// </summary>
        public const string History = "history";
    }
}
