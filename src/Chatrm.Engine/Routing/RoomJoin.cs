namespace Chatrm.Engine.Routing
{
    /// <summary>What <see cref="IMessageRouter.Join"/> answers: the room as the joiner now sees it, or why not.</summary>
    internal readonly struct RoomJoin
    {
        private RoomJoin(Refusal refusal, string message, RoomInfo room, bool wasMember, System.Threading.Tasks.Task<RoomJoin> answer = null)
        {
            Answer = answer;
            Refusal = refusal;
            Message = message;
            Room = room;
            WasMember = wasMember;
        }

        /// <summary><see cref="Refusal.None"/> when joined: else invalid-room, too-many-rooms, room-full or no-more-rooms.</summary>
        public Refusal Refusal { get; }

        /// <summary>The refusal's words, naming the limit and its parameter; null when joined.</summary>
        public string Message { get; }

        /// <summary>The room with its members, as a member sees it (with when it joined); null when refused.</summary>
        public RoomInfo Room { get; }

        /// <summary>The joiner was in the room already: nothing changed, and nobody was told.</summary>
        public bool WasMember { get; }

        public bool Joined => Refusal == Refusal.None && Answer == null;

        /// <summary>
        /// The room is another server's (in a cluster): its answer comes later, never faulting. Wait for it with
        /// <see cref="Server.ServerConnection.AfterAnswer{T}"/>, so the joiner's later lines wait too.
        /// </summary>
        public System.Threading.Tasks.Task<RoomJoin> Answer { get; }

        public bool IsPending => Answer != null;

        internal static RoomJoin Pending(System.Threading.Tasks.Task<RoomJoin> answer) => new RoomJoin(Refusal.None, null, null, false, answer);

        internal static RoomJoin Done(RoomInfo room, bool wasMember) => new RoomJoin(Refusal.None, null, room, wasMember);

        internal static RoomJoin Refused(Refusal refusal, string message) => new RoomJoin(refusal, message, null, false);
    }
}
