using System.Collections.Concurrent;
using DJJobNet.Hosting;
using DJJobNet.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace DJJobNet.Tests;

/// <summary>
/// services.AddDJJob(...) in a real host: configuration from a dictionary, the hosted worker, the host's stop. DJJob's
/// static configuration is process-wide, so these tests (like all here) run one at a time.
/// </summary>
[TestFixture("mysql")]
[TestFixture("sqlite")]
public sealed class HostingTests(string driver) : StoreTest(driver)
{
    private const int DeadlineMs = 30_000;
    private readonly List<IHost> _hosts = [];

    [TearDown]
    public void DisposeHosts()
    {
        foreach (var host in _hosts) host.Dispose();
        _hosts.Clear();
        DJJob.SetLoggerFactory(null); // other tests keep PHP DJJob's console lines
    }

    [Test]
    public async Task AHostedWorker_RunsAJobEnqueuedWithTheStaticApi()
    {
        var host = Build(Settings());
        await host.StartAsync();

        var job = new CountingJob();
        var id = DJJob.Enqueue(job);

        Assert.That(() => Row(id), Is.Null.After(DeadlineMs, 20));
        Assert.That(CountingJob.RunsOf(job.Key), Is.EqualTo(1));
        await host.StopAsync();
    }

    [Test]
    public async Task StoppingTheHost_CancelsARunningAsyncJob_AndReleasesItsLock()
    {
        var host = Build(Settings());
        await host.StartAsync();
        var job = new AsyncJobTests.WaitsForCancellationJob { Key = Guid.NewGuid().ToString("N") };
        var id = DJJob.Enqueue(job);
        Assert.That(() => AsyncJobTests.WaitsForCancellationJob.Started.ContainsKey(job.Key), Is.True.After(DeadlineMs, 5));
        Assert.That(Row(id)!.LockedBy, Is.Not.Null);

        var stop = host.StopAsync();

        // Well within the worker's ShutdownTimeout (25 s): the job heard its token.
        Assert.That(await Task.WhenAny(stop, Task.Delay(TimeSpan.FromSeconds(20))), Is.SameAs(stop));
        await stop;
        Assert.That(AsyncJobTests.WaitsForCancellationJob.Canceled, Does.Contain(job.Key));
        var row = Row(id)!;
        Assert.That((row.LockedBy, row.LockedAt, row.Attempts, row.FailedAt), Is.EqualTo(((string?)null, (DateTime?)null, 0, (DateTime?)null)));
    }

    [Test]
    public async Task ConfigurationValues_ReachTheWorkerOptions_AndTheWorkers()
    {
        var host = Build(Settings(new()
        {
            ["DJJob:Workers"] = "2",
            ["DJJob:Worker:Queue"] = "hosted",
            ["DJJob:Worker:BatchSize"] = "5",
            ["DJJob:Worker:Sleep"] = "00:00:00.025",
            ["DJJob:Worker:MaxAttempts"] = "7",
            ["DJJob:Worker:ShutdownTimeout"] = "00:00:10",
            ["DJJob:Worker:Concurrency"] = "2",
            ["DJJob:Worker:BatchedCompletion"] = "true",
        }));
        await host.StartAsync();

        var options = host.Services.GetRequiredService<IOptions<DJJobHostingOptions>>().Value;
        Assert.That(
            (options.ConnectionString, options.JobsTable, options.Workers, options.Worker.Queue, options.Worker.BatchSize, options.Worker.Sleep,
                options.Worker.MaxAttempts, options.Worker.ShutdownTimeout, options.Worker.Concurrency, options.Worker.BatchedCompletion, options.Worker.HandleSignals),
            Is.EqualTo((ConnectionString, Table, 2, "hosted", 5, TimeSpan.FromMilliseconds(25), 7, TimeSpan.FromSeconds(10), 2, true, false)));
        Assert.That(HostedService(host).Workers, Has.Count.EqualTo(2));
        Assert.That(HostedService(host).Workers.Select(w => w.Name).Distinct().Count(), Is.EqualTo(2));

        var hosted = DJJob.Enqueue(new CountingJob(), queue: "hosted");
        var other = DJJob.Enqueue(new CountingJob(), queue: "default");
        Assert.That(() => Row(hosted), Is.Null.After(DeadlineMs, 20));
        await host.StopAsync();
        Assert.That(Row(other), Is.Not.Null, "a job on a queue the workers do not serve");
    }

    [Test]
    public void ABadWorkerValue_FailsTheStart_NamingTheKey()
    {
        var host = Build(Settings(new() { ["DJJob:Worker:BatchSize"] = "0" }));

        Assert.That(() => host.StartAsync(), Throws.TypeOf<DJException>()
            .With.Message.EqualTo("Invalid value '0' for DJJob setting 'DJJob:Worker:BatchSize': BatchSize must be between 1 and 1000; got 0."));
    }

    [TestCase("DJJob:Worker:Sleep", "soon", "DJJob setting 'DJJob:Worker:Sleep'")]
    [TestCase("DJJob:Worker:Sleeep", "00:00:01", "Unknown DJJob setting 'DJJob:Worker:Sleeep'")]
    [TestCase("DJJob:Worker:TimeProvider", "x", "DJJob setting 'DJJob:Worker:TimeProvider' cannot be set from configuration")]
    [TestCase("DJJob:Workers", "0", "Workers must be between 1 and 256; got 0.")]
    [TestCase("DJJob:JobsTable", "jobs; DROP TABLE x", "jobs; DROP TABLE x")]
    public void AValueThatCannotBeUsed_FailsTheStart_WithAMessageNamingIt(string key, string value, string expected)
    {
        var host = Build(Settings(new() { [key] = value }));

        Assert.That(() => host.StartAsync(), Throws.TypeOf<DJException>().With.Message.Contains(expected));
    }

    [Test]
    public void AMissingConnectionString_FailsTheStart()
    {
        var host = Build(new() { ["DJJob:JobsTable"] = Table });

        Assert.That(() => host.StartAsync(), Throws.TypeOf<DJException>().With.Message.Contains("DJJob's ConnectionString is missing"));
    }

    [Test]
    public async Task RunWorkerFalse_ConfiguresDJJob_ButStartsNoWorker()
    {
        var host = Build(Settings(new() { ["DJJob:RunWorker"] = "false" }));
        await host.StartAsync();

        var id = DJJob.Enqueue(new CountingJob()); // DJJob is configured: the application can enqueue

        var service = HostedService(host);
        Assert.That((service.Workers.Count, service.ExecuteTask), Is.EqualTo((0, (Task?)null)));
        await host.StopAsync();
        var row = Row(id)!;
        Assert.That((row.LockedBy, row.Attempts), Is.EqualTo(((string?)null, 0)));
    }

    [Test]
    public async Task AddDJJob_WithAnAction_SetsTheOptionsInCode()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [] });
        builder.Logging.ClearProviders();
        builder.Services.AddDJJob(options =>
        {
            options.ConnectionString = ConnectionString;
            options.JobsTable = Table;
            options.Worker = new DJWorkerOptions { Sleep = TimeSpan.FromMilliseconds(25), Queue = "code" };
        });
        var host = builder.Build();
        _hosts.Add(host);
        await host.StartAsync();

        var id = DJJob.Enqueue(new CountingJob(), queue: "code");

        Assert.That(() => Row(id), Is.Null.After(DeadlineMs, 20));
        await host.StopAsync();
    }

    private Dictionary<string, string?> Settings(Dictionary<string, string?>? more = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["DJJob:ConnectionString"] = ConnectionString,
            ["DJJob:JobsTable"] = Table,
            ["DJJob:Worker:Sleep"] = "00:00:00.050",
        };
        foreach (var (key, value) in more ?? []) settings[key] = value;
        return settings;
    }

    private IHost Build(Dictionary<string, string?> settings)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [] });
        builder.Logging.ClearProviders();
        // Only the test's settings: not the appsettings.json a sample copies next to the tests, nor the environment.
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddDJJob(builder.Configuration.GetSection("DJJob"));
        var host = builder.Build();
        _hosts.Add(host);
        return host;
    }

    private static DJJobHostedService HostedService(IHost host) =>
        host.Services.GetServices<IHostedService>().OfType<DJJobHostedService>().Single();
}
