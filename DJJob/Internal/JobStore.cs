using System.Data.Common;
using System.Text;
using Dapper;

namespace DJJobNet.Internal;

/// <summary>A job claimed by a worker: what it needs to run and to record the outcome.</summary>
internal sealed class ClaimedJob
{
    public long Id { get; init; }
    public string Handler { get; init; } = "";
    public int Attempts { get; init; }
}

/// <summary>What a worker asks of a claim: which queue, under which name, how many jobs, and which to leave alone.</summary>
internal sealed record ClaimRequest(string Queue, string Worker, int MaxAttempts, DateTime Now, DateTime LockExpiry, int Limit, IReadOnlyCollection<long> Held);

/// <summary>
/// The jobs table in one SQL dialect. The statements both dialects share are written here once; a subclass supplies the
/// connection, the claim and the install script.
/// </summary>
internal abstract class JobStore(string table, int retries)
{
    public string Table { get; } = Sql.ValidTableName(table);

    /// <summary>Throws <see cref="DJException"/> when the <c>handler</c> column cannot store <paramref name="handler"/> intact.</summary>
    protected abstract void CheckHandler(string handler);

    /// <summary>Throws when <paramref name="handler"/> is larger than <paramref name="limit"/> UTF-8 bytes.</summary>
    protected static void CheckSize(string handler, long limit, string what)
    {
        var bytes = Encoding.UTF8.GetByteCount(handler);
        if (bytes > limit)
            throw new DJException($"The job's handler is {bytes} bytes of JSON; {what} holds at most {limit}. Nothing was stored.");
    }

    /// <summary>The driver name, as in <see cref="DJJobOptions.Driver"/>.</summary>
    public abstract string Driver { get; }

    /// <summary>Opens a connection; throws <see cref="DJException"/> "DJJob couldn't connect to the database..." when it cannot.</summary>
    protected abstract DbConnection Open();

    /// <inheritdoc cref="Open"/>
    protected abstract Task<DbConnection> OpenAsync(CancellationToken cancellationToken);

    /// <summary>True when <paramref name="error"/> means the connection was lost and the statement may be tried on a new one.</summary>
    protected abstract bool IsConnectionLost(Exception error, DbConnection connection);

    /// <summary>Turns a database error into a clearer <see cref="DJException"/>, or returns null for the generic one.</summary>
    protected abstract DJException? Explain(DbException error);

    /// <summary>Inserts one job row on <paramref name="c"/> (in <paramref name="tx"/> when given) and returns its id.</summary>
    protected abstract Task<long> InsertAsync(Io io, DbConnection c, DbTransaction? tx, string handler, string queue, DateTime runAt, DateTime now);

    /// <summary>The INSERT of one job row, the same in both dialects.</summary>
    protected string InsertSql => $"INSERT INTO `{Table}` (handler, queue, run_at, created_at) VALUES (@handler, @queue, @runAt, @now)";

    /// <summary>
    /// In one transaction: deletes the jobs in <paramref name="completed"/> (successes not yet recorded), then locks up to
    /// <see cref="ClaimRequest.Limit"/> runnable jobs of the queue for the worker, due first, and returns them.
    /// </summary>
    public abstract Task<IReadOnlyList<ClaimedJob>> ClaimAsync(Io io, ClaimRequest request, IReadOnlyCollection<long> completed);

    /// <summary>Creates the jobs table and its claim index if they are missing.</summary>
    public abstract void Install();

    /// <summary>The connection type an application's transaction must be on to enqueue in it.</summary>
    protected abstract Type ConnectionType { get; }

    // The claim's WHERE clause, the same in both dialects. The index (queue, failed_at, run_at) serves it:
    // queue and failed_at are equalities, run_at a range, and the rest is checked on the few rows read.
    // A worker may take back a job locked under its own name (its outcome was never recorded), except the jobs it holds now.
    protected static string RunnableWhere(ClaimRequest request) =>
        """
        queue = @Queue AND failed_at IS NULL AND (run_at IS NULL OR run_at <= @Now)
          AND attempts < @MaxAttempts
          AND (locked_at IS NULL OR locked_by = @Worker OR locked_at < @LockExpiry)
        """ + (request.Held.Count > 0 ? " AND id NOT IN @Held" : "");

    /// <summary>Runs <paramref name="operation"/> on a fresh connection, reconnecting up to <c>retries</c> times when the server drops it.</summary>
    public T Run<T>(Func<DbConnection, T> operation)
    {
        Exception? lost = null;
        for (var attempt = 1; attempt <= retries; attempt++)
        {
            using var connection = Open();
            try
            {
                return operation(connection);
            }
            catch (Exception e) when (e is DbException or IOException or InvalidOperationException)
            {
                lost = Lost(e, connection);
            }
        }
        throw new DJUnavailableException("DJJob exhausted retries connecting to database", lost);
    }

    /// <inheritdoc cref="Run{T}"/>
    /// <remarks>With <see cref="Io.Blocking"/>, <paramref name="operation"/> must use <paramref name="io"/> for every call;
    /// the task returned is then already complete.</remarks>
    public async Task<T> RunAsync<T>(Io io, Func<DbConnection, Task<T>> operation)
    {
        Exception? lost = null;
        for (var attempt = 1; attempt <= retries; attempt++)
        {
            await using var connection = io.Sync ? Open() : await OpenAsync(io.Token).ConfigureAwait(false);
            try
            {
                return await operation(connection).ConfigureAwait(false);
            }
            catch (Exception e) when (e is DbException or IOException or InvalidOperationException)
            {
                lost = Lost(e, connection);
            }
        }
        throw new DJUnavailableException("DJJob exhausted retries connecting to database", lost);
    }

    // Returns the error when the connection is gone (the statement is tried once more on a new one); throws it, explained, otherwise.
    private Exception Lost(Exception error, DbConnection connection)
    {
        if (IsConnectionLost(error, connection))
        {
            DiscardPool(connection); // the pool must not hand the dead connection out again
            return error;
        }
        if (error is DbException db) throw Explain(db) ?? new DJException($"DJJob's database call failed. The {Driver} driver said [{db.Message}]", db);
        throw new DJException($"DJJob's database call failed: {error.Message}", error);
    }

    protected virtual void DiscardPool(DbConnection connection) { }

    public Task<long> EnqueueAsync(Io io, string handler, string queue, DateTime runAt, DateTime now)
    {
        CheckHandler(handler);
        return RunAsync(io, c => InsertAsync(io, c, null, handler, queue, runAt, now));
    }

    /// <summary>
    /// Inserts a job on the application's own connection and transaction: it exists only if that transaction commits.
    /// Not retried: a lost connection has lost the transaction too.
    /// </summary>
    public async Task<long> EnqueueInAsync(Io io, DbTransaction transaction, string handler, string queue, DateTime runAt, DateTime now)
    {
        var connection = CheckTransaction(transaction);
        CheckHandler(handler);
        try
        {
            return await InsertAsync(io, connection, transaction, handler, queue, runAt, now).ConfigureAwait(false);
        }
        catch (DbException e)
        {
            throw Explain(e) ?? new DJException($"DJJob's database call failed. The {Driver} driver said [{e.Message}]", e);
        }
    }

    private DbConnection CheckTransaction(DbTransaction transaction)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        var connection = transaction.Connection
            ?? throw new DJException("The transaction given to Enqueue has already been committed or rolled back.");
        if (!ConnectionType.IsInstanceOfType(connection))
            throw new DJException($"DJJob is configured for {Driver}, so the transaction must be on a {ConnectionType.Name}; got a {connection.GetType().Name}.");
        return connection;
    }

    public async Task<int> BulkEnqueueAsync(Io io, IReadOnlyList<string> handlers, string queue, DateTime runAt, DateTime now)
    {
        var statements = BulkInserts(handlers, queue, runAt, now);
        if (statements.Count == 0) return 0;
        return await RunAsync(io, async c =>
        {
            // All chunks in one transaction: every job goes in, or none.
            await using var tx = await io.Begin(c).ConfigureAwait(false);
            var inserted = 0;
            foreach (var s in statements) inserted += await io.Execute(c, s.Sql, s.Parameters, tx).ConfigureAwait(false);
            await io.Commit(tx).ConfigureAwait(false);
            return inserted;
        }).ConfigureAwait(false);
    }

    // One multi-row INSERT per chunk of up to 500 rows, never more bytes than one statement may carry.
    private List<(string Sql, DynamicParameters Parameters)> BulkInserts(IReadOnlyList<string> handlers, string queue, DateTime runAt, DateTime now)
    {
        foreach (var handler in handlers) CheckHandler(handler);
        var statements = new List<(string, DynamicParameters)>();
        foreach (var chunk in Chunks(handlers))
        {
            var sql = new StringBuilder($"INSERT INTO `{Table}` (handler, queue, run_at, created_at) VALUES ");
            var parameters = new DynamicParameters(new { queue, runAt, now });
            for (var i = 0; i < chunk.Length; i++)
            {
                sql.Append(i == 0 ? "" : ",").Append($"(@h{i}, @queue, @runAt, @now)");
                parameters.Add($"h{i}", chunk[i]);
            }
            statements.Add((sql.ToString(), parameters));
        }
        return statements;
    }

    /// <summary>The most SQL text, in bytes, that one statement may carry.</summary>
    protected virtual long MaxStatementBytes => long.MaxValue;

    private IEnumerable<string[]> Chunks(IReadOnlyList<string> handlers)
    {
        var chunk = new List<string>();
        long bytes = 0;
        foreach (var handler in handlers)
        {
            var size = EscapedBytes(handler) + 64;
            if (chunk.Count > 0 && (chunk.Count == 500 || bytes + size > MaxStatementBytes))
            {
                yield return [.. chunk];
                chunk.Clear();
                bytes = 0;
            }
            chunk.Add(handler);
            bytes += size;
        }
        if (chunk.Count > 0) yield return [.. chunk];
    }

    /// <summary>The handler's size on the wire: UTF-8 bytes plus one for each character the driver escapes.</summary>
    protected static long EscapedBytes(string handler) =>
        Encoding.UTF8.GetByteCount(handler) + handler.Count(ch => ch is '\\' or '\'' or '"' or '\0');

    public async Task<JobStatus> StatusAsync(Io io, string queue)
    {
        var (total, failed, locked) = await RunAsync(io, c => io.QuerySingle<(long, long, long)>(c,
            $"SELECT COUNT(*), COUNT(failed_at), COUNT(locked_at) FROM `{Table}` WHERE queue = @queue", new { queue })).ConfigureAwait(false);
        return new JobStatus(total - locked - failed, locked, failed, total);
    }

    /// <summary>Deletes the rows of jobs that succeeded.</summary>
    public Task<int> CompleteAsync(Io io, IReadOnlyCollection<long> ids) =>
        RunAsync(io, c => io.Execute(c, $"DELETE FROM `{Table}` WHERE id IN @ids", new { ids }));

    /// <summary>
    /// Records a failed attempt and releases the lock in one statement. <paramref name="runAt"/> null keeps run_at;
    /// <paramref name="failedAt"/> set marks the job failed for good. Only our own lock is released: when the lock expired
    /// and another worker holds the job, its lock stays.
    /// </summary>
    public Task<int> RecordAttemptAsync(Io io, long id, string worker, int attempts, DateTime? runAt, DateTime? failedAt, string? error) =>
        RunAsync(io, c => io.Execute(c,
            $"""
            UPDATE `{Table}` SET attempts = @attempts, run_at = COALESCE(@runAt, run_at), failed_at = @failedAt,
              error = @error, locked_at = NULL, locked_by = NULL
            WHERE id = @id AND locked_by = @worker
            """,
            new { id, worker, attempts, runAt, failedAt, error = Truncate(error) }));

    /// <summary>
    /// Releases the jobs <paramref name="ids"/> that <paramref name="worker"/> still holds, without counting an attempt
    /// (they did not run, or not to the end); returns how many.
    /// </summary>
    public async Task<int> ReleaseAsync(Io io, IReadOnlyList<long> ids, string worker)
    {
        var released = 0;
        foreach (var chunk in ids.Chunk(1000))
            released += await RunAsync(io, c => io.Execute(c, $"UPDATE `{Table}` SET locked_at = NULL, locked_by = NULL WHERE id IN @chunk AND locked_by = @worker", new { chunk, worker })).ConfigureAwait(false);
        return released;
    }

    /// <summary>Clears every lock held under exactly <paramref name="worker"/>; returns how many.</summary>
    public Task<int> ReleaseLocksAsync(Io io, string worker) =>
        RunAsync(io, c => io.Execute(c, $"UPDATE `{Table}` SET locked_at = NULL, locked_by = NULL WHERE locked_by = @worker", new { worker }));

    // The synchronous forms the static API and the djjob tool use.
    public long Enqueue(string handler, string queue, DateTime runAt, DateTime now) => Io.Result(EnqueueAsync(Io.Blocking, handler, queue, runAt, now));

    public int BulkEnqueue(IReadOnlyList<string> handlers, string queue, DateTime runAt, DateTime now) => Io.Result(BulkEnqueueAsync(Io.Blocking, handlers, queue, runAt, now));

    public JobStatus Status(string queue) => Io.Result(StatusAsync(Io.Blocking, queue));

    public int ReleaseLocks(string worker) => Io.Result(ReleaseLocksAsync(Io.Blocking, worker));

    /// <summary>Reads an embedded install script with the table name filled in.</summary>
    protected string Script(string name)
    {
        using var stream = typeof(JobStore).Assembly.GetManifestResourceStream($"DJJobNet.Schema.{name}")
            ?? throw new InvalidOperationException($"missing embedded script {name}");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd().Replace("{table}", Table, StringComparison.Ordinal);
    }

    // The error column is TEXT (65,535 bytes); an error message is cut, never the job.
    private static string? Truncate(string? error)
    {
        const int maxChars = 16000;
        return error is null || error.Length <= maxChars ? error : error[..maxChars] + " [truncated]";
    }
}
