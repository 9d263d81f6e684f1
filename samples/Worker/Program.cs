// The seed's worker.php in C#: configure DJJob, install the table, enqueue demo jobs, run a worker, print the status.
//
//   dotnet run --project samples/Worker -- --until-empty                 (SQLite file djjob-sample.db)
//   dotnet run --project samples/Worker -- --mysql "Server=127.0.0.1;Database=djjob;User ID=root;Password=" --until-empty
//
// Options: --mysql <connection string> (or DJJOB_MYSQL), --sqlite <file>, --until-empty (exit once nothing is
// runnable, for cron), --no-demo (enqueue nothing), --table <jobs table>, --queue <name>, --sleep <seconds>,
// --count <polls>, --max-run-time <seconds>, --shutdown-timeout <seconds>, --batch-size <jobs>, --concurrency <jobs>,
// --batched-completion.
//
// Calendar jobs (DJJob.Calendar) run when the Graph settings are given in the environment: FACEBOOK_APP_SECRET
// (for appsecret_proof), and optionally FACEBOOK_GRAPH_URL and FACEBOOK_API_VERSION. With FACEBOOK_ACCESS_TOKEN set
// too, the demo also enqueues a sample event, as the seed's worker.php does.
using DJJobNet;
using DJJobNet.Facebook;
using DJJobNet.Samples.Worker;

var options = new DJWorkerOptions();
string? mysql = Environment.GetEnvironmentVariable("DJJOB_MYSQL");
string sqlite = "djjob-sample.db";
string table = "jobs";
bool demo = true;
try
{
    for (var i = 0; i < args.Length; i++)
    {
        string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
        switch (args[i])
        {
            case "--mysql": mysql = Value(); break;
            case "--sqlite": sqlite = Value(); mysql = null; break;
            case "--until-empty": options.ExitWhenEmpty = true; break;
            case "--no-demo": demo = false; break;
            case "--table": table = Value(); break;
            case "--queue": options.Queue = Value(); break;
            case "--sleep": options.Sleep = TimeSpan.FromSeconds(double.Parse(Value(), System.Globalization.CultureInfo.InvariantCulture)); break;
            case "--count": options.Count = int.Parse(Value(), System.Globalization.CultureInfo.InvariantCulture); break;
            case "--max-run-time": options.MaxRunTime = TimeSpan.FromSeconds(double.Parse(Value(), System.Globalization.CultureInfo.InvariantCulture)); break;
            case "--shutdown-timeout": options.ShutdownTimeout = TimeSpan.FromSeconds(double.Parse(Value(), System.Globalization.CultureInfo.InvariantCulture)); break;
            case "--batch-size": options.BatchSize = int.Parse(Value(), System.Globalization.CultureInfo.InvariantCulture); break;
            case "--concurrency": options.Concurrency = int.Parse(Value(), System.Globalization.CultureInfo.InvariantCulture); break;
            case "--batched-completion": options.BatchedCompletion = true; break;
            case "--help" or "-h":
                Console.WriteLine("""
                    usage: Worker [--mysql <connection string> | --sqlite <file>] [--table <name>] [--queue <name>]
                                  [--sleep <seconds>] [--count <polls>] [--until-empty] [--no-demo]
                                  [--max-run-time <seconds>] [--shutdown-timeout <seconds>]
                                  [--batch-size <jobs>] [--concurrency <jobs>] [--batched-completion]
                    Without --mysql (or DJJOB_MYSQL) the jobs live in the SQLite file djjob-sample.db.
                    """);
                return 0;
            default: throw new ArgumentException($"unknown option {args[i]} (try --help)");
        }
    }

    DJJob.Configure(string.IsNullOrEmpty(mysql) ? $"sqlite:{sqlite}" : mysql, table);
    DJJob.Install();
    Console.WriteLine(string.IsNullOrEmpty(mysql) ? $"Using SQLite file {Path.GetFullPath(sqlite)}" : "Using MySQL");

    var graph = Environment.GetEnvironmentVariable("FACEBOOK_GRAPH_URL");
    FacebookGraph.Configure(new FacebookOptions
    {
        AppSecret = Environment.GetEnvironmentVariable("FACEBOOK_APP_SECRET"),
        GraphUrl = new Uri(string.IsNullOrEmpty(graph) ? "https://graph.facebook.com/" : graph),
        ApiVersion = Environment.GetEnvironmentVariable("FACEBOOK_API_VERSION") is { Length: > 0 } version ? version : "v24.0",
        EventCreated = (calendar, id) => Console.WriteLine($"Created Facebook event {id} for \"{calendar.Name}\""),
    });

    if (demo && Environment.GetEnvironmentVariable("FACEBOOK_ACCESS_TOKEN") is { Length: > 0 } token)
    {
        new Calendar
        {
            Name = "DJJob sample event",
            StartTime = DateTimeOffset.UtcNow.AddDays(7),
            Description = "Created in the background by DJJob for .NET",
            Location = "Online",
            AccessToken = token,
        }.SendLater(options.Queue);
    }

    if (demo)
    {
        // In production the application enqueues; the seed's worker.php enqueues a sample job too.
        DJJob.Enqueue(new HelloJob { Name = "DJJob" }, options.Queue);
        DJJob.BulkEnqueue([new HelloJob { Name = "bulk 1" }, new HelloJob { Name = "bulk 2" }], options.Queue);
        DJJob.Enqueue(new FlakyJob(), options.Queue);
        DJJob.Enqueue(new RetryLaterJob { DelaySeconds = 60 }, options.Queue);
    }

    new DJWorker(options).Start();

    var status = DJJob.Status(options.Queue);
    Console.WriteLine($"Status of queue '{options.Queue}': outstanding {status.Outstanding}, locked {status.Locked}, failed {status.Failed}, total {status.Total}");
    return 0;
}
catch (Exception e) when (e is DJException or ArgumentException or FormatException)
{
    Console.Error.WriteLine($"worker: {e.Message}");
    return 2;
}
