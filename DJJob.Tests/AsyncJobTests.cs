using System.Collections.Concurrent;
using DJJobNet.Tests.Infrastructure;

namespace DJJobNet.Tests;

/// <summary>IAsyncJob, RunAsync and the stop token a running job sees.</summary>
[TestFixture("mysql")]
[TestFixture("sqlite")]
public sealed class AsyncJobTests(string driver) : StoreTest(driver)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Test]
    public async Task AnAsyncJob_IsAwaited_AndDeletedOnSuccess()
    {
        var job = new AwaitingJob { Key = Guid.NewGuid().ToString("N") };
        var id = Enqueue(job);

        await Worker(count: 1).RunAsync();

        Assert.That(AwaitingJob.Finished, Does.Contain(job.Key));
        Assert.That(Row(id), Is.Null);
        Assert.That(LogText.ToString(), Does.Contain($"[JOB] completed job::{id}"));
    }

    [Test]
    public async Task AnAsyncJobThatThrows_IsAFailedAttempt_WithBackoff()
    {
        var id = Enqueue(new AwaitingJob { Throw = "async boom" });

        await Worker(count: 1).RunAsync();

        var row = Row(id)!;
        Assert.That((row.Attempts, row.Error, row.RunAt), Is.EqualTo((1, "async boom", (DateTime?)Now.AddSeconds(6))));
    }

    [Test]
    public async Task Stop_CancelsTheTokenOfARunningAsyncJob_WhichIsReleasedWithoutCountingAnAttempt()
    {
        var job = new WaitsForCancellationJob { Key = Guid.NewGuid().ToString("N") };
        var id = Enqueue(job);
        var worker = Worker(count: 0, name: "async");
        var run = worker.RunAsync();
        Assert.That(() => WaitsForCancellationJob.Started.ContainsKey(job.Key), Is.True.After(10_000, 5));

        worker.Stop();

        Assert.That(await Task.WhenAny(run, Task.Delay(Deadline)), Is.SameAs(run));
        Assert.That(WaitsForCancellationJob.Canceled, Does.Contain(job.Key));
        var row = Row(id)!;
        Assert.That((row.LockedBy, row.Attempts, row.Error, row.FailedAt), Is.EqualTo(((string?)null, 0, (string?)null, (DateTime?)null)));
        Assert.That(LogText.ToString(), Does.Contain($"[WORKER] job::{id} was canceled by the stop; releasing it for another worker"));
    }

    [Test]
    public async Task CancelingRunAsyncsToken_StopsTheWorker()
    {
        var job = new WaitsForCancellationJob { Key = Guid.NewGuid().ToString("N") };
        var id = Enqueue(job);
        using var cancel = new CancellationTokenSource();
        var run = Worker(count: 0, name: "token").RunAsync(cancel.Token);
        Assert.That(() => WaitsForCancellationJob.Started.ContainsKey(job.Key), Is.True.After(10_000, 5));

        await cancel.CancelAsync();

        Assert.That(await Task.WhenAny(run, Task.Delay(Deadline)), Is.SameAs(run));
        Assert.That(Row(id)!.LockedBy, Is.Null);
    }

    [Test]
    public async Task AnAsyncJobThatIgnoresTheToken_IsGivenTheShutdownTimeout_ThenReleased()
    {
        var job = new IgnoresCancellationJob { Key = Guid.NewGuid().ToString("N") };
        var id = Enqueue(job);
        var worker = Worker(count: 0, new DJWorkerOptions { Sleep = TimeSpan.Zero, ShutdownTimeout = TimeSpan.FromSeconds(5) }, name: "stubborn");
        var run = worker.RunAsync();
        Assert.That(() => IgnoresCancellationJob.Started.ContainsKey(job.Key), Is.True.After(10_000, 5));

        worker.Stop();
        // The grace period runs on the test's clock: move it on until the worker gives up on the job.
        var deadline = DateTime.UtcNow + Deadline;
        while (!run.IsCompleted && DateTime.UtcNow < deadline)
        {
            Clock.Advance(TimeSpan.FromSeconds(1));
            await Task.WhenAny(run, Task.Delay(20));
        }

        Assert.That(run.IsCompleted, Is.True, LogText.ToString());
        Assert.That(Row(id)!.LockedBy, Is.Null);
        Assert.That(LogText.ToString(), Does.Contain($"[WORKER] job::{id} did not finish within the shutdown timeout; releasing it for another worker"));
        IgnoresCancellationJob.Release(job.Key);
    }

    [Test]
    public async Task FailOnOutput_SeesWhatAnAsyncJobWritesAfterAnAwait()
    {
        var id = Enqueue(new AwaitingJob { Print = "after await" });

        await Worker(count: 1, new DJWorkerOptions { Sleep = TimeSpan.Zero, FailOnOutput = true }).RunAsync();

        Assert.That(Row(id)!.Error, Is.EqualTo("Job produced unexpected output: after await"));
    }

    [Test]
    public void ASynchronousJob_RunsOnAThreadOfItsOwn_NotOnTheThreadPool()
    {
        var job = new WhereDidIRunJob { Key = Guid.NewGuid().ToString("N") };
        Enqueue(job);

        Worker(count: 1).Start();

        Assert.That(WhereDidIRunJob.OnThreadPool[job.Key], Is.False);
    }

    [Test]
    public void IJobPerform_OfAnAsyncJob_SaysToCallPerformAsync()
    {
        IJob job = new AwaitingJob();
        Assert.That(job.Perform, Throws.TypeOf<NotSupportedException>().With.Message.Contains("PerformAsync"));
    }

    public sealed class AwaitingJob : IAsyncJob
    {
        public static readonly ConcurrentBag<string> Finished = [];
        public string Key { get; set; } = "";
        public string? Throw { get; set; }
        public string? Print { get; set; }

        public async Task PerformAsync(CancellationToken cancellationToken)
        {
            await Task.Yield();
            await Task.Delay(1, cancellationToken);
            if (Print is not null) Console.Write(Print);
            if (Throw is not null) throw new InvalidOperationException(Throw);
            Finished.Add(Key);
        }
    }

    public sealed class WaitsForCancellationJob : IAsyncJob
    {
        public static readonly ConcurrentDictionary<string, bool> Started = new();
        public static readonly ConcurrentBag<string> Canceled = [];
        public string Key { get; set; } = "";

        public async Task PerformAsync(CancellationToken cancellationToken)
        {
            Started[Key] = true;
            try
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                Canceled.Add(Key);
                throw;
            }
        }
    }

    public sealed class IgnoresCancellationJob : IAsyncJob
    {
        public static readonly ConcurrentDictionary<string, bool> Started = new();
        private static readonly ConcurrentDictionary<string, TaskCompletionSource> Gates = new();
        public string Key { get; set; } = "";

        public static void Release(string key) => Gates.GetOrAdd(key, _ => new()).TrySetResult();

        public Task PerformAsync(CancellationToken cancellationToken)
        {
            Started[Key] = true;
            return Gates.GetOrAdd(Key, _ => new()).Task;
        }
    }

    public sealed class WhereDidIRunJob : IJob
    {
        public static readonly ConcurrentDictionary<string, bool> OnThreadPool = new();
        public string Key { get; set; } = "";
        public void Perform() => OnThreadPool[Key] = Thread.CurrentThread.IsThreadPoolThread;
    }
}
