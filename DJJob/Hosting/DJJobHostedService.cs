using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace DJJobNet.Hosting;

/// <summary>
/// The host's DJJob: at start configures the process-wide <see cref="DJJob"/>, sends its log to the host's logging and
/// installs the table; then runs the workers until the host stops. A stop cancels <c>stoppingToken</c>: each worker takes
/// no new job, cancels the token of its running async jobs, waits up to <see cref="DJWorkerOptions.ShutdownTimeout"/>,
/// releases its locks and returns.
/// </summary>
internal sealed class DJJobHostedService(IOptions<DJJobHostingOptions> options, ILoggerFactory loggerFactory) : BackgroundService
{
    private DJWorker[] _workers = [];

    /// <summary>The workers this host runs (none before the start, or when <see cref="DJJobHostingOptions.RunWorker"/> is false).</summary>
    internal IReadOnlyList<DJWorker> Workers => _workers;

    /// <summary>The options in effect, once the host started.</summary>
    internal DJJobHostingOptions? Options { get; private set; }

    // The set-up runs here rather than in ExecuteAsync, which runs in the background: a configuration error or a
    // database that cannot be reached must fail the host's start, not be logged after it.
    public override Task StartAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value; // binds the configuration; a refused value throws DJException naming its key
        if (string.IsNullOrWhiteSpace(settings.ConnectionString))
            throw new DJException("DJJob's ConnectionString is missing: set DJJob:ConnectionString in configuration (\"sqlite:path/to/jobs.db\" or a MySQL connection string), or options.ConnectionString in AddDJJob(options => ...).");
        DJJob.Configure(settings.ConnectionString, settings.JobsTable, settings.Retries);
        DJJob.SetLoggerFactory(loggerFactory);
        if (settings.Install) DJJob.Install();
        Options = settings;
        if (!settings.RunWorker) return Task.CompletedTask;

        // The host handles SIGTERM and SIGINT, and stops the workers through stoppingToken.
        settings.Worker.HandleSignals = false;
        _workers = [.. Enumerable.Range(0, settings.Workers).Select(_ => new DJWorker(settings.Worker))];
        return base.StartAsync(cancellationToken);
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(_workers.Select(worker => worker.RunAsync(stoppingToken)));

    public override void Dispose()
    {
        // The host's logger factory is disposed with the host: DJJob goes back to its console lines.
        DJJob.SetLoggerFactory(null);
        base.Dispose();
    }
}
