namespace DJJobNet.Internal;

/// <summary>PHP DJJob's log: <c>[ISO 8601 time] message</c> on standard output, filtered by level.</summary>
internal sealed class DJLogger(TextWriter? output = null, TimeProvider? time = null)
{
    public static DJLogger Default { get; } = new();

    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public DJLogLevel Level { get; set; } = DJLogLevel.Debug;

    // Read per call when none was given, so an application's Console.SetOut still applies. A log line written while a
    // job's output is captured (FailOnOutput) must neither be lost nor count as the job's output.
    private TextWriter Output => output ?? ConsoleCapture.Out;

    public void Log(string message, DJLogLevel level)
    {
        if (level < Level) return;
        var stamp = _time.GetUtcNow().ToString("yyyy-MM-dd'T'HH:mm:sszzz", System.Globalization.CultureInfo.InvariantCulture);
        var writer = Output;
        lock (writer) writer.WriteLine($"[{stamp}] {message}");
    }
}
