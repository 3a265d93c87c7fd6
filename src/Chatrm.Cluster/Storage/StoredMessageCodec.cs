using System;
using System.Buffers;
using System.Collections.Generic;
using System.Text.Json;
using Chatrm.Engine;
using Chatrm.Engine.Storage;

namespace Chatrm.Cluster.Storage
{
    /// <summary>
    /// A stored message as the bytes of a JetStream message: a small JSON object. A native sender's text goes in as it
    /// came (already a JSON string), so storing it costs no string.
    /// </summary>
    internal static class StoredMessageCodec
    {
        public static byte[] Encode(StoredMessage message)
        {
            var buffer = new ArrayBufferWriter<byte>(128 + (message.TextJson?.Length ?? message.TextLength * 3));
            using (var json = new Utf8JsonWriter(buffer))
            {
                Write(json, message);
            }

            return buffer.WrittenSpan.ToArray();
        }

        /// <summary>Lines of history one commit carries, as a JSON array of them.</summary>
        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        public static byte[] EncodeLines(IReadOnlyList<StoredMessage> lines)
        {
            var buffer = new ArrayBufferWriter<byte>(256 * lines.Count);
            using (var json = new Utf8JsonWriter(buffer))
            {
                json.WriteStartArray();
                foreach (StoredMessage line in lines)
                {
                    Write(json, line);
                }

                json.WriteEndArray();
            }

            return buffer.WrittenSpan.ToArray();
        }

        /// <summary>The lines of an array (or the one of an object); what cannot be read is left out.</summary>
        public static List<StoredMessage> DecodeLines(ReadOnlySpan<byte> bytes)
        {
            var lines = new List<StoredMessage>();
            try
            {
                var reader = new Utf8JsonReader(bytes);
                if (!reader.Read())
                {
                    return lines;
                }

                if (reader.TokenType == JsonTokenType.StartObject)
                {
                    Add(lines, Read(ref reader));
                    return lines;
                }

                while (reader.TokenType == JsonTokenType.StartArray || reader.TokenType == JsonTokenType.StartObject)
                {
                    if (reader.TokenType == JsonTokenType.StartObject)
                    {
                        Add(lines, Read(ref reader));
                    }

                    if (!reader.Read())
                    {
                        break;
                    }
                }
            }
            catch (Exception e) when (IsUnreadable(e))
            {
            }

            return lines;
        }

        private static void Add(List<StoredMessage> lines, StoredMessage line)
        {
            if (line != null)
            {
                lines.Add(line);
            }
        }

        [System.Runtime.CompilerServices.MethodImpl(HotPath.Options)]
        private static void Write(Utf8JsonWriter json, StoredMessage message)
        {
            json.WriteStartObject();
            json.WriteNumber("id", message.Id);
            json.WriteString("from", message.From);
            json.WriteString("to", message.To);
            json.WriteNumber("at", message.SentAt.Ticks);
            if (message.Seq != 0)
            {
                json.WriteNumber("seq", message.Seq);
            }

            if (message.SenderRef != null)
            {
                json.WriteString("ref", message.SenderRef);
            }

            json.WritePropertyName("text");
            if (message.TextJson != null)
            {
                json.WriteRawValue(message.TextJson, skipInputValidation: true);
            }
            else
            {
                json.WriteStringValue(message.Text ?? string.Empty);
            }

            json.WriteEndObject();
        }

        /// <summary>The message, or null when the bytes are not one (written by a newer server, say): skipped, never thrown on.</summary>
        public static StoredMessage Decode(ReadOnlySpan<byte> bytes)
        {
            try
            {
                var reader = new Utf8JsonReader(bytes);
                return reader.Read() && reader.TokenType == JsonTokenType.StartObject ? Read(ref reader) : null;
            }
            catch (Exception e) when (IsUnreadable(e))
            {
                return null;
            }
        }

        private static bool IsUnreadable(Exception e) =>
            e is JsonException || e is InvalidOperationException || e is ArgumentOutOfRangeException || e is FormatException;

        /// <summary>From the reader on an object's start to its end; null when it lacks what a message must have.</summary>
        private static StoredMessage Read(ref Utf8JsonReader reader)
        {
            var message = new StoredMessage();
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                string name = reader.GetString();
                reader.Read();
                switch (name)
                {
                    case "id": message.Id = reader.GetInt64(); break;
                    case "from": message.From = reader.GetString(); break;
                    case "to": message.To = reader.GetString(); break;
                    case "at": message.SentAt = new DateTime(reader.GetInt64(), DateTimeKind.Utc); break;
                    case "seq": message.Seq = reader.GetInt64(); break;
                    case "ref": message.SenderRef = reader.GetString(); break;
                    case "text": message.Text = reader.GetString(); break;
                    default: reader.Skip(); break;
                }
            }

            return message.From == null || message.To == null || message.Text == null ? null : message;
        }
    }
}
