namespace Chatrm.Engine.Client
{
    /// <summary>What the server said (or did not say) to our opening.</summary>
    internal sealed class Greeting
    {
        public static readonly Greeting Welcome = new Greeting(Refusal.None, null) { Welcomed = true };
        public static readonly Greeting Silence = new Greeting(Refusal.None, null);

        // A classic line in answer to the native hello: not welcomed, which makes it a protocol mismatch.
        public static readonly Greeting ClassicAnswer = new Greeting(Refusal.None, null);

        public Greeting(Refusal refusal, string text)
        {
            Refusal = refusal;
            Text = text;
        }

        public Refusal Refusal { get; }
        public string Text { get; }
        public bool Welcomed { get; private set; }
    }
}
