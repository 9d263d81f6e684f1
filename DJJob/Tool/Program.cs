using DJJobNet.Tool;
using Spectre.Console;

// The first Ctrl+C ends `status --watch`, or a chunked --all / --all-failed after its current chunk; a second one
// ends the process at once.
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    if (cancel.IsCancellationRequested) return;
    e.Cancel = true;
    cancel.Cancel();
};
return Cli.Run(args, new CliHost { Console = AnsiConsole.Console, Cancel = cancel.Token });
