using Dapper;
using DJJobNet.Tests.Infrastructure;
using MySqlConnector;

namespace DJJobNet.Tests;

/// <summary>What only the MySQL store has: the seed's table, server time zones, the query plan, lost connections.</summary>
[TestFixture]
public sealed class MySqlTests() : StoreTest("mysql")
{
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

        var error = Assert.Throws<DJException>(() => store.Status("default"));

        Assert.That(error!.Message, Is.EqualTo("DJJob exhausted retries connecting to database"));
        Assert.That(proxy.Dropped, Is.EqualTo(3));
    }

    [Test]
    public void AnUnreachableServer_IsADJExceptionSayingSo()
    {
        var store = NewStore(Table, connectionString: "Server=127.0.0.1;Port=1;User ID=x;Password=y;ConnectionTimeout=5");
        var error = Assert.Throws<DJException>(() => store.Status("default"));
        Assert.That(error!.Message, Does.StartWith("DJJob couldn't connect to the database."));
    }

    [Test]
    public void AWrongPassword_IsADJExceptionWithTheServersMessage()
    {
        var wrong = new MySqlConnectionStringBuilder(ConnectionString) { Password = "wrong" }.ConnectionString;
        var error = Assert.Throws<DJException>(() => NewStore(Table, connectionString: wrong).Status("default"));
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
}
