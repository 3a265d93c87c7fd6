using System;
using System.Collections.Generic;
using System.Text.Json;

namespace Chatrm.Engine.Protocol.Native
{
    /// <summary>The readers of a frame's arrays (users, members, rooms, messages) and of strings that may be null.</summary>
    internal static partial class NativeProtocol
    {
        private static string ReadUsers(ref Utf8JsonReader reader, NativeFrame frame)
        {
            if (reader.TokenType != JsonTokenType.StartArray)
            {
                return "\"users\" must be an array";
            }

            var users = new List<UserInfo>();
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    reader.Skip();
                    while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    {
                        reader.Skip();
                    }

                    return "each of \"users\" must be an object";
                }

                string name = null, protocol = null, node = null;
                DateTime connectedAt = UnknownTime;
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    bool isName = reader.ValueTextEquals("name"u8);
                    bool isProtocol = !isName && reader.ValueTextEquals("protocol"u8);
                    bool isConnectedAt = !isName && !isProtocol && reader.ValueTextEquals("connectedAt"u8);
                    bool isNode = !isName && !isProtocol && !isConnectedAt && reader.ValueTextEquals("node"u8);
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.String)
                    {
                        if (isName) name = reader.GetString();
                        else if (isProtocol) protocol = reader.GetString();
                        else if (isConnectedAt && TryParseTime(reader.GetString(), out DateTime t)) connectedAt = t;
                        else if (isNode) node = reader.GetString();
                    }
                    else
                    {
                        // A field of another kind reads as absent; a later version may add fields.
                        if (isName) name = null;
                        else if (isProtocol) protocol = null;
                        else if (isConnectedAt) connectedAt = UnknownTime;
                        else if (isNode) node = null;
                        reader.Skip();
                    }
                }

                users.Add(new UserInfo(name, protocol, connectedAt) { Node = node });
            }

            frame.Users = users;
            return null;
        }

        private static string ReadMembers(ref Utf8JsonReader reader, NativeFrame frame)
        {
            if (reader.TokenType != JsonTokenType.StartArray)
            {
                return "\"members\" must be an array";
            }

            var members = new List<string>();
            string problem = null;
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                if (reader.TokenType == JsonTokenType.String)
                {
                    members.Add(reader.GetString());
                    continue;
                }

                problem = problem ?? "each of \"members\" must be a string";
                reader.Skip();
            }

            frame.Members = members;
            return problem;
        }

        private static string ReadRooms(ref Utf8JsonReader reader, NativeFrame frame)
        {
            if (reader.TokenType != JsonTokenType.StartArray)
            {
                return "\"rooms\" must be an array";
            }

            var rooms = new List<RoomInfo>();
            string problem = null;
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    problem = problem ?? "each of \"rooms\" must be an object";
                    reader.Skip();
                    continue;
                }

                string name = null;
                int memberCount = 0;
                bool joined = false;
                List<string> members = null;
                DateTime? joinedAt = null;
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    bool isName = reader.ValueTextEquals("name"u8);
                    bool isCount = !isName && reader.ValueTextEquals("memberCount"u8);
                    bool isJoined = !isName && !isCount && reader.ValueTextEquals("joined"u8);
                    bool isMembers = !isName && !isCount && !isJoined && reader.ValueTextEquals("members"u8);
                    bool isJoinedAt = !isName && !isCount && !isJoined && !isMembers && reader.ValueTextEquals("joinedAt"u8);
                    reader.Read();

                    // A field of another kind reads as absent, as in "users"; a later version may add fields.
                    if (isName && reader.TokenType == JsonTokenType.String) name = reader.GetString();
                    else if (isCount && reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out int count) && count >= 0) memberCount = count;
                    else if (isJoined && (reader.TokenType == JsonTokenType.True || reader.TokenType == JsonTokenType.False)) joined = reader.GetBoolean();
                    else if (isJoinedAt && reader.TokenType == JsonTokenType.String && TryParseTime(reader.GetString(), out DateTime t)) joinedAt = t;
                    else if (isMembers && reader.TokenType == JsonTokenType.StartArray)
                    {
                        members = new List<string>();
                        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                        {
                            if (reader.TokenType == JsonTokenType.String) members.Add(reader.GetString());
                            else reader.Skip();
                        }
                    }
                    else reader.Skip();
                }

                rooms.Add(new RoomInfo(name, memberCount, members, joined, joined ? joinedAt : null));
            }

            frame.Rooms = rooms;
            return problem;
        }

        private static string ReadMessages(ref Utf8JsonReader reader, NativeFrame frame)
        {
            if (reader.TokenType != JsonTokenType.StartArray)
            {
                return "\"messages\" must be an array";
            }

            var messages = new List<DeliveredMessage>();
            string problem = null;
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    problem = problem ?? "each of \"messages\" must be an object";
                    reader.Skip();
                    continue;
                }

                string reference = null, id = null, from = null, to = null, text = null;
                DateTime? sentAt = null;
                long? seq = null;
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    bool isRef = reader.ValueTextEquals("ref"u8);
                    bool isId = !isRef && reader.ValueTextEquals("id"u8);
                    bool isSentAt = !isRef && !isId && reader.ValueTextEquals("sentAt"u8);
                    bool isFrom = !isRef && !isId && !isSentAt && reader.ValueTextEquals("from"u8);
                    bool isTo = !isRef && !isId && !isSentAt && !isFrom && reader.ValueTextEquals("to"u8);
                    bool isText = !isRef && !isId && !isSentAt && !isFrom && !isTo && reader.ValueTextEquals("text"u8);
                    bool isSeq = !isRef && !isId && !isSentAt && !isFrom && !isTo && !isText && reader.ValueTextEquals("seq"u8);
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.String)
                    {
                        if (isRef) reference = reader.GetString();
                        else if (isId) id = reader.GetString();
                        else if (isSentAt && TryParseTime(reader.GetString(), out DateTime t)) sentAt = t;
                        else if (isFrom) from = reader.GetString();
                        else if (isTo) to = reader.GetString();
                        else if (isText) text = reader.GetString();
                    }
                    else if (isSeq && reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out long s) && s > 0)
                    {
                        seq = s;
                    }
                    else
                    {
                        // A field of another kind reads as absent, as in "users"; a later version may add fields.
                        reader.Skip();
                    }
                }

                // A delivered frame's entry has a ref and no text; a history line has a from and a text.
                messages.Add(from != null || text != null || seq != null
                    ? new DeliveredMessage(id, from, to, text, sentAt, seq)
                    : new DeliveredMessage(reference, id, sentAt));
            }

            frame.Messages = messages;
            return problem;
        }

        private static bool IsString(ref Utf8JsonReader reader, string name, ref string problem)
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.String:
                    return true;
                case JsonTokenType.Null:
                    // Null counts as absent.
                    return false;
                default:
                    problem = $"\"{name}\" must be a string";
                    return false;
            }
        }
    }
}
