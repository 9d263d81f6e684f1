namespace DJJobNet;

/// <summary>
/// A job whose work is asynchronous. The worker awaits <see cref="PerformAsync"/> and never blocks on it; the token is
/// canceled when the worker is asked to stop (<see cref="DJWorker.Stop"/>, a signal, the host shutting down).
/// </summary>
/// <remarks>
/// A job that ends with <see cref="OperationCanceledException"/> because of a stop is released without counting an
/// attempt and runs again later. A job that ignores the token gets <see cref="DJWorkerOptions.ShutdownTimeout"/> to finish.
/// </remarks>
/// <example>
/// <code>
/// public sealed class Resize : IAsyncJob
/// {
///     public string Path { get; set; } = "";
///     public async Task PerformAsync(CancellationToken cancellationToken) =&gt; await Images.ResizeAsync(Path, cancellationToken);
/// }
/// </code>
/// </example>
public interface IAsyncJob : IJob
{
    /// <summary>Does the work. Completing deletes the job; throwing counts a failed attempt (see <see cref="DJRetryException"/>).</summary>
    /// <param name="cancellationToken">Canceled when the worker is asked to stop.</param>
    Task PerformAsync(CancellationToken cancellationToken);

    /// <summary>Not used: a <see cref="DJWorker"/> calls <see cref="PerformAsync"/>. Throws <see cref="NotSupportedException"/>.</summary>
    void IJob.Perform() =>
        throw new NotSupportedException($"{GetType().Name} is an IAsyncJob: call PerformAsync, as DJWorker does.");
}
