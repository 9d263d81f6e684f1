using System.Text;

namespace DJJobNet.Internal;

/// <summary>
/// Captures what one job writes to standard output (FailOnOutput) without taking the console away from the rest of
/// the process: a routing writer sends writes made inside a capture (on the job's thread and the tasks it starts) to
/// that capture, and everything else, DJJob's own log lines included, to the console as before.
/// </summary>
internal static class ConsoleCapture
{
    private static readonly AsyncLocal<StringWriter?> Current = new();
    private static readonly Lock Gate = new();

    // Console.SetOut wraps the writer it is given, so what Console.Out returns is remembered next to the router.
    private static (TextWriter Installed, RoutingWriter Router)? _routing;

    /// <summary>The console writer that is not a capture: where DJJob's log lines go.</summary>
    public static TextWriter Out =>
        _routing is { } routing && ReferenceEquals(Console.Out, routing.Installed) ? routing.Router.Original : Console.Out;

    /// <summary>Runs <paramref name="action"/> and returns what it wrote to standard output.</summary>
    public static string Run(Action action)
    {
        using var captured = Begin();
        action();
        return captured.ToString();
    }

    /// <summary>Awaits <paramref name="action"/> and returns what it wrote to standard output, continuations included.</summary>
    public static async Task<string> RunAsync(Func<Task> action)
    {
        using var captured = Begin();
        await action().ConfigureAwait(false);
        return captured.ToString();
    }

    // Routes this execution context's writes to a new capture; disposing it routes them back. AsyncLocal changes made in
    // an async method are undone when it returns, so the capture never leaks to the caller.
    private static Capture Begin()
    {
        lock (Gate)
        {
            // Installed once, and again if the application has since replaced Console.Out.
            if (_routing is not { } routing || !ReferenceEquals(Console.Out, routing.Installed))
            {
                var router = new RoutingWriter(Console.Out);
                Console.SetOut(router);
                _routing = (Console.Out, router);
            }
        }
        return new Capture();
    }

    private sealed class Capture : IDisposable
    {
        private readonly StringWriter _text = new();
        private readonly StringWriter? _previous = Current.Value;

        public Capture() => Current.Value = _text;

        public override string ToString() => _text.ToString();

        public void Dispose()
        {
            Current.Value = _previous;
            _text.Dispose();
        }
    }

    private sealed class RoutingWriter(TextWriter original) : TextWriter
    {
        public TextWriter Original { get; } = original;

        public override Encoding Encoding => Original.Encoding;

        private TextWriter Target => Current.Value ?? Original;

        public override void Write(char value) => Target.Write(value);

        public override void Write(char[] buffer, int index, int count) => Target.Write(buffer, index, count);

        public override void Write(string? value) => Target.Write(value);

        public override void WriteLine(string? value) => Target.WriteLine(value);

        public override void Flush() => Target.Flush();
    }
}
