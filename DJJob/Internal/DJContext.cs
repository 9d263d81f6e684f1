namespace DJJobNet.Internal;

/// <summary>What <see cref="DJJob.Configure(DJJobOptions)"/> sets up: the store, the clock and the log. Tests make their own.</summary>
internal sealed class DJContext(JobStore store, DJLogger log, TimeProvider? time = null)
{
    public JobStore Store { get; } = store;
    public DJLogger Log { get; } = log;
    public TimeProvider Time { get; } = time ?? TimeProvider.System;

    public long Enqueue(IJob job, string queue, DateTimeOffset? runAt)
    {
        var handler = HandlerSerializer.Serialize(job);
        var now = Time.GetUtcNow().UtcDateTime;
        var id = Store.Enqueue(handler, Sql.ValidQueue(queue), runAt?.UtcDateTime ?? now, now);
        Enqueued(1, queue);
        Internal.Log.Enqueued(Log.Logger, id, queue);
        return id;
    }

    public async Task<long> EnqueueAsync(IJob job, string queue, DateTimeOffset? runAt, CancellationToken cancellationToken)
    {
        var handler = HandlerSerializer.Serialize(job);
        var now = Time.GetUtcNow().UtcDateTime;
        var id = await Store.EnqueueAsync(handler, Sql.ValidQueue(queue), runAt?.UtcDateTime ?? now, now, cancellationToken).ConfigureAwait(false);
        Enqueued(1, queue);
        Internal.Log.Enqueued(Log.Logger, id, queue);
        return id;
    }

    public async Task<long> EnqueueInAsync(System.Data.Common.DbTransaction transaction, IJob job, string queue, DateTimeOffset? runAt, CancellationToken cancellationToken)
    {
        var handler = HandlerSerializer.Serialize(job);
        var now = Time.GetUtcNow().UtcDateTime;
        var id = await Store.EnqueueInAsync(transaction, handler, Sql.ValidQueue(queue), runAt?.UtcDateTime ?? now, now, cancellationToken).ConfigureAwait(false);
        Enqueued(1, queue);
        Internal.Log.EnqueuedInTransaction(Log.Logger, id, queue);
        return id;
    }

    public long EnqueueIn(System.Data.Common.DbTransaction transaction, IJob job, string queue, DateTimeOffset? runAt)
    {
        var handler = HandlerSerializer.Serialize(job);
        var now = Time.GetUtcNow().UtcDateTime;
        var id = Store.EnqueueIn(transaction, handler, Sql.ValidQueue(queue), runAt?.UtcDateTime ?? now, now);
        Enqueued(1, queue);
        Internal.Log.EnqueuedInTransaction(Log.Logger, id, queue);
        return id;
    }

    public async Task<int> BulkEnqueueAsync(IEnumerable<IJob> jobs, string queue, DateTimeOffset? runAt, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        var handlers = jobs.Select(HandlerSerializer.Serialize).ToList();
        var now = Time.GetUtcNow().UtcDateTime;
        var inserted = await Store.BulkEnqueueAsync(handlers, Sql.ValidQueue(queue), runAt?.UtcDateTime ?? now, now, cancellationToken).ConfigureAwait(false);
        Enqueued(inserted, queue);
        Internal.Log.EnqueuedMany(Log.Logger, inserted, queue);
        return inserted;
    }

    public int BulkEnqueue(IEnumerable<IJob> jobs, string queue, DateTimeOffset? runAt)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        var handlers = jobs.Select(HandlerSerializer.Serialize).ToList();
        var now = Time.GetUtcNow().UtcDateTime;
        var inserted = Store.BulkEnqueue(handlers, Sql.ValidQueue(queue), runAt?.UtcDateTime ?? now, now);
        Enqueued(inserted, queue);
        Internal.Log.EnqueuedMany(Log.Logger, inserted, queue);
        return inserted;
    }

    // Counted when stored; a job enqueued in an application's transaction counts even if that transaction rolls back.
    private static void Enqueued(int count, string queue) => Telemetry.Enqueued.Add(count, Telemetry.QueueTag(queue));
}
