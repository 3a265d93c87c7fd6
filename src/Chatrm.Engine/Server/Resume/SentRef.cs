using System;
using System.Collections.Generic;
using Chatrm.Engine.Messaging;
using Chatrm.Engine.Protocol.Native;

namespace Chatrm.Engine.Server.Resume
{
    /// <summary>
    /// A send's ref as the server already holds it, without making a string of it: the bytes it came as (quotes
    /// included, printable ASCII, nothing escaped: see <see cref="NativeFrame.RefJson"/>), or the string when it had
    /// to be decoded. Two spellings of one ref are equal (<see cref="Comparer"/>), so a resend is found however its
    /// frame was read.
    /// </summary>
    internal readonly struct SentRef
    {
        private SentRef(byte[] json, string text)
        {
            Json = json;
            Text = text;
        }

        /// <summary>The ref as it came, quotes included; null when <see cref="Text"/> holds it.</summary>
        public byte[] Json { get; }

        /// <summary>The ref as a string when it did not come as plain bytes; null otherwise.</summary>
        public string Text { get; }

        /// <summary>The send had no ref: nothing to remember it by.</summary>
        public bool IsNone => Json == null && Text == null;

        /// <summary>Compares and hashes refs by their characters, whichever way each is held.</summary>
        public static IEqualityComparer<SentRef> Comparer { get; } = new ByCharacters();

        /// <summary>The ref of a send frame read by a server's reader (which keeps wire bytes).</summary>
        public static SentRef Of(NativeFrame frame)
        {
            byte[] json = frame.RefJson;
            return new SentRef(json, json == null ? frame.Ref : null);
        }

        /// <summary>The ref a message was sent with.</summary>
        public static SentRef Of(ChatEnvelope envelope)
        {
            byte[] json = envelope.SenderRefJson;
            return new SentRef(json, json == null ? envelope.SenderRef : null);
        }

        /// <summary>A ref as a store file kept it: its characters.</summary>
        public static SentRef OfText(string text) => new SentRef(null, text);

        /// <summary>The ref's characters, for a store file (at a stop only: this makes a string).</summary>
        public string ToText() => Json != null ? System.Text.Encoding.ASCII.GetString(Json, 1, Json.Length - 2) : Text;

        private int Length => Json != null ? Json.Length - 2 : Text.Length;

        // Kept bytes are printable ASCII with nothing escaped: the i-th byte inside the quotes is the i-th character.
        private char this[int index] => Json != null ? (char)Json[index + 1] : Text[index];

        private sealed class ByCharacters : IEqualityComparer<SentRef>
        {
            // Per process, so a client cannot choose refs that all land in one bucket of its own table ahead of time.
            private static readonly uint Seed = (uint)Guid.NewGuid().GetHashCode();

            public bool Equals(SentRef x, SentRef y)
            {
                if (x.Json != null && y.Json != null)
                {
                    return x.Json.AsSpan().SequenceEqual(y.Json);
                }

                if (x.Text != null && y.Text != null)
                {
                    return string.Equals(x.Text, y.Text, StringComparison.Ordinal);
                }

                if (x.IsNone || y.IsNone)
                {
                    return x.IsNone && y.IsNone;
                }

                int length = x.Length;
                if (length != y.Length)
                {
                    return false;
                }

                for (int i = 0; i < length; i++)
                {
                    if (x[i] != y[i])
                    {
                        return false;
                    }
                }

                return true;
            }

            // FNV-1a over the characters, from a random start.
            public int GetHashCode(SentRef value)
            {
                uint hash = 2166136261 ^ Seed;
                if (value.Json != null)
                {
                    byte[] json = value.Json;
                    for (int i = 1; i < json.Length - 1; i++)
                    {
                        hash = (hash ^ json[i]) * 16777619;
                    }
                }
                else if (value.Text != null)
                {
                    foreach (char c in value.Text)
                    {
                        hash = (hash ^ c) * 16777619;
                    }
                }

                return (int)hash;
            }
        }
    }
}
