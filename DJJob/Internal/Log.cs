using Microsoft.Extensions.Logging;

namespace DJJobNet.Internal;

/// <summary>DJJob's log messages, in PHP DJJob's words, as source-generated <see cref="ILogger"/> methods.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1, Message = "{Message}")]
    public static partial void Message(ILogger logger, LogLevel level, string message);

    [LoggerMessage(EventId = 10, Level = LogLevel.Information, Message = "[JOB] Starting worker {Worker} on queue::{Queue}")]
    public static partial void WorkerStarting(ILogger logger, string worker, string queue);

    [LoggerMessage(EventId = 11, Level = LogLevel.Information, Message = "[JOB] worker shutting down after running {Jobs} jobs, over {Polls} polling iterations")]
    public static partial void WorkerShuttingDown(ILogger logger, int jobs, int polls);

    [LoggerMessage(EventId = 12, Level = LogLevel.Debug, Message = "[JOB] Failed to get a job, queue::{Queue} may be empty")]
    public static partial void NoJob(ILogger logger, string queue);

    [LoggerMessage(EventId = 13, Level = LogLevel.Information, Message = "[WORKER] Received {Signal}... Shutting down")]
    public static partial void SignalReceived(ILogger logger, string signal);

    [LoggerMessage(EventId = 14, Level = LogLevel.Information, Message = "[WORKER] released {Count} locks held by {Worker}")]
    public static partial void LocksReleased(ILogger logger, int count, string worker);

    [LoggerMessage(EventId = 20, Level = LogLevel.Debug, Message = "[JOB] enqueued job::{Id} on queue::{Queue}")]
    public static partial void Enqueued(ILogger logger, long id, string queue);

    [LoggerMessage(EventId = 21, Level = LogLevel.Debug, Message = "[JOB] enqueued {Count} jobs on queue::{Queue}")]
    public static partial void EnqueuedMany(ILogger logger, int count, string queue);

    [LoggerMessage(EventId = 22, Level = LogLevel.Debug, Message = "[JOB] enqueued job::{Id} on queue::{Queue} in the application's transaction")]
    public static partial void EnqueuedInTransaction(ILogger logger, long id, string queue);

    [LoggerMessage(EventId = 30, Level = LogLevel.Information, Message = "[JOB] completed job::{Id}")]
    public static partial void Completed(ILogger logger, long id);

    [LoggerMessage(EventId = 31, Level = LogLevel.Error, Message = "[JOB] failure in job::{Id}: {Error}")]
    public static partial void Failure(ILogger logger, long id, string error);

    [LoggerMessage(EventId = 32, Level = LogLevel.Warning, Message = "[JOB] job::{Id} attempt {Attempts}/{MaxAttempts} failed; next try in {Seconds} seconds.")]
    public static partial void WillRetry(ILogger logger, long id, int attempts, int maxAttempts, string seconds);

    [LoggerMessage(EventId = 33, Level = LogLevel.Error, Message = "[JOB] job::{Id} failed for good after {Attempts} attempts.")]
    public static partial void FailedForGood(ILogger logger, long id, int attempts);

    [LoggerMessage(EventId = 34, Level = LogLevel.Warning, Message = "[JOB] job::{Id} Caught DJRetryException \"{Reason}\" on attempt {Attempts}/{MaxAttempts}. Try again in {Seconds} seconds.")]
    public static partial void RetryRequested(ILogger logger, long id, string reason, int attempts, int maxAttempts, string seconds);

    [LoggerMessage(EventId = 35, Level = LogLevel.Error, Message = "[JOB] database error while {Doing}: {Error}")]
    public static partial void DatabaseError(ILogger logger, string doing, string error);

    [LoggerMessage(EventId = 36, Level = LogLevel.Information, Message = "[WORKER] job::{Id} was canceled by the stop; releasing it for another worker")]
    public static partial void CanceledByStop(ILogger logger, long id);

    [LoggerMessage(EventId = 37, Level = LogLevel.Information, Message = "[WORKER] waiting up to {Seconds} seconds for job::{Id} to finish")]
    public static partial void WaitingForJob(ILogger logger, string seconds, long id);

    [LoggerMessage(EventId = 38, Level = LogLevel.Warning, Message = "[WORKER] job::{Id} did not finish within the shutdown timeout; releasing it for another worker")]
    public static partial void Abandoned(ILogger logger, long id);
}
