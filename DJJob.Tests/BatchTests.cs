using System.Collections.Concurrent;
using DJJobNet.Tests.Infrastructure;

namespace DJJobNet.Tests;

/// <summary>BatchSize, BatchedCompletion and Concurrency: what each option gives, and what it trades.</summary>
[TestFixture("mysql")]
[TestFixture("sqlite")]
public sealed class BatchTests(string driver) : StoreTest(driver)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Test]
    public void ByDefault_EachSuccessIsCommittedBeforeTheNextJobStarts()
    {
        var ids = Enumerable.Range(0, 5).Select(_ => Enqueue(new SeesRowsJob { ConnectionString = ConnectionString, Table = Table })).ToList();

        Worker(count: 0, new DJWorkerOptions { Sleep = TimeSpan.Zero, ExitWhenEmpty = true }).Start();

        // Each job counted the rows left when it started: 5, 4, 3, 2, 1.
        Assert.That(SeesRowsJob.Seen.TakeLast(5), Is.EqualTo(new long[] { 5, 4, 3, 2, 1 }));
        Assert.That(ids.Select(Row), Is.All.Null);
    }

    [Test]
    public void BatchSize_ClaimsSeveralJobsInOnePoll_LockingTheOnesThatWait_AndStillRunsThemInDueOrder()
    {
        var keys = new List<string>();
        for (var i = 0; i < 7; i++)
        {
            var job = new OrderedJob();
            keys.Add(job.Key);
            Enqueue(job, runAt: Now.AddSeconds(i - 10));
        }
        OrderedJob.LockedWhileRunning.Clear();
        OrderedJob.Connection = ConnectionString;
        OrderedJob.Table = Table;

        Worker(count: 2, new DJWorkerOptions { Sleep = TimeSpan.Zero, BatchSize = 3 }).Start();

        Assert.That(OrderedJob.Ran.Where(keys.Contains), Is.EqualTo(keys.Take(6)), "two polls of three, in due order");
        // While the first job of a batch ran, its two batch-mates were locked by this worker too.
        Assert.That(OrderedJob.LockedWhileRunning.First(), Is.EqualTo(3));
        Assert.That(Store.Status("default"), Is.EqualTo(new JobStatus(1, 0, 0, 1)));
        Assert.That(LogText.ToString(), Does.Contain("after running 6 jobs, over 2 polling iterations"));
    }

    [Test]
    public void Stop_ReleasesTheJobsOfABatchThatHaveNotRun_WithoutCountingAnAttempt()
    {
        var first = Enqueue(new WorkerTests.SlowJob { Milliseconds = 300 }, runAt: Now.AddSeconds(-10));
        var rest = Enumerable.Range(0, 4).Select(_ => Enqueue(new CountingJob())).ToList();
        var worker = Worker(count: 0, new DJWorkerOptions { Sleep = TimeSpan.Zero, BatchSize = 10 }, name: "batch");
        var run = Task.Run(worker.Start);
        Assert.That(() => Row(first)?.LockedBy, Is.EqualTo("batch").After(10_000, 5));

        worker.Stop();

        Assert.That(run.Wait(Deadline), Is.True);
        Assert.That(Row(first), Is.Null, "the running job finished and was recorded");
        foreach (var id in rest)
        {
            var row = Row(id)!;
            Assert.That((row.LockedBy, row.LockedAt, row.Attempts), Is.EqualTo(((string?)null, (DateTime?)null, 0)));
        }
    }

    [Test]
    public void BatchedCompletion_DeletesTheSuccessesOfABatchTogether_WhichIsWhatItTrades()
    {
        var ids = Enumerable.Range(0, 5).Select(_ => Enqueue(new SeesRowsJob { ConnectionString = ConnectionString, Table = Table })).ToList();

        Worker(count: 0, new DJWorkerOptions { Sleep = TimeSpan.Zero, ExitWhenEmpty = true, BatchSize = 5, BatchedCompletion = true }).Start();

        // No row was deleted while the batch ran: had the process died, all five would run again.
        Assert.That(SeesRowsJob.Seen.TakeLast(5), Is.EqualTo(new long[] { 5, 5, 5, 5, 5 }));
        Assert.That(ids.Select(Row), Is.All.Null, "deleted together once the batch was done");
        var log = LogText.ToString();
        Assert.That(ids.Select(id => log.Contains($"[JOB] completed job::{id}\n", StringComparison.Ordinal)), Is.All.True);
    }

    [Test]
    public void BatchedCompletion_StillRecordsAFailureAtOnce()
    {
        var failing = Enqueue(new FailingJob(), runAt: Now.AddSeconds(-10));
        var watcher = Enqueue(new SeesRowsJob { ConnectionString = ConnectionString, Table = Table, Sql = "SELECT COUNT(*) FROM `{table}` WHERE attempts = 1" });

        Worker(count: 1, new DJWorkerOptions { Sleep = TimeSpan.Zero, BatchSize = 5, BatchedCompletion = true }).Start();

        Assert.That(SeesRowsJob.Seen.Last(), Is.EqualTo(1), "the failure was written before the next job ran");
        Assert.That(Row(failing)!.Attempts, Is.EqualTo(1));
        Assert.That(Row(watcher), Is.Null);
    }

    [Test]
    public void Concurrency_RunsJobsAtTheSameTime()
    {
        var gate = Guid.NewGuid().ToString("N");
        for (var i = 0; i < 4; i++) Enqueue(new RendezvousJob { Gate = gate, Parties = 4 });

        // Each job waits (up to 20 s) until all four have started: only a worker that runs four at once can finish them.
        Worker(count: 0, new DJWorkerOptions { Sleep = TimeSpan.Zero, ExitWhenEmpty = true, Concurrency = 4 }).Start();

        Assert.That(RendezvousJob.Met(gate), Is.EqualTo(4));
        Assert.That(Store.Status("default").Total, Is.Zero);
    }

    [TestCase(1, false)]
    [TestCase(25, true)]
    public void Concurrency_WithBatches_RunsEachJobExactlyOnce(int batchSize, bool batchedCompletion)
    {
        var jobs = Enumerable.Range(0, 2000).Select(_ => new CountingJob()).ToList();
        Context.BulkEnqueue(jobs, "default", null);

        Worker(count: 0, new DJWorkerOptions { Sleep = TimeSpan.Zero, ExitWhenEmpty = true, Concurrency = 4, BatchSize = batchSize, BatchedCompletion = batchedCompletion }).Start();

        Assert.That(jobs.Select(j => CountingJob.RunsOf(j.Key)), Is.All.EqualTo(1));
        Assert.That(Store.Status("default").Total, Is.Zero);
    }

    [Test]
    public void Options_RefuseValuesOutOfRange_NamingTheOption()
    {
        Assert.That(() => new DJWorkerOptions { BatchSize = 0 }, Throws.TypeOf<DJException>().With.Message.Contains("BatchSize"));
        Assert.That(() => new DJWorkerOptions { BatchSize = 1001 }, Throws.TypeOf<DJException>().With.Message.Contains("BatchSize"));
        Assert.That(() => new DJWorkerOptions { Concurrency = 0 }, Throws.TypeOf<DJException>().With.Message.Contains("Concurrency"));
    }

    /// <summary>Counts the rows of the table (or runs <see cref="Sql"/>) when it starts.</summary>
    public sealed class SeesRowsJob : IJob
    {
        public static readonly ConcurrentQueue<long> Seen = [];
        public string ConnectionString { get; set; } = "";
        public string Table { get; set; } = "";
        public string Sql { get; set; } = "SELECT COUNT(*) FROM `{table}`";

        public void Perform() => Seen.Enqueue(Count(ConnectionString, Sql.Replace("{table}", Table, StringComparison.Ordinal)));
    }

    /// <summary>Records the order it ran in, and how many rows were locked when the first one ran.</summary>
    public sealed class OrderedJob : IJob
    {
        public static readonly ConcurrentQueue<string> Ran = [];
        public static readonly ConcurrentQueue<long> LockedWhileRunning = [];
        public static string Connection = "", Table = "";
        public string Key { get; set; } = Guid.NewGuid().ToString("N");

        public void Perform()
        {
            Ran.Enqueue(Key);
            LockedWhileRunning.Enqueue(Count(Connection, $"SELECT COUNT(*) FROM `{Table}` WHERE locked_by IS NOT NULL"));
        }
    }

    /// <summary>Waits until <see cref="Parties"/> jobs of its gate have started.</summary>
    public sealed class RendezvousJob : IJob
    {
        private static readonly ConcurrentDictionary<string, CountdownEvent> Gates = new();
        public string Gate { get; set; } = "";
        public int Parties { get; set; }

        public static int Met(string gate) => Gates.TryGetValue(gate, out var c) ? c.InitialCount - c.CurrentCount : 0;

        public void Perform()
        {
            var countdown = Gates.GetOrAdd(Gate, _ => new CountdownEvent(Parties));
            countdown.Signal();
            if (!countdown.Wait(TimeSpan.FromSeconds(20))) throw new TimeoutException("the other jobs did not start alongside this one");
        }
    }

    private static long Count(string connectionString, string sql)
    {
        using System.Data.Common.DbConnection c = connectionString.StartsWith("sqlite:", StringComparison.Ordinal)
            ? new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={connectionString["sqlite:".Length..]}")
            : new MySqlConnector.MySqlConnection(connectionString);
        c.Open();
        using var command = c.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
