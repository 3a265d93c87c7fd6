using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Chatrm.Engine
{
    /// <summary>Who is online, as the native protocol lists them.</summary>
    public sealed class UserInfo
    {
        public UserInfo(string name, string protocol, DateTime connectedAt)
        {
            Name = name;
            Protocol = protocol;
            ConnectedAt = connectedAt;
        }

        public string Name { get; }

        /// <summary>chatrm or classic.</summary>
        public string Protocol { get; }

        public DateTime ConnectedAt { get; }
    }

    /// <summary>
    /// One frame of the native protocol: a JSON object on one line. One flat type for every frame, since
    /// each uses a few of the same handful of fields; unknown fields are ignored, so later versions can add.
    /// </summary>
    public sealed class NativeFrame
    {
        public string Type { get; set; }
        public string Protocol { get; set; }
        public int? Version { get; set; }
        public string User { get; set; }

        /// <summary>Only in a hello, to a server that asks for passwords.</summary>
        public string Password { get; set; }
        public string Ref { get; set; }
        public string Id { get; set; }
        public string From { get; set; }
        public string To { get; set; }
        public string Text { get; set; }
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
    }

    /// <summary>Frame types of the native protocol (docs/protocol.md).</summary>
    public static class FrameType
    {
        public const string Hello = "hello";
        public const string Welcome = "welcome";
        public const string Send = "send";
        public const string Status = "status";
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

    /// <summary>
    /// Chatrm's native protocol: one UTF-8 JSON object per line. The opening frame names the protocol as
    /// "chatrm_native": the '_' makes an original server read it as a handshake instead of crashing.
    /// </summary>
    public static class NativeProtocol
    {
        public const int Version = 1;
        public const string ProtocolName = "chatrm_native";

        [ThreadStatic] private static MemoryStream t_buffer;
        [ThreadStatic] private static Utf8JsonWriter t_writer;

        private static readonly JsonWriterOptions WriterOptions = new JsonWriterOptions
        {
            // Readable in nc: most non-ASCII text stays as it is (emoji and other surrogate pairs are escaped);
            // control characters and quotes are always escaped.
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
            Indented = false,
        };

        /// <summary>A first line that opens the native protocol: no classic name starts with '{'.</summary>
        public static bool IsNativeOpening(string line) => line.TrimStart().StartsWith("{", StringComparison.Ordinal);

        public static string Format(NativeFrame frame)
        {
            MemoryStream buffer = t_buffer ?? (t_buffer = new MemoryStream(256));
            buffer.SetLength(0);
            Utf8JsonWriter writer = t_writer;
            if (writer == null)
            {
                writer = t_writer = new Utf8JsonWriter(buffer, WriterOptions);
            }
            else
            {
                writer.Reset(buffer);
            }

            writer.WriteStartObject();
            writer.WriteString("type", frame.Type);
            WriteIf(writer, "protocol", frame.Protocol);
            if (frame.Version.HasValue) writer.WriteNumber("version", frame.Version.Value);
            WriteIf(writer, "user", frame.User);
            WriteIf(writer, "password", frame.Password);
            WriteIf(writer, "ref", frame.Ref);
            WriteIf(writer, "id", frame.Id);
            WriteIf(writer, "from", frame.From);
            WriteIf(writer, "to", frame.To);
            WriteIf(writer, "text", frame.Text);
            if (frame.SentAt.HasValue) writer.WriteString("sentAt", FormatTime(frame.SentAt.Value));
            WriteIf(writer, "status", frame.Status);
            WriteIf(writer, "reason", frame.Reason);
            WriteIf(writer, "code", frame.Code);
            WriteIf(writer, "message", frame.Message);
            WriteIf(writer, "event", frame.Event);
            if (frame.Time.HasValue) writer.WriteString("time", FormatTime(frame.Time.Value));
            if (frame.KeepAlive.HasValue) writer.WriteNumber("keepAlive", frame.KeepAlive.Value);
            if (frame.MaxFrameBytes.HasValue) writer.WriteNumber("maxFrameBytes", frame.MaxFrameBytes.Value);
            if (frame.Users != null)
            {
                writer.WriteStartArray("users");
                foreach (UserInfo user in frame.Users)
                {
                    writer.WriteStartObject();
                    writer.WriteString("name", user.Name);
                    writer.WriteString("protocol", user.Protocol);
                    writer.WriteString("connectedAt", FormatTime(user.ConnectedAt));
                    writer.WriteEndObject();
                }

                writer.WriteEndArray();
            }

            writer.WriteEndObject();
            writer.Flush();
            return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length) + "\n";
        }

        /// <summary>Reads one frame; on failure <paramref name="problem"/> says what is wrong, for an error frame.</summary>
        public static bool TryParse(string line, out NativeFrame frame, out string problem)
        {
            frame = null;
            problem = null;
            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(line);
            }
            catch (JsonException e)
            {
                problem = "not valid JSON: " + e.Message;
                return false;
            }

            using (document)
            {
                JsonElement root = document.RootElement;
                if (root.ValueKind != JsonValueKind.Object)
                {
                    problem = "a frame is a JSON object";
                    return false;
                }

                var parsed = new NativeFrame();
                try
                {
                    foreach (JsonProperty property in root.EnumerateObject())
                    {
                        if (!ReadProperty(parsed, property, out problem))
                        {
                            return false;
                        }
                    }
                }
                catch (InvalidOperationException e)
                {
                    // Valid JSON that is no text, such as a lone "\ud800": reading it as a string throws.
                    // Uncaught, it would end the connection instead of being answered as a malformed frame.
                    problem = "not readable as text: " + e.Message;
                    return false;
                }

                if (string.IsNullOrEmpty(parsed.Type))
                {
                    problem = "a frame needs a \"type\"";
                    return false;
                }

                frame = parsed;
                return true;
            }
        }

        /// <summary>
        /// A user listed without a readable connectedAt: the earliest time, in UTC. (A plain default(DateTime) has no
        /// kind, so FormatTime took it for local time and wrote it back shifted in any zone west of UTC.)
        /// </summary>
        private static readonly DateTime UnknownTime = new DateTime(0, DateTimeKind.Utc);

        public static string FormatTime(DateTime time) =>
            time.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

        private static bool ReadProperty(NativeFrame frame, JsonProperty property, out string problem)
        {
            problem = null;
            JsonElement value = property.Value;
            switch (property.Name)
            {
                case "type": return ReadString(property, s => frame.Type = s, out problem);
                case "protocol": return ReadString(property, s => frame.Protocol = s, out problem);
                case "user": return ReadString(property, s => frame.User = s, out problem);
                case "password": return ReadString(property, s => frame.Password = s, out problem);
                case "ref": return ReadString(property, s => frame.Ref = s, out problem);
                case "id": return ReadString(property, s => frame.Id = s, out problem);
                case "from": return ReadString(property, s => frame.From = s, out problem);
                case "to": return ReadString(property, s => frame.To = s, out problem);
                case "text": return ReadString(property, s => frame.Text = s, out problem);
                case "status": return ReadString(property, s => frame.Status = s, out problem);
                case "reason": return ReadString(property, s => frame.Reason = s, out problem);
                case "code": return ReadString(property, s => frame.Code = s, out problem);
                case "message": return ReadString(property, s => frame.Message = s, out problem);
                case "event": return ReadString(property, s => frame.Event = s, out problem);
                case "version": return ReadInt(property, i => frame.Version = i, out problem);
                case "keepAlive": return ReadNumber(property, d => frame.KeepAlive = d, out problem);
                case "maxFrameBytes": return ReadInt(property, i => frame.MaxFrameBytes = i, out problem);
                case "sentAt": return ReadTime(property, t => frame.SentAt = t, out problem);
                case "time": return ReadTime(property, t => frame.Time = t, out problem);
                case "users":
                    if (value.ValueKind != JsonValueKind.Array)
                    {
                        problem = "\"users\" must be an array";
                        return false;
                    }

                    frame.Users = new List<UserInfo>();
                    foreach (JsonElement user in value.EnumerateArray())
                    {
                        if (user.ValueKind != JsonValueKind.Object)
                        {
                            problem = "each of \"users\" must be an object";
                            return false;
                        }

                        string name = user.TryGetProperty("name", out JsonElement n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null;
                        string protocol = user.TryGetProperty("protocol", out JsonElement p) && p.ValueKind == JsonValueKind.String ? p.GetString() : null;
                        DateTime connectedAt = user.TryGetProperty("connectedAt", out JsonElement c) && c.ValueKind == JsonValueKind.String && TryParseTime(c.GetString(), out DateTime t) ? t : UnknownTime;
                        frame.Users.Add(new UserInfo(name, protocol, connectedAt));
                    }

                    return true;
                default:
                    // Unknown fields are ignored, so a later version may add some.
                    return true;
            }
        }

        private static bool ReadString(JsonProperty property, Action<string> set, out string problem)
        {
            if (property.Value.ValueKind == JsonValueKind.String)
            {
                set(property.Value.GetString());
                problem = null;
                return true;
            }

            if (property.Value.ValueKind == JsonValueKind.Null)
            {
                problem = null;
                return true;
            }

            problem = $"\"{property.Name}\" must be a string";
            return false;
        }

        private static bool ReadInt(JsonProperty property, Action<int> set, out string problem)
        {
            if (property.Value.ValueKind == JsonValueKind.Number && property.Value.TryGetInt32(out int value))
            {
                set(value);
                problem = null;
                return true;
            }

            problem = $"\"{property.Name}\" must be a whole number";
            return false;
        }

        private static bool ReadNumber(JsonProperty property, Action<double> set, out string problem)
        {
            if (property.Value.ValueKind == JsonValueKind.Number && property.Value.TryGetDouble(out double value))
            {
                set(value);
                problem = null;
                return true;
            }

            problem = $"\"{property.Name}\" must be a number";
            return false;
        }

        private static bool ReadTime(JsonProperty property, Action<DateTime> set, out string problem)
        {
            if (property.Value.ValueKind == JsonValueKind.String && TryParseTime(property.Value.GetString(), out DateTime time))
            {
                set(time);
                problem = null;
                return true;
            }

            problem = $"\"{property.Name}\" must be an ISO 8601 UTC time";
            return false;
        }

        private static bool TryParseTime(string text, out DateTime time) =>
            DateTime.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out time);

        private static void WriteIf(Utf8JsonWriter writer, string name, string value)
        {
            if (value != null)
            {
                writer.WriteString(name, value);
            }
        }
    }
}
