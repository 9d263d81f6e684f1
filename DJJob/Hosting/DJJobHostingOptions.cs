namespace DJJobNet;

/// <summary>
/// What <c>services.AddDJJob(...)</c> sets up in a .NET host: the database (as <see cref="DJJob.Configure(string, string, int)"/>
/// takes it), the table install at start, and the workers that run in the background until the host stops.
/// </summary>
/// <example>
/// appsettings.json, bound with <c>builder.Services.AddDJJob(builder.Configuration.GetSection("DJJob"))</c>:
/// <code>
/// "DJJob": {
///   "ConnectionString": "sqlite:djjob-service.db",
///   "Worker": { "Queue": "default", "Sleep": "00:00:05" }
/// }
/// </code>
/// </example>
public sealed class DJJobHostingOptions
{
    /// <summary>
    /// Where the jobs live: <c>"sqlite:path/to/jobs.db"</c>, or a MySqlConnector connection string that names the user
    /// (<c>Server=...;Database=...;User ID=...;Password=...</c>). Required.
    /// </summary>
    /// <value>The default is none: the host fails to start until it is set.</value>
    public string? ConnectionString { get; set; }

    /// <summary>The jobs table: letters, digits and underscores only.</summary>
    /// <value>The default is <c>jobs</c>.</value>
    public string JobsTable { get; set; } = "jobs";

    /// <summary>Tries of a statement when the server drops the connection (see <see cref="DJJobOptions.Retries"/>).</summary>
    /// <value>The default is 3.</value>
    public int Retries { get; set; } = 3;

    /// <summary>When true, the host's start runs <see cref="DJJob.Install"/>, which creates the table and its index when missing.</summary>
    /// <value>The default is true.</value>
    public bool Install { get; set; } = true;

    /// <summary>When true, the host runs <see cref="Workers"/> workers; false for an application that only enqueues (a web app whose jobs another process runs).</summary>
    /// <value>The default is true.</value>
    public bool RunWorker { get; set; } = true;

    /// <summary>How many <see cref="DJWorker"/> instances the host runs, each with the options of <see cref="Worker"/> and a name of its own.</summary>
    /// <value>The default is 1. Between 1 and 256. For parallel jobs within one worker, see <see cref="DJWorkerOptions.Concurrency"/>.</value>
    public int Workers
    {
        get;
        set => field = value is >= 1 and <= 256 ? value : throw new DJException($"Workers must be between 1 and 256; got {value}.");
    } = 1;

    /// <summary>
    /// The options of each worker (configuration section <c>Worker</c>: <c>Queue</c>, <c>Sleep</c>, <c>MaxAttempts</c>,
    /// <c>MaxRunTime</c>, <c>ShutdownTimeout</c>, <c>BatchSize</c>, <c>Concurrency</c>, ...). <see cref="DJWorkerOptions.HandleSignals"/>
    /// is set to false: the host handles SIGTERM and SIGINT, and its stop stops the workers. Keep the host's
    /// <c>HostOptions.ShutdownTimeout</c> (30 s by default) longer than <see cref="DJWorkerOptions.ShutdownTimeout"/> (25 s by
    /// default), or the host stops waiting before the workers released their locks.
    /// </summary>
    /// <value>The default is <see cref="DJWorkerOptions"/>' defaults.</value>
    public DJWorkerOptions Worker
    {
        get;
        set => field = value ?? throw new DJException("Worker cannot be null.");
    } = new();
}
