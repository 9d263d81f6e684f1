using Dapper;
using DJJobNet.Tests.Infrastructure;

namespace DJJobNet.Tests;

/// <summary>What only the SQLite store has: its file settings and its query plan.</summary>
[TestFixture]
public sealed class SqliteTests() : StoreTest("sqlite")
{
    [Test]
    public void TheFile_IsInWalMode()
    {
        Enqueue(new CountingJob());
        Assert.That(Scalar<string>("PRAGMA journal_mode"), Is.EqualTo("wal"));
    }

    [Test]
    public void TheClaimQuery_IsServedByTheClaimIndex()
    {
        using var c = OpenConnection();
        var plan = string.Join("\n", c.Query(
            $"""
            EXPLAIN QUERY PLAN SELECT id FROM `{Table}` WHERE queue = 'default' AND failed_at IS NULL AND (run_at IS NULL OR run_at <= '2026')
              AND attempts < 5 AND (locked_at IS NULL OR locked_by = 'w' OR locked_at < '2026')
            ORDER BY run_at, id LIMIT 1
            """).Select(row => (string)row.detail));
        Assert.That(plan, Does.Contain($"INDEX {Table}_claim"));
    }

    [Test]
    public void AHandlerStoredAsABlob_IsABadHandler_AndTheWorkerGoesOn()
    {
        // SQLite lets any column hold any type; a row edited by hand may hold bytes that are not even UTF-8.
        var blob = Enqueue(new CountingJob(), runAt: Now.AddSeconds(-10));
        var next = new CountingJob();
        var nextId = Enqueue(next);
        Execute("UPDATE `{table}` SET handler = X'FFFE00' WHERE id = @blob", new { blob });

        Worker(count: 2).Start();

        Assert.That(Scalar<string>("SELECT error FROM `{table}` WHERE id = @blob", new { blob }), Does.StartWith($"[JOB] bad handler for job::{blob}:"));
        Assert.That(Row(nextId), Is.Null, "the next job ran");
        Assert.That(CountingJob.RunsOf(next.Key), Is.EqualTo(1));
    }
}
