namespace DJJobNet;

/// <summary>A unit of background work. DJJob stores the object as type-tagged JSON and calls <see cref="Perform"/> in a worker.</summary>
/// <remarks>
/// The object is rebuilt from JSON by Newtonsoft.Json, so keep its state in public properties (or constructor
/// parameters) of plain types. Only types that implement <see cref="IJob"/> are ever instantiated from a row.
/// </remarks>
public interface IJob
{
    /// <summary>Does the work. Returning deletes the job; throwing counts a failed attempt (see <see cref="DJRetryException"/>).</summary>
    void Perform();
}

/// <summary>
/// Opt-in: a job that implements this hears when it has failed for good (PHP DJJob's <c>_onDjjobRetryError</c>).
/// </summary>
public interface IDJJobRetryErrorHandler
{
    /// <summary>Called once, in the worker, after the job's last allowed attempt failed; <paramref name="error"/> is what was stored.</summary>
    void OnDjjobRetryError(string error);
}
