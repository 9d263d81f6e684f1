using DJJobNet.Tests.Infrastructure;

namespace DJJobNet.Tests;

[TestFixture("mysql")]
[TestFixture("sqlite")]
[TestFixture("mysql", "fastest")]
[TestFixture("sqlite", "fastest")]
public sealed class WorkerTests(string driver, string settings = "default") : StoreTest(driver, settings)
{
    [Test]
    public void Start_RunsAJob_DeletesItsRow_AndLogsAsPhpDoes()
    {
        var job = new CountingJob();
        var id = Enqueue(job);

        Worker(count: 1).Start();

        Assert.That(CountingJob.RunsOf(job.Key), Is.EqualTo(1));
        Assert.That(Row(id), Is.Null);
        var log = LogText.ToString();
        Assert.That(log, Does.Contain("[2026-12-03T12:00:00+00:00] [JOB] Starting worker host::test pid::1 on queue::default"));
        Assert.That(log, Does.Contain($"[JOB] completed job::{id}"));
        Assert.That(log, Does.Contain("[JOB] worker shutting down after running 1 jobs, over 1 polling iterations"));
    }

    [Test]
    public void Name_IsHostAndPidAsInPhp_PlusARandomIdThatKeepsTwoWorkersApart()
    {
        var first = new DJWorker(new DJWorkerOptions(), Context);
        var second = new DJWorker(new DJWorkerOptions(), Context);
        Assert.That(first.Name, Does.Match($@"^host::{Environment.MachineName} pid::{Environment.ProcessId} worker::[0-9a-f]{{8}}$"));
        Assert.That(second.Name, Is.Not.EqualTo(first.Name), "same host and pid (containers run as pid 1), still two names");
    }

    [Test]
    public void FailOnOutput_InTwoWorkersOfOneProcess_CapturesEachJobsOwnOutputOnly()
    {
        for (var i = 0; i < 40; i++) Enqueue(new CountingJob());
        var chatty = Enqueue(new ChattyJob());
        var options = () => new DJWorkerOptions { FailOnOutput = true, Sleep = TimeSpan.Zero, ExitWhenEmpty = true };
        var a = Task.Run(() => Worker(count: 0, options(), name: "a").Start());
        var b = Task.Run(() => Worker(count: 0, options(), name: "b").Start());
        Assert.That(Task.WaitAll([a, b], TimeSpan.FromSeconds(30)), Is.True);

        Assert.That(Scalar<long>("SELECT COUNT(*) FROM `{table}` WHERE id <> @chatty", new { chatty }), Is.Zero, "no quiet job failed");
        Assert.That(Row(chatty)!.Error, Is.EqualTo("Job produced unexpected output: hello from the job"));
    }

    [Test]
    public void FailOnOutput_AJobRunningThroughAStop_IsNotFailedByTheWorkersLogLines()
    {
        var id = Enqueue(new SlowJob { Milliseconds = 500 });
        var worker = Worker(count: 0, new DJWorkerOptions { FailOnOutput = true, Sleep = TimeSpan.Zero }, name: "slow");
        var run = Task.Run(worker.Start);
        Assert.That(() => Row(id)?.LockedBy, Is.EqualTo("slow").After(10_000, 5));

        worker.Stop();

        Assert.That(run.Wait(TimeSpan.FromSeconds(10)), Is.True);
        Assert.That(Row(id), Is.Null, "the job succeeded");
    }

    [Test]
    public void MaxRunTimeOfTimeSpanMaxValue_MeansLocksNeverExpire_AndTheWorkerStillRuns()
    {
        var job = new CountingJob();
        Enqueue(job);
        Worker(count: 1, new DJWorkerOptions { MaxRunTime = TimeSpan.MaxValue }).Start();
        Assert.That(CountingJob.RunsOf(job.Key), Is.EqualTo(1));
    }

    [Test]
    public void ExitWhenEmpty_ExitsOnADatabaseError_ForCronToTryAgain()
    {
        Execute("DROP TABLE `{table}`");
        Worker(count: 0, new DJWorkerOptions { ExitWhenEmpty = true }).Start();
        Assert.That(LogText.ToString(), Does.Contain("database error while claiming").And.Contain("over 1 polling iterations"));
    }

    [Test]
    public void Start_RunsJobsOfItsOwnQueueOnly()
    {
        var mine = new CountingJob();
        var theirs = new CountingJob();
        Enqueue(mine, "mine");
        var other = Enqueue(theirs, "theirs");

        Worker(count: 3, new DJWorkerOptions { Queue = "mine", Sleep = TimeSpan.Zero }).Start();

        Assert.That(CountingJob.RunsOf(mine.Key), Is.EqualTo(1));
        Assert.That(CountingJob.RunsOf(theirs.Key), Is.Zero);
        Assert.That(Row(other), Is.Not.Null);
        Assert.That(LogText.ToString(), Does.Contain("[JOB] Failed to get a job, queue::mine may be empty"));
    }

    [Test]
    public void Start_RunsJobsInDueOrder()
    {
        var later = new OrderJob();
        var first = new OrderJob();
        Enqueue(later, runAt: Now.AddSeconds(-1));
        Enqueue(first, runAt: Now.AddSeconds(-10));

        // One poll claims one job by default, and a whole batch with the fastest settings; either way, due first.
        Worker(count: 1).Start();

        Assert.That(OrderJob.Ran.Where(k => k == first.Key || k == later.Key), Is.EqualTo(Fastest ? [first.Key, later.Key] : new[] { first.Key }));
    }

    public sealed class OrderJob : IJob
    {
        public static readonly System.Collections.Concurrent.ConcurrentQueue<string> Ran = [];
        public string Key { get; set; } = Guid.NewGuid().ToString("N");
        public void Perform() => Ran.Enqueue(Key);
    }

    [Test]
    public void Start_DoesNotRunAJob_BeforeItsRunAt()
    {
        var job = new CountingJob();
        var id = Enqueue(job, runAt: Now.AddMinutes(10));

        Worker(count: 1).Start();
        Assert.That(Row(id), Is.Not.Null);

        Clock.Advance(TimeSpan.FromMinutes(10));
        Worker(count: 1).Start();
        Assert.That(Row(id), Is.Null);
        Assert.That(CountingJob.RunsOf(job.Key), Is.EqualTo(1));
    }

    [Test]
    public void AFailure_BacksOffOnDelayedJobsSchedule_ThenFailsForGoodWithItsError()
    {
        var job = new FailingJob { Message = "smtp down" };
        var id = Enqueue(job);
        var options = new DJWorkerOptions { MaxAttempts = 5 };

        // attempts^4 + 5 seconds after attempts 1 to 4: 6, 21, 86, 261.
        foreach (var (attempt, wait) in new[] { (1, 6), (2, 21), (3, 86), (4, 261) })
        {
            Worker(count: 1, options).Start();
            var row = Row(id)!;
            Assert.That(row.Attempts, Is.EqualTo(attempt));
            Assert.That(row.RunAt, Is.EqualTo(Now.AddSeconds(wait)), $"run_at after attempt {attempt}");
            Assert.That(row.FailedAt, Is.Null);
            Assert.That(row.Error, Is.EqualTo("smtp down"), "the last error is kept at each attempt");
            Assert.That(row.LockedBy, Is.Null);
            Assert.That(row.LockedAt, Is.Null);

            Clock.Advance(TimeSpan.FromSeconds(wait - 1));
            Worker(count: 1, options).Start();
            Assert.That(Row(id)!.Attempts, Is.EqualTo(attempt), "not retried before its backoff is over");
            Clock.Advance(TimeSpan.FromSeconds(1));
        }
        Assert.That(FailingJob.HookCallsOf(job.Key), Is.Empty);

        Worker(count: 1, options).Start();

        var failed = Row(id)!;
        Assert.That(failed.Attempts, Is.EqualTo(5));
        Assert.That(failed.FailedAt, Is.EqualTo(Now));
        Assert.That(failed.Error, Is.EqualTo("smtp down"));
        Assert.That(failed.LockedBy, Is.Null);
        Assert.That(FailingJob.HookCallsOf(job.Key), Is.EqualTo(new[] { "smtp down" }));
        Assert.That(LogText.ToString(), Does.Contain($"[JOB] failure in job::{id}"));

        Clock.Advance(TimeSpan.FromDays(30));
        Worker(count: 1, options).Start();
        Assert.That(Row(id)!.Attempts, Is.EqualTo(5), "a failed job is never run again");
        Assert.That(Store.Status("default"), Is.EqualTo(new JobStatus(0, 0, 1, 1)));
    }

    [Test]
    public void APermanentFailure_FailsTheJobAtOnce_WithoutUsingUpItsAttempts()
    {
        var job = new PermanentlyFailingJob();
        var id = Enqueue(job);

        Worker(count: 1).Start();

        var row = Row(id)!;
        Assert.That(row.Attempts, Is.EqualTo(1));
        Assert.That(row.FailedAt, Is.EqualTo(Now));
        Assert.That(row.Error, Is.EqualTo("token revoked"));
    }

    [Test]
    public void Backoff_CanBeReplaced()
    {
        var id = Enqueue(new FailingJob());
        Worker(count: 1, new DJWorkerOptions { Backoff = n => TimeSpan.FromMinutes(n) }).Start();
        Assert.That(Row(id)!.RunAt, Is.EqualTo(Now.AddMinutes(1)));
    }

    [Test]
    public void DefaultBackoff_GrowsFromSecondsToDays()
    {
        Assert.That(DJWorkerOptions.DefaultBackoff(1), Is.EqualTo(TimeSpan.FromSeconds(6)));
        Assert.That(DJWorkerOptions.DefaultBackoff(5), Is.EqualTo(TimeSpan.FromSeconds(630)));
        Assert.That(DJWorkerOptions.DefaultBackoff(10), Is.GreaterThan(TimeSpan.FromHours(2)));
        Assert.That(DJWorkerOptions.DefaultBackoff(20), Is.GreaterThan(TimeSpan.FromDays(1)));
        Assert.That(DJWorkerOptions.DefaultBackoff(int.MaxValue), Is.EqualTo(TimeSpan.FromDays(36525)), "capped, never overflowing");
    }

    [Test]
    public void RetryException_ReschedulesAfterItsDelay_AndCountsTheAttempt()
    {
        var id = Enqueue(new RetryingJob { DelaySeconds = 90 });

        Worker(count: 1).Start();

        var row = Row(id)!;
        Assert.That(row.Attempts, Is.EqualTo(1));
        Assert.That(row.RunAt, Is.EqualTo(Now.AddSeconds(90)));
        Assert.That(row.FailedAt, Is.Null);
        Assert.That(row.LockedBy, Is.Null);
        Assert.That(LogText.ToString(), Does.Contain($"[JOB] job::{id} Caught DJRetryException \"not yet\" on attempt 1/5. Try again in 90 seconds."));
    }

    [Test]
    public void RetryException_WithAnEnormousDelay_IsCutToACentury_AndTheWorkerGoesOn()
    {
        var id = Enqueue(new RetryingJob { DelaySeconds = null, Forever = true });
        var good = new CountingJob();
        Enqueue(good);

        Worker(count: 2).Start();

        var row = Row(id)!;
        Assert.That(row.Attempts, Is.EqualTo(1));
        Assert.That(row.RunAt, Is.EqualTo(Now.AddDays(36525)));
        Assert.That(CountingJob.RunsOf(good.Key), Is.EqualTo(1));
    }

    [Test]
    public void ABackoffThatThrows_FallsBackToTheDefaultSchedule()
    {
        var id = Enqueue(new FailingJob());
        Worker(count: 1, new DJWorkerOptions { Backoff = _ => throw new InvalidOperationException("bad backoff") }).Start();
        Assert.That(Row(id)!.RunAt, Is.EqualTo(Now.AddSeconds(6)));
        Assert.That(LogText.ToString(), Does.Contain("Backoff(1) threw \"bad backoff\""));
    }

    [Test]
    public void AJobsState_ComesBackUnchanged()
    {
        var job = new DatesJob
        {
            Utc = new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc),
            Offset = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.FromHours(9)),
            Iso = "2026-01-02T03:04:05Z",
            Number = Random.Shared.Next(),
        };
        Enqueue(job);

        Worker(count: 1).Start();

        var seen = DatesJob.Seen.Single(j => j.Number == job.Number);
        Assert.That(seen.Utc, Is.EqualTo(job.Utc));
        Assert.That(seen.Utc.Kind, Is.EqualTo(DateTimeKind.Utc));
        Assert.That(seen.Offset, Is.EqualTo(job.Offset));
        Assert.That(seen.Offset.Offset, Is.EqualTo(TimeSpan.FromHours(9)));
        Assert.That(seen.Iso, Is.EqualTo("2026-01-02T03:04:05Z"), "a string that looks like a date stays a string");
    }

    [Test]
    public void RetryException_WaitsTwoHours_ByDefault()
    {
        var id = Enqueue(new RetryingJob());
        Worker(count: 1).Start();
        Assert.That(Row(id)!.RunAt, Is.EqualTo(Now.AddSeconds(7200)));
    }

    [Test]
    public void RetryException_GivesUp_OnTheLastAttempt()
    {
        var id = Enqueue(new RetryingJob { DelaySeconds = 1 });
        var options = new DJWorkerOptions { MaxAttempts = 2 };

        Worker(count: 1, options).Start();
        Clock.Advance(TimeSpan.FromSeconds(1));
        Worker(count: 1, options).Start();

        var row = Row(id)!;
        Assert.That(row.Attempts, Is.EqualTo(2));
        Assert.That(row.FailedAt, Is.EqualTo(Now));
        Assert.That(row.Error, Is.EqualTo($"[JOB] job::{id} Caught DJRetryException \"not yet\" on attempt 2/2. Giving up."));
    }

    [TestCase("<not json>", "Unexpected character")]
    [TestCase("{\"$type\":\"No.Such.Job, NoSuchAssembly\"}", "does not exist")]
    [TestCase("{\"$type\":\"DJJobNet.Tests.Infrastructure.NotAJob, DJJob.Tests\"}", "is not a job")]
    [TestCase("{\"$type\":\"System.IO.FileInfo, System.Private.CoreLib\",\"fileName\":\"/etc/passwd\"}", "is not a job")]
    [TestCase("{\"$type\":\"DJJobNet.Tests.Infrastructure.PayloadJob, DJJob.Tests\",\"Payload\":{\"$type\":\"DJJobNet.Tests.Infrastructure.NotAJob, DJJob.Tests\"}}", "is not a job")]
    [TestCase("{\"$type\":\"DJJobNet.Tests.WorkerTests+GenericJob`1[[System.IO.FileInfo, System.Private.CoreLib]], DJJob.Tests\",\"Value\":{\"fileName\":\"/etc/passwd\"}}", "generic job")]
    [TestCase("{\"Key\":\"no type tag\"}", "IJob")]
    [TestCase("null", "null")]
    public void ABadHandler_IsAFailureWithAClearError_AndTheWorkerGoesOn(string handler, string reason)
    {
        var built = NotAJob.Built;
        Execute("INSERT INTO `{table}` (handler, queue, run_at, created_at) VALUES (@handler, 'default', @now, @now)", new { handler, now = Now.AddSeconds(-1) });
        var bad = Scalar<long>("SELECT MAX(id) FROM `{table}`");
        var good = new CountingJob();
        Enqueue(good);

        Worker(count: 2, new DJWorkerOptions { MaxAttempts = 1 }).Start();

        var row = Row(bad)!;
        Assert.That(row.Error, Does.StartWith($"[JOB] bad handler for job::{bad}").And.Contain(reason));
        Assert.That(row.FailedAt, Is.Not.Null);
        Assert.That(row.LockedBy, Is.Null);
        Assert.That(CountingJob.RunsOf(good.Key), Is.EqualTo(1), "the worker went on to the next job");
        Assert.That(NotAJob.Built, Is.EqualTo(built), "nothing but a job type is ever instantiated");
    }

    [Test]
    public void FailOnOutput_FailsAJobThatPrints()
    {
        var id = Enqueue(new ChattyJob());
        Worker(count: 1, new DJWorkerOptions { FailOnOutput = true }).Start();
        Assert.That(Row(id)!.Error, Is.EqualTo("Job produced unexpected output: hello from the job"));
    }

    [Test]
    public void FailOnOutput_DoesNotCountDJJobsOwnLogLines_WrittenWhileTheJobRuns()
    {
        var id = Enqueue(new JobDuringWhichDJJobLogs());
        Worker(count: 1, new DJWorkerOptions { FailOnOutput = true }).Start();
        Assert.That(Row(id), Is.Null, "the job succeeded");
    }

    [Test]
    public void WithoutFailOnOutput_APrintingJobSucceeds()
    {
        var id = Enqueue(new ChattyJob());
        Worker(count: 1).Start();
        Assert.That(Row(id), Is.Null);
    }

    [Test]
    public void AJobLockedByAnotherWorker_IsLeftAlone_UntilTheLockExpires()
    {
        var job = new CountingJob();
        var id = Enqueue(job);
        Execute("UPDATE `{table}` SET locked_at = @now, locked_by = 'host::gone pid::9' WHERE id = @id", new { now = Now, id });

        Clock.Advance(TimeSpan.FromHours(4) - TimeSpan.FromSeconds(1));
        Worker(count: 1).Start();
        Assert.That(CountingJob.RunsOf(job.Key), Is.Zero);
        Assert.That(Row(id)!.LockedBy, Is.EqualTo("host::gone pid::9"));

        Clock.Advance(TimeSpan.FromSeconds(2));
        Worker(count: 1).Start();
        Assert.That(CountingJob.RunsOf(job.Key), Is.EqualTo(1));
        Assert.That(Row(id), Is.Null);
    }

    [Test]
    public void MaxRunTime_SetsWhenALockExpires()
    {
        var job = new CountingJob();
        Enqueue(job);
        Execute("UPDATE `{table}` SET locked_at = @now, locked_by = 'host::gone pid::9'", new { now = Now });
        Clock.Advance(TimeSpan.FromMinutes(11));

        Worker(count: 1, new DJWorkerOptions { MaxRunTime = TimeSpan.FromMinutes(10) }).Start();

        Assert.That(CountingJob.RunsOf(job.Key), Is.EqualTo(1));
    }

    [Test]
    public void AJobLockedUnderTheWorkersOwnName_IsTakenBack()
    {
        var job = new CountingJob();
        Enqueue(job);
        Execute("UPDATE `{table}` SET locked_at = @now, locked_by = 'host::test pid::1'", new { now = Now });

        Worker(count: 1).Start();

        Assert.That(CountingJob.RunsOf(job.Key), Is.EqualTo(1));
    }

    [Test]
    public void AJobOutOfAttempts_IsNotTaken()
    {
        var job = new CountingJob();
        Enqueue(job);
        Execute("UPDATE `{table}` SET attempts = 5");

        Worker(count: 1).Start();

        Assert.That(CountingJob.RunsOf(job.Key), Is.Zero);
    }

    [Test]
    public void Count_LimitsThePollingIterations()
    {
        for (var i = 0; i < 5; i++) Enqueue(new CountingJob());

        Worker(count: 3).Start();

        // A polling iteration is one claim: of one job by default, of up to BatchSize jobs with the fastest settings.
        Assert.That(Store.Status("default").Total, Is.EqualTo(Fastest ? 0 : 2));
        Assert.That(LogText.ToString(), Does.Contain(Fastest ? "after running 5 jobs, over 3 polling iterations" : "after running 3 jobs, over 3 polling iterations"));
    }

    [Test]
    public void ExitWhenEmpty_ReturnsAtTheFirstEmptyPoll()
    {
        Enqueue(new CountingJob());
        Enqueue(new FailingJob());

        Worker(count: 0, new DJWorkerOptions { ExitWhenEmpty = true }).Start();

        Assert.That(Store.Status("default"), Is.EqualTo(new JobStatus(1, 0, 0, 1)));
        Assert.That(LogText.ToString(), Does.Contain($"after running 2 jobs, over {(Fastest ? 2 : 3)} polling iterations"));
    }

    [Test]
    public void Stop_EndsASleepingWorker()
    {
        var worker = Worker(count: 0, new DJWorkerOptions { Sleep = TimeSpan.FromHours(1) });
        var run = Task.Run(worker.Start);
        Assert.That(() => LogText.ToString(), Does.Contain("may be empty").After(10_000, 20), "the worker polled and went to sleep");

        worker.Stop();

        Assert.That(run.Wait(TimeSpan.FromSeconds(10)), Is.True, "Start returned");
        Assert.That(LogText.ToString(), Does.Contain("[JOB] worker shutting down after running 0 jobs, over 1 polling iterations"));
    }

    [Test]
    public void ADatabaseError_IsLoggedWithWhatWasBeingDone_AndTheWorkerPollsAgainAfterAPause()
    {
        Execute("DROP TABLE `{table}`");
        var worker = Worker(count: 0);
        var run = Task.Run(worker.Start);
        Assert.That(() => LogText.ToString(), Does.Contain("[JOB] database error while claiming a job on queue::default: DJJob's jobs table").After(10_000, 10));

        Store.Install();
        var job = new CountingJob();
        Enqueue(job);

        // Move the fake clock on until the worker's pause is over (it may not have started waiting yet).
        Assert.That(() => { Clock.Advance(TimeSpan.FromSeconds(1)); return CountingJob.RunsOf(job.Key); },
            Is.EqualTo(1).After(10_000, 10), "polling again after the pause, it found the job");
        worker.Stop();
        Assert.That(run.Wait(TimeSpan.FromSeconds(10)), Is.True);
    }

    [Test]
    public void TheFailureHook_ThrowingIsLogged_AndTheWorkerGoesOn()
    {
        var id = Enqueue(new ThrowingHookJob());
        var good = new CountingJob();
        Enqueue(good);

        Worker(count: 2, new DJWorkerOptions { MaxAttempts = 1 }).Start();

        Assert.That(Row(id)!.FailedAt, Is.Not.Null);
        Assert.That(CountingJob.RunsOf(good.Key), Is.EqualTo(1));
        Assert.That(LogText.ToString(), Does.Contain($"[JOB] OnDjjobRetryError of job::{id} threw: hook broke"));
    }

    [Test]
    public void SetLogLevel_HidesMessagesBelowIt()
    {
        Context.Log.Level = DJLogLevel.Warn;
        Enqueue(new CountingJob());

        Worker(count: 2).Start();

        Assert.That(LogText.ToString(), Is.Empty);
    }

    public sealed class DatesJob : IJob
    {
        public static readonly System.Collections.Concurrent.ConcurrentBag<DatesJob> Seen = [];
        public DateTime Utc { get; set; }
        public DateTimeOffset Offset { get; set; }
        public string Iso { get; set; } = "";
        public int Number { get; set; }
        public void Perform() => Seen.Add(this);
    }

    /// <summary>Stands for a log line that DJJob writes to standard output while a job runs (a signal arriving).</summary>
    public sealed class JobDuringWhichDJJobLogs : IJob
    {
        public void Perform() => Internal.DJLogger.Default.Log("[WORKER] Received SIGTERM... Shutting down", DJLogLevel.Info);
    }

    public sealed class GenericJob<T> : IJob
    {
        public T? Value { get; set; }
        public void Perform() { }
    }

    [Test]
    public void AGenericJobOfAPlainType_RunsNormally()
    {
        var id = Enqueue(new GenericJob<int> { Value = 3 });
        Worker(count: 1).Start();
        Assert.That(Row(id), Is.Null);
    }

    public sealed class SlowJob : IJob
    {
        public int Milliseconds { get; set; }
        public void Perform() => Thread.Sleep(Milliseconds);
    }

    public sealed class PermanentlyFailingJob : IJob
    {
        public void Perform() => throw new DJPermanentFailureException("token revoked");
    }

    public sealed class ThrowingHookJob : IJob, IDJJobRetryErrorHandler
    {
        public void Perform() => throw new InvalidOperationException("job broke");
        public void OnDjjobRetryError(string error) => throw new InvalidOperationException("hook broke");
    }
}
