using Dapper;
using Newtonsoft.Json;

namespace DJJobNet.Internal;

/// <summary>One queue's counts, as <see cref="JobStatus"/> with the queue's name.</summary>
internal sealed record QueueStatus(string Queue, long Outstanding, long Locked, long Failed, long Total);

/// <summary>A failed job as the operator sees it: its type is read from the handler's <c>$type</c>, nothing is built.</summary>
internal sealed record FailedJob(long Id, string Queue, int Attempts, DateTime FailedAt, string Type, string Error);

/// <summary>What became of one job that an operator asked to retry or delete.</summary>
internal enum JobOutcome
{
    /// <summary>Done.</summary>
    Done,

    /// <summary>No job has this id.</summary>
    NotFound,

    /// <summary>The job exists but has not failed: it is waiting, scheduled or running, and was left alone.</summary>
    NotFailed,
}

/// <summary>
/// The operations an operator runs on the jobs table (the <c>djjob</c> tool): counts per queue, failed jobs, retrying and
/// deleting them, and releasing the locks of dead workers. Plain SQL that MySQL and SQLite both accept.
/// </summary>
internal sealed class JobAdmin(JobStore store, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    private string Table => store.Table;

    /// <summary>The jobs table's name.</summary>
    public string TableName => store.Table;

    /// <summary>The store's driver: "mysql" or "sqlite".</summary>
    public string Driver => store.Driver;

    /// <summary>Creates the jobs table and its index when they are missing.</summary>
    public void Install() => store.Install();

    /// <summary>True when the jobs table exists in the database the store connects to.</summary>
    public bool TableExists() =>
        store.Run(c => c.ExecuteScalar<long>(
            store.Driver == "sqlite"
                ? "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = @Table"
                : "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = @Table",
            new { Table })) > 0;

    /// <summary>Counts per queue, ordered by queue; <paramref name="queue"/> set: that queue alone, with zeros when it has no job.</summary>
    public IReadOnlyList<QueueStatus> Status(string? queue = null)
    {
        var rows = store.Run(c => c.Query<(string Queue, long Total, long Failed, long Locked)>(
            $"SELECT queue, COUNT(*), COUNT(failed_at), COUNT(locked_at) FROM `{Table}` {QueueFilter(queue, "WHERE")} GROUP BY queue ORDER BY queue",
            new { queue }).ToList());
        var statuses = rows.Select(r => new QueueStatus(r.Queue, r.Total - r.Locked - r.Failed, r.Locked, r.Failed, r.Total)).ToList();
        if (queue is not null && statuses.Count == 0) statuses.Add(new QueueStatus(queue, 0, 0, 0, 0));
        return statuses;
    }

    /// <summary>Failed jobs, the most recent failure first, at most <paramref name="limit"/>.</summary>
    public IReadOnlyList<FailedJob> Failed(string? queue = null, int limit = 50) =>
        store.Run(c => c.Query<(long Id, string Queue, int Attempts, DateTime FailedAt, string Handler, string? Error)>(
                $"""
                SELECT id, queue, attempts, failed_at, handler, error FROM `{Table}`
                WHERE failed_at IS NOT NULL {QueueFilter(queue, "AND")}
                ORDER BY failed_at DESC, id DESC LIMIT @limit
                """,
                new { queue, limit })
            .Select(r => new FailedJob(r.Id, r.Queue, r.Attempts, r.FailedAt, JobType(r.Handler), FirstLine(r.Error)))
            .ToList());

    /// <summary>How many failed jobs there are (in <paramref name="queue"/>, when set).</summary>
    public long CountFailed(string? queue = null) =>
        store.Run(c => c.ExecuteScalar<long>($"SELECT COUNT(*) FROM `{Table}` WHERE failed_at IS NOT NULL {QueueFilter(queue, "AND")}", new { queue }));

    /// <summary>
    /// Makes a failed job runnable again: no longer failed, attempts back to 0, due now, unlocked. The error text stays
    /// until the next attempt overwrites it.
    /// </summary>
    public JobOutcome Retry(long id) =>
        store.Run(c => c.Execute($"UPDATE `{Table}` SET {RetrySet} WHERE id = @id AND failed_at IS NOT NULL", new { id, now = Now })) > 0
            ? JobOutcome.Done
            : Missing(id);

    /// <summary>
    /// Retries every failed job (of <paramref name="queue"/>, when set) in chunks; reports each chunk's count; returns the
    /// total. <paramref name="stop"/> ends it between two chunks.
    /// </summary>
    public long RetryAll(string? queue, int chunkSize, Action<int>? progress = null, CancellationToken stop = default) =>
        InChunks(queue, chunkSize, progress, stop, $"UPDATE `{Table}` SET {RetrySet} WHERE id IN @ids AND failed_at IS NOT NULL");

    /// <summary>Deletes a job if it failed; a job that has not failed is left alone.</summary>
    public JobOutcome Delete(long id) =>
        store.Run(c => c.Execute($"DELETE FROM `{Table}` WHERE id = @id AND failed_at IS NOT NULL", new { id })) > 0
            ? JobOutcome.Done
            : Missing(id);

    /// <summary>
    /// Deletes every failed job (of <paramref name="queue"/>, when set) in chunks; reports each chunk's count; returns the
    /// total. <paramref name="stop"/> ends it between two chunks.
    /// </summary>
    public long DeleteAllFailed(string? queue, int chunkSize, Action<int>? progress = null, CancellationToken stop = default) =>
        InChunks(queue, chunkSize, progress, stop, $"DELETE FROM `{Table}` WHERE id IN @ids AND failed_at IS NOT NULL");

    /// <summary>Clears the locks held under exactly <paramref name="worker"/>; returns how many.</summary>
    public int ReleaseWorker(string worker) => store.ReleaseLocks(worker);

    /// <summary>
    /// Clears the locks of every worker of one process: <c>host::h pid::p worker::...</c> (this port's names) and
    /// <c>host::h pid::p</c> (PHP DJJob's). Returns how many.
    /// </summary>
    public int ReleaseProcess(string host, int pid)
    {
        var exact = $"host::{host} pid::{pid}";
        // '!' escapes LIKE's wildcards on both databases (MySQL's default escape, '\', means nothing to SQLite).
        var prefix = exact.Replace("!", "!!", StringComparison.Ordinal).Replace("%", "!%", StringComparison.Ordinal)
            .Replace("_", "!_", StringComparison.Ordinal) + " %";
        return store.Run(c => c.Execute(
            $"UPDATE `{Table}` SET locked_at = NULL, locked_by = NULL WHERE locked_by = @exact OR locked_by LIKE @prefix ESCAPE '!'",
            new { exact, prefix }));
    }

    private const string RetrySet = "failed_at = NULL, attempts = 0, run_at = @now, locked_at = NULL, locked_by = NULL";

    private DateTime Now => _time.GetUtcNow().UtcDateTime;

    private static string QueueFilter(string? queue, string keyword) => queue is null ? "" : $"{keyword} queue = @queue";

    // Why nothing changed: the id is unknown, or the job has not failed.
    private JobOutcome Missing(long id) =>
        store.Run(c => c.ExecuteScalar<long>($"SELECT COUNT(*) FROM `{Table}` WHERE id = @id", new { id })) == 0
            ? JobOutcome.NotFound
            : JobOutcome.NotFailed;

    // Walks the failed jobs that exist now, in id order, one short statement per chunk: a long run never holds a big
    // lock, and a job that fails again while it runs (a higher id, or one already done) is not taken twice.
    private long InChunks(string? queue, int chunkSize, Action<int>? progress, CancellationToken stop, string statement)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkSize, 1);
        var last = store.Run(c => c.ExecuteScalar<long?>($"SELECT MAX(id) FROM `{Table}` WHERE failed_at IS NOT NULL {QueueFilter(queue, "AND")}", new { queue }));
        if (last is null) return 0;
        long done = 0, after = 0;
        while (!stop.IsCancellationRequested)
        {
            var ids = store.Run(c => c.Query<long>(
                $"""
                SELECT id FROM `{Table}` WHERE failed_at IS NOT NULL {QueueFilter(queue, "AND")} AND id > @after AND id <= @last
                ORDER BY id LIMIT @chunkSize
                """,
                new { queue, after, last, chunkSize }).ToList());
            if (ids.Count == 0) return done;
            var changed = store.Run(c => c.Execute(statement, new { ids, now = Now }));
            done += changed;
            progress?.Invoke(changed);
            after = ids[^1];
        }
        return done;
    }

    /// <summary>The job's type from the handler's <c>$type</c>, without its assembly; read, never instantiated.</summary>
    internal static string JobType(string handler)
    {
        try
        {
            using var reader = new JsonTextReader(new StringReader(handler)) { MaxDepth = 64 };
            if (!reader.Read() || reader.TokenType != JsonToken.StartObject) return "(not a JSON object)";
            while (reader.Read() && reader.TokenType == JsonToken.PropertyName)
            {
                if ((string?)reader.Value == "$type")
                    return reader.Read() && reader.Value is string type ? WithoutAssembly(type) : "(no type)";
                reader.Read();
                reader.Skip();
            }
            return "(no type)";
        }
        catch (JsonException)
        {
            return "(unreadable handler)";
        }
    }

    // "Ns.Job`1[[System.Int32, System.Private.CoreLib]], MyApp" -> "Ns.Job`1[[System.Int32, System.Private.CoreLib]]"
    private static string WithoutAssembly(string type)
    {
        var depth = 0;
        for (var i = 0; i < type.Length; i++)
        {
            switch (type[i])
            {
                case '[': depth++; break;
                case ']': depth--; break;
                case ',' when depth == 0: return type[..i].Trim();
            }
        }
        return type.Trim();
    }

    private static string FirstLine(string? error)
    {
        if (string.IsNullOrWhiteSpace(error)) return "";
        var text = error.Trim();
        var end = text.IndexOfAny(['\r', '\n']);
        return end < 0 ? text : text[..end].TrimEnd();
    }
}
