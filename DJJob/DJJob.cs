using System.Data.Common;
using DJJobNet.Internal;
using Microsoft.Extensions.Logging;
using MySqlConnector;

namespace DJJobNet;

/// <summary>
/// PHP DJJob's static API: configure the database once, then enqueue jobs and read a queue's status from anywhere.
/// </summary>
/// <example>
/// <code>
/// DJJob.Configure(new DJJobOptions { Driver = "mysql", Host = "127.0.0.1", DbName = "djjob", User = "root", Password = "" });
/// DJJob.Install();
/// long id = DJJob.Enqueue(new SendWelcomeEmail { UserId = 42 });
/// </code>
/// </example>
public static class DJJob
{
    private static DJContext? _context;

    /// <summary>
    /// The name of DJJob's <see cref="System.Diagnostics.Metrics.Meter"/> and <see cref="System.Diagnostics.ActivitySource"/>:
    /// give it to OpenTelemetry's <c>AddMeter</c> and <c>AddSource</c>. Metrics: <c>djjob.jobs.enqueued</c>,
    /// <c>djjob.jobs.completed</c>, <c>djjob.jobs.retried</c>, <c>djjob.jobs.failed</c> (counters),
    /// <c>djjob.job.duration</c> (histogram, seconds) and <c>djjob.queue.depth</c> (gauge); each job runs in an activity
    /// <c>DJJob perform</c>.
    /// </summary>
    public const string TelemetryName = "DJJob";

    internal static DJContext Context =>
        Volatile.Read(ref _context) ?? throw new DJException("DJJob is not configured: call DJJob.Configure(...) first.");

    /// <summary>Configures the database from options, as PHP's <c>DJJob::configure(array $options)</c>.</summary>
    /// <exception cref="DJException">A required option is missing or a value is invalid; the message names it.</exception>
    public static void Configure(DJJobOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrEmpty(options.Driver)) throw new DJException("Please provide the database driver used in configure options array.");
        JobStore store = options.Driver.ToLowerInvariant() switch
        {
            "mysql" => MySqlStore(options),
            "sqlite" => new SqliteJobStore(options.DbName ?? "", options.JobsTable, options.Retries),
            _ => throw new DJException($"Unsupported database driver '{options.Driver}': use \"mysql\" or \"sqlite\"."),
        };
        Use(store);
    }

    /// <summary>
    /// Configures the database from a connection string, as PHP's <c>DJJob::configure($dsn, $options, $jobsTable)</c>:
    /// <c>"sqlite:path/to/jobs.db"</c>, or a MySqlConnector connection string (optionally after <c>"mysql:"</c>)
    /// that names the user (<c>User ID=...</c>).
    /// </summary>
    /// <param name="connectionString">Where the jobs live.</param>
    /// <param name="jobsTable">The jobs table.</param>
    /// <param name="retries">Tries of a statement when the server drops the connection (see <see cref="DJJobOptions.Retries"/>).</param>
    /// <exception cref="DJException">The string is invalid, names no user, or <paramref name="jobsTable"/> is not a plain identifier.</exception>
    public static void Configure(string connectionString, string jobsTable = "jobs", int retries = 3) =>
        Use(StoreFactory.FromConnectionString(connectionString, jobsTable, retries));

    /// <summary>Uses the application's own MySQL data source, as PHP's <c>DJJob::setConnection($pdo)</c>.</summary>
    public static void SetConnection(MySqlDataSource dataSource, string jobsTable = "jobs", int retries = 3)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        Use(new MySqlJobStore(dataSource, jobsTable, new DJJobOptions { Retries = retries }.Retries));
    }

    /// <summary>Sets the least level that is printed, as PHP's <c>DJJob::setLogLevel()</c>.</summary>
    /// <value>The default is <see cref="DJLogLevel.Debug"/> (everything).</value>
    public static void SetLogLevel(DJLogLevel level) => DJLogger.Default.Level = level;

    /// <summary>Creates the jobs table and its index when they are missing; safe to call on every start.</summary>
    public static void Install() => Context.Store.Install();

    /// <summary>Stores a job to run in <paramref name="queue"/>, at <paramref name="runAt"/> or as soon as possible; returns its id.</summary>
    /// <param name="job">The job; its public state is stored as JSON.</param>
    /// <param name="queue">The queue a worker must serve to run it.</param>
    /// <param name="runAt">The earliest instant to run it. A <see cref="DateTime"/> converts as .NET does: UTC stays UTC,
    /// Local and Unspecified are local time.</param>
    /// <exception cref="DJException">The job cannot be stored; nothing was inserted.</exception>
    public static long Enqueue(IJob job, string queue = "default", DateTimeOffset? runAt = null) =>
        Context.Enqueue(job, queue, runAt);

    /// <summary>Stores many jobs at once with multi-row INSERTs in one transaction (all or none); returns how many.</summary>
    /// <exception cref="DJException">The jobs cannot be stored; nothing was inserted.</exception>
    public static int BulkEnqueue(IEnumerable<IJob> jobs, string queue = "default", DateTimeOffset? runAt = null) =>
        Context.BulkEnqueue(jobs, queue, runAt);

    /// <summary>Counts the jobs of <paramref name="queue"/>: outstanding, locked, failed and total.</summary>
    public static JobStatus Status(string queue = "default") => Context.Store.Status(Sql.ValidQueue(queue));

    /// <inheritdoc cref="Enqueue(IJob, string, DateTimeOffset?)"/>
    /// <param name="job">The job; its public state is stored as JSON.</param>
    /// <param name="queue">The queue a worker must serve to run it.</param>
    /// <param name="runAt">The earliest instant to run it.</param>
    /// <param name="cancellationToken">Cancels the insert.</param>
    public static Task<long> EnqueueAsync(IJob job, string queue = "default", DateTimeOffset? runAt = null, CancellationToken cancellationToken = default) =>
        Context.EnqueueAsync(job, queue, runAt, cancellationToken);

    /// <inheritdoc cref="BulkEnqueue(IEnumerable{IJob}, string, DateTimeOffset?)"/>
    /// <param name="jobs">The jobs.</param>
    /// <param name="queue">The queue a worker must serve to run them.</param>
    /// <param name="runAt">The earliest instant to run them.</param>
    /// <param name="cancellationToken">Cancels the inserts (none is kept).</param>
    public static Task<int> BulkEnqueueAsync(IEnumerable<IJob> jobs, string queue = "default", DateTimeOffset? runAt = null, CancellationToken cancellationToken = default) =>
        Context.BulkEnqueueAsync(jobs, queue, runAt, cancellationToken);

    /// <inheritdoc cref="Status(string)"/>
    /// <param name="queue">The queue.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    public static Task<JobStatus> StatusAsync(string queue = "default", CancellationToken cancellationToken = default) =>
        Context.Store.StatusAsync(Io.Async(cancellationToken), Sql.ValidQueue(queue));

    /// <summary>
    /// Stores a job in the application's own open transaction, on the configured database: the job exists only if that
    /// transaction commits, and no worker sees it before. Returns its id.
    /// </summary>
    /// <param name="transaction">A transaction on a <c>MySqlConnection</c> (driver mysql) or a <c>SqliteConnection</c>
    /// (driver sqlite) to the database that holds the jobs table.</param>
    /// <param name="job">The job; its public state is stored as JSON.</param>
    /// <param name="queue">The queue a worker must serve to run it.</param>
    /// <param name="runAt">The earliest instant to run it.</param>
    /// <exception cref="DJException">The transaction is on another kind of connection, is finished, or the insert failed.</exception>
    /// <example><code>
    /// await using var tx = await connection.BeginTransactionAsync();
    /// await connection.ExecuteAsync("INSERT INTO orders ...", order, tx);
    /// DJJob.EnqueueInTransaction(tx, new SendReceipt { OrderId = order.Id });
    /// await tx.CommitAsync(); // the order and its job, or neither
    /// </code></example>
    public static long EnqueueInTransaction(DbTransaction transaction, IJob job, string queue = "default", DateTimeOffset? runAt = null) =>
        Context.EnqueueIn(transaction, job, queue, runAt);

    /// <inheritdoc cref="EnqueueInTransaction(DbTransaction, IJob, string, DateTimeOffset?)"/>
    /// <param name="transaction">A transaction on the database that holds the jobs table.</param>
    /// <param name="job">The job.</param>
    /// <param name="queue">The queue.</param>
    /// <param name="runAt">The earliest instant to run it.</param>
    /// <param name="cancellationToken">Cancels the insert.</param>
    public static Task<long> EnqueueInTransactionAsync(DbTransaction transaction, IJob job, string queue = "default", DateTimeOffset? runAt = null, CancellationToken cancellationToken = default) =>
        Context.EnqueueInAsync(transaction, job, queue, runAt, cancellationToken);

    /// <summary>
    /// Sends DJJob's log (worker and enqueue messages, with PHP DJJob's wording) to <paramref name="loggerFactory"/>,
    /// under the category <c>DJJob</c>; null goes back to PHP DJJob's plain console lines. <see cref="SetLogLevel"/>
    /// filters the console lines only: a logger factory has its own filters.
    /// </summary>
    public static void SetLoggerFactory(ILoggerFactory? loggerFactory) => DJLogger.Default.Factory = loggerFactory;

    private static MySqlJobStore MySqlStore(DJJobOptions options)
    {
        if (options.User is null) throw new DJException("Please provide the database user in configure options array.");
        if (options.Password is null) throw new DJException("Please provide the database password in configure options array.");
        var builder = new MySqlConnectionStringBuilder
        {
            Server = options.Host,
            Port = (uint)options.Port,
            UserID = options.User,
            Password = options.Password,
        };
        if (options.DbName is not null) builder.Database = options.DbName;
        foreach (var (key, value) in options.Extra)
        {
            try
            {
                builder[key] = value;
            }
            catch (ArgumentException e)
            {
                throw new DJException($"Invalid connection option '{key}': {e.Message}", e);
            }
        }
        return new MySqlJobStore(MySqlJobStore.OwnDataSource(builder), options.JobsTable, options.Retries);
    }

    private static void Use(JobStore store) => Volatile.Write(ref _context, new DJContext(store, DJLogger.Default));
}
