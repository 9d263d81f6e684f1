using System.Text.RegularExpressions;
using DJJobNet.Tests.Infrastructure;
using DJJobNet.Tool;
using Spectre.Console.Testing;

namespace DJJobNet.Tests;

/// <summary>The djjob tool, run in-process on this test's table with Spectre's test console and the fake clock.</summary>
[TestFixture("mysql")]
[TestFixture("sqlite")]
public sealed partial class CliTests(string driver) : StoreTest(driver)
{
    private sealed record Result(int Code, string Out, string Err);

    // Runs djjob with --connection and --table of this test, unless the arguments give their own.
    private Result Djjob(params string[] args)
    {
        var extra = new List<string>();
        if (!args.Contains("--connection")) extra.AddRange(["--connection", ConnectionString]);
        if (!args.Contains("--table")) extra.AddRange(["--table", Table]);
        return Run([.. args, .. extra]);
    }

    private Result Run(string[] args, TimeProvider? time = null, CancellationToken cancel = default, Func<string, string?>? environment = null, bool ansi = false)
    {
        using var console = new TestConsole().Width(250);
        if (ansi) console.SupportsAnsi(true).Interactive().EmitAnsiSequences();
        using var error = new StringWriter();
        var code = Cli.Run(args, new CliHost
        {
            Console = console,
            Error = error,
            Environment = environment ?? (_ => null),
            Time = time ?? Clock,
            Cancel = cancel,
        });
        return new Result(code, console.Output, error.ToString());
    }

    // The numbers of the status table's row for queue: outstanding, locked, failed, total.
    private static long[] Counts(string output, string queue)
    {
        var row = output.Split('\n').Single(line => line.StartsWith($"│ {queue} ", StringComparison.Ordinal));
        return [.. Number().Matches(row[(queue.Length + 2)..]).Select(m => long.Parse(m.Value, System.Globalization.CultureInfo.InvariantCulture))];
    }

    [GeneratedRegex(@"\d+")]
    private static partial Regex Number();

    private long Failed(IJob job, string queue = "default", string error = "it broke")
    {
        var id = Enqueue(job, queue);
        Execute("UPDATE `{table}` SET failed_at = @now, attempts = 5, error = @error WHERE id = @id", new { now = Now, error, id });
        return id;
    }

    private void Lock(long id, string worker) =>
        Execute("UPDATE `{table}` SET locked_at = @now, locked_by = @worker WHERE id = @id", new { now = Now, worker, id });

    private static void AssertError(Result result, int code, string message)
    {
        Assert.That(result.Code, Is.EqualTo(code), result.Err);
        Assert.That(result.Err, Does.StartWith("djjob: ").And.Contain(message));
        Assert.That(result.Err, Does.Not.Contain("   at "), "no stack trace");
    }

    [Test]
    public void Install_CreatesTheTable_WhenItIsMissing()
    {
        var fresh = Table + "_fresh";

        var result = Djjob("install", "--table", fresh);

        Assert.That(result.Code, Is.Zero, result.Err);
        Assert.That(result.Out, Does.Contain($"Installed table {fresh} ({Driver})"));
        Assert.That(NewStore(fresh).Status("default"), Is.EqualTo(new JobStatus(0, 0, 0, 0)));
        var status = Djjob("status", "--table", fresh);
        Assert.That(status.Code, Is.Zero, status.Err);
        Assert.That(status.Out, Does.Contain("no jobs"));
        Assert.That(Djjob("install", "--table", fresh).Code, Is.Zero, "install is safe to run again");
    }

    [Test]
    public void Status_CountsEachQueue()
    {
        var locked = Enqueue(new CountingJob());
        Enqueue(new CountingJob());
        Enqueue(new CountingJob(), runAt: Now.AddHours(1));
        Lock(locked, "host::a pid::1 worker::00000001");
        Failed(new CountingJob());
        Enqueue(new CountingJob(), "mail");

        var result = Djjob("status");

        Assert.That(result.Code, Is.Zero, result.Err);
        Assert.That(Counts(result.Out, "default"), Is.EqualTo(new long[] { 2, 1, 1, 4 }));
        Assert.That(Counts(result.Out, "mail"), Is.EqualTo(new long[] { 1, 0, 0, 1 }));
        Assert.That(Counts(result.Out, "all queues"), Is.EqualTo(new long[] { 3, 1, 1, 5 }));
    }

    [Test]
    public void Status_ShowsOneQueue_WithZerosWhenItHasNoJob()
    {
        Enqueue(new CountingJob());
        Enqueue(new CountingJob(), "mail");

        var mail = Djjob("status", "--queue", "mail");
        var empty = Djjob("status", "--queue", "empty");

        Assert.That(Counts(mail.Out, "mail"), Is.EqualTo(new long[] { 1, 0, 0, 1 }));
        Assert.That(mail.Out, Does.Not.Contain("default"));
        Assert.That(Counts(empty.Out, "empty"), Is.EqualTo(new long[] { 0, 0, 0, 0 }));
    }

    [TestCase(false)]
    [TestCase(true)]
    public void StatusWatch_RefreshesAfterEachInterval_UntilCancelled(bool ansi)
    {
        Enqueue(new CountingJob());
        using var stop = new CancellationTokenSource();
        // The first pause: a job arrives in a new queue; the second: Ctrl+C.
        var time = new SteppingTime(tick =>
        {
            if (tick == 1)
            {
                Enqueue(new CountingJob(), "mail");
                return true;
            }
            stop.Cancel();
            return false;
        });

        var result = Run(["status", "--watch", "--interval", "5", "--connection", ConnectionString, "--table", Table], time, stop.Token, ansi: ansi);

        Assert.That(result.Code, Is.Zero, result.Err);
        Assert.That(time.Delays, Is.EqualTo(new[] { TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5) }));
        var views = result.Out.Split("every 5 s; Ctrl+C to stop");
        Assert.That(views, Has.Length.GreaterThanOrEqualTo(3), "a view before the first pause and one after");
        Assert.That(views[1], Does.Contain("default").And.Not.Contain("mail"));
        Assert.That(views[^1], Does.Contain("mail"), "the view shows what changed after the first interval");
    }

    [Test]
    public void Failed_ListsTypeAndFirstLineOfError_OfFailedJobsOnly()
    {
        var failing = Enqueue(new FailingJob { Message = "  the remote side said no  \n   at Somewhere.Deep()" });
        Enqueue(new CountingJob());
        Worker(1, new DJWorkerOptions { MaxAttempts = 1, Sleep = TimeSpan.Zero }).Start();
        Assert.That(Row(failing)!.FailedAt, Is.Not.Null);
        var other = Failed(new CountingJob(), "mail", "mail server down");

        var result = Djjob("failed");

        Assert.That(result.Code, Is.Zero, result.Err);
        var lines = result.Out.Split('\n');
        var row = lines.Single(l => l.Contains("FailingJob", StringComparison.Ordinal));
        Assert.That(row, Does.Contain("DJJobNet.Tests.Infrastructure.FailingJob ").And.Contain("the remote side said no").And.Contain("│ default "));
        Assert.That(row, Does.Not.Contain("DJJob.Tests,"), "the type without its assembly");
        Assert.That(result.Out, Does.Not.Contain("Somewhere.Deep"), "the error's first line only");
        Assert.That(lines.Count(l => l.Contains("CountingJob", StringComparison.Ordinal)), Is.EqualTo(1), "the waiting job is not listed");
        Assert.That(result.Out, Does.Contain("mail server down"));

        var mailOnly = Djjob("failed", "--queue", "mail", "--limit", "1");
        Assert.That(mailOnly.Out, Does.Contain("mail server down").And.Not.Contain("FailingJob"));
        var limited = Djjob("failed", "--limit", "1");
        Assert.That(limited.Out, Does.Contain("1 of 2 failed jobs"));
        Assert.That(other, Is.GreaterThan(failing));
    }

    [Test]
    public void Failed_SaysSo_WhenNoJobFailed()
    {
        Enqueue(new CountingJob());
        Assert.That(Djjob("failed").Out, Does.Contain("No failed jobs."));
    }

    [Test]
    public void Retry_MakesAFailedJobRunnable_AndAWorkerThenRunsIt()
    {
        var job = new CountingJob();
        var id = Failed(job);
        Lock(id, "host::gone pid::9 worker::deadbeef");

        var result = Djjob("retry", id.ToString(System.Globalization.CultureInfo.InvariantCulture));

        Assert.That(result.Code, Is.Zero, result.Err);
        Assert.That(result.Out, Does.Contain($"Job {id} will run again."));
        var row = Row(id)!;
        Assert.That(row.FailedAt, Is.Null);
        Assert.That(row.Attempts, Is.Zero);
        Assert.That(row.RunAt, Is.EqualTo(Now));
        Assert.That(row.LockedAt, Is.Null);
        Assert.That(row.LockedBy, Is.Null);
        Assert.That(row.Error, Is.EqualTo("it broke"), "the last error is kept");

        Worker(1).Start();
        Assert.That(CountingJob.RunsOf(job.Key), Is.EqualTo(1));
        Assert.That(Row(id), Is.Null);
    }

    [Test]
    public void RetryAll_RetriesEveryFailedJobOfTheQueue_InChunks()
    {
        var jobs = Enumerable.Range(0, 5).Select(_ => new CountingJob()).ToList();
        var ids = jobs.Select(j => Failed(j)).ToList();
        var elsewhere = Failed(new CountingJob(), "other");
        var waiting = Enqueue(new CountingJob(), runAt: Now.AddHours(1));

        var result = Djjob("retry", "--all", "--queue", "default", "--batch", "2");

        Assert.That(result.Code, Is.Zero, result.Err);
        Assert.That(result.Out, Does.Contain("Retried 5 failed jobs."));
        Assert.That(ids.Select(id => Row(id)!.FailedAt), Is.All.Null);
        Assert.That(Row(elsewhere)!.FailedAt, Is.Not.Null, "another queue's failed job stays failed");
        Assert.That(Row(waiting)!.RunAt, Is.EqualTo(Now.AddHours(1)), "a job that has not failed is left alone");

        Worker(6).Start();
        Assert.That(jobs.Select(j => CountingJob.RunsOf(j.Key)), Is.All.EqualTo(1));

        var everywhere = Djjob("retry", "--all");
        Assert.That(everywhere.Out, Does.Contain("Retried 1 failed job."));
        Assert.That(Row(elsewhere)!.FailedAt, Is.Null);
    }

    [Test]
    public void Retry_Refuses_AJobThatHasNotFailed_OrDoesNotExist()
    {
        var waiting = Enqueue(new CountingJob(), runAt: Now.AddHours(1));

        AssertError(Djjob("retry", waiting.ToString(System.Globalization.CultureInfo.InvariantCulture)), 1, $"Job {waiting} has not failed");
        Assert.That(Row(waiting)!.RunAt, Is.EqualTo(Now.AddHours(1)));
        AssertError(Djjob("retry", "999999"), 1, $"There is no job 999999 in table `{Table}`");
    }

    [Test]
    public void Delete_DeletesAFailedJob_AndRefusesOneThatHasNotFailed()
    {
        var failed = Failed(new CountingJob());
        var running = Enqueue(new CountingJob());
        Lock(running, "host::a pid::1 worker::00000001");

        var deleted = Djjob("delete", failed.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var refused = Djjob("delete", running.ToString(System.Globalization.CultureInfo.InvariantCulture));

        Assert.That(deleted.Code, Is.Zero, deleted.Err);
        Assert.That(deleted.Out, Does.Contain($"Deleted failed job {failed}."));
        Assert.That(Row(failed), Is.Null);
        AssertError(refused, 1, $"Job {running} has not failed (it is waiting, scheduled or running): only failed jobs are deleted.");
        Assert.That(Row(running), Is.Not.Null);
        AssertError(Djjob("delete", "999999"), 1, "There is no job 999999");
    }

    [Test]
    public void DeleteAllFailed_DeletesOnlyFailedJobs_InChunks()
    {
        var failed = Enumerable.Range(0, 5).Select(_ => Failed(new CountingJob())).ToList();
        var elsewhere = Failed(new CountingJob(), "other");
        var waiting = Enqueue(new CountingJob());

        var result = Djjob("delete", "--all-failed", "--queue", "default", "--batch", "2");

        Assert.That(result.Code, Is.Zero, result.Err);
        Assert.That(result.Out, Does.Contain("Deleted 5 failed jobs."));
        Assert.That(failed.Select(Row), Is.All.Null);
        Assert.That(Row(elsewhere), Is.Not.Null);
        Assert.That(Row(waiting), Is.Not.Null);

        Assert.That(Djjob("delete", "--all-failed").Out, Does.Contain("Deleted 1 failed job."));
        Assert.That(Row(elsewhere), Is.Null);
        Assert.That(Row(waiting), Is.Not.Null);
    }

    [Test]
    public void Release_ByWorkerName_ClearsThatWorkersLocksOnly()
    {
        var mine = Enqueue(new CountingJob());
        var sibling = Enqueue(new CountingJob());
        Lock(mine, "host::web1 pid::42 worker::aaaaaaaa");
        Lock(sibling, "host::web1 pid::42 worker::bbbbbbbb");

        var result = Djjob("release", "--worker", "host::web1 pid::42 worker::aaaaaaaa");

        Assert.That(result.Code, Is.Zero, result.Err);
        Assert.That(result.Out, Does.Contain("Released 1 lock held by host::web1 pid::42 worker::aaaaaaaa."));
        Assert.That(Row(mine)!.LockedBy, Is.Null);
        Assert.That(Row(mine)!.LockedAt, Is.Null);
        Assert.That(Row(sibling)!.LockedBy, Is.EqualTo("host::web1 pid::42 worker::bbbbbbbb"));
    }

    [Test]
    public void Release_ByHostAndPid_ClearsEveryWorkerOfThatProcess_AndNoOther()
    {
        string[] dead = ["host::web_1 pid::42 worker::aaaaaaaa", "host::web_1 pid::42 worker::bbbbbbbb", "host::web_1 pid::42"];
        string[] alive = ["host::web_1 pid::421 worker::cccccccc", "host::webX1 pid::42 worker::dddddddd", "host::web2 pid::42 worker::eeeeeeee", "host::web_1 pid::4"];
        var ids = dead.Concat(alive).ToDictionary(name => name, name =>
        {
            var id = Enqueue(new CountingJob());
            Lock(id, name);
            return id;
        });

        var result = Djjob("release", "--host", "web_1", "--pid", "42");

        Assert.That(result.Code, Is.Zero, result.Err);
        Assert.That(result.Out, Does.Contain("Released 3 locks held by host::web_1 pid::42."));
        Assert.That(dead.Select(name => Row(ids[name])!.LockedBy), Is.All.Null);
        Assert.That(alive.Select(name => Row(ids[name])!.LockedBy), Is.EqualTo(alive), "'_' in the host is no wildcard, and pid 42 is not 421 or 4");
    }

    [Test]
    public void BadConnectionString_IsOneClearLine_AndExitCode1()
    {
        var result = Djjob("status", "--connection", "Server=127.0.0.1;NoSuchOption=1");
        AssertError(result, 1, "Invalid MySQL connection string");
        Assert.That(result.Err.TrimEnd().Split('\n'), Has.Length.EqualTo(1));
        AssertError(Djjob("status", "--connection", "Server=127.0.0.1"), 1, "Please provide the database user");
    }

    [Test]
    public void UnreachableServer_IsOneClearLine_AndExitCode1()
    {
        // A port nothing listens on: refused at once.
        var result = Djjob("status", "--connection", "Server=127.0.0.1;Port=1;User ID=nobody;Password=;Connection Timeout=5");
        AssertError(result, 1, "couldn't connect to the database");
        Assert.That(result.Err.TrimEnd().Split('\n'), Has.Length.EqualTo(1));
    }

    [Test]
    public void MissingTable_SaysToRunInstall_AndExitCode1()
    {
        var result = Djjob("failed", "--table", "no_such_jobs");
        AssertError(result, 1, "The jobs table `no_such_jobs` does not exist in this database: run djjob install");
    }

    [Test]
    public void MissingSqliteFile_IsNotCreated_ExceptByInstall()
    {
        var path = Path.Combine(Path.GetTempPath(), $"djjob-missing-{Guid.NewGuid():N}.db");
        AssertError(Djjob("status", "--connection", $"sqlite:{path}"), 1, "does not exist (djjob install creates it)");
        Assert.That(File.Exists(path), Is.False);
    }

    [Test]
    public void MissingConnection_IsAUsageError_UnlessTheEnvironmentGivesOne()
    {
        var missing = Run(["status", "--table", Table]);
        AssertError(missing, 2, "pass --connection");

        Enqueue(new CountingJob());
        var fromEnvironment = Run(["status", "--table", Table], environment: name => name == "DJJOB_CONNECTION" ? ConnectionString : null);
        Assert.That(fromEnvironment.Code, Is.Zero, fromEnvironment.Err);
        Assert.That(Counts(fromEnvironment.Out, "default"), Is.EqualTo(new long[] { 1, 0, 0, 1 }));
    }

    [TestCase("retry", "abc")]
    [TestCase("retry", "0")]
    [TestCase("retry")]
    [TestCase("retry", "5", "--all")]
    [TestCase("delete", "-3")]
    [TestCase("delete", "5", "--queue", "mail")]
    [TestCase("release")]
    [TestCase("release", "--worker", "w", "--host", "h", "--pid", "1")]
    [TestCase("release", "--host", "h")]
    [TestCase("status", "--watch", "--interval", "0")]
    [TestCase("failed", "--limit", "0")]
    [TestCase("frobnicate")]
    public void BadArguments_AreAUsageError_WithExitCode2(params string[] args)
    {
        var result = Djjob(args);
        Assert.That(result.Code, Is.EqualTo(2), result.Out + result.Err);
        Assert.That(result.Err, Does.StartWith("djjob: ").And.Contain("Try 'djjob --help'.").And.Not.Contain("   at "));
    }

    /// <summary>
    /// A clock whose pauses end at once, after calling <c>onPause</c> with the pause's number, while it returns true: the
    /// watch loop's refreshes happen without waiting, in step with the test.
    /// </summary>
    private sealed class SteppingTime(Func<int, bool> onPause) : TimeProvider
    {
        private readonly List<TimeSpan> _delays = [];

        public IReadOnlyList<TimeSpan> Delays
        {
            get
            {
                lock (_delays) return [.. _delays];
            }
        }

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            int tick;
            lock (_delays)
            {
                _delays.Add(dueTime);
                tick = _delays.Count;
            }
            // A pause that onPause ended by cancelling never fires: the delay then ends cancelled, as with Ctrl+C.
            if (onPause(tick)) ThreadPool.QueueUserWorkItem(_ => callback(state));
            return new NoTimer();
        }

        private sealed class NoTimer : ITimer
        {
            public bool Change(TimeSpan dueTime, TimeSpan period) => true;
            public void Dispose() { }
            public ValueTask DisposeAsync() => ValueTask.CompletedTask;
        }
    }
}
