namespace DJJobNet;

/// <summary>Log levels, with PHP DJJob's numbers. A message is printed when its level is at least the one set.</summary>
public enum DJLogLevel
{
    /// <summary>Everything, including empty polls (the default).</summary>
    Debug = 0,
    /// <summary>Worker start and stop, completed jobs.</summary>
    Info = 1,
    /// <summary>Retries asked for with <see cref="DJRetryException"/>.</summary>
    Warn = 2,
    /// <summary>Failed attempts and unexpected errors.</summary>
    Error = 3,
    /// <summary>Only critical errors.</summary>
    Critical = 4,
}
