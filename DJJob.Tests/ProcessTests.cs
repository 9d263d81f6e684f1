using DJJobNet.Samples.Worker;
using DJJobNet.Tests.Infrastructure;

namespace DJJobNet.Tests;

/// <summary>Real worker processes: signals, and several workers on one table.</summary>
[TestFixture("mysql")]
[TestFixture("sqlite")]
[TestFixture("mysql", "fastest")]
[TestFixture("sqlite", "fastest")]
public sealed class ProcessTests(string driver, string settings = "default") : StoreTest(driver, settings)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private string[] Args(params string[] more) =>
        [.. IsMySql ? new[] { "--mysql", ConnectionString } : ["--sqlite", SqlitePath], "--table", Table, "--no-demo", .. Fastest ? FastestFlags : [], .. more];

    private long EnqueueNow(IJob job) => Context.Enqueue(job, "default", DateTimeOffset.UtcNow.AddSeconds(-1));

    [TestCase(WorkerProcess.SIGTERM, "SIGTERM")]
    [TestCase(WorkerProcess.SIGINT, "SIGINT")]
    public void ASignal_LetsTheRunningJobFinish_ReleasesLocks_AndExitsZero(int signal, string name)
    {
        var done = Directory.CreateTempSubdirectory("djjob-done-").FullName;
        var slow = EnqueueNow(new SleepJob { Seconds = 2, DoneDir = done, Tag = 1 });
        var next = EnqueueNow(new HelloJob());
        using var worker = new WorkerProcess(Args("--sleep", "0.1"));
        Assert.That(() => Row(slow)?.LockedBy, Does.StartWith(worker.Name).After((int)Deadline.TotalMilliseconds, 20), "the worker took the slow job");

        worker.Signal(signal);

        Assert.That(worker.WaitForExit(Deadline), Is.Zero, worker.Output);
        Assert.That(Runs(done), Is.EqualTo(new[] { (1, worker.Id) }), "the running job finished");
        Assert.That(Row(slow), Is.Null);
        Assert.That(Row(next), Is.Not.Null, "no job is started after the signal");
        Assert.That(Scalar<long>("SELECT COUNT(*) FROM `{table}` WHERE locked_by IS NOT NULL"), Is.Zero);
        Assert.That(worker.Output, Does.Contain($"[WORKER] Received {name}... Shutting down").And.Contain("[JOB] worker shutting down after running 1 jobs"));
        Directory.Delete(done, true);
    }

    [TestCase(WorkerProcess.SIGTERM)]
    [TestCase(WorkerProcess.SIGINT)]
    public void ASignal_DuringAJobLongerThanTheShutdownTimeout_ReleasesTheJob_AndExitsZero(int signal)
    {
        var done = Directory.CreateTempSubdirectory("djjob-done-").FullName;
        var slow = EnqueueNow(new SleepJob { Seconds = 30, DoneDir = done, Tag = 1 });
        using var worker = new WorkerProcess(Args("--sleep", "0.1", "--shutdown-timeout", "1"));
        Assert.That(() => Row(slow)?.LockedBy, Does.StartWith(worker.Name).After((int)Deadline.TotalMilliseconds, 20));

        worker.Signal(signal);

        Assert.That(worker.WaitForExit(TimeSpan.FromSeconds(20)), Is.Zero, worker.Output);
        var row = Row(slow)!;
        Assert.That(row.LockedBy, Is.Null, "released for another worker");
        Assert.That(row.Attempts, Is.Zero, "a released job has not used up an attempt");
        Assert.That(Scalar<long>("SELECT COUNT(*) FROM `{table}` WHERE locked_by LIKE @name", new { name = worker.Name + "%" }), Is.Zero);
        Assert.That(Runs(done), Is.Empty, "the job did not finish");
        Assert.That(worker.Output, Does.Contain($"[WORKER] job::{slow} did not finish within the shutdown timeout; releasing it for another worker"));
        Directory.Delete(done, true);
    }

    [Test]
    public void AWorkerKilledMidJob_LeavesItLockedUntilMaxRunTime_ThenAnotherWorkerRunsItOnce()
    {
        var done = Directory.CreateTempSubdirectory("djjob-done-").FullName;
        var slow = EnqueueNow(new SleepJob { Seconds = 30, DoneDir = done, Tag = 7 });
        using (var doomed = new WorkerProcess(Args("--sleep", "0.1")))
        {
            Assert.That(() => Row(slow)?.LockedBy, Does.StartWith(doomed.Name).After((int)Deadline.TotalMilliseconds, 20));
            doomed.Signal(WorkerProcess.SIGKILL);
            doomed.WaitForExit(Deadline);
        }
        Assert.That(Row(slow)!.LockedBy, Is.Not.Null, "a killed worker cannot release its lock");
        Execute("UPDATE `{table}` SET handler = @handler WHERE id = @slow",
            new { slow, handler = HandlerOf(new SleepJob { Seconds = 0, DoneDir = done, Tag = 7 }) });

        using (var early = new WorkerProcess(Args("--until-empty", "--max-run-time", "3600")))
            Assert.That(early.WaitForExit(Deadline), Is.Zero, early.Output);
        Assert.That(Row(slow)!.LockedBy, Is.Not.Null, "not taken while the lock is younger than MaxRunTime");

        using (var rescuer = new WorkerProcess(Args("--until-empty", "--max-run-time", "0.001")))
            Assert.That(rescuer.WaitForExit(Deadline), Is.Zero, rescuer.Output);

        Assert.That(Row(slow), Is.Null, "run by another worker and deleted: not lost");
        Assert.That(Runs(done).Select(r => r.Tag), Is.EqualTo(new[] { 7 }), "run once to completion");
        Directory.Delete(done, true);
    }

    [Test]
    public void AWorkerInAnotherTimeZone_RunsAJobAtItsUtcTime()
    {
        var done = Directory.CreateTempSubdirectory("djjob-done-").FullName;
        var due = DateTimeOffset.UtcNow.AddSeconds(3);
        var id = Context.Enqueue(new SleepJob { Seconds = 0, DoneDir = done, Tag = 9 }, "default", due);
        using var worker = new WorkerProcess("Worker.dll", new Dictionary<string, string> { ["TZ"] = "Asia/Tokyo" }, Args("--sleep", "0.1"));

        Assert.That(() => Runs(done), Is.Not.Empty.After(20_000, 20));
        var ranAt = DateTimeOffset.UtcNow;

        Assert.That(ranAt, Is.GreaterThanOrEqualTo(due), "not before run_at, although the worker's local clock reads 9 hours ahead");
        Assert.That(() => Row(id), Is.Null.After(10_000, 20));
        worker.Signal(WorkerProcess.SIGTERM);
        Assert.That(worker.WaitForExit(Deadline), Is.Zero);
        Directory.Delete(done, true);
    }

    [Test]
    public void ASignal_WakesAnIdleWorker()
    {
        using var worker = new WorkerProcess(Args("--sleep", "3600"));
        Assert.That(() => worker.Output, Does.Contain("may be empty").After((int)Deadline.TotalMilliseconds, 20));

        worker.Signal(WorkerProcess.SIGTERM);

        Assert.That(worker.WaitForExit(TimeSpan.FromSeconds(20)), Is.Zero, worker.Output);
    }

    [Test]
    public async Task TheSampleWorker_RunsACalendarJob_GivenTheGraphSettings()
    {
        await using var graph = new LocalGraph();
        var id = EnqueueNow(new Facebook.Calendar { Name = "Launch", StartTime = DateTimeOffset.UtcNow.AddDays(1), AccessToken = "user-token" });
        using var worker = new WorkerProcess("Worker.dll", new Dictionary<string, string>
        {
            ["FACEBOOK_GRAPH_URL"] = graph.BaseUrl.ToString(),
            ["FACEBOOK_APP_SECRET"] = "the-secret",
        }, Args("--until-empty"));

        Assert.That(worker.WaitForExit(Deadline), Is.Zero, worker.Output);

        Assert.That(Row(id), Is.Null);
        var post = graph.Requests.Single();
        Assert.That(post.Path, Is.EqualTo("/v24.0/me/events"));
        Assert.That(post.Form["appsecret_proof"], Is.Not.Empty);
        Assert.That(worker.Output, Does.Contain("Created Facebook event 1234567890 for \"Launch\""));
    }

    [Test]
    public void FourWorkerProcesses_RunEachOf5000JobsExactlyOnce()
    {
        const int jobs = 5000;
        var done = Directory.CreateTempSubdirectory("djjob-done-").FullName;
        Context.BulkEnqueue(Enumerable.Range(1, jobs).Select(i => new SleepJob { Seconds = 0, DoneDir = done, Tag = i }), "default", DateTimeOffset.UtcNow.AddSeconds(-1));

        var workers = Enumerable.Range(0, 4).Select(_ => new WorkerProcess(Args("--until-empty"))).ToList();
        try
        {
            foreach (var worker in workers) Assert.That(worker.WaitForExit(TimeSpan.FromMinutes(3)), Is.Zero, worker.Output);
        }
        finally
        {
            workers.ForEach(w => w.Dispose());
        }

        var runs = Runs(done);
        Assert.That(runs.Select(r => r.Tag).Order(), Is.EqualTo(Enumerable.Range(1, jobs)), "every job ran, none twice");
        Assert.That(Store.Status("default").Total, Is.Zero);
        TestContext.Out.WriteLine($"jobs per worker: {string.Join(", ", runs.GroupBy(r => r.Pid).Select(g => g.Count()))}");
        Directory.Delete(done, true);
    }

    private static string HandlerOf(IJob job) => Internal.HandlerSerializer.Serialize(job);

    private static List<(int Tag, int Pid)> Runs(string dir) =>
        Directory.GetFiles(dir).Select(f => Path.GetFileName(f).Split('.')).Select(p => (int.Parse(p[0]), int.Parse(p[1]))).ToList();
}
