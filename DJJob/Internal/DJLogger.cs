namespace DJJobNet.Internal;

/// <summary>PHP DJJob's log: <c>[ISO 8601 time] message</c> on standard output, filtered by level.</summary>
internal sealed class DJLogger(TextWriter? output = null, TimeProvider? time = null)
{
    public static DJLogger Default { get; } = new();

    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public DJLogLevel Level { get; set; } = DJLogLevel.Debug;

    // While a job's output is captured (FailOnOutput), DJJob's own lines still go where they went before: a log line
    // written meanwhile (a signal arriving, say) must neither be lost nor count as the job's output.
    private static TextWriter? _beforeCapture;

    public static void BeginCapture(TextWriter original) => Volatile.Write(ref _beforeCapture, original);

    public static void EndCapture() => Volatile.Write(ref _beforeCapture, null);

    // Read per call when none was given, so an application's Console.SetOut still applies.
    private TextWriter Output => output ?? Volatile.Read(ref _beforeCapture) ?? Console.Out;

    public void Log(string message, DJLogLevel level)
    {
        if (level < Level) return;
        var stamp = _time.GetUtcNow().ToString("yyyy-MM-dd'T'HH:mm:sszzz", System.Globalization.CultureInfo.InvariantCulture);
        var writer = Output;
        lock (writer) writer.WriteLine($"[{stamp}] {message}");
    }
}
