using DJJobNet;
using DJJobNet.Samples.WorkerService;

// A Worker Service that runs DJJob's worker until the host stops (Ctrl+C, SIGTERM, a service manager's stop).
// The "DJJob" section of appsettings.json says where the jobs live and how the worker polls.
var builder = Host.CreateApplicationBuilder(args);
builder.Services.AddDJJob(builder.Configuration.GetSection("DJJob"));
// How long the host waits for its services on a stop. Keep it above DJJob:Worker:ShutdownTimeout (25 s), so the worker
// can give a running job its time and release its locks before the host gives up on it. 30 s is the default, set here to show it.
builder.Services.Configure<HostOptions>(options => options.ShutdownTimeout = TimeSpan.FromSeconds(30));
builder.Services.AddHostedService<DemoEnqueuer>(); // after AddDJJob: DJJob is configured and the table installed when it starts

var host = builder.Build();
host.Run();

namespace DJJobNet.Samples.WorkerService
{
    /// <summary>
    /// Enqueues one demo job at start, as an application would from anywhere once the host runs. Its length comes from
    /// configuration: <c>--Demo:Seconds 30</c> gives time to press Ctrl+C while it runs.
    /// </summary>
    internal sealed class DemoEnqueuer(IConfiguration configuration, ILogger<DemoEnqueuer> logger) : IHostedService
    {
        public async Task StartAsync(CancellationToken cancellationToken)
        {
            var job = new CountdownJob { Name = "demo", Seconds = configuration.GetValue("Demo:Seconds", 3) };
            var id = await DJJob.EnqueueAsync(job, cancellationToken: cancellationToken);
            logger.LogInformation("Enqueued demo job {Id}; press Ctrl+C to stop", id);
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    /// <summary>
    /// An async job that counts down a second at a time and honors its token: when the host stops, the worker cancels the
    /// token, the job ends with OperationCanceledException, and its row is released (no attempt counted) to run again later.
    /// </summary>
    public sealed class CountdownJob : IAsyncJob
    {
        public string Name { get; set; } = "";
        public int Seconds { get; set; } = 3;

        public async Task PerformAsync(CancellationToken cancellationToken)
        {
            for (var left = Seconds; left > 0; left--)
            {
                Console.WriteLine($"{Name}: {left}...");
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
            }
            Console.WriteLine($"{Name}: done");
        }
    }
}
