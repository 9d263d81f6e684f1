namespace DJJobNet.Tests.Infrastructure;

/// <summary>Counts its runs in a static, so a test can see that a job ran and how often.</summary>
public sealed class CountingJob : IJob
{
    private static readonly Dictionary<string, int> Runs = [];

    public string Key { get; set; } = Guid.NewGuid().ToString("N");

    public static int RunsOf(string key)
    {
        lock (Runs) return Runs.GetValueOrDefault(key);
    }

    public void Perform()
    {
        lock (Runs) Runs[Key] = Runs.GetValueOrDefault(Key) + 1;
    }
}

/// <summary>Always throws <see cref="Message"/>; records the failure hook's call.</summary>
public sealed class FailingJob : IJob, IDJJobRetryErrorHandler
{
    private static readonly Dictionary<string, List<string>> Hooks = [];

    public string Key { get; set; } = Guid.NewGuid().ToString("N");
    public string Message { get; set; } = "boom";

    public static IReadOnlyList<string> HookCallsOf(string key)
    {
        lock (Hooks) return Hooks.GetValueOrDefault(key)?.ToList() ?? [];
    }

    public void Perform() => throw new InvalidOperationException(Message);

    public void OnDjjobRetryError(string error)
    {
        lock (Hooks)
        {
            if (!Hooks.TryGetValue(Key, out var calls)) Hooks[Key] = calls = [];
            calls.Add(error);
        }
    }
}

/// <summary>Throws <see cref="DJRetryException"/>, with <see cref="DelaySeconds"/> when set.</summary>
public sealed class RetryingJob : IJob
{
    public int? DelaySeconds { get; set; }

    public bool Forever { get; set; }

    public void Perform() =>
        throw new DJRetryException("not yet", Forever ? TimeSpan.MaxValue : DelaySeconds is { } s ? TimeSpan.FromSeconds(s) : null);
}

/// <summary>Writes to standard output.</summary>
public sealed class ChattyJob : IJob
{
    public void Perform() => Console.Write("hello from the job");
}

/// <summary>A job with a member that may hold anything: only safe when the member holds nothing polymorphic.</summary>
public sealed class PayloadJob : IJob
{
    public object? Payload { get; set; }

    public void Perform() { }
}

/// <summary>Not a job: a row that names it must be refused.</summary>
public sealed class NotAJob
{
    public static int Built;

    public NotAJob() => Interlocked.Increment(ref Built);
}
