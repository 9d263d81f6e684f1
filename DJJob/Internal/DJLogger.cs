using Microsoft.Extensions.Logging;

namespace DJJobNet.Internal;

/// <summary>
/// DJJob's log. Without a logger factory it is PHP DJJob's: <c>[ISO 8601 time] message</c> on standard output,
/// filtered by <see cref="Level"/>. With one (<see cref="DJJob.SetLoggerFactory"/>, or the host's), the same messages
/// go to an <see cref="ILogger"/> of category <c>DJJob</c>, through the source-generated methods of <see cref="Log"/>.
/// </summary>
internal sealed class DJLogger(TextWriter? output = null, TimeProvider? time = null)
{
    public static DJLogger Default { get; } = new();

    private readonly PhpConsoleLogger _console = new(output, time ?? TimeProvider.System);
    private ILogger? _factoryLogger;

    public DJLogLevel Level
    {
        get => _console.Level;
        set => _console.Level = value;
    }

    /// <summary>Where the messages go instead of the console; null for the console.</summary>
    public ILoggerFactory? Factory
    {
        set => _factoryLogger = value?.CreateLogger("DJJob");
    }

    /// <summary>The logger the messages go to now.</summary>
    public ILogger Logger => _factoryLogger ?? _console;

    /// <summary>A message without a method of its own in <see cref="Log"/>.</summary>
    public void Log(string message, DJLogLevel level) => Internal.Log.Message(Logger, ToLogLevel(level), message);

    public static LogLevel ToLogLevel(DJLogLevel level) => level switch
    {
        DJLogLevel.Debug => LogLevel.Debug,
        DJLogLevel.Info => LogLevel.Information,
        DJLogLevel.Warn => LogLevel.Warning,
        DJLogLevel.Error => LogLevel.Error,
        _ => LogLevel.Critical,
    };

    /// <summary>PHP DJJob's console log as an <see cref="ILogger"/>.</summary>
    private sealed class PhpConsoleLogger(TextWriter? output, TimeProvider time) : ILogger
    {
        public DJLogLevel Level { get; set; } = DJLogLevel.Debug;

        // Read per call when none was given, so an application's Console.SetOut still applies. A log line written while a
        // job's output is captured (FailOnOutput) must neither be lost nor count as the job's output.
        private TextWriter Output => output ?? ConsoleCapture.Out;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None && logLevel >= ToLogLevel(Level);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            var stamp = time.GetUtcNow().ToString("yyyy-MM-dd'T'HH:mm:sszzz", System.Globalization.CultureInfo.InvariantCulture);
            var writer = Output;
            lock (writer) writer.WriteLine($"[{stamp}] {formatter(state, exception)}");
        }

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
    }
}
