using System.Data.Common;

namespace DJJobNet.Internal;

/// <summary>What <see cref="DJJob.Configure(DJJobOptions)"/> sets up: the store, the clock and the log. Tests make their own.</summary>
internal sealed class DJContext(JobStore store, DJLogger log, TimeProvider? time = null)
{
    public JobStore Store { get; } = store;
    public DJLogger Log { get; } = log;
    public TimeProvider Time { get; } = time ?? TimeProvider.System;

    public long Enqueue(IJob job, string queue, DateTimeOffset? runAt) => Io.Result(EnqueueAsync(Io.Blocking, null, job, queue, runAt));

    public Task<long> EnqueueAsync(IJob job, string queue, DateTimeOffset? runAt, CancellationToken cancellationToken) =>
        EnqueueAsync(Io.Async(cancellationToken), null, job, queue, runAt);

    public long EnqueueIn(DbTransaction transaction, IJob job, string queue, DateTimeOffset? runAt) =>
        Io.Result(EnqueueAsync(Io.Blocking, transaction, job, queue, runAt));

    public Task<long> EnqueueInAsync(DbTransaction transaction, IJob job, string queue, DateTimeOffset? runAt, CancellationToken cancellationToken) =>
        EnqueueAsync(Io.Async(cancellationToken), transaction, job, queue, runAt);

    public int BulkEnqueue(IEnumerable<IJob> jobs, string queue, DateTimeOffset? runAt) => Io.Result(BulkEnqueueAsync(Io.Blocking, jobs, queue, runAt));

    public Task<int> BulkEnqueueAsync(IEnumerable<IJob> jobs, string queue, DateTimeOffset? runAt, CancellationToken cancellationToken) =>
        BulkEnqueueAsync(Io.Async(cancellationToken), jobs, queue, runAt);

    // Stores one job, in the application's transaction when one is given.
    private async Task<long> EnqueueAsync(Io io, DbTransaction? transaction, IJob job, string queue, DateTimeOffset? runAt)
    {
        var handler = HandlerSerializer.Serialize(job);
        var now = Time.GetUtcNow().UtcDateTime;
        var valid = Sql.ValidQueue(queue);
        var at = runAt?.UtcDateTime ?? now;
        var id = transaction is null
            ? await Store.EnqueueAsync(io, handler, valid, at, now).ConfigureAwait(false)
            : await Store.EnqueueInAsync(io, transaction, handler, valid, at, now).ConfigureAwait(false);
        Enqueued(1, queue);
        if (transaction is null) Internal.Log.Enqueued(Log.Logger, id, queue);
        else Internal.Log.EnqueuedInTransaction(Log.Logger, id, queue);
        return id;
    }

    private async Task<int> BulkEnqueueAsync(Io io, IEnumerable<IJob> jobs, string queue, DateTimeOffset? runAt)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        var handlers = jobs.Select(HandlerSerializer.Serialize).ToList();
        var now = Time.GetUtcNow().UtcDateTime;
        var inserted = await Store.BulkEnqueueAsync(io, handlers, Sql.ValidQueue(queue), runAt?.UtcDateTime ?? now, now).ConfigureAwait(false);
        Enqueued(inserted, queue);
        Internal.Log.EnqueuedMany(Log.Logger, inserted, queue);
        return inserted;
    }

    // Counted when stored; a job enqueued in an application's transaction counts even if that transaction rolls back.
    private static void Enqueued(int count, string queue) => Telemetry.Enqueued.Add(count, Telemetry.QueueTag(queue));
}
