namespace Chatrm.Engine.Routing
{
    /// <summary>What <see cref="IMessageRouter.Leave"/> answers: the room as it is without the one who left, or why not.</summary>
    internal readonly struct RoomLeave
    {
        private RoomLeave(Refusal refusal, string message, RoomInfo room, System.Threading.Tasks.Task<RoomLeave> answer = null)
        {
            Answer = answer;
            Refusal = refusal;
            Message = message;
            Room = room;
        }

        /// <summary><see cref="Refusal.None"/> when left: else invalid-room or not-in-room.</summary>
        public Refusal Refusal { get; }

        /// <summary>The refusal's words; null when left.</summary>
        public string Message { get; }

        /// <summary>The room's name and the members it has left (0 when it ended), not listed; null when refused.</summary>
        public RoomInfo Room { get; }

        public bool Left => Refusal == Refusal.None && Answer == null;

        /// <summary>The room is another server's: its answer comes later, never faulting (see <see cref="RoomJoin.Answer"/>).</summary>
        public System.Threading.Tasks.Task<RoomLeave> Answer { get; }

        public bool IsPending => Answer != null;

        internal static RoomLeave Pending(System.Threading.Tasks.Task<RoomLeave> answer) => new RoomLeave(Refusal.None, null, null, answer);

        internal static RoomLeave Done(RoomInfo room) => new RoomLeave(Refusal.None, null, room);

        internal static RoomLeave Refused(Refusal refusal, string message) => new RoomLeave(refusal, message, null);
    }
}
