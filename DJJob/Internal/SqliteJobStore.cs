using System.Data.Common;
using Dapper;
using Microsoft.Data.Sqlite;

namespace DJJobNet.Internal;

/// <summary>The jobs table in a SQLite file: one machine, any number of worker processes.</summary>
internal sealed class SqliteJobStore : JobStore
{
    private readonly string _connectionString;
    private int _walSet;

    public SqliteJobStore(string path, string table, int retries) : base(table, retries)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new DJException("Please provide the SQLite database file path as DbName.");
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            // Writers queue for the file's write lock; this is how long one waits before giving up.
            DefaultTimeout = 30,
        }.ToString();
    }

    public override string Driver => "sqlite";

    protected override void CheckHandler(string handler) => CheckSize(handler, 1_000_000_000, "a SQLite value"); // SQLITE_MAX_LENGTH

    // Microsoft.Data.Sqlite opens synchronously either way.
    protected override Task<DbConnection> OpenAsync(CancellationToken cancellationToken) => Task.FromResult(Open());

    protected override DbConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            connection.Open();
            // WAL lets readers and one writer work at once across processes; it is a property of the file, set once.
            // Waiting for a busy file is Microsoft.Data.Sqlite's own retry, bounded by DefaultTimeout.
            if (Interlocked.Exchange(ref _walSet, 1) == 0) connection.Execute("PRAGMA journal_mode = WAL");
            return connection;
        }
        catch (SqliteException e)
        {
            connection.Dispose();
            throw new DJException($"DJJob couldn't connect to the database. SQLite said [{e.Message}]", e);
        }
    }

    // A SQLite file has no connection to lose.
    protected override bool IsConnectionLost(Exception error, DbConnection connection) => false;

    protected override DJException? Explain(DbException error) => error switch
    {
        SqliteException { SqliteErrorCode: 1 } when error.Message.Contains("no such table", StringComparison.Ordinal) =>
            new DJException($"DJJob's jobs table `{Table}` does not exist in this database: run DJJob.Install() to create it. SQLite said [{error.Message}]", error),
        // SQLITE_BUSY, SQLITE_LOCKED: other writers held the file longer than the busy timeout; worth another try.
        SqliteException { SqliteErrorCode: 5 or 6 } => new DJUnavailableException($"The SQLite file is busy. SQLite said [{error.Message}]", error),
        _ => null,
    };

    protected override Task<long> InsertAsync(Io io, DbConnection c, DbTransaction? tx, string handler, string queue, DateTime runAt, DateTime now) =>
        io.Scalar<long>(c, InsertSql + " RETURNING id", new { handler, queue, runAt, now }, tx);

    protected override Type ConnectionType => typeof(SqliteConnection);

    // A transaction from Microsoft.Data.Sqlite begins IMMEDIATE: it holds the file's write lock from its first statement,
    // so two workers can never claim the same row.
    public override Task<IReadOnlyList<ClaimedJob>> ClaimAsync(Io io, ClaimRequest request, IReadOnlyCollection<long> completed) =>
        RunAsync<IReadOnlyList<ClaimedJob>>(io, async c =>
        {
            await using var tx = await io.Begin(c).ConfigureAwait(false);
            if (completed.Count > 0)
                await io.Execute(c, $"DELETE FROM `{Table}` WHERE id IN @completed", new { completed }, tx).ConfigureAwait(false);
            var ids = await io.Query<long>(c, $"SELECT id FROM `{Table}` WHERE {RunnableWhere(request)} ORDER BY run_at, id LIMIT {request.Limit}",
                request, tx).ConfigureAwait(false);
            IReadOnlyList<ClaimedJob> jobs = [];
            if (ids.Count > 0)
            {
                var claimed = (await io.Query<ClaimedJob>(c,
                    $"UPDATE `{Table}` SET locked_at = @Now, locked_by = @Worker WHERE id IN @ids RETURNING id AS Id, CAST(handler AS TEXT) AS Handler, attempts AS Attempts",
                    new { request.Now, request.Worker, ids }, tx).ConfigureAwait(false)).ToDictionary(j => j.Id);
                jobs = [.. ids.Select(id => claimed[id])]; // due order
                // A value of another storage class (a BLOB written by hand, say) comes back as text, and then fails as a bad
                // handler like any other unreadable row: kept as failed with its error, never stopping the worker.
            }
            await io.Commit(tx).ConfigureAwait(false);
            return jobs;
        });

    public override void Install() => Run(c => c.Execute(Script("sqlite.sql")));
}
