namespace DJJobNet;

/// <summary>An error in DJJob's configuration or in talking to its database; the message says which.</summary>
public class DJException : Exception
{
    /// <summary>Creates the exception with a message.</summary>
    public DJException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the error that caused it.</summary>
    public DJException(string message, Exception? innerException) : base(message, innerException) { }
}

/// <summary>
/// Thrown by <see cref="IJob.Perform"/> to ask for another try after <see cref="Delay"/> rather than the backoff schedule.
/// The attempt still counts: on the last allowed attempt the job fails for good.
/// </summary>
public sealed class DJRetryException : DJException
{
    /// <summary>Asks for a retry after <paramref name="delay"/> (two hours when null, as in PHP DJJob).</summary>
    public DJRetryException(string message, TimeSpan? delay = null) : base(message)
    {
        Delay = delay ?? TimeSpan.FromSeconds(7200);
    }

    /// <summary>How long to wait before the next attempt.</summary>
    /// <value>The default is 7,200 seconds.</value>
    public TimeSpan Delay
    {
        get;
        set => field = value >= TimeSpan.Zero ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "The retry delay cannot be negative.");
    }
}

/// <summary>
/// Thrown by <see cref="IJob.Perform"/> when the job can never succeed (a revoked permission, an invalid request): the
/// job is kept as failed at once, with this message as its error, without using up its remaining attempts.
/// </summary>
public sealed class DJPermanentFailureException : DJException
{
    /// <summary>Fails the job for good with <paramref name="message"/>.</summary>
    public DJPermanentFailureException(string message, Exception? innerException = null) : base(message, innerException) { }
}

/// <summary>The database could not be reached or dropped every try: worth trying again later, unlike other errors.</summary>
internal sealed class DJUnavailableException(string message, Exception? innerException) : DJException(message, innerException);
