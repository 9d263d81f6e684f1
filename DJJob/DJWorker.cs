using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using DJJobNet.Internal;

namespace DJJobNet;

/// <summary>
/// Takes jobs from one queue and runs them one at a time (or <see cref="DJWorkerOptions.Concurrency"/> at a time), as PHP's <c>DJWorker</c>: a success deletes the row, a failure
/// is retried with backoff until <see cref="DJWorkerOptions.MaxAttempts"/>, then kept as failed with its error.
/// </summary>
/// <example><code>new DJWorker(new DJWorkerOptions { Queue = "default", Count = 0, Sleep = TimeSpan.FromSeconds(5) }).Start();</code></example>
public sealed class DJWorker
{
    private readonly DJWorkerOptions _options;
    private readonly DJContext _context;
    private readonly CancellationTokenSource _stop = new();
    // Claimed and not yet recorded (running, waiting in a batch, succeeded but not yet deleted, or not recorded for a
    // database error): never claimed again meanwhile, and released by id when the worker ends.
    private readonly ConcurrentDictionary<long, byte> _held = new();
    private readonly SemaphoreSlim _claiming = new(1, 1); // one claim at a time, so each sees the jobs the others hold
    private int _databaseFailures; // in a row, for the pause before the next try
    private int _count, _jobCount;
    private readonly ConcurrentDictionary<long, byte> _running = new(); // performing now
    private volatile bool _abandoned; // the grace period after a stop ran out: nothing more is recorded
    private Io _io = Io.Async(CancellationToken.None);

    /// <summary>Creates a worker on the database given to <see cref="DJJob.Configure(DJJobOptions)"/>.</summary>
    /// <exception cref="DJException">DJJob is not configured.</exception>
    public DJWorker(DJWorkerOptions? options = null) : this(options ?? new DJWorkerOptions(), DJJob.Context) { }

    internal DJWorker(DJWorkerOptions options, DJContext context, string? name = null)
    {
        _options = options;
        _context = context;
        // PHP's name, plus a random id: containers that share a host name all run as pid 1, and a worker may take back
        // a job locked under its own name, so two workers must never share one.
        Name = name ?? $"host::{Environment.MachineName} pid::{Environment.ProcessId} worker::{Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(4))}";
    }

    /// <summary>The name written to <c>locked_by</c>: <c>host::&lt;hostname&gt; pid::&lt;pid&gt; worker::&lt;random id&gt;</c>.</summary>
    public string Name { get; }

    private JobStore Store => _context.Store;
    private TimeProvider Time => _options.TimeProvider;

    /// <summary>
    /// Runs the polling loop until <see cref="DJWorkerOptions.Count"/> iterations are done, <see cref="Stop"/> is called or a
    /// signal arrives; then releases every lock held under <see cref="Name"/> and returns. Database errors are logged and
    /// the worker tries again with a growing pause (1 s, 2 s, 4 s, ... at most 30 s) until the database is back.
    /// </summary>
    /// <remarks>Blocks the calling thread until the worker ends; use <see cref="RunAsync"/> from asynchronous code.</remarks>
    public void Start() => RunLoopsAsync(Io.Blocking).GetAwaiter().GetResult();

    /// <summary>
    /// Runs the worker as <see cref="Start"/> does, without blocking a thread. Canceling <paramref name="cancellationToken"/>
    /// is the same as <see cref="Stop"/>: no new job is taken, the running jobs see their token canceled and get
    /// <see cref="DJWorkerOptions.ShutdownTimeout"/> to end, and the task completes once the locks are released.
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken = default)
    {
        using var link = cancellationToken.Register(Stop);
        await RunLoopsAsync(Io.Async(CancellationToken.None)).ConfigureAwait(false);
    }

    // Start() gives each loop a thread of its own, on which it makes synchronous database calls (several times cheaper
    // in CPU than asynchronous ones) and runs synchronous jobs; RunAsync never blocks a thread: its loops make
    // asynchronous calls and hand synchronous jobs to a thread of their own. The loops are the same code.
    private async Task RunLoopsAsync(Io io)
    {
        _io = io;
        Internal.Log.WorkerStarting(Logger, Name, _options.Queue);
        using var depth = Telemetry.Serve(Store, _options.Queue);
        using var signals = _options.HandleSignals ? new SignalHandlers(this) : null;
        var loops = new Task[_options.Concurrency];
        for (var i = 0; i < loops.Length; i++)
            loops[i] = io.Sync ? Task.Factory.StartNew(LoopAsync, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap() : Task.Run(LoopAsync);
        var ended = Task.WhenAll(loops);
        if (await Task.WhenAny(ended, GraceOverAsync()).ConfigureAwait(false) != ended)
        {
            // The jobs still running are abandoned: their loops will not record them, and their locks go with the others,
            // so another worker runs them again: at least once, never lost.
            _abandoned = true;
            foreach (var id in _running.Keys) Internal.Log.Abandoned(Logger, id);
        }
        await ReleaseLocksAsync().ConfigureAwait(false);
        Internal.Log.WorkerShuttingDown(Logger, _jobCount, _count);
    }

    /// <summary>Asks the loop to stop after the jobs that are running now, and cancels their token; <see cref="Start"/> then returns.</summary>
    public void Stop()
    {
        if (!_stop.IsCancellationRequested)
            foreach (var id in _running.Keys) Internal.Log.WaitingForJob(Logger, Seconds(_options.ShutdownTimeout), id);
        try
        {
            _stop.Cancel();
        }
        catch (AggregateException e)
        {
            Log($"[WORKER] a job's cancellation callback threw: {e.InnerException?.Message}", DJLogLevel.Error);
        }
    }

    private enum Outcome { Succeeded, Recorded, Abandoned }

    // Completes ShutdownTimeout after a stop (Stop() says which jobs it waits for).
    private async Task GraceOverAsync()
    {
        try
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, _stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopped.
        }
        await Task.Delay(_options.ShutdownTimeout, Time).ConfigureAwait(false);
    }

    // One loop of the worker: claims a batch, runs its jobs one after another, records each outcome. With Concurrency
    // above 1, several run side by side; they share the worker's name, counters and the set of jobs it holds.
    private async Task LoopAsync()
    {
        using var thread = _io.Sync ? null : new JobThread($"DJWorker {Name}");
        var claimed = new Queue<ClaimedJob>();
        var completed = new List<long>(); // succeeded, row not yet deleted
        var deferredSince = 0L;
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                if (claimed.Count == 0)
                {
                    var iteration = Interlocked.Increment(ref _count);
                    if (_options.Count > 0 && iteration > _options.Count)
                    {
                        Interlocked.Decrement(ref _count);
                        break;
                    }
                    var lastPoll = iteration == _options.Count;
                    var jobs = await ClaimAsync(completed).ConfigureAwait(false);
                    if (jobs is null)
                    {
                        // A worker that cron starts exits; the next one tries again.
                        if (lastPoll || _options.ExitWhenEmpty) break;
                        await WaitAsync(NextDatabasePause()).ConfigureAwait(false);
                        continue;
                    }
                    Completed(completed);
                    if (jobs.Count == 0)
                    {
                        Internal.Log.NoJob(Logger, _options.Queue);
                        if (_options.ExitWhenEmpty || lastPoll) break;
                        await WaitAsync(_options.Sleep).ConfigureAwait(false);
                        continue;
                    }
                    foreach (var job in jobs) claimed.Enqueue(job);
                }

                var next = claimed.Dequeue();
                Interlocked.Increment(ref _jobCount);
                var outcome = await RunJobAsync(next, thread).ConfigureAwait(false);
                if (outcome == Outcome.Abandoned) break;
                if (outcome == Outcome.Recorded) continue;
                // A success is deleted with the next claim when that comes right away; otherwise now.
                if (completed.Count == 0) deferredSince = Stopwatch.GetTimestamp();
                completed.Add(next.Id);
                var deferLonger = _options.BatchedCompletion && Stopwatch.GetElapsedTime(deferredSince) < TimeSpan.FromSeconds(1);
                if (claimed.Count > 0 && !deferLonger && await RecordAsync($"recording the outcome of job::{next.Id}", () => Store.CompleteAsync(_io, completed)).ConfigureAwait(false))
                    Completed(completed);
            }
        }
        catch (Exception e)
        {
            Log($"[JOB] unhandled exception::\"{e.Message}\"", DJLogLevel.Error);
            Stop();
        }
        if (completed.Count > 0 && await RecordAsync("recording the outcome of the last jobs", () => Store.CompleteAsync(_io, completed)).ConfigureAwait(false))
            Completed(completed);
    }

    // Deletes the completed jobs and claims the next batch. The loops of one worker share its name, and a worker may take
    // back a job locked under its name: so they claim one at a time, each excluding the jobs the others hold.
    private async Task<IReadOnlyList<ClaimedJob>?> ClaimAsync(List<long> completed)
    {
        if (_io.Sync) _claiming.Wait();
        else await _claiming.WaitAsync().ConfigureAwait(false);
        try
        {
            var now = Time.GetUtcNow().UtcDateTime;
            var expiry = _options.MaxRunTime < now - DateTime.MinValue ? now - _options.MaxRunTime : DateTime.MinValue;
            var request = new ClaimRequest(_options.Queue, Name, _options.MaxAttempts, now, expiry, _options.BatchSize, [.. _held.Keys]);
            var jobs = await TryDatabaseAsync($"claiming a job on queue::{_options.Queue}", () => Store.ClaimAsync(_io, request, completed)).ConfigureAwait(false);
            foreach (var job in jobs ?? []) _held.TryAdd(job.Id, 0);
            return jobs;
        }
        finally
        {
            _claiming.Release();
        }
    }

    // The rows of these jobs are deleted: log them, forget them.
    private void Completed(List<long> completed)
    {
        foreach (var id in completed)
        {
            _held.TryRemove(id, out _);
            Internal.Log.Completed(Logger, id);
        }
        Telemetry.Completed.Add(completed.Count, Telemetry.QueueTag(_options.Queue));
        completed.Clear();
    }

    // Runs one job and records a failure; a success is left for the caller to record.
    private async Task<Outcome> RunJobAsync(ClaimedJob job, JobThread? thread)
    {
        IJob handler;
        try
        {
            handler = HandlerSerializer.Deserialize(job.Handler);
        }
        catch (Exception e)
        {
            await FailAsync(job, $"[JOB] bad handler for job::{job.Id}: {e.Message}", handler: null).ConfigureAwait(false);
            return Outcome.Recorded;
        }

        using var activity = Telemetry.Source.StartActivity("DJJob perform", ActivityKind.Consumer);
        activity?.SetTag("djjob.job.id", job.Id);
        activity?.SetTag("djjob.job.type", handler.GetType().FullName);
        activity?.SetTag("djjob.queue", _options.Queue);
        activity?.SetTag("djjob.attempt", job.Attempts + 1);
        var started = Stopwatch.GetTimestamp();
        _running.TryAdd(job.Id, 0);
        var work = Perform(handler, thread);
        try
        {
            await work.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Handled below.
        }
        _running.TryRemove(job.Id, out _);
        if (_abandoned) return Outcome.Abandoned; // its lock is already released; another worker may hold it now

        Exception? error = null;
        try
        {
            await work.ConfigureAwait(false);
        }
        catch (Exception e)
        {
            error = e;
        }
        var outcome = error switch
        {
            null => "succeeded",
            OperationCanceledException when _stop.IsCancellationRequested => "released",
            _ => "failed",
        };
        Telemetry.Duration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, Telemetry.QueueTag(_options.Queue), new("djjob.outcome", outcome));
        if (error is not null) activity?.SetStatus(ActivityStatusCode.Error, error.Message);
        switch (error)
        {
            case null:
                return Outcome.Succeeded;
            case OperationCanceledException when _stop.IsCancellationRequested:
                // The job heard the stop and gave up: it did not fail, and runs again later.
                Internal.Log.CanceledByStop(Logger, job.Id);
                if (await RecordAsync($"releasing job::{job.Id}", () => Store.ReleaseAsync(_io, [job.Id], Name)).ConfigureAwait(false))
                    _held.TryRemove(job.Id, out _);
                break;
            case DJRetryException retry:
                var attempts = job.Attempts + 1;
                if (attempts >= _options.MaxAttempts)
                {
                    await FailAsync(job, $"[JOB] job::{job.Id} Caught DJRetryException \"{retry.Message}\" on attempt {attempts}/{_options.MaxAttempts}. Giving up.", handler).ConfigureAwait(false);
                }
                else
                {
                    Internal.Log.RetryRequested(Logger, job.Id, retry.Message, attempts, _options.MaxAttempts, Seconds(retry.Delay));
                    Telemetry.Retried.Add(1, Telemetry.QueueTag(_options.Queue));
                    await RecordAttemptAsync(job, attempts, Later(retry.Delay), failedAt: null, retry.Message).ConfigureAwait(false);
                }
                break;
            case DJPermanentFailureException permanent:
                await FailAsync(job, permanent.Message, handler, final: true).ConfigureAwait(false);
                break;
            default:
                await FailAsync(job, error.Message, handler).ConfigureAwait(false);
                break;
        }
        return Outcome.Recorded;
    }

    // Records a failed attempt. Should the error text itself be what the table refuses (a table in a narrower character
    // set, say), the attempt is recorded with the text reduced to ASCII: the attempt must count either way.
    private async Task RecordAttemptAsync(ClaimedJob job, int attempts, DateTime? runAt, DateTime? failedAt, string error)
    {
        var doing = $"recording the outcome of job::{job.Id}";
        if (await RecordAsync(doing, () => Store.RecordAttemptAsync(_io, job.Id, Name, attempts, runAt, failedAt, error)).ConfigureAwait(false)
            || await RecordAsync(doing, () => Store.RecordAttemptAsync(_io, job.Id, Name, attempts, runAt, failedAt, Ascii(error))).ConfigureAwait(false))
            _held.TryRemove(job.Id, out _); // its lock is released; one not recorded is released when the worker ends
    }

    private static string Ascii(string text) =>
        string.Concat(text.Select(ch => ch is >= ' ' and <= '~' ? ch.ToString() : $"\\u{(int)ch:x4}"));

    // Records a job's outcome. A database that cannot be reached is waited out: the outcome is only given up when the
    // worker is stopped. Any other database error is logged and returns false.
    private async Task<bool> RecordAsync(string doing, Func<Task<int>> record)
    {
        while (true)
        {
            try
            {
                await record().ConfigureAwait(false);
                Interlocked.Exchange(ref _databaseFailures, 0);
                return true;
            }
            catch (Exception e) when (e is DJException or System.Data.Common.DbException)
            {
                DatabaseError(doing, e);
                if (e is not DJUnavailableException || _stop.IsCancellationRequested)
                {
                    Log($"[JOB] gave up {doing}; the job runs again once its lock is released or expires", DJLogLevel.Error);
                    return false;
                }
            }
            await WaitAsync(NextDatabasePause()).ConfigureAwait(false);
        }
    }

    // Runs a database step; on a database error logs what was being done and returns null.
    private async Task<T?> TryDatabaseAsync<T>(string doing, Func<Task<T>> step) where T : class
    {
        try
        {
            var result = await step().ConfigureAwait(false);
            Interlocked.Exchange(ref _databaseFailures, 0);
            return result;
        }
        catch (Exception e) when (e is DJException or System.Data.Common.DbException or System.Data.DataException)
        {
            DatabaseError(doing, e);
            return null;
        }
    }

    private void DatabaseError(string doing, Exception e)
    {
        Interlocked.Increment(ref _databaseFailures);
        Internal.Log.DatabaseError(Logger, doing, e.Message);
    }

    private TimeSpan NextDatabasePause() => TimeSpan.FromSeconds(Math.Min(30, Math.Pow(2, Math.Max(0, Volatile.Read(ref _databaseFailures) - 1))));

    // Starts the job: an IAsyncJob on the thread pool with the stop token, any other on the loop's own thread.
    private Task Perform(IJob handler, JobThread? thread)
    {
        var token = _stop.Token;
        if (handler is IAsyncJob asyncJob)
        {
            return Task.Run(async () =>
            {
                if (!_options.FailOnOutput)
                {
                    await asyncJob.PerformAsync(token).ConfigureAwait(false);
                    return;
                }
                ThrowOnOutput(await ConsoleCapture.RunAsync(() => asyncJob.PerformAsync(token)).ConfigureAwait(false));
            }, CancellationToken.None);
        }
        void Run()
        {
            if (!_options.FailOnOutput) handler.Perform();
            else ThrowOnOutput(ConsoleCapture.Run(handler.Perform));
        }
        if (thread is not null) return thread.Run(Run);
        try
        {
            Run(); // on the loop's own thread
            return Task.CompletedTask;
        }
        catch (Exception e)
        {
            return Task.FromException(e);
        }
    }

    private static void ThrowOnOutput(string output)
    {
        if (output.Length > 0) throw new DJException($"Job produced unexpected output: {output}");
    }

    // Counts the attempt; backs off, or after the last allowed attempt (or a permanent failure) marks the job failed for good.
    private async Task FailAsync(ClaimedJob job, string error, IJob? handler, bool final = false)
    {
        var attempts = job.Attempts + 1;
        var now = Time.GetUtcNow().UtcDateTime;
        final |= attempts >= _options.MaxAttempts;
        var delay = final ? TimeSpan.Zero : Backoff(attempts);
        await RecordAttemptAsync(job, attempts, final ? null : Later(delay), final ? now : null, error).ConfigureAwait(false);
        Internal.Log.Failure(Logger, job.Id, error);
        if (!final)
        {
            Internal.Log.WillRetry(Logger, job.Id, attempts, _options.MaxAttempts, Seconds(delay));
            Telemetry.Retried.Add(1, Telemetry.QueueTag(_options.Queue));
            return;
        }
        Internal.Log.FailedForGood(Logger, job.Id, attempts);
        Telemetry.Failed.Add(1, Telemetry.QueueTag(_options.Queue));
        if (handler is not IDJJobRetryErrorHandler hook) return;
        try
        {
            hook.OnDjjobRetryError(error);
        }
        catch (Exception e)
        {
            Log($"[JOB] OnDjjobRetryError of job::{job.Id} threw: {e.Message}", DJLogLevel.Error);
        }
    }

    // A user's Backoff that throws must not stop the worker: the job still gets a retry time.
    private TimeSpan Backoff(int attempts)
    {
        try
        {
            return _options.Backoff(attempts);
        }
        catch (Exception e)
        {
            Log($"[JOB] Backoff({attempts}) threw \"{e.Message}\"; using the default schedule.", DJLogLevel.Error);
            return DJWorkerOptions.DefaultBackoff(attempts);
        }
    }

    // now + delay, with delays past a century (TimeSpan.MaxValue, say) cut to a century rather than overflowing.
    private DateTime Later(TimeSpan delay)
    {
        var century = TimeSpan.FromDays(36525);
        return Time.GetUtcNow().UtcDateTime + (delay < TimeSpan.Zero ? TimeSpan.Zero : delay > century ? century : delay);
    }

    // Waits, or less when the worker is stopped; under Start(), on the loop's own thread.
    private async Task WaitAsync(TimeSpan delay)
    {
        try
        {
            var wait = Task.Delay(delay, Time, _stop.Token);
            if (_io.Sync) wait.Wait();
            else await wait.ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException || e.InnerException is OperationCanceledException)
        {
            // Stop() or a signal cut the sleep short.
        }
    }

    private async Task ReleaseLocksAsync()
    {
        try
        {
            // The jobs this worker may still hold, by id: a statement on the primary key, not a scan for the name.
            var released = await Store.ReleaseAsync(_io, [.. _held.Keys], Name).ConfigureAwait(false);
            if (released > 0) Internal.Log.LocksReleased(Logger, released, Name);
        }
        catch (Exception e)
        {
            Log($"[WORKER] could not release the locks of {Name}: {e.Message}", DJLogLevel.Error);
        }
    }

    private void Log(string message, DJLogLevel level) => _context.Log.Log(message, level);

    private Microsoft.Extensions.Logging.ILogger Logger => _context.Log.Logger;

    private static string Seconds(TimeSpan span) => span.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>SIGTERM and SIGINT stop the loop between jobs instead of killing the process; a second signal kills it.</summary>
    private sealed class SignalHandlers : IDisposable
    {
        private readonly PosixSignalRegistration[] _registrations;

        public SignalHandlers(DJWorker worker)
        {
            _registrations =
            [
                PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal),
                PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal),
            ];

            void OnSignal(PosixSignalContext context)
            {
                if (worker._stop.IsCancellationRequested) return; // the second one: let it end the process
                context.Cancel = true;
                Internal.Log.SignalReceived(worker.Logger, context.Signal.ToString());
                worker.Stop();
            }
        }

        public void Dispose()
        {
            foreach (var registration in _registrations) registration.Dispose();
        }
    }
}
