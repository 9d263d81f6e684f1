using Dapper;
using DJJobNet.Tests.Infrastructure;
using DJJobNet.Internal;
using MySqlConnector;

namespace DJJobNet.Tests;

/// <summary>What only the MySQL store has: the seed's table, server time zones, the query plan, lost connections.</summary>
[TestFixture("default")]
[TestFixture("fastest")]
public sealed class MySqlTests(string settings) : StoreTest("mysql", settings)
{
    [TestCase("8.0.36", true)]
    [TestCase("8.0.0", false)]
    [TestCase("5.7.44-log", false)]
    [TestCase("10.11.6-MariaDB-0+deb12u1", true)]
    [TestCase("5.5.5-10.6.1-MariaDB", true)]
    [TestCase("10.5.23-MariaDB", false)]
    public void SkipLocked_IsUsedOnlyWhereTheServerHasIt(string version, bool expected) =>
        Assert.That(MySqlJobStore.HasSkipLocked(version), Is.EqualTo(expected));

    [Test]
    public void WithoutSkipLocked_FourWorkersInBatches_StillRunEachJobExactlyOnce()
    {
        var jobs = Enumerable.Range(0, 2000).Select(_ => new CountingJob()).ToList();
        Context.BulkEnqueue(jobs, "default", null);

        // Four workers, each on a store that takes the fallback claim (a conditional UPDATE, as PHP DJJob does).
        var workers = Enumerable.Range(0, 4).Select(i =>
        {
            var store = (MySqlJobStore)NewStore(Table);
            store.SkipLocked = false;
            var options = new DJWorkerOptions { Sleep = TimeSpan.Zero, ExitWhenEmpty = true, HandleSignals = false, BatchSize = 20, TimeProvider = Clock };
            return new DJWorker(options, new DJContext(store, new DJLogger(TextWriter.Null, Clock), Clock), $"fallback-{i}");
        }).ToList();
        Assert.That(Task.WaitAll([.. workers.Select(w => Task.Run(w.Start))], TimeSpan.FromMinutes(2)), Is.True);

        Assert.That(jobs.Select(j => CountingJob.RunsOf(j.Key)), Is.All.EqualTo(1));
        Assert.That(Store.Status("default").Total, Is.Zero);
    }

    [Test]
    public void Install_AddsTheClaimIndex_ToATableMadeFromTheSeedReadme()
    {
        Execute("DROP TABLE `{table}`");
        Execute("""
            CREATE TABLE `{table}` (
            `id` INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, `handler` TEXT NOT NULL,
            `queue` VARCHAR(255) NOT NULL DEFAULT 'default', `attempts` INT UNSIGNED NOT NULL DEFAULT 0,
            `run_at` DATETIME NULL, `locked_at` DATETIME NULL, `locked_by` VARCHAR(255) NULL,
            `failed_at` DATETIME NULL, `error` TEXT NULL, `created_at` DATETIME NOT NULL) ENGINE = INNODB
            """);

        Store.Install();

        Assert.That(Scalar<long>($"SELECT COUNT(*) FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = '{Table}' AND index_name = '{Table}_claim'"), Is.GreaterThan(0));
    }


    [Test]
    public void TheClaimQuery_IsServedByTheClaimIndex()
    {
        // 2,000 failed rows and a few runnable ones: a full scan would read them all.
        Context.BulkEnqueue(Enumerable.Range(0, 2000).Select(_ => new CountingJob()), "default", null);
        Execute("UPDATE `{table}` SET failed_at = @now, error = 'old', attempts = 5", new { now = Now });
        Execute("ANALYZE TABLE `{table}`");
        for (var i = 0; i < 5; i++) Enqueue(new CountingJob());

        const string claim = """
            SELECT id FROM `{0}` WHERE queue = 'default' AND failed_at IS NULL AND (run_at IS NULL OR run_at <= @now)
              AND attempts < 5 AND (locked_at IS NULL OR locked_by = 'w' OR locked_at < @now)
            ORDER BY run_at, id LIMIT 1
            """;
        using var connection = OpenConnection();
        var plan = connection.Query("EXPLAIN " + string.Format(claim, Table), new { now = Now }).Cast<IDictionary<string, object>>().Single();
        var described = string.Join(", ", plan.Select(p => $"{p.Key}={p.Value}"));
        Assert.That(plan["key"], Is.EqualTo($"{Table}_claim"), described);
        Assert.That(plan["type"], Is.Not.EqualTo("ALL"), described);

        // The optimizer's row estimate is rough; the handler counters say how many rows the claim really read.
        connection.Execute("FLUSH STATUS");
        connection.Query(string.Format(claim, Table), new { now = Now }).AsList();
        var reads = connection.Query<(string Name, long Value)>("SHOW SESSION STATUS LIKE 'Handler_read%'").ToDictionary(r => r.Name, r => r.Value);
        Assert.That(reads["Handler_read_next"] + reads["Handler_read_rnd_next"], Is.LessThan(10), string.Join(", ", reads));

        // A batch of 100 reads about 100 rows, not the failed ones.
        AssertABatchClaimReadsFewRows(connection);
    }

    [Test]
    public void Times_AreUtc_WhenTheServerAndSessionTimeZoneIsNotUtc()
    {
        using (var admin = new MySqlConnection(MySqlTestServer.AdminConnectionString))
        {
            admin.Open();
            admin.Execute("SET GLOBAL time_zone = '+09:00'");
        }
        try
        {
            MySqlConnection.ClearAllPools();
            var store = NewStore(Table);
            using (var session = OpenConnection())
                Assert.That(session.ExecuteScalar<string>("SELECT @@session.time_zone"), Is.EqualTo("+09:00"));
            var context = new Internal.DJContext(store, new Internal.DJLogger(LogText, Clock), Clock);
            var real = TimeProvider.System.GetUtcNow();
            Clock.SetUtcNow(real);
            var job = new CountingJob();
            var id = context.Enqueue(job, "default", real.AddMinutes(10));

            Assert.That(Row(id)!.CreatedAt, Is.EqualTo(real.UtcDateTime).Within(TimeSpan.FromMilliseconds(1)));
            new DJWorker(new DJWorkerOptions { Count = 1, HandleSignals = false, TimeProvider = Clock }, context, "w").Start();
            Assert.That(CountingJob.RunsOf(job.Key), Is.Zero, "not before run_at, although the server's clock reads 9 hours later");

            Clock.Advance(TimeSpan.FromMinutes(10));
            new DJWorker(new DJWorkerOptions { Count = 1, HandleSignals = false, TimeProvider = Clock }, context, "w").Start();
            Assert.That(CountingJob.RunsOf(job.Key), Is.EqualTo(1), "due in UTC, run on the next poll");
        }
        finally
        {
            using var admin = new MySqlConnection(MySqlTestServer.AdminConnectionString);
            admin.Open();
            admin.Execute("SET GLOBAL time_zone = 'SYSTEM'");
            MySqlConnection.ClearAllPools();
        }
    }

    [Test]
    public void AStatement_IsTriedAgainOnANewConnection_WhenTheServerDropsIt()
    {
        using var proxy = Proxy();
        var store = NewStore(Table, retries: 3, ThroughProxy(proxy));
        proxy.Drop(2, Table);

        var id = new Internal.DJContext(store, new Internal.DJLogger(LogText, Clock), Clock).Enqueue(new CountingJob(), "default", null);

        Assert.That(proxy.Dropped, Is.EqualTo(2));
        Assert.That(Row(id), Is.Not.Null);
        Assert.That(Store.Status("default").Total, Is.EqualTo(1), "inserted once");
    }

    [Test]
    public void Retries_RunOut_WithPhpsMessage()
    {
        using var proxy = Proxy();
        var store = NewStore(Table, retries: 3, ThroughProxy(proxy));
        proxy.Drop(3, Table);

        var error = Assert.Catch<DJException>(() => store.Status("default"));

        Assert.That(error!.Message, Is.EqualTo("DJJob exhausted retries connecting to database"));
        Assert.That(proxy.Dropped, Is.EqualTo(3));
    }

    [Test]
    public void AnUnreachableServer_IsADJExceptionSayingSo()
    {
        var store = NewStore(Table, connectionString: "Server=127.0.0.1;Port=1;User ID=x;Password=y;ConnectionTimeout=5");
        var error = Assert.Catch<DJException>(() => store.Status("default"));
        Assert.That(error!.Message, Does.StartWith("DJJob couldn't connect to the database."));
    }

    [Test]
    public void AWrongPassword_IsADJExceptionWithTheServersMessage()
    {
        var wrong = new MySqlConnectionStringBuilder(ConnectionString) { Password = "wrong" }.ConnectionString;
        var error = Assert.Catch<DJException>(() => NewStore(Table, connectionString: wrong).Status("default"));
        Assert.That(error!.Message, Does.StartWith("DJJob couldn't connect to the database.").And.Contain("Access denied"));
    }

    [Test]
    public void AMissingTable_IsADJExceptionNamingItAndInstall()
    {
        var error = Assert.Throws<DJException>(() => NewStore("no_such_table").Status("default"));
        Assert.That(error!.Message, Does.Contain("`no_such_table` does not exist").And.Contain("DJJob.Install()"));
    }

    [Test]
    public void SetConnection_UsesTheApplicationsDataSource()
    {
        using var dataSource = new MySqlDataSource(ConnectionString);
        DJJob.SetConnection(dataSource, Table);

        var id = DJJob.Enqueue(new CountingJob());

        Assert.That(Row(id), Is.Not.Null);
        Assert.That(DJJob.Status(), Is.EqualTo(new JobStatus(1, 0, 0, 1)));
    }

    private DroppingProxy Proxy()
    {
        var b = new MySqlConnectionStringBuilder(ConnectionString);
        return new DroppingProxy(b.Server, (int)b.Port);
    }

    private string ThroughProxy(DroppingProxy proxy) =>
        new MySqlConnectionStringBuilder(ConnectionString) { Server = "127.0.0.1", Port = (uint)proxy.Port, Pooling = false }.ConnectionString;

    private const string SeedTable = """
        CREATE TABLE `{table}` (
        `id` INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, `handler` TEXT NOT NULL,
        `queue` VARCHAR(255) NOT NULL DEFAULT 'default', `attempts` INT UNSIGNED NOT NULL DEFAULT 0,
        `run_at` DATETIME NULL, `locked_at` DATETIME NULL, `locked_by` VARCHAR(255) NULL,
        `failed_at` DATETIME NULL, `error` TEXT NULL, `created_at` DATETIME NOT NULL) ENGINE = INNODB CHARACTER SET {charset}
        """;

    private void UseSeedTable(string charset = "utf8mb4")
    {
        Execute("DROP TABLE `{table}`");
        Execute(SeedTable.Replace("{charset}", charset, StringComparison.Ordinal));
        Store.Install();
    }

    private static void WithGlobal(string setting, object value, Action action)
    {
        object old;
        using (var admin = new MySqlConnection(MySqlTestServer.AdminConnectionString))
        {
            admin.Open();
            old = admin.ExecuteScalar($"SELECT @@GLOBAL.{setting}")!;
            admin.Execute($"SET GLOBAL {setting} = @value", new { value });
        }
        MySqlConnection.ClearAllPools();
        try
        {
            action();
        }
        finally
        {
            using var admin = new MySqlConnection(MySqlTestServer.AdminConnectionString);
            admin.Open();
            admin.Execute($"SET GLOBAL {setting} = @old", new { old });
            MySqlConnection.ClearAllPools();
        }
    }

    [TestCase("STRICT_TRANS_TABLES", 'a', 1)]
    [TestCase("STRICT_TRANS_TABLES", 'é', 2)]
    [TestCase("STRICT_TRANS_TABLES", '字', 3)]
    [TestCase("", 'a', 1)]
    [TestCase("", 'é', 2)]
    [TestCase("", '字', 3)]
    public void AHandlerLargerThanTheColumn_IsRefusedAtEnqueue_NamingSizeAndLimit_InAnySqlMode(string sqlMode, char letter, int bytesPerLetter)
    {
        UseSeedTable(); // handler TEXT: 65,535 bytes
        WithGlobal("sql_mode", sqlMode, () =>
        {
            var store = NewStore(Table);
            var context = new Internal.DJContext(store, new Internal.DJLogger(LogText, Clock), Clock);
            var fits = new CountingJob { Key = new string(letter, 60_000 / bytesPerLetter) };
            var tooBig = new CountingJob { Key = new string(letter, 70_000 / bytesPerLetter) };

            var id = context.Enqueue(fits, "default", null);
            Assert.That(Row(id)!.Handler, Is.EqualTo(Internal.HandlerSerializer.Serialize(fits)), "stored intact");

            var error = Assert.Throws<DJException>(() => context.Enqueue(tooBig, "default", null));
            Assert.That(error!.Message, Does.Match("handler is [0-9]+ bytes of JSON; the handler column of `jobs_[0-9]+` holds at most 65535"));
            Assert.That(store.Status("default").Total, Is.EqualTo(1), "nothing truncated was stored");
        });
    }

    [Test]
    public void AMegabyteHandler_IsStoredIntact_InTheInstalledTable()
    {
        var job = new CountingJob { Key = string.Concat(Enumerable.Repeat("Fête 🎉 Zürich ", 60_000)) };
        var id = Enqueue(job);
        Assert.That(Row(id)!.Handler, Is.EqualTo(Internal.HandlerSerializer.Serialize(job)));
    }

    [TestCase("STRICT_TRANS_TABLES")]
    [TestCase("")]
    public void ATableInANarrowerCharacterSet_MakesEnqueueFailLoudly_NeverStoringQuestionMarks(string sqlMode)
    {
        UseSeedTable("latin1");
        WithGlobal("sql_mode", sqlMode, () =>
        {
            var store = NewStore(Table);
            var context = new Internal.DJContext(store, new Internal.DJLogger(LogText, Clock), Clock);

            var error = Assert.Throws<DJException>(() => context.Enqueue(new CountingJob { Key = "Fête 🎉 Zürich" }, "default", null));

            Assert.That(error!.Message, Does.Contain("character set latin1").And.Contain("utf8mb4"));
            Assert.That(store.Status("default").Total, Is.Zero);
            Assert.That(context.Enqueue(new CountingJob { Key = "plain ascii" }, "default", null), Is.GreaterThan(0), "ASCII still fits");
        });
    }

    [Test]
    public void AWorkerIdlePastWaitTimeout_RunsTheNextJob()
    {
        WithGlobal("wait_timeout", 1, () =>
        {
            var store = NewStore(Table);
            var context = new Internal.DJContext(store, new Internal.DJLogger(LogText, TimeProvider.System), TimeProvider.System);
            var worker = new DJWorker(new DJWorkerOptions { Sleep = TimeSpan.FromSeconds(3), HandleSignals = false }, context, "idle");
            var run = Task.Run(worker.Start);
            Assert.That(() => LogText.ToString(), Does.Contain("may be empty").After(10_000, 10));

            // The worker's pooled connection dies on the server while the worker sleeps 3 s.
            var job = new CountingJob();
            Enqueue(job, runAt: DateTimeOffset.UtcNow);

            Assert.That(() => CountingJob.RunsOf(job.Key), Is.EqualTo(1).After(20_000, 20), LogText.ToString);
            worker.Stop();
            Assert.That(run.Wait(TimeSpan.FromSeconds(10)), Is.True);
        });
    }

    [Test]
    public void AnOutageWhileAWorkerPolls_IsWaitedOut_AndTheWorkerCarriesOn()
    {
        using var proxy = Proxy();
        var store = NewStore(Table, connectionString: ThroughProxy(proxy));
        var context = new Internal.DJContext(store, new Internal.DJLogger(LogText, TimeProvider.System), TimeProvider.System);
        var worker = new DJWorker(new DJWorkerOptions { Sleep = TimeSpan.FromMilliseconds(50), HandleSignals = false }, context, "outage");
        var run = Task.Run(worker.Start);
        Assert.That(() => LogText.ToString(), Does.Contain("may be empty").After(10_000, 10));

        proxy.BeginOutage();
        Assert.That(() => LogText.ToString(), Does.Contain("[JOB] database error while claiming a job on queue::default").After(10_000, 10));
        var job = new CountingJob();
        Enqueue(job, runAt: DateTimeOffset.UtcNow);
        Assert.That(run.IsCompleted, Is.False, "the worker is still alive");
        proxy.EndOutage();

        Assert.That(() => CountingJob.RunsOf(job.Key), Is.EqualTo(1).After(20_000, 20), LogText.ToString);
        worker.Stop();
        Assert.That(run.Wait(TimeSpan.FromSeconds(10)), Is.True);
    }

    [Test]
    public void AConnectionKilledWhileAJobRuns_DoesNotLoseTheJobsOutcome()
    {
        var job = new KillConnectionsJob { Database = new MySqlConnectionStringBuilder(ConnectionString).Database };
        var id = Enqueue(job);
        var other = new CountingJob();
        Enqueue(other);

        Worker(count: 2).Start();

        Assert.That(KillConnectionsJob.Killed, Is.GreaterThan(0), "the worker's connections were killed mid-job");
        Assert.That(Row(id), Is.Null, "the outcome was recorded on a new connection");
        Assert.That(CountingJob.RunsOf(other.Key), Is.EqualTo(1));
    }

    [Test]
    public async Task WithManyFailedRows_AClaimStillReadsOnlyAFewRows()
    {
        // 200,000 failed rows (doubling INSERT ... SELECT) and 1,000 runnable ones.
        Context.BulkEnqueue(Enumerable.Range(0, 1000).Select(_ => new CountingJob()), "default", null);
        Execute("UPDATE `{table}` SET failed_at = @now, error = 'old', attempts = 5", new { now = Now });
        while (Scalar<long>("SELECT COUNT(*) FROM `{table}`") < 200_000)
            Execute("INSERT INTO `{table}` (handler, queue, attempts, run_at, failed_at, error, created_at) SELECT handler, queue, attempts, run_at, failed_at, error, created_at FROM `{table}` LIMIT 100000");
        Context.BulkEnqueue(Enumerable.Range(0, 1000).Select(_ => new CountingJob()), "default", null);
        Execute("ANALYZE TABLE `{table}`");

        Assert.That(await Store.ClaimAsync(Io.Async(default), new ClaimRequest("default", "w", 5, Now, Now.AddHours(-4), 100, []), []), Has.Count.EqualTo(100));
        Assert.That(Store.Status("default").Failed, Is.GreaterThanOrEqualTo(200_000));

        // The handler counters of our own session say how many rows the claim's SELECT reads.
        using var connection = OpenConnection();
        connection.Execute("FLUSH STATUS");
        connection.Query($"SELECT id FROM `{Table}` WHERE queue = 'default' AND failed_at IS NULL AND (run_at IS NULL OR run_at <= @now) AND attempts < 5 AND (locked_at IS NULL OR locked_by = 'w' OR locked_at < @expiry) ORDER BY run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED",
            new { now = Now, expiry = Now.AddHours(-4) }).AsList();
        var reads = connection.Query<(string Name, long Value)>("SHOW SESSION STATUS LIKE 'Handler_read%'").ToDictionary(r => r.Name, r => r.Value);
        Assert.That(reads["Handler_read_next"] + reads["Handler_read_rnd_next"], Is.LessThan(10), string.Join(", ", reads));

        // A batch of 100 reads about 100 rows, not the failed ones.
        AssertABatchClaimReadsFewRows(connection);
    }

    // A claim of 100 as the worker makes it, read through our own session's handler counters: about 100 index rows.
    private void AssertABatchClaimReadsFewRows(System.Data.Common.DbConnection connection)
    {
        connection.Execute("FLUSH STATUS");
        connection.Query($"SELECT id FROM `{Table}` WHERE queue = 'default' AND failed_at IS NULL AND (run_at IS NULL OR run_at <= @now) AND attempts < 5 AND (locked_at IS NULL OR locked_by = 'v' OR locked_at < @expiry) ORDER BY run_at, id LIMIT 100 FOR UPDATE SKIP LOCKED",
            new { now = Now, expiry = Now.AddHours(-4) }).AsList();
        var reads = connection.Query<(string Name, long Value)>("SHOW SESSION STATUS LIKE 'Handler_read%'").ToDictionary(r => r.Name, r => r.Value);
        Assert.That(reads["Handler_read_next"] + reads["Handler_read_rnd_next"], Is.LessThan(300), string.Join(", ", reads));
    }

    /// <summary>Fails with a message that a latin1 column cannot hold (made at run time, so the handler is plain ASCII).</summary>
    public sealed class UnicodeErrorJob : IJob
    {
        public void Perform() => throw new InvalidOperationException("Z\u00fcrich \ud83c\udf89 down");
    }

    public sealed class KillConnectionsJob : IJob
    {
        public static int Killed;
        public string Database { get; set; } = "";

        public void Perform()
        {
            using var admin = new MySqlConnection(MySqlTestServer.AdminConnectionString);
            admin.Open();
            foreach (var id in admin.Query<long>("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = @Database AND ID <> CONNECTION_ID()", new { Database }))
            {
                admin.Execute($"KILL CONNECTION {id}");
                Interlocked.Increment(ref Killed);
            }
        }
    }

    [Test]
    public void AnErrorTheTableCannotHold_IsRecordedInAscii_AndTheWorkerGoesOn()
    {
        UseSeedTable("latin1");
        var id = Enqueue(new UnicodeErrorJob());
        var next = new CountingJob();
        Enqueue(next);

        Worker(count: 2).Start();

        var row = Row(id)!;
        Assert.That(row.Attempts, Is.EqualTo(1), "the attempt counted");
        Assert.That(row.Error, Is.EqualTo("Z\\u00fcrich \\ud83c\\udf89 down"));
        Assert.That(CountingJob.RunsOf(next.Key), Is.EqualTo(1));
    }

    [Test]
    public void BulkEnqueue_SplitsStatementsUnderMaxAllowedPacket()
    {
        var packet = Scalar<long>("SELECT @@max_allowed_packet");
        var jobs = Enumerable.Range(0, (int)(packet / 200_000) + 20).Select(i => new CountingJob { Key = i + new string('x', 200_000) }).ToList();

        Assert.That(Context.BulkEnqueue(jobs, "default", null), Is.EqualTo(jobs.Count));
        Assert.That(Store.Status("default").Total, Is.EqualTo(jobs.Count));
    }

    [Test]
    public void AHandlerOverMaxAllowedPacketOnceEscaped_IsRefusedNamingSizeAndLimit()
    {
        var packet = Scalar<long>("SELECT @@max_allowed_packet");
        var job = new CountingJob { Key = new string('\\', (int)(packet / 3)) }; // JSON doubles each backslash, the wire again

        var error = Assert.Throws<DJException>(() => Enqueue(job));

        Assert.That(error!.Message, Does.Contain("bytes once escaped").And.Contain($"max_allowed_packet {packet}"));
        Assert.That(Store.Status("default").Total, Is.Zero);
    }
}
