using System.Runtime.InteropServices;
using DJJobNet.Internal;

namespace DJJobNet;

/// <summary>
/// Takes jobs from one queue and runs them one at a time, as PHP's <c>DJWorker</c>: a success deletes the row, a failure
/// is retried with backoff until <see cref="DJWorkerOptions.MaxAttempts"/>, then kept as failed with its error.
/// </summary>
/// <example><code>new DJWorker(new DJWorkerOptions { Queue = "default", Count = 0, Sleep = TimeSpan.FromSeconds(5) }).Start();</code></example>
public sealed class DJWorker
{
    private readonly DJWorkerOptions _options;
    private readonly DJContext _context;
    private readonly CancellationTokenSource _stop = new();
    private int _databaseFailures; // in a row, for the pause before the next try

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
    public void Start()
    {
        Log($"[JOB] Starting worker {Name} on queue::{_options.Queue}", DJLogLevel.Info);
        using var signals = _options.HandleSignals ? new SignalHandlers(this) : null;
        int count = 0, jobCount = 0;
        try
        {
            while ((_options.Count <= 0 || count < _options.Count) && !_stop.IsCancellationRequested)
            {
                count++;
                var lastPoll = count == _options.Count;
                if (!TryDatabase($"claiming a job on queue::{_options.Queue}", Claim, out var job, out _))
                {
                    // A worker that cron starts exits; the next one tries again.
                    if (lastPoll || _options.ExitWhenEmpty) break;
                    Wait(NextDatabasePause());
                    continue;
                }
                if (job is null)
                {
                    Log($"[JOB] Failed to get a job, queue::{_options.Queue} may be empty", DJLogLevel.Debug);
                    if (_options.ExitWhenEmpty || lastPoll) break;
                    Wait(_options.Sleep);
                    continue;
                }
                jobCount++;
                if (!Run(job)) break;
            }
        }
        catch (Exception e)
        {
            Log($"[JOB] unhandled exception::\"{e.Message}\"", DJLogLevel.Error);
        }
        finally
        {
            ReleaseLocks();
        }
        Log($"[JOB] worker shutting down after running {jobCount} jobs, over {count} polling iterations", DJLogLevel.Info);
    }

    /// <summary>Asks the loop to stop after the job that is running now; <see cref="Start"/> then returns.</summary>
    public void Stop() => _stop.Cancel();

    private ClaimedJob? Claim()
    {
        var now = Time.GetUtcNow().UtcDateTime;
        var expiry = _options.MaxRunTime < now - DateTime.MinValue ? now - _options.MaxRunTime : DateTime.MinValue;
        return Store.Claim(_options.Queue, Name, _options.MaxAttempts, now, expiry);
    }

    // Runs one job and records the outcome; false when the worker must stop (the job outlived the shutdown grace period).
    private bool Run(ClaimedJob job)
    {
        IJob handler;
        try
        {
            handler = HandlerSerializer.Deserialize(job.Handler);
        }
        catch (Exception e)
        {
            Fail(job, $"[JOB] bad handler for job::{job.Id}: {e.Message}", handler: null);
            return true;
        }

        // The job runs on its own thread so that a stop request can be answered while it runs.
        var work = Task.Factory.StartNew(() => Perform(handler), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        try
        {
            work.Wait(_stop.Token); // unregisters from the token when the job ends: nothing piles up job after job
        }
        catch (Exception e) when (e is OperationCanceledException or AggregateException)
        {
            // Stopped while the job runs, or the job threw: both handled below.
        }
        if (!work.IsCompleted)
        {
            Log($"[WORKER] waiting up to {_options.ShutdownTimeout.TotalSeconds:0.###} seconds for job::{job.Id} to finish", DJLogLevel.Info);
            if (_options.ShutdownTimeout == Timeout.InfiniteTimeSpan) work.ContinueWith(_ => { }).Wait();
            else Task.WhenAny(work, Task.Delay(_options.ShutdownTimeout, Time)).Wait();
            if (!work.IsCompleted)
            {
                // Its lock is released on the way out, so another worker runs it again: at least once, never lost.
                Log($"[WORKER] job::{job.Id} did not finish within the shutdown timeout; releasing it for another worker", DJLogLevel.Warn);
                return false;
            }
        }

        switch (work.Exception?.InnerException)
        {
            case null:
                if (Record(job, () => Store.Complete(job.Id))) Log($"[JOB] completed job::{job.Id}", DJLogLevel.Info);
                break;
            case DJRetryException retry:
                var attempts = job.Attempts + 1;
                var message = $"Caught DJRetryException \"{retry.Message}\" on attempt {attempts}/{_options.MaxAttempts}.";
                if (attempts >= _options.MaxAttempts)
                {
                    Fail(job, $"[JOB] job::{job.Id} {message} Giving up.", handler);
                }
                else
                {
                    Log($"[JOB] job::{job.Id} {message} Try again in {retry.Delay.TotalSeconds:0.###} seconds.", DJLogLevel.Warn);
                    RecordAttempt(job, attempts, Later(retry.Delay), failedAt: null, retry.Message);
                }
                break;
            case DJPermanentFailureException permanent:
                Fail(job, permanent.Message, handler, final: true);
                break;
            case var error:
                Fail(job, error.Message, handler);
                break;
        }
        return true;
    }

    // Records a failed attempt. Should the error text itself be what the table refuses (a table in a narrower character
    // set, say), the attempt is recorded with the text reduced to ASCII: the attempt must count either way.
    private void RecordAttempt(ClaimedJob job, int attempts, DateTime? runAt, DateTime? failedAt, string error)
    {
        if (!Record(job, () => Store.RecordAttempt(job.Id, Name, attempts, runAt, failedAt, error)))
            Record(job, () => Store.RecordAttempt(job.Id, Name, attempts, runAt, failedAt, Ascii(error)));
    }

    private static string Ascii(string text) =>
        string.Concat(text.Select(ch => ch is >= ' ' and <= '~' ? ch.ToString() : $"\\u{(int)ch:x4}"));

    // Records a job's outcome. A database that cannot be reached is waited out: the outcome is only given up when the
    // worker is stopped. Any other database error is logged and returns false.
    private bool Record(ClaimedJob job, Action record)
    {
        while (!TryDatabase($"recording the outcome of job::{job.Id}", () => { record(); return true; }, out _, out var error))
        {
            if (error is not DJUnavailableException || _stop.IsCancellationRequested)
            {
                Log($"[JOB] could not record the outcome of job::{job.Id}; it runs again once its lock is released or expires", DJLogLevel.Error);
                return false;
            }
            Wait(NextDatabasePause());
        }
        return true;
    }

    // Runs a database step; on a database error logs what was being done and returns false with the error.
    private bool TryDatabase<T>(string doing, Func<T> step, out T? result, out Exception? error)
    {
        try
        {
            result = step();
            error = null;
            _databaseFailures = 0;
            return true;
        }
        catch (Exception e) when (e is DJException or System.Data.Common.DbException)
        {
            _databaseFailures++;
            Log($"[JOB] database error while {doing}: {e.Message}", DJLogLevel.Error);
            result = default;
            error = e;
            return false;
        }
    }

    private TimeSpan NextDatabasePause() => TimeSpan.FromSeconds(Math.Min(30, Math.Pow(2, Math.Max(0, _databaseFailures - 1))));

    private void Perform(IJob handler)
    {
        if (!_options.FailOnOutput)
        {
            handler.Perform();
            return;
        }
        var output = ConsoleCapture.Run(handler.Perform);
        if (output.Length > 0) throw new DJException($"Job produced unexpected output: {output}");
    }

    // Counts the attempt; backs off, or after the last allowed attempt (or a permanent failure) marks the job failed for good.
    private void Fail(ClaimedJob job, string error, IJob? handler, bool final = false)
    {
        var attempts = job.Attempts + 1;
        var now = Time.GetUtcNow().UtcDateTime;
        final |= attempts >= _options.MaxAttempts;
        var delay = final ? TimeSpan.Zero : Backoff(attempts);
        RecordAttempt(job, attempts, final ? null : Later(delay), final ? now : null, error);
        Log($"[JOB] failure in job::{job.Id}: {error}", DJLogLevel.Error);
        if (!final)
        {
            Log($"[JOB] job::{job.Id} attempt {attempts}/{_options.MaxAttempts} failed; next try in {delay.TotalSeconds:0.###} seconds.", DJLogLevel.Warn);
            return;
        }
        Log($"[JOB] job::{job.Id} failed for good after {attempts} attempts.", DJLogLevel.Error);
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

    private void Wait(TimeSpan delay)
    {
        try
        {
            Task.Delay(delay, Time, _stop.Token).Wait();
        }
        catch (AggregateException e) when (e.InnerException is TaskCanceledException)
        {
            // Stop() or a signal cut the sleep short.
        }
    }

    private void ReleaseLocks()
    {
        try
        {
            var released = Store.ReleaseLocks(Name);
            if (released > 0) Log($"[WORKER] released {released} locks held by {Name}", DJLogLevel.Info);
        }
        catch (Exception e)
        {
            Log($"[WORKER] could not release the locks of {Name}: {e.Message}", DJLogLevel.Error);
        }
    }

    private void Log(string message, DJLogLevel level) => _context.Log.Log(message, level);

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
                worker.Log($"[WORKER] Received {context.Signal}... Shutting down", DJLogLevel.Info);
                worker.Stop();
            }
        }

        public void Dispose()
        {
            foreach (var registration in _registrations) registration.Dispose();
        }
    }
}
