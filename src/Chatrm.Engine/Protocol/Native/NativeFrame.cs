using System;
using System.Collections.Generic;

namespace Chatrm.Engine.Protocol.Native
{
    /// <summary>
    /// One frame of the native protocol: a JSON object on one line. One flat type for every frame, since
    /// each uses a few of the same handful of fields; unknown fields are ignored, so later versions can add.
    /// </summary>
    internal sealed class NativeFrame
    {
        public string Type { get; set; }
        public string Protocol { get; set; }
        public int? Version { get; set; }
        public string User { get; set; }

        /// <summary>Only in a hello, to a server that asks for passwords.</summary>
        public string Password { get; set; }

        /// <summary>Only in a hello: false asks the server for no presence frames (absent means true).</summary>
        public bool? Presence { get; set; }

        /// <summary>
        /// In a hello, true asks for batched confirmations; in a welcome, true grants them: the client may ack with
        /// <see cref="Through"/> and hears of delivered messages in <see cref="FrameType.Delivered"/> frames.
        /// </summary>
        public bool? Batch { get; set; }

        /// <summary>In a hello: the client's resume token (see <see cref="Resume"/>); a live session of the name with the same token is taken over.</summary>
        public string ResumeToken { get; set; }

        /// <summary>In a welcome: true when this server deduplicates repeated refs and writes seq in room frames.</summary>
        public bool? Resume { get; set; }

        /// <summary>In a welcome: the scope within which message ids never repeat (a store file's, or one server run's).</summary>
        public string Ids { get; set; }

        /// <summary>In an ack: this message id and every message the server sent this client before it.</summary>
        public string Through { get; set; }

        /// <summary>In a delivered frame: the messages it confirms, in the order the client sent them; in a history answer, its lines, ascending by seq.</summary>
        public List<DeliveredMessage> Messages { get; set; }

        public string Ref
        {
            get => _ref ?? (RefJson == null ? null : _ref = NativeProtocol.TextOfJson(RefJson));
            set
            {
                _ref = value;
                RefJson = null;
            }
        }

        public string Id { get; set; }
        public string From { get; set; }
        public string To { get; set; }

        public string Text
        {
            get => _text ?? (TextJson == null ? null : _text = NativeProtocol.TextOfJson(TextJson));
            set
            {
                _text = value;
                TextJson = null;
            }
        }

        public DateTime? SentAt { get; set; }
        public string Status { get; set; }
        public string Reason { get; set; }
        public string Message { get; set; }
        public string Code { get; set; }
        public string Event { get; set; }
        public DateTime? Time { get; set; }
        /// <summary>Seconds, possibly fractional.</summary>
        public double? KeepAlive { get; set; }
        public int? MaxFrameBytes { get; set; }
        public List<UserInfo> Users { get; set; }

        /// <summary>
        /// The room a join, part, who, room, message or presence frame is about, '#' included. In a message it is
        /// the room posted to (then <see cref="To"/> is the room too); in a presence frame, the room joined or left.
        /// </summary>
        public string Room { get; set; }

        /// <summary>A room message's place in its room (a message frame), or the place the sender's post took (a posted status).</summary>
        public long? Seq { get; set; }

        /// <summary>In a posted status: how many members the room message went to, the sender not counted.</summary>
        public int? Recipients { get; set; }

        /// <summary>In a room frame: whether the user who asked is a member.</summary>
        public bool? Joined { get; set; }

        /// <summary>In a room frame: how many members the room has.</summary>
        public int? MemberCount { get; set; }

        /// <summary>In a room frame: the members' names, when the answer lists them (join and who do, part does not).</summary>
        public IReadOnlyList<string> Members { get; set; }

        /// <summary>In a room frame: when the user who asked joined the room (only when it is a member).</summary>
        public DateTime? JoinedAt { get; set; }

        /// <summary>In a history frame: the other person of the direct conversation asked about (or <see cref="Room"/> for a room's).</summary>
        public string With { get; set; }

        /// <summary>In a history request: how many lines at most (1 to 1000; absent is 50).</summary>
        public int? Last { get; set; }

        /// <summary>In a history request: only lines with a seq below this.</summary>
        public long? Before { get; set; }

        /// <summary>In a history request: only lines with a seq above this.</summary>
        public long? After { get; set; }

        /// <summary>In a rooms frame: every room the server has, each with its name, member count and whether the asker is in it.</summary>
        public IReadOnlyList<RoomInfo> Rooms { get; set; }

        /// <summary>A room frame's fields as the room they describe (the answer a client hands to whoever asked).</summary>
        internal RoomInfo ToRoomInfo() =>
            new RoomInfo(Room, MemberCount ?? Members?.Count ?? 0, Members, Joined == true, Joined == true ? JoinedAt : null) { LastSeq = Seq ?? 0 };

        private string _text;
        private string _ref;

        /// <summary>
        /// Set on the frame one connection reads all its frames into (a server's, to route them; a client's, so
        /// waiting messages stay small): text and ref are kept as <see cref="TextJson"/> and <see cref="RefJson"/>
        /// when they can be, the recipient's name is reused while it is the previous one's, and a plainly written
        /// send skips the JSON reader.
        /// </summary>
        internal bool KeepsWireBytes { get; set; }

        /// <summary>The text as it came, quotes included, when it is exactly what a frame would write back.</summary>
        internal byte[] TextJson { get; private set; }

        /// <summary>The ref as it came, quotes included, as <see cref="TextJson"/>.</summary>
        internal byte[] RefJson { get; private set; }

        internal bool HasText => _text != null || TextJson != null;

        internal void SetTextJson(byte[] quoted)
        {
            _text = null;
            TextJson = quoted;
        }

        internal void SetRefJson(byte[] quoted)
        {
            _ref = null;
            RefJson = quoted;
        }

        // The previous frame's recipient, as read and as its bytes: see KeepsWireBytes.
        private string _lastTo;
        private byte[] _lastToUtf8;

        /// <summary>The previous frame's recipient when a send wrote its name as these same unescaped bytes, else null.</summary>
        internal string PreviousRecipient(ReadOnlySpan<byte> utf8) =>
            _lastToUtf8 != null && utf8.SequenceEqual(_lastToUtf8) ? _lastTo : null;

        /// <summary>Keeps <paramref name="name"/>, written as <paramref name="utf8"/>, for the next frame; returns it.</summary>
        internal string RememberRecipient(ReadOnlySpan<byte> utf8, string name)
        {
            _lastTo = name;
            _lastToUtf8 = utf8.ToArray();
            return name;
        }

        /// <summary>Empties the frame for reuse: a connection parses every frame into one instance.</summary>
        internal void Clear()
        {
            Type = Protocol = User = Password = Ref = Id = From = To = Text = Through = null;
            Status = Reason = Message = Code = Event = null;
            Version = null;
            Presence = Batch = Resume = null;
            ResumeToken = Ids = null;
            MaxFrameBytes = null;
            SentAt = Time = null;
            KeepAlive = null;
            Users = null;
            Messages = null;
            Room = null;
            Seq = null;
            Recipients = null;
            Joined = null;
            MemberCount = null;
            Members = null;
            JoinedAt = null;
            Rooms = null;
            With = null;
            Last = null;
            Before = null;
            After = null;
        }
    }
}
