using System.CommandLine;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using System.Globalization;
using DJJobNet.Internal;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace DJJobNet.Tool;

/// <summary>
/// The <c>djjob</c> command line: parses the arguments, runs one command on the jobs table and returns the exit code
/// (0 done, 1 an error, 2 a usage error). Errors are one line on <see cref="CliHost.Error"/>, never a stack trace.
/// </summary>
internal static class Cli
{
    public const int Ok = 0, Failure = 1, Usage = 2;

    private const string ConnectionVariable = "DJJOB_CONNECTION";

    /// <summary>Runs <paramref name="args"/> with <paramref name="console"/> for output and the process's stderr, environment and clock.</summary>
    public static int Run(string[] args, IAnsiConsole console) => Run(args, new CliHost { Console = console });

    /// <summary>Runs <paramref name="args"/> with everything from <paramref name="host"/>.</summary>
    public static int Run(string[] args, CliHost host)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(host);
        var root = new Commands(host).Root;
        ParseResult parse;
        try
        {
            parse = root.Parse(args);
        }
        catch (InvalidOperationException e)
        {
            // A value the parser could not convert, met by a validator: still a usage error, not a crash.
            host.Error.WriteLine($"djjob: {OneLine(e.Message)}");
            return Usage;
        }
        if (parse.Action is ParseErrorAction)
        {
            foreach (var error in parse.Errors) host.Error.WriteLine($"djjob: {OneLine(error.Message)}");
            host.Error.WriteLine("Try 'djjob --help'.");
            return Usage;
        }
        return parse.Invoke(new InvocationConfiguration
        {
            Output = host.Console.Profile.Out.Writer,
            Error = host.Error,
            EnableDefaultExceptionHandler = false, // Guard prints errors; Ctrl+C is the host's
            ProcessTerminationTimeout = null,
        });
    }

    internal static string OneLine(string text) => string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    /// <summary>A mistake in the arguments that the parser cannot see (no connection given): exit code 2.</summary>
    private sealed class UsageException(string message) : Exception(message);

    /// <summary>The command tree; each action opens the store it needs and reports through the host.</summary>
    private sealed class Commands
    {
        private readonly CliHost _host;

        private readonly Option<string?> _connection = new("--connection", "-c")
        {
            Description = $"Where the jobs live: \"sqlite:path/to/jobs.db\" or a MySQL connection string (\"Server=...;Database=...;User ID=...;Password=...\"). Default: ${ConnectionVariable}.",
            Recursive = true,
        };

        private readonly Option<string> _table = new("--table", "-t")
        {
            Description = "The jobs table.",
            DefaultValueFactory = _ => "jobs",
            Recursive = true,
        };

        public Commands(CliHost host)
        {
            _host = host;
            Root = new RootCommand("djjob: look after DJJob's jobs table: status, failed jobs, retry, delete, release locks.")
            {
                _connection, _table, Install(), Status(), Failed(), Retry(), Delete(), Release(),
            };
        }

        public RootCommand Root { get; }

        private IAnsiConsole Console => _host.Console;

        private Command Install()
        {
            var command = new Command("install", "Create the jobs table and its index when they are missing (safe to run again).");
            command.SetAction(parse => Guard(() =>
            {
                var admin = Open(parse, mustExist: false);
                admin.Install();
                Console.MarkupLineInterpolated($"Installed table [bold]{admin.TableName}[/] ({admin.Driver}).");
                return Ok;
            }));
            return command;
        }

        private Command Status()
        {
            var queue = QueueOption("Show this queue only.");
            var watch = new Option<bool>("--watch", "-w") { Description = "Refresh as a live view until Ctrl+C." };
            var interval = new Option<int>("--interval") { Description = "Seconds between refreshes with --watch (1 to 3600).", DefaultValueFactory = _ => 2 };
            Between(interval, 1, 3600);
            var command = new Command("status", "Jobs per queue: outstanding, locked, failed, total.") { queue, watch, interval };
            command.SetAction(parse => Guard(() =>
            {
                var admin = Open(parse);
                var name = parse.GetValue(queue);
                if (!parse.GetValue(watch))
                {
                    Console.Write(StatusTable(admin.Status(name)));
                    return Ok;
                }
                return Watch(admin, name, TimeSpan.FromSeconds(parse.GetValue(interval)));
            }));
            return command;
        }

        private Command Failed()
        {
            var queue = QueueOption("List this queue's failed jobs only.");
            var limit = new Option<int>("--limit", "-n") { Description = "List at most this many, the latest failures first (1 to 100000).", DefaultValueFactory = _ => 50 };
            Between(limit, 1, 100_000);
            var command = new Command("failed", "List failed jobs: id, queue, attempts, when, type, error.") { queue, limit };
            command.SetAction(parse => Guard(() =>
            {
                var admin = Open(parse);
                var name = parse.GetValue(queue);
                var jobs = admin.Failed(name, parse.GetValue(limit));
                if (jobs.Count == 0)
                {
                    Console.MarkupLine(name is null ? "No failed jobs." : $"No failed jobs in queue {Markup.Escape(name)}.");
                    return Ok;
                }
                // Numbers and times never wrap; on a narrow terminal the type and the error do.
                var table = new Table().Border(TableBorder.Rounded)
                    .AddColumn(new TableColumn("Id").RightAligned().NoWrap()).AddColumn("Queue").AddColumn(new TableColumn("Attempts").RightAligned().NoWrap())
                    .AddColumn(new TableColumn("Failed at (UTC)").NoWrap()).AddColumn("Type").AddColumn("Error");
                foreach (var job in jobs)
                {
                    table.AddRow(Cell(job.Id), new Text(job.Queue), Cell(job.Attempts),
                        new Text(job.FailedAt.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)), new Text(job.Type), new Text(job.Error));
                }
                var total = admin.CountFailed(name);
                if (total > jobs.Count) table.Caption($"{jobs.Count} of {total} failed jobs (--limit)");
                Console.Write(table);
                return Ok;
            }));
            return command;
        }

        private Command Retry()
        {
            var id = IdArgument("The failed job to retry.");
            var all = new Option<bool>("--all") { Description = "Retry every failed job (of --queue, when given)." };
            var queue = QueueOption("With --all: retry this queue's failed jobs only.");
            var batch = BatchOption();
            var command = new Command("retry", "Make failed jobs runnable again: attempts back to 0, due now, unlocked; the last error is kept.")
            {
                id, all, queue, batch,
            };
            OneOf(command, id, all, "--all", queue);
            command.SetAction(parse => Guard(() =>
            {
                var admin = Open(parse);
                if (!parse.GetValue(all)) return One(admin, parse.GetValue(id)!.Value, admin.Retry, "retried", j => $"Job {j} will run again.");
                var done = Chunked(admin, parse.GetValue(queue), "Retrying failed jobs",
                    (name, progress) => admin.RetryAll(name, parse.GetValue(batch), progress, _host.Cancel));
                Console.MarkupLineInterpolated($"Retried {done} failed job{(done == 1 ? "" : "s")}{Stopped()}.");
                return Ok;
            }));
            return command;
        }

        private Command Delete()
        {
            var id = IdArgument("The failed job to delete.");
            var all = new Option<bool>("--all-failed") { Description = "Delete every failed job (of --queue, when given)." };
            var queue = QueueOption("With --all-failed: delete this queue's failed jobs only.");
            var batch = BatchOption();
            var command = new Command("delete", "Delete failed jobs; a job that has not failed is never deleted.") { id, all, queue, batch };
            OneOf(command, id, all, "--all-failed", queue);
            command.SetAction(parse => Guard(() =>
            {
                var admin = Open(parse);
                if (!parse.GetValue(all)) return One(admin, parse.GetValue(id)!.Value, admin.Delete, "deleted", j => $"Deleted failed job {j}.");
                var done = Chunked(admin, parse.GetValue(queue), "Deleting failed jobs",
                    (name, progress) => admin.DeleteAllFailed(name, parse.GetValue(batch), progress, _host.Cancel));
                Console.MarkupLineInterpolated($"Deleted {done} failed job{(done == 1 ? "" : "s")}{Stopped()}.");
                return Ok;
            }));
            return command;
        }

        private Command Release()
        {
            var worker = new Option<string?>("--worker") { Description = "Release the locks held under exactly this name (the locked_by column)." };
            var host = new Option<string?>("--host") { Description = "With --pid: release the locks of every worker of that process." };
            var pid = new Option<int?>("--pid") { Description = "With --host: the process id of the dead worker process." };
            var command = new Command("release", "Clear the locks of a worker that is gone, so its jobs run again at once.") { worker, host, pid };
            command.Validators.Add(result =>
            {
                var byWorker = result.GetResult(worker) is not null;
                var byHost = result.GetResult(host) is not null;
                var byPid = result.GetResult(pid) is not null;
                if (byWorker && (byHost || byPid)) result.AddError("Give either --worker or --host with --pid, not both.");
                else if (!byWorker && !(byHost && byPid)) result.AddError("Give --worker \"<locked_by>\", or --host and --pid.");
                else if (byWorker && string.IsNullOrWhiteSpace(result.GetValue(worker))) result.AddError("--worker needs a worker name.");
                else if (byHost && string.IsNullOrWhiteSpace(result.GetValue(host))) result.AddError("--host needs a host name.");
            });
            command.SetAction(parse => Guard(() =>
            {
                var admin = Open(parse);
                int released;
                string whose;
                if (parse.GetValue(worker) is { } name)
                {
                    released = admin.ReleaseWorker(name);
                    whose = name;
                }
                else
                {
                    var (h, p) = (parse.GetValue(host)!, parse.GetValue(pid)!.Value);
                    released = admin.ReleaseProcess(h, p);
                    whose = $"host::{h} pid::{p}";
                }
                Console.MarkupLineInterpolated($"Released {released} lock{(released == 1 ? "" : "s")} held by {whose}.");
                return Ok;
            }));
            return command;
        }

        // Opens the store that --connection (or DJJOB_CONNECTION) and --table name, and checks that the table is there.
        private JobAdmin Open(ParseResult parse, bool mustExist = true)
        {
            var connection = parse.GetValue(_connection);
            if (string.IsNullOrWhiteSpace(connection)) connection = _host.Environment(ConnectionVariable);
            if (string.IsNullOrWhiteSpace(connection))
                throw new UsageException($"No database given: pass --connection \"sqlite:path\" or a MySQL connection string, or set {ConnectionVariable}.");
            // Only install may create a SQLite file: a mistyped path must not leave an empty database behind.
            if (mustExist && StoreFactory.SqlitePath(connection) is { Length: > 0 } path && !File.Exists(path))
                throw new DJException($"The SQLite file '{path}' does not exist (djjob install creates it).");
            var admin = new JobAdmin(StoreFactory.FromConnectionString(connection, parse.GetValue(_table)!), _host.Time);
            if (mustExist && !admin.TableExists())
                throw new DJException($"The jobs table `{admin.TableName}` does not exist in this database: run djjob install with the same --connection and --table.");
            return admin;
        }

        private int Watch(JobAdmin admin, string? queue, TimeSpan interval)
        {
            IRenderable View()
            {
                var stamp = _host.Time.GetUtcNow().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
                var heading = new Markup(Markup.Escape($"{admin.TableName} ({admin.Driver}) at {stamp} UTC, every {interval.TotalSeconds:0} s; Ctrl+C to stop"), new Style(decoration: Decoration.Dim));
                try
                {
                    return new Rows(heading, StatusTable(admin.Status(queue)));
                }
                catch (DJUnavailableException e)
                {
                    // A server that restarts is what an operator watches for: say so and keep refreshing.
                    return new Rows(heading, new Text($"unavailable: {OneLine(e.Message)}", new Style(Color.Red)));
                }
            }

            try
            {
                if (!Console.Profile.Capabilities.Ansi)
                {
                    // Piped to a file or a log: no cursor to move, so each refresh is written below the last.
                    while (true)
                    {
                        Console.Write(View());
                        Console.WriteLine();
                        Task.Delay(interval, _host.Time, _host.Cancel).GetAwaiter().GetResult();
                    }
                }
                Console.Live(View()).StartAsync(async context =>
                {
                    while (true)
                    {
                        context.Refresh(); // at once: a terminal that is not interactive shows each refresh as it comes
                        await Task.Delay(interval, _host.Time, _host.Cancel).ConfigureAwait(false);
                        context.UpdateTarget(View());
                    }
                }).GetAwaiter().GetResult();
            }
            catch (OperationCanceledException)
            {
                // Ctrl+C: the normal way out.
            }
            return Ok;
        }

        private int One(JobAdmin admin, long id, Func<long, JobOutcome> act, string verb, Func<long, string> done)
        {
            switch (act(id))
            {
                case JobOutcome.Done:
                    Console.WriteLine(done(id));
                    return Ok;
                case JobOutcome.NotFound:
                    throw new DJException($"There is no job {id} in table `{admin.TableName}`.");
                default:
                    throw new DJException($"Job {id} has not failed (it is waiting, scheduled or running): only failed jobs are {verb}.");
            }
        }

        private long Chunked(JobAdmin admin, string? queue, string description, Func<string?, Action<int>, long> run)
        {
            var total = admin.CountFailed(queue);
            if (total == 0) return 0;
            return Console.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .Start(context =>
                {
                    var task = context.AddTask(description, maxValue: total);
                    var done = run(queue, changed => task.Increment(changed));
                    if (!_host.Cancel.IsCancellationRequested) task.Value = task.MaxValue; // jobs changed meanwhile by others are not counted
                    return done;
                });
        }

        private string Stopped() => _host.Cancel.IsCancellationRequested ? " (stopped by Ctrl+C; run it again to go on)" : "";

        private int Guard(Func<int> action)
        {
            try
            {
                return action();
            }
            catch (UsageException e)
            {
                _host.Error.WriteLine($"djjob: {e.Message}");
                return Usage;
            }
            catch (DJException e)
            {
                _host.Error.WriteLine($"djjob: {OneLine(e.Message)}");
                return Failure;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                _host.Error.WriteLine($"djjob: unexpected {e.GetType().Name}: {OneLine(e.Message)}");
                return Failure;
            }
        }

        private static Table StatusTable(IReadOnlyList<QueueStatus> statuses)
        {
            var table = new Table().Border(TableBorder.Rounded).AddColumn("Queue");
            foreach (var column in new[] { "Outstanding", "Locked", "Failed", "Total" }) table.AddColumn(new TableColumn(column).RightAligned());
            foreach (var s in statuses) table.AddRow(new Text(s.Queue), Cell(s.Outstanding), Cell(s.Locked), Cell(s.Failed), Cell(s.Total));
            if (statuses.Count > 1)
            {
                var bold = new Style(decoration: Decoration.Bold);
                table.AddRow(new Text("all queues", bold), Cell(statuses.Sum(s => s.Outstanding), bold), Cell(statuses.Sum(s => s.Locked), bold),
                    Cell(statuses.Sum(s => s.Failed), bold), Cell(statuses.Sum(s => s.Total), bold));
            }
            if (statuses.Count == 0) table.Caption("no jobs");
            return table;
        }

        private static Text Cell(long value, Style? style = null) => new(value.ToString(CultureInfo.InvariantCulture), style);

        private static Option<string?> QueueOption(string description)
        {
            var queue = new Option<string?>("--queue", "-q") { Description = description };
            queue.Validators.Add(r =>
            {
                if (r.GetValueOrDefault<string?>() is { } q && (q.Length is 0 or > 255)) r.AddError("--queue must have 1 to 255 characters.");
            });
            return queue;
        }

        private static Option<int> BatchOption()
        {
            var batch = new Option<int>("--batch") { Description = "Jobs per statement with --all / --all-failed (1 to 10000).", DefaultValueFactory = _ => 500 };
            Between(batch, 1, 10_000);
            return batch;
        }

        private static Argument<long?> IdArgument(string description)
        {
            var id = new Argument<long?>("id") { Description = description, Arity = ArgumentArity.ZeroOrOne };
            // Read the token itself: a validator also runs when the value did not convert, and GetValue would throw.
            id.Validators.Add(r =>
            {
                if (r.Tokens is [var token, ..] && !(long.TryParse(token.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value > 0))
                    r.AddError($"A job id is a positive whole number; got '{token.Value}'.");
            });
            return id;
        }

        private static void Between(Option<int> option, int min, int max) =>
            option.Validators.Add(r =>
            {
                var value = r.GetValueOrDefault<int>();
                if (value < min || value > max) r.AddError($"{option.Name} must be between {min} and {max}; got {value}.");
            });

        // An <id> or the all-flag, exactly one; --queue only with the flag.
        private static void OneOf(Command command, Argument<long?> id, Option<bool> all, string allName, Option<string?> queue) =>
            command.Validators.Add(result =>
            {
                var hasId = result.GetResult(id) is { Tokens.Count: > 0 };
                var hasAll = result.GetResult(all) is { Implicit: false } flag && flag.Tokens is not [{ Value: "false" }];
                if (hasId == hasAll) result.AddError($"Give a job id or {allName}, not both and not neither.");
                else if (hasId && result.GetResult(queue) is not null) result.AddError($"--queue goes with {allName}, not with a job id.");
            });
    }
}
