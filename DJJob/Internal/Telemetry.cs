using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace DJJobNet.Internal;

/// <summary>
/// DJJob's metrics and traces through <see cref="System.Diagnostics"/>: OpenTelemetry (or dotnet-counters) picks them
/// up with <c>AddMeter("DJJob")</c> and <c>AddSource("DJJob")</c>, with no package of ours.
/// </summary>
internal static class Telemetry
{
    private static readonly string? Version = typeof(Telemetry).Assembly.GetName().Version?.ToString();

    public static readonly ActivitySource Source = new(DJJob.TelemetryName, Version);
    public static readonly Meter Meter = new(DJJob.TelemetryName, Version);

    public static readonly Counter<long> Enqueued = Meter.CreateCounter<long>("djjob.jobs.enqueued", "{job}", "Jobs stored in a queue.");
    public static readonly Counter<long> Completed = Meter.CreateCounter<long>("djjob.jobs.completed", "{job}", "Jobs that succeeded (their row deleted).");
    public static readonly Counter<long> Retried = Meter.CreateCounter<long>("djjob.jobs.retried", "{job}", "Failed attempts after which the job is tried again.");
    public static readonly Counter<long> Failed = Meter.CreateCounter<long>("djjob.jobs.failed", "{job}", "Jobs failed for good (kept with their error).");
    public static readonly Histogram<double> Duration = Meter.CreateHistogram<double>("djjob.job.duration", "s", "How long a job's Perform ran, by outcome.");

    // The queues that running workers serve, for the depth gauge: read from the table when observed, at most every 5 s.
    private static readonly ConcurrentDictionary<(JobStore Store, string Queue), (long Stamp, JobStatus? Status)> Served = new();
    private static readonly TimeSpan DepthMaxAge = TimeSpan.FromSeconds(5);

    static Telemetry() =>
        Meter.CreateObservableGauge("djjob.queue.depth", ObserveDepth, "{job}", "Jobs in a queue served by a worker of this process, by state: outstanding, locked, failed.");

    public static KeyValuePair<string, object?> QueueTag(string queue) => new("djjob.queue", queue);

    /// <summary>Counts <paramref name="queue"/> in the depth gauge while the returned handle is not disposed.</summary>
    public static IDisposable Serve(JobStore store, string queue)
    {
        Served.TryAdd((store, queue), (0, null));
        return new Unserve(store, queue);
    }

    private sealed class Unserve(JobStore store, string queue) : IDisposable
    {
        public void Dispose() => Served.TryRemove((store, queue), out _);
    }

    private static IEnumerable<Measurement<long>> ObserveDepth()
    {
        foreach (var ((store, queue), (stamp, known)) in Served)
        {
            var status = known;
            if (status is null || Stopwatch.GetElapsedTime(stamp) > DepthMaxAge)
            {
                try
                {
                    status = store.Status(queue);
                    Served[(store, queue)] = (Stopwatch.GetTimestamp(), status);
                }
                catch (DJException)
                {
                    // The database is away; the worker logs it. Report what was last known, if anything.
                }
            }
            if (status is null) continue;
            yield return new(status.Outstanding, QueueTag(queue), new("djjob.state", "outstanding"));
            yield return new(status.Locked, QueueTag(queue), new("djjob.state", "locked"));
            yield return new(status.Failed, QueueTag(queue), new("djjob.state", "failed"));
        }
    }
}
