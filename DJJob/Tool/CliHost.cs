using Spectre.Console;

namespace DJJobNet.Tool;

/// <summary>What the commands take from outside the process's arguments; tests pass their own.</summary>
internal sealed class CliHost
{
    /// <summary>Where tables, progress and results go.</summary>
    public required IAnsiConsole Console { get; init; }

    /// <summary>Where an error goes: one line, no stack trace.</summary>
    public TextWriter Error { get; init; } = System.Console.Error;

    /// <summary>Reads an environment variable (<c>DJJOB_CONNECTION</c>).</summary>
    public Func<string, string?> Environment { get; init; } = System.Environment.GetEnvironmentVariable;

    /// <summary>The clock: "now" for a retried job's <c>run_at</c>, and the pause between refreshes of <c>status --watch</c>.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Cancelled by Ctrl+C: ends <c>status --watch</c>, and <c>--all</c> / <c>--all-failed</c> between two chunks.</summary>
    public CancellationToken Cancel { get; init; }
}
