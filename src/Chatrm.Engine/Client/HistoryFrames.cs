using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;
using System.Text.Json;

namespace Chatrm.Engine.Client
{
    /// <summary>
    /// The client's half of the history frames (docs/protocol.md, History): the question it writes and the answer it
    /// reads. Off the per-message path, so written and read with System.Text.Json's plain writer and document.
    /// </summary>
    internal static class HistoryFrames
    {
        public const string Type = "history";

        /// <summary>The most messages one question may ask for.</summary>
        public const int MaxLast = 1000;

        /// <summary>
        /// {"type":"history","ref":..,"with":..} or "room":.. for a name starting with '#', then "last", and "before" and
        /// "after" when above 0 (0 is no bound).
        /// </summary>
        public static string Request(string reference, string conversation, int last, long before, long after)
        {
            using var buffer = new MemoryStream();
            using (var writer = new Utf8JsonWriter(buffer))
            {
                writer.WriteStartObject();
                writer.WriteString("type", Type);
                writer.WriteString("ref", reference);
                writer.WriteString(RoomNames.IsRoom(conversation) ? "room" : "with", conversation);
                writer.WriteNumber("last", last);
                if (before > 0)
                {
                    writer.WriteNumber("before", before);
                }

                if (after > 0)
                {
                    writer.WriteNumber("after", after);
                }

                writer.WriteEndObject();
            }

            return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
        }

        /// <summary>
        /// The messages of a history answer, as the server listed them (ascending by seq). A room's messages carry the
        /// room; each its Seq. False when the line is no history answer this client can read.
        /// </summary>
        public static bool TryReadAnswer(ReadOnlySpan<byte> line, DateTime receivedAt, out List<ChatMessage> messages)
        {
            messages = null;
            try
            {
                using JsonDocument document = JsonDocument.Parse(line.ToArray());
                JsonElement root = document.RootElement;
                if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("messages", out JsonElement list) || list.ValueKind != JsonValueKind.Array)
                {
                    return false;
                }

                string room = StringOf(root, "room");
                messages = new List<ChatMessage>(list.GetArrayLength());
                foreach (JsonElement item in list.EnumerateArray())
                {
                    if (item.ValueKind != JsonValueKind.Object)
                    {
                        continue;
                    }

                    DateTime? sentAt = null;
                    if (StringOf(item, "sentAt") is string time && DateTime.TryParse(time, CultureInfo.InvariantCulture,
                            DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out DateTime parsed))
                    {
                        sentAt = parsed;
                    }

                    var message = new ChatMessage(StringOf(item, "from"), StringOf(item, "to"), StringOf(item, "text") ?? string.Empty,
                        receivedAt, StringOf(item, "id"), sentAt);
                    if (item.TryGetProperty("seq", out JsonElement seq) && seq.ValueKind == JsonValueKind.Number && seq.TryGetInt64(out long number))
                    {
                        message.Seq = number;
                    }

                    if (room != null)
                    {
                        message.Room = room;
                    }

                    messages.Add(message);
                }

                return true;
            }
            catch (JsonException)
            {
                return false;
            }
            catch (InvalidOperationException)
            {
                // A lone surrogate in a string: no text, so no answer this client can show.
                return false;
            }
        }

        private static string StringOf(JsonElement element, string name) =>
            element.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
    }
}
