using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using DJJobNet.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using MySqlConnector;

namespace DJJobNet.Tests;

/// <summary>Async enqueue, enqueue in the application's transaction, ILogger, metrics and traces.</summary>
[TestFixture("mysql")]
[TestFixture("sqlite")]
public sealed class EcosystemTests(string driver) : StoreTest(driver)
{
    private System.Data.Common.DbConnection OpenAppConnection() =>
        IsMySql ? OpenConnection() : OpenSqlite();

    private SqliteConnection OpenSqlite()
    {
        var c = new SqliteConnection($"Data Source={SqlitePath};Default Timeout=30");
        c.Open();
        return c;
    }

    [Test]
    public async Task EnqueueAsync_BulkEnqueueAsync_AndStatusAsync()
    {
        var id = await Context.EnqueueAsync(new CountingJob(), "default", null, default);
        var bulk = await Context.BulkEnqueueAsync([new CountingJob(), new CountingJob()], "default", null, default);

        Assert.That(Row(id), Is.Not.Null);
        Assert.That(bulk, Is.EqualTo(2));
        Assert.That(await Store.StatusAsync(Internal.Io.Async(default), "default"), Is.EqualTo(new JobStatus(3, 0, 0, 3)));
    }

    [Test]
    public async Task EnqueueInTransaction_ARolledBackTransaction_LeavesNoJob()
    {
        await using var connection = OpenAppConnection();
        await using (var tx = await connection.BeginTransactionAsync())
        {
            await Context.EnqueueInAsync(tx, new CountingJob(), "default", null, default);
            Assert.That(Scalar<long>("SELECT COUNT(*) FROM `{table}` WHERE locked_at IS NULL"), Is.Zero, "no other connection sees it before the commit");
            await tx.RollbackAsync();
        }

        Assert.That(Store.Status("default").Total, Is.Zero);
    }

    [Test]
    public async Task EnqueueInTransaction_ACommittedTransaction_GivesAJobThatRuns()
    {
        var job = new CountingJob();
        long id;
        await using (var connection = OpenAppConnection())
        await using (var tx = await connection.BeginTransactionAsync())
        {
            id = Context.EnqueueIn(tx, job, "default", null);
            await tx.CommitAsync();
        }

        Assert.That(Row(id), Is.Not.Null);
        await Worker(count: 1).RunAsync();
        Assert.That(CountingJob.RunsOf(job.Key), Is.EqualTo(1));
        Assert.That(Row(id), Is.Null);
    }

    [Test]
    public async Task EnqueueInTransaction_OnAnotherKindOfConnection_IsRefusedByName()
    {
        await using System.Data.Common.DbConnection other = IsMySql ? new SqliteConnection("Data Source=:memory:") : OpenOtherMySql();
        if (other.State != System.Data.ConnectionState.Open) await other.OpenAsync();
        await using var tx = await other.BeginTransactionAsync();

        Assert.That(() => Context.EnqueueIn(tx, new CountingJob(), "default", null),
            Throws.TypeOf<DJException>().With.Message.Contains($"is configured for {Driver}"));
    }

    private static MySqlConnection OpenOtherMySql()
    {
        var c = new MySqlConnection(MySqlTestServer.CreateDatabase());
        c.Open();
        return c;
    }

    [Test]
    public void ALoggerFactory_GetsDJJobsMessages_InPhpsWords_WithLevelsAndStructure()
    {
        var factory = new CollectingLoggerFactory();
        Context.Log.Factory = factory;
        var id = Enqueue(new CountingJob());
        var failing = Enqueue(new FailingJob { Message = "kaput" });

        Worker(count: 2).Start();

        var entries = factory.Entries.ToList();
        Assert.That(entries, Has.Some.Matches<(string Category, LogLevel Level, string Text)>(e => e.Category == "DJJob" && e.Level == LogLevel.Information && e.Text == $"[JOB] completed job::{id}"));
        Assert.That(entries, Has.Some.Matches<(string Category, LogLevel Level, string Text)>(e => e.Level == LogLevel.Error && e.Text == $"[JOB] failure in job::{failing}: kaput"));
        Assert.That(entries, Has.Some.Matches<(string Category, LogLevel Level, string Text)>(e => e.Level == LogLevel.Debug && e.Text == $"[JOB] enqueued job::{id} on queue::default"));
        Assert.That(factory.States.Any(s => s.Any(kv => kv.Key == "Id" && Equals(kv.Value, id))), Is.True, "structured: the job id is a field");
        Assert.That(LogText.ToString(), Is.Empty, "nothing on the PHP console log meanwhile");
    }

    [Test]
    public async Task AMeterListener_SeesTheCountersMove_AndTheQueueDepth()
    {
        var queue = $"metrics_{Guid.NewGuid():N}"[..30];
        var seen = new ConcurrentDictionary<string, double>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == DJJob.TelemetryName) l.EnableMeasurementEvents(instrument);
        };
        void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            string? q = null, state = null;
            foreach (var tag in tags)
            {
                if (tag.Key == "djjob.queue") q = tag.Value as string;
                if (tag.Key == "djjob.state") state = tag.Value as string;
            }
            if (q != queue) return;
            var key = state is null ? instrument.Name : $"{instrument.Name}:{state}";
            if (instrument is ObservableGauge<long>) seen[key] = value;
            else
            {
                var add = instrument.Name == "djjob.job.duration" ? 1 : value; // durations: how many were recorded
                seen.AddOrUpdate(key, add, (_, old) => old + add);
            }
        }
        listener.SetMeasurementEventCallback<long>((i, v, t, _) => Record(i, v, t));
        listener.SetMeasurementEventCallback<double>((i, v, t, _) => Record(i, v, t));
        listener.Start();

        Enqueue(new ObserveDepthJob(), queue, Now.AddSeconds(-10));
        Enqueue(new CountingJob(), queue);
        Enqueue(new FailingJob(), queue);
        Enqueue(new FailingJob(), queue);
        ObserveDepthJob.Listener = listener;

        await Worker(count: 4, new DJWorkerOptions { Queue = queue, Sleep = TimeSpan.Zero, MaxAttempts = 2 }).RunAsync();
        Clock.Advance(TimeSpan.FromSeconds(10));
        await Worker(count: 2, new DJWorkerOptions { Queue = queue, Sleep = TimeSpan.Zero, MaxAttempts = 2 }).RunAsync();

        Assert.That(seen.GetValueOrDefault("djjob.jobs.enqueued"), Is.EqualTo(4));
        Assert.That(seen.GetValueOrDefault("djjob.jobs.completed"), Is.EqualTo(2));
        Assert.That(seen.GetValueOrDefault("djjob.jobs.retried"), Is.EqualTo(2), "each failing job's first attempt");
        Assert.That(seen.GetValueOrDefault("djjob.jobs.failed"), Is.EqualTo(2), "each failing job's second and last attempt");
        Assert.That(seen.GetValueOrDefault("djjob.job.duration"), Is.EqualTo(6), "one duration per attempt");
        // While the first job ran: itself locked, three outstanding.
        Assert.That(seen.GetValueOrDefault("djjob.queue.depth:locked"), Is.EqualTo(1));
        Assert.That(seen.GetValueOrDefault("djjob.queue.depth:outstanding"), Is.EqualTo(3));
    }

    [Test]
    public void EachJob_RunsInAnActivity_WithItsIdTypeAndOutcome()
    {
        var activities = new ConcurrentBag<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == DJJob.TelemetryName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activities.Add,
        };
        ActivitySource.AddActivityListener(listener);
        var ok = Enqueue(new CountingJob());
        var bad = Enqueue(new FailingJob { Message = "nope" });

        Worker(count: 2).Start();

        var byId = activities.Where(a => a.OperationName == "DJJob perform").ToDictionary(a => (long)a.GetTagItem("djjob.job.id")!);
        Assert.That(byId[ok].GetTagItem("djjob.job.type"), Is.EqualTo(typeof(CountingJob).FullName));
        Assert.That(byId[ok].Status, Is.EqualTo(ActivityStatusCode.Unset));
        Assert.That((byId[bad].Status, byId[bad].StatusDescription), Is.EqualTo((ActivityStatusCode.Error, "nope")));
    }

    /// <summary>Asks the meter listener to read the gauges while it runs (a worker serves its queue then).</summary>
    public sealed class ObserveDepthJob : IJob
    {
        public static MeterListener? Listener;
        public void Perform() => Listener?.RecordObservableInstruments();
    }

    private sealed class CollectingLoggerFactory : ILoggerFactory
    {
        public readonly ConcurrentQueue<(string Category, LogLevel Level, string Text)> Entries = [];
        public readonly ConcurrentQueue<IReadOnlyList<KeyValuePair<string, object?>>> States = [];

        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);
        public void AddProvider(ILoggerProvider provider) { }
        public void Dispose() { }

        private sealed class Logger(CollectingLoggerFactory factory, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
            public bool IsEnabled(LogLevel logLevel) => true;
            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                factory.Entries.Enqueue((category, logLevel, formatter(state, exception)));
                if (state is IReadOnlyList<KeyValuePair<string, object?>> fields) factory.States.Enqueue(fields);
            }
        }
    }
}
