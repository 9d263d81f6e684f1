using System.Collections.Concurrent;

namespace DJJobNet.Internal;

/// <summary>
/// A thread of its own for a worker's synchronous jobs: a job that blocks for an hour holds this thread, never one of the
/// thread pool's, and the worker's loop stays free to answer a stop. One thread serves job after job.
/// </summary>
internal sealed class JobThread : IDisposable
{
    private readonly BlockingCollection<(Action Work, ExecutionContext? Context, TaskCompletionSource Done)> _work = new();

    public JobThread(string name) =>
        new Thread(Serve) { IsBackground = true, Name = name }.Start(); // a job still running does not keep the process alive

    /// <summary>Runs <paramref name="work"/> on the thread, in the caller's execution context; the task ends with it.</summary>
    public Task Run(Action work)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _work.Add((work, ExecutionContext.Capture(), done));
        return done.Task;
    }

    private void Serve()
    {
        foreach (var (work, context, done) in _work.GetConsumingEnumerable())
        {
            try
            {
                if (context is null) work();
                else ExecutionContext.Run(context, static state => ((Action)state!)(), work);
                done.SetResult();
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        }
    }

    /// <summary>Lets the thread end once the job it runs, if any, is done.</summary>
    public void Dispose() => _work.CompleteAdding();
}
