namespace DJJobNet.Samples.Benchmark;

/// <summary>The benchmark's job: does nothing, or records how long after its enqueue it started.</summary>
public sealed class Noop : IJob
{
    /// <summary>What pickup latency jobs record.</summary>
    public static readonly System.Collections.Concurrent.ConcurrentBag<double> Latencies = [];

    /// <summary>The handler DJJob stores for a plain no-op job, for the floor's rows.</summary>
    public static string Handler => Newtonsoft.Json.JsonConvert.SerializeObject(new Noop(), new Newtonsoft.Json.JsonSerializerSettings { TypeNameHandling = Newtonsoft.Json.TypeNameHandling.Objects });

    /// <summary>Ticks (UTC) when the job was enqueued; 0 for no measurement.</summary>
    public long EnqueuedAt { get; set; }

    /// <inheritdoc/>
    public void Perform()
    {
        if (EnqueuedAt != 0) Latencies.Add(TimeSpan.FromTicks(DateTime.UtcNow.Ticks - EnqueuedAt).TotalMilliseconds);
    }
}
