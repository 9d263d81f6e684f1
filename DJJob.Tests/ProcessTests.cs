using DJJobNet.Samples.Worker;
using DJJobNet.Tests.Infrastructure;

namespace DJJobNet.Tests;

/// <summary>Real worker processes: signals, and several workers on one table.</summary>
[TestFixture("mysql")]
[TestFixture("sqlite")]
public sealed class ProcessTests(string driver) : StoreTest(driver)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private string[] Args(params string[] more) =>
        [.. IsMySql ? new[] { "--mysql", ConnectionString } : ["--sqlite", SqlitePath], "--table", Table, "--no-demo", .. more];

    private long EnqueueNow(IJob job) => Context.Enqueue(job, "default", DateTimeOffset.UtcNow.AddSeconds(-1));

    [TestCase(WorkerProcess.SIGTERM, "SIGTERM")]
    [TestCase(WorkerProcess.SIGINT, "SIGINT")]
    public void ASignal_LetsTheRunningJobFinish_ReleasesLocks_AndExitsZero(int signal, string name)
    {
        var done = Directory.CreateTempSubdirectory("djjob-done-").FullName;
        var slow = EnqueueNow(new SleepJob { Seconds = 2, DoneDir = done, Tag = 1 });
        var next = EnqueueNow(new HelloJob());
        using var worker = new WorkerProcess(Args("--sleep", "0.1"));
        Assert.That(() => Row(slow)?.LockedBy, Is.EqualTo(worker.Name).After((int)Deadline.TotalMilliseconds, 20), "the worker took the slow job");

        worker.Signal(signal);

        Assert.That(worker.WaitForExit(Deadline), Is.Zero, worker.Output);
        Assert.That(Runs(done), Is.EqualTo(new[] { (1, worker.Id) }), "the running job finished");
        Assert.That(Row(slow), Is.Null);
        Assert.That(Row(next), Is.Not.Null, "no job is started after the signal");
        Assert.That(Scalar<long>("SELECT COUNT(*) FROM `{table}` WHERE locked_by IS NOT NULL"), Is.Zero);
        Assert.That(worker.Output, Does.Contain($"[WORKER] Received {name}... Shutting down").And.Contain("[JOB] worker shutting down after running 1 jobs"));
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
    public void ThreeWorkerProcesses_RunEachOf1000JobsExactlyOnce()
    {
        var done = Directory.CreateTempSubdirectory("djjob-done-").FullName;
        Context.BulkEnqueue(Enumerable.Range(1, 1000).Select(i => new SleepJob { Seconds = 0, DoneDir = done, Tag = i }), "default", DateTimeOffset.UtcNow.AddSeconds(-1));

        var workers = Enumerable.Range(0, 3).Select(_ => new WorkerProcess(Args("--until-empty"))).ToList();
        try
        {
            foreach (var worker in workers) Assert.That(worker.WaitForExit(TimeSpan.FromMinutes(3)), Is.Zero, worker.Output);
        }
        finally
        {
            workers.ForEach(w => w.Dispose());
        }

        var runs = Runs(done);
        Assert.That(runs.Select(r => r.Tag).Order(), Is.EqualTo(Enumerable.Range(1, 1000)), "every job ran, none twice");
        Assert.That(Store.Status("default").Total, Is.Zero);
        TestContext.Out.WriteLine($"jobs per worker: {string.Join(", ", runs.GroupBy(r => r.Pid).Select(g => g.Count()))}");
        Directory.Delete(done, true);
    }

    private static List<(int Tag, int Pid)> Runs(string dir) =>
        Directory.GetFiles(dir).Select(f => Path.GetFileName(f).Split('.')).Select(p => (int.Parse(p[0]), int.Parse(p[1]))).ToList();
}
