using System.Data.Common;
using Dapper;
using DJJobNet.Internal;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;
using MySqlConnector;

namespace DJJobNet.Tests.Infrastructure;

/// <summary>A row of the jobs table as the tests read it.</summary>
public sealed class JobRow
{
    public long Id { get; set; }
    public string Handler { get; set; } = "";
    public string Queue { get; set; } = "";
    public int Attempts { get; set; }
    public DateTime? RunAt { get; set; }
    public DateTime? LockedAt { get; set; }
    public string? LockedBy { get; set; }
    public DateTime? FailedAt { get; set; }
    public string? Error { get; set; }
    public DateTime CreatedAt { get; set; }
}

/// <summary>
/// Base of the fixtures that run against both stores: each test gets its own freshly installed jobs table, a fake clock
/// and a captured log. The MySQL half fails (never skips) when no server can be had. Fixtures given the settings
/// "fastest" run their workers with the fastest settings the README documents.
/// </summary>
public abstract class StoreTest(string driver, string settings = "default")
{
    /// <summary>The README's fastest settings, as options and as the sample worker's flags.</summary>
    internal static void ApplyFastest(DJWorkerOptions options)
    {
        options.BatchSize = 100;
        options.BatchedCompletion = true;
    }

    internal static readonly string[] FastestFlags = ["--batch-size", "100", "--batched-completion"];

    protected bool Fastest => settings == "fastest";

    private static int _tables;
    private string? _mysqlDatabase;
    private string? _sqliteDir;

    protected string Driver { get; } = driver;
    protected bool IsMySql => Driver == "mysql";

    /// <summary>A connection string for the driver: MySqlConnector's, or "sqlite:path".</summary>
    protected string ConnectionString { get; private set; } = "";
    protected string SqlitePath => Path.Combine(_sqliteDir!, "jobs.db");
    protected string Table { get; private set; } = "";
    internal JobStore Store { get; private set; } = null!;
    protected FakeTimeProvider Clock { get; private set; } = null!;
    protected StringWriter LogText { get; private set; } = null!;
    internal DJContext Context { get; private set; } = null!;

    [OneTimeSetUp]
    public void CreateDatabase()
    {
        if (IsMySql)
        {
            _mysqlDatabase = MySqlTestServer.CreateDatabase();
            ConnectionString = _mysqlDatabase;
        }
        else
        {
            _sqliteDir = Directory.CreateTempSubdirectory("djjob-sqlite-").FullName;
            ConnectionString = $"sqlite:{SqlitePath}";
        }
    }

    [OneTimeTearDown]
    public void DropDatabase()
    {
        if (_mysqlDatabase is not null) MySqlTestServer.DropDatabase(_mysqlDatabase);
        if (_sqliteDir is not null)
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(_sqliteDir, recursive: true);
        }
    }

    [SetUp]
    public void CreateTable()
    {
        Table = $"jobs_{Interlocked.Increment(ref _tables)}";
        Store = NewStore(Table);
        Store.Install();
        Clock = new FakeTimeProvider(new DateTimeOffset(2026, 12, 3, 12, 0, 0, TimeSpan.Zero));
        LogText = new StringWriter();
        Context = new DJContext(Store, new DJLogger(LogText, Clock), Clock);
    }

    [TearDown]
    public void DisposeLog() => LogText.Dispose();

    internal JobStore NewStore(string table, int retries = 3, string? connectionString = null) => IsMySql
        ? new MySqlJobStore(new MySqlDataSource(connectionString ?? ConnectionString), table, retries)
        : new SqliteJobStore(SqlitePath, table, retries);

    /// <summary>
    /// A worker on this test's table and clock: it polls <paramref name="count"/> times, handles no signals, and by
    /// default does not sleep between empty polls (the fake clock only moves when a test moves it).
    /// </summary>
    internal DJWorker Worker(int count = 1, DJWorkerOptions? options = null, string? name = null)
    {
        options ??= new DJWorkerOptions { Sleep = TimeSpan.Zero };
        if (Fastest) ApplyFastest(options);
        options.Count = count;
        options.HandleSignals = false;
        options.TimeProvider = Clock;
        return new DJWorker(options, Context, name ?? "host::test pid::1");
    }

    protected long Enqueue(IJob job, string queue = "default", DateTimeOffset? runAt = null) => Context.Enqueue(job, queue, runAt);

    protected DbConnection OpenConnection()
    {
        DbConnection c = IsMySql ? new MySqlConnection(ConnectionString) : new SqliteConnection($"Data Source={SqlitePath}");
        c.Open();
        return c;
    }

    protected JobRow? Row(long id)
    {
        using var c = OpenConnection();
        return c.QuerySingleOrDefault<JobRow>(
            $"""
            SELECT id AS Id, handler AS Handler, queue AS Queue, attempts AS Attempts, run_at AS RunAt, locked_at AS LockedAt,
              locked_by AS LockedBy, failed_at AS FailedAt, error AS Error, created_at AS CreatedAt
            FROM `{Table}` WHERE id = @id
            """, new { id });
    }

    protected int Execute(string sql, object? parameters = null)
    {
        using var c = OpenConnection();
        return c.Execute(sql.Replace("{table}", Table, StringComparison.Ordinal), parameters);
    }

    protected T Scalar<T>(string sql, object? parameters = null)
    {
        using var c = OpenConnection();
        return c.ExecuteScalar<T>(sql.Replace("{table}", Table, StringComparison.Ordinal), parameters)!;
    }

    protected DateTime Now => Clock.GetUtcNow().UtcDateTime;
}
