namespace DJJobNet;

/// <summary>The counts of one queue, as <c>DJJob::status()</c> returns them.</summary>
/// <param name="Outstanding">Jobs neither locked nor failed: waiting, scheduled or backing off (<c>Total - Locked - Failed</c>).</param>
/// <param name="Locked">Jobs a worker holds now.</param>
/// <param name="Failed">Jobs that failed for good and are kept with their error.</param>
/// <param name="Total">All rows of the queue.</param>
public sealed record JobStatus(long Outstanding, long Locked, long Failed, long Total);
