using DJJobNet;

namespace DJJobNet.Samples.Worker;

/// <summary>Succeeds: prints a greeting.</summary>
public sealed class HelloJob : IJob
{
    public string Name { get; set; } = "world";

    public void Perform() => Console.WriteLine($"Hello, {Name}!");
}

/// <summary>Always throws: the worker retries it with backoff (6 s, 21 s, 86 s, ...) and then keeps it as failed.</summary>
public sealed class FlakyJob : IJob, IDJJobRetryErrorHandler
{
    public string Reason { get; set; } = "the mail server said no";

    public void Perform() => throw new InvalidOperationException(Reason);

    public void OnDjjobRetryError(string error) => Console.WriteLine($"FlakyJob gave up: {error}");
}

/// <summary>Asks for another try in <see cref="DelaySeconds"/> with <see cref="DJRetryException"/>.</summary>
public sealed class RetryLaterJob : IJob
{
    public int DelaySeconds { get; set; } = 60;

    public void Perform() => throw new DJRetryException("the remote side is busy", TimeSpan.FromSeconds(DelaySeconds));
}

/// <summary>A slow job: sleeps, then, when given <see cref="DoneDir"/>, leaves a file there named "Tag.pid.random".</summary>
public sealed class SleepJob : IJob
{
    public double Seconds { get; set; } = 1;

    public int Tag { get; set; }

    public string? DoneDir { get; set; }

    public void Perform()
    {
        Thread.Sleep(TimeSpan.FromSeconds(Seconds));
        // One file per run: appends from several processes to one file could interleave or be lost.
        if (DoneDir is not null) File.WriteAllText(Path.Combine(DoneDir, $"{Tag}.{Environment.ProcessId}.{Guid.NewGuid():N}"), "");
    }
}
