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
    }
}
