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

    /// <summary>True when <paramref name="error"/> means the connection was lost and the statement may be tried on a new one.</summary>
    protected abstract bool IsConnectionLost(Exception error, DbConnection connection);

    /// <summary>Turns a database error into a clearer <see cref="DJException"/>, or returns null for the generic one.</summary>
    protected abstract DJException? Explain(DbException error);

    /// <summary>The SQL that inserts one row and returns its id.</summary>
    protected abstract string InsertReturningIdSql { get; }

    /// <summary>Locks the first runnable job of <paramref name="queue"/> for <paramref name="worker"/> and returns it, or null.</summary>
    public abstract ClaimedJob? Claim(string queue, string worker, int maxAttempts, DateTime now, DateTime lockExpiry);

    /// <summary>Creates the jobs table and its claim index if they are missing.</summary>
    public abstract void Install();

    // The claim's WHERE clause, the same in both dialects. The index (queue, failed_at, run_at) serves it:
    // queue and failed_at are equalities, run_at a range, and the rest is checked on the few rows read.
    protected string RunnableWhere =>
        """
        queue = @queue AND failed_at IS NULL AND (run_at IS NULL OR run_at <= @now)
          AND attempts < @maxAttempts
          AND (locked_at IS NULL OR locked_by = @worker OR locked_at < @lockExpiry)
        """;

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
            catch (Exception e) when (e is DbException or IOException or InvalidOperationException && IsConnectionLost(e, connection))
            {
                // The connection is gone; the pool must not hand it out again. Try once more on a new one.
                DiscardPool(connection);
                lost = e;
            }
            catch (DbException e)
            {
                throw Explain(e) ?? new DJException($"DJJob's database call failed. The {Driver} driver said [{e.Message}]", e);
            }
            catch (Exception e) when (e is IOException or InvalidOperationException)
            {
                throw new DJException($"DJJob's database call failed: {e.Message}", e);
            }
        }
        throw new DJUnavailableException("DJJob exhausted retries connecting to database", lost);
    }

    protected virtual void DiscardPool(DbConnection connection) { }

    public long Enqueue(string handler, string queue, DateTime runAt, DateTime now)
    {
        CheckHandler(handler);
        return Run(c => c.ExecuteScalar<long>(InsertReturningIdSql,
            new { handler, queue, runAt, now }));
    }

    public int BulkEnqueue(IReadOnlyList<string> handlers, string queue, DateTime runAt, DateTime now)
    {
        if (handlers.Count == 0) return 0;
        foreach (var handler in handlers) CheckHandler(handler);
        return Run(c =>
        {
            // One multi-row INSERT per chunk, all chunks in one transaction: every job goes in, or none.
            using var tx = c.BeginTransaction();
            var inserted = 0;
            foreach (var chunk in Chunks(handlers))
            {
                var sql = new StringBuilder($"INSERT INTO `{Table}` (handler, queue, run_at, created_at) VALUES ");
                var parameters = new DynamicParameters(new { queue, runAt, now });
                for (var i = 0; i < chunk.Length; i++)
                {
                    sql.Append(i == 0 ? "" : ",").Append($"(@h{i}, @queue, @runAt, @now)");
                    parameters.Add($"h{i}", chunk[i]);
                }
                inserted += c.Execute(sql.ToString(), parameters, tx);
            }
            tx.Commit();
            return inserted;
        });
    }

    /// <summary>The most SQL text, in bytes, that one statement may carry.</summary>
    protected virtual long MaxStatementBytes => long.MaxValue;

    // Up to 500 rows per INSERT, and never more bytes than one statement may carry.
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

    public JobStatus Status(string queue)
    {
        var row = Run(c => c.QuerySingle<(long Total, long Failed, long Locked)>(
            $"SELECT COUNT(*), COUNT(failed_at), COUNT(locked_at) FROM `{Table}` WHERE queue = @queue", new { queue }));
        return new JobStatus(row.Total - row.Locked - row.Failed, row.Locked, row.Failed, row.Total);
    }

    public void Complete(long id) =>
        Run(c => c.Execute($"DELETE FROM `{Table}` WHERE id = @id", new { id }));

    /// <summary>
    /// Records a failed attempt and releases the lock in one statement. <paramref name="runAt"/> null keeps run_at;
    /// <paramref name="failedAt"/> set marks the job failed for good. Only our own lock is released: when the lock expired
    /// and another worker holds the job, its lock stays.
    /// </summary>
    public void RecordAttempt(long id, string worker, int attempts, DateTime? runAt, DateTime? failedAt, string? error) =>
        Run(c => c.Execute(
            $"""
            UPDATE `{Table}` SET attempts = @attempts, run_at = COALESCE(@runAt, run_at), failed_at = @failedAt,
              error = @error, locked_at = NULL, locked_by = NULL
            WHERE id = @id AND locked_by = @worker
            """,
            new { id, worker, attempts, runAt, failedAt, error = Truncate(error) }));

    public int ReleaseLocks(string worker) =>
        Run(c => c.Execute($"UPDATE `{Table}` SET locked_at = NULL, locked_by = NULL WHERE locked_by = @worker", new { worker }));

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
