using DJJobNet.Tests.Infrastructure;

namespace DJJobNet.Tests;

/// <summary>The static API, as a PHP DJJob user calls it.</summary>
[TestFixture]
public sealed class ConfigureTests
{
    [TestCase(null, "root", "", "Please provide the database driver used in configure options array.")]
    [TestCase("mysql", null, "", "Please provide the database user in configure options array.")]
    [TestCase("mysql", "root", null, "Please provide the database password in configure options array.")]
    public void Configure_ThrowsPhpsMessage_WhenARequiredOptionIsMissing(string? driver, string? user, string? password, string message)
    {
        var options = new DJJobOptions { Driver = driver, User = user, Password = password };
        Assert.That(() => DJJob.Configure(options), Throws.TypeOf<DJException>().With.Message.EqualTo(message));
    }

    [Test]
    public void Configure_NamesAnUnsupportedDriver()
    {
        Assert.That(() => DJJob.Configure(new DJJobOptions { Driver = "oracle", User = "u", Password = "p" }),
            Throws.TypeOf<DJException>().With.Message.Contains("'oracle'"));
    }

    [TestCase("jobs; DROP TABLE users")]
    [TestCase("`jobs`")]
    [TestCase("1jobs")]
    [TestCase("")]
    public void AJobsTableName_ThatIsNotAPlainIdentifier_IsRefused(string table)
    {
        Assert.That(() => new DJJobOptions { JobsTable = table }, Throws.TypeOf<DJException>().With.Message.Contains("Invalid jobs table name"));
        Assert.That(() => DJJob.Configure("sqlite:x.db", table), Throws.TypeOf<DJException>().With.Message.Contains("Invalid jobs table name"));
    }

    [Test]
    public void Configure_WithAConnectionString_RequiresAUser()
    {
        Assert.That(() => DJJob.Configure("Server=127.0.0.1;Database=djjob"),
            Throws.TypeOf<DJException>().With.Message.Contains("database user"));
    }

    [Test]
    public void Configure_WithAnInvalidConnectionString_SaysSo()
    {
        Assert.That(() => DJJob.Configure("mysql:NoSuchKeyword=1;User ID=x"),
            Throws.TypeOf<DJException>().With.Message.StartsWith("Invalid MySQL connection string"));
    }

    [Test]
    public void Options_RefuseOutOfRangeValues_NamingThem()
    {
        Assert.That(() => new DJJobOptions { Retries = 0 }, Throws.TypeOf<DJException>().With.Message.Contains("got 0"));
        Assert.That(() => new DJJobOptions { Port = 70000 }, Throws.TypeOf<DJException>().With.Message.Contains("70000"));
        Assert.That(() => new DJWorkerOptions { MaxAttempts = 0 }, Throws.TypeOf<DJException>().With.Message.Contains("MaxAttempts"));
        Assert.That(() => new DJWorkerOptions { Sleep = TimeSpan.FromSeconds(-1) }, Throws.TypeOf<DJException>().With.Message.Contains("Sleep"));
        Assert.That(() => new DJWorkerOptions { Count = -1 }, Throws.TypeOf<DJException>().With.Message.Contains("Count"));
        Assert.That(() => new DJWorkerOptions { Queue = "" }, Throws.TypeOf<DJException>().With.Message.Contains("queue"));
        Assert.That(() => new DJRetryException("x", TimeSpan.FromSeconds(-1)), Throws.TypeOf<ArgumentOutOfRangeException>());
        Assert.That(() => new DJWorkerOptions { Sleep = TimeSpan.FromDays(60) }, Throws.TypeOf<DJException>().With.Message.Contains("Sleep"));
        Assert.That(() => new DJWorkerOptions { ShutdownTimeout = TimeSpan.MaxValue }, Throws.TypeOf<DJException>().With.Message.Contains("ShutdownTimeout"));
        Assert.That(new DJWorkerOptions { ShutdownTimeout = Timeout.InfiniteTimeSpan }.ShutdownTimeout, Is.EqualTo(Timeout.InfiniteTimeSpan));
    }

    [Test]
    public void DJWorkerOptions_HavePhpsDefaults()
    {
        var options = new DJWorkerOptions();
        Assert.That(options.Queue, Is.EqualTo("default"));
        Assert.That(options.Count, Is.Zero);
        Assert.That(options.Sleep, Is.EqualTo(TimeSpan.FromSeconds(5)));
        Assert.That(options.MaxAttempts, Is.EqualTo(5));
        Assert.That(options.FailOnOutput, Is.False);
        Assert.That(new DJJobOptions().Retries, Is.EqualTo(3));
        Assert.That(new DJJobOptions().JobsTable, Is.EqualTo("jobs"));
    }

    [Test]
    public void TheStaticApi_RunsAJobEndToEnd_OnMySql()
    {
        var database = MySqlTestServer.CreateDatabase();
        try
        {
            var b = new MySqlConnector.MySqlConnectionStringBuilder(database);
            DJJob.Configure(new DJJobOptions
            {
                Driver = "mysql", Host = b.Server, Port = (int)b.Port, DbName = b.Database, User = b.UserID, Password = b.Password,
                Extra = { ["SslMode"] = "None", ["AllowPublicKeyRetrieval"] = "true" },
            });
            RunOneJob();
        }
        finally
        {
            MySqlTestServer.DropDatabase(database);
        }
    }

    [Test]
    public void TheStaticApi_RunsAJobEndToEnd_OnSqlite()
    {
        var dir = Directory.CreateTempSubdirectory("djjob-static-").FullName;
        DJJob.Configure(new DJJobOptions { Driver = "sqlite", DbName = Path.Combine(dir, "jobs.db") });
        RunOneJob();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(dir, true);
    }

    [Test]
    public void Enqueue_Throws_WhenDJJobIsNotConfigured()
    {
        var field = typeof(DJJob).GetField("_context", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!;
        var saved = field.GetValue(null);
        field.SetValue(null, null);
        try
        {
            Assert.That(() => DJJob.Enqueue(new CountingJob()), Throws.TypeOf<DJException>().With.Message.Contains("DJJob.Configure"));
        }
        finally
        {
            field.SetValue(null, saved);
        }
    }

    private static void RunOneJob()
    {
        DJJob.Install();
        var job = new CountingJob();
        DJJob.Enqueue(job);
        DJJob.BulkEnqueue([new CountingJob(), new CountingJob()], "other");
        Assert.That(DJJob.Status(), Is.EqualTo(new JobStatus(1, 0, 0, 1)));

        new DJWorker(new DJWorkerOptions { Count = 1, HandleSignals = false }).Start();

        Assert.That(CountingJob.RunsOf(job.Key), Is.EqualTo(1));
        Assert.That(DJJob.Status(), Is.EqualTo(new JobStatus(0, 0, 0, 0)));
        Assert.That(DJJob.Status("other").Total, Is.EqualTo(2));
    }
}
