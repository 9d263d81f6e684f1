namespace DJJobNet;

/// <summary>How a <see cref="DJWorker"/> polls and retries: PHP DJJob's worker options, plus the fixes this port adds.</summary>
public sealed class DJWorkerOptions
{
    /// <summary>The queue this worker takes jobs from.</summary>
    /// <value>The default is <c>default</c>.</value>
    public string Queue
    {
        get;
        set => field = Internal.Sql.ValidQueue(value);
    } = "default";

    /// <summary>How many polling iterations to run before <see cref="DJWorker.Start"/> returns; 0 runs until stopped.</summary>
    /// <value>The default is 0.</value>
    public int Count
    {
        get;
        set => field = value >= 0 ? value : throw new DJException($"Count cannot be negative; got {value}.");
    }

    /// <summary>How long to wait after a poll that found no job.</summary>
    /// <value>The default is 5 seconds.</value>
    public TimeSpan Sleep
    {
        get;
        set => field = value >= TimeSpan.Zero && value <= MaxWait ? value : throw new DJException($"Sleep must be between 0 and {MaxWait.TotalDays} days; got {value}.");
    } = TimeSpan.FromSeconds(5);

    // The longest wait a timer takes (uint.MaxValue - 1 milliseconds, about 49 days), rounded down.
    private static readonly TimeSpan MaxWait = TimeSpan.FromDays(49);

    /// <summary>How many attempts a job gets; after the last one fails, the job is kept as failed with its error.</summary>
    /// <value>The default is 5.</value>
    public int MaxAttempts
    {
        get;
        set => field = value >= 1 ? value : throw new DJException($"MaxAttempts must be at least 1; got {value}.");
    } = 5;

    /// <summary>When true, anything a job writes to standard output makes the attempt fail.</summary>
    /// <value>The default is false.</value>
    public bool FailOnOutput { get; set; }

    /// <summary>
    /// How long a lock is trusted. A job locked longer ago than this (its worker died mid-job) may be taken by another worker.
    /// Choose more than your longest job's run time.
    /// </summary>
    /// <value>The default is 4 hours, as in delayed_job. <see cref="TimeSpan.MaxValue"/> means a lock never expires, as in PHP.</value>
    public TimeSpan MaxRunTime
    {
        get;
        set => field = value > TimeSpan.Zero ? value : throw new DJException($"MaxRunTime must be positive; got {value}.");
    } = TimeSpan.FromHours(4);

    /// <summary>
    /// The wait before the next attempt after the n-th failed one (n counts from 1).
    /// </summary>
    /// <value>The default is delayed_job's <c>n^4 + 5</c> seconds: 6 s, 21 s, 86 s, 261 s, 630 s, ... 2.8 h at n = 10, 1.9 days at n = 20.</value>
    public Func<int, TimeSpan> Backoff
    {
        get;
        set => field = value ?? throw new DJException("Backoff cannot be null.");
    } = DefaultBackoff;

    /// <summary>
    /// How long a stop (SIGTERM, SIGINT, <see cref="DJWorker.Stop"/>) waits for the running job. A job still running
    /// then is released for another worker (it runs again: at least once) and <see cref="DJWorker.Start"/> returns.
    /// </summary>
    /// <value>
    /// The default is 25 seconds (under the 30 s that Kubernetes and most supervisors allow before SIGKILL);
    /// <see cref="Timeout.InfiniteTimeSpan"/> waits for the job however long it takes, as PHP DJJob does.
    /// </value>
    public TimeSpan ShutdownTimeout
    {
        get;
        set => field = value == Timeout.InfiniteTimeSpan || (value >= TimeSpan.Zero && value <= MaxWait)
            ? value
            : throw new DJException($"ShutdownTimeout must be between 0 and {MaxWait.TotalDays} days, or Timeout.InfiniteTimeSpan; got {value}.");
    } = TimeSpan.FromSeconds(25);

    /// <summary>When true, <see cref="DJWorker.Start"/> returns at the first poll that finds nothing runnable (for a worker that cron starts).</summary>
    /// <value>The default is false.</value>
    public bool ExitWhenEmpty { get; set; }

    /// <summary>
    /// How many jobs one claim takes (one short transaction with <c>FOR UPDATE SKIP LOCKED</c>). The jobs of a batch
    /// are locked by this worker while they wait their turn, so other workers cannot take them; should the process die,
    /// they wait for <see cref="MaxRunTime"/> like the job that was running.
    /// </summary>
    /// <value>The default is 1, as PHP DJJob: a worker holds only the job it runs. Between 1 and 1,000.</value>
    public int BatchSize
    {
        get;
        set => field = value is >= 1 and <= 1000 ? value : throw new DJException($"BatchSize must be between 1 and 1000; got {value}.");
    } = 1;

    /// <summary>
    /// How many jobs this worker runs at the same time, each in a loop of its own (claims, runs, records). Jobs then run
    /// in parallel and finish in no fixed order. A synchronous job runs on a thread of its own, never the thread pool's.
    /// </summary>
    /// <value>The default is 1. Between 1 and 256.</value>
    public int Concurrency
    {
        get;
        set => field = value is >= 1 and <= 256 ? value : throw new DJException($"Concurrency must be between 1 and 256; got {value}.");
    } = 1;

    /// <summary>
    /// When true, the rows of jobs that succeeded are deleted together, in the commit that claims the next batch (and at
    /// least once a second), instead of one commit each. What it trades: should the process die or the database be lost
    /// before that commit, those jobs run again (at least once, as always, but a whole batch of them instead of one).
    /// Failures are always recorded at once.
    /// </summary>
    /// <value>The default is false: each success is committed before the next job starts.</value>
    public bool BatchedCompletion { get; set; }

    /// <summary>When true, SIGTERM and SIGINT stop the worker between jobs, releasing its locks.</summary>
    /// <value>The default is true.</value>
    public bool HandleSignals { get; set; } = true;

    /// <summary>The clock the worker reads and waits on.</summary>
    /// <value>The default is <see cref="TimeProvider.System"/>.</value>
    public TimeProvider TimeProvider
    {
        get;
        set => field = value ?? throw new DJException("TimeProvider cannot be null.");
    } = TimeProvider.System;

    /// <summary>delayed_job's schedule: <c>attempts^4 + 5</c> seconds (at most a century).</summary>
    public static TimeSpan DefaultBackoff(int attempts) => TimeSpan.FromSeconds(Math.Min(Math.Pow(attempts, 4) + 5, 36525 * 86400.0));
}
