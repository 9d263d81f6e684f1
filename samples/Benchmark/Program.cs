// Measures DJJob against the floor of minimal SQL on the same MySQL/MariaDB server, prints a table and writes the
// figures to a JSON file (one key per figure). Speed and memory live here, never in a timed test.
//
//   dotnet run -c Release --project samples/Benchmark -- --mysql "Server=127.0.0.1;Database=djjob_bench;User ID=...;Password=..."
//
// Options: --mysql <connection string> (or DJJOB_MYSQL; the database must exist and may be written to),
// --backlogs 1000,10000,100000, --out bench-results.json.
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using DJJobNet;
using MySqlConnector;

var mysql = Environment.GetEnvironmentVariable("DJJOB_MYSQL");
var backlogs = new[] { 1_000, 10_000, 100_000 };
var outFile = "bench-results.json";
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--mysql": mysql = args[++i]; break;
        case "--backlogs": backlogs = args[++i].Split(',').Select(int.Parse).ToArray(); break;
        case "--out": outFile = args[++i]; break;
        default: Console.Error.WriteLine($"unknown option {args[i]}"); return 2;
    }
}
if (string.IsNullOrEmpty(mysql))
{
    Console.Error.WriteLine("benchmark: give --mysql <connection string> or DJJOB_MYSQL");
    return 2;
}

const string Table = "bench_jobs";
DJJob.Configure(mysql, Table);
DJJob.SetLogLevel(DJLogLevel.Critical);
DJJob.Install();
var handler = JsonSerializer.Serialize(new { type = "noop" }); // the floor stores a handler of the same size class
var figures = new List<(string Key, string Name, double Value, string Unit, string? Floor)>();

void Add(string key, string name, double value, string unit, string? floor = null) => figures.Add((key, name, value, unit, floor));

MySqlConnection Open()
{
    var c = new MySqlConnection(mysql);
    c.Open();
    return c;
}

void Exec(MySqlConnection c, string sql, MySqlTransaction? tx = null, params (string, object)[] parameters)
{
    using var cmd = new MySqlCommand(sql, c, tx);
    foreach (var (name, value) in parameters) cmd.Parameters.AddWithValue(name, value);
    cmd.ExecuteNonQuery();
}

void Truncate()
{
    using var c = Open();
    Exec(c, $"TRUNCATE TABLE `{Table}`");
}

void RawFill(int count)
{
    using var c = Open();
    var now = DateTime.UtcNow;
    for (var done = 0; done < count; done += 1000)
    {
        var n = Math.Min(1000, count - done);
        var values = string.Join(",", Enumerable.Repeat("(@h, 'default', @now, @now)", n));
        Exec(c, $"INSERT INTO `{Table}` (handler, queue, run_at, created_at) VALUES {values}", null, ("@h", handler), ("@now", now));
    }
}

double PerSecond(int count, Action action)
{
    var watch = Stopwatch.StartNew();
    action();
    return count / watch.Elapsed.TotalSeconds;
}

// 1. The floor.
const int inserts = 2_000;
Truncate();
Add("floor_insert_per_s", "floor: single-row INSERT", PerSecond(inserts, () =>
{
    using var c = Open();
    for (var i = 0; i < inserts; i++)
        Exec(c, $"INSERT INTO `{Table}` (handler, queue, run_at, created_at) VALUES (@h, 'default', @now, @now)", null, ("@h", handler), ("@now", DateTime.UtcNow));
}), "/s");

Truncate();
Add("floor_multirow_insert_per_s", "floor: multi-row INSERT (1,000 rows)", PerSecond(10_000, () => RawFill(10_000)), "/s");

const string ClaimSql = "SELECT id FROM `bench_jobs` WHERE queue = 'default' AND failed_at IS NULL AND run_at <= @now ORDER BY run_at, id LIMIT {0} FOR UPDATE SKIP LOCKED";
double FloorDrain(int jobs, int batch)
{
    Truncate();
    RawFill(jobs);
    return PerSecond(jobs, () =>
    {
        using var c = Open();
        while (true)
        {
            using var tx = c.BeginTransaction(System.Data.IsolationLevel.ReadCommitted);
            var ids = new List<long>();
            using (var cmd = new MySqlCommand(string.Format(CultureInfo.InvariantCulture, ClaimSql, batch), c, tx))
            {
                cmd.Parameters.AddWithValue("@now", DateTime.UtcNow);
                using var reader = cmd.ExecuteReader();
                while (reader.Read()) ids.Add(Convert.ToInt64(reader.GetValue(0), CultureInfo.InvariantCulture));
            }
            if (ids.Count == 0) break;
            Exec(c, $"DELETE FROM `{Table}` WHERE id IN ({string.Join(",", ids)})", tx);
            tx.Commit();
        }
    });
}
const int drainJobs = 10_000;
var floorOne = FloorDrain(drainJobs, 1);
Add("floor_one_commit_per_job_per_s", "floor: claim one + delete, one commit", floorOne, "/s");
var floorBatch = FloorDrain(drainJobs, 100);
Add("floor_batch_100_per_s", "floor: claim 100 (SKIP LOCKED) + one DELETE", floorBatch, "/s");

// 2. DJJob.
Truncate();
Add("enqueue_per_s", "DJJob.Enqueue", PerSecond(inserts, () =>
{
    for (var i = 0; i < inserts; i++) DJJob.Enqueue(new NoopJob());
}), "/s", "floor_insert_per_s");

Truncate();
Add("bulk_enqueue_per_s", "DJJob.BulkEnqueue (1,000 per call)", PerSecond(10_000, () =>
{
    for (var i = 0; i < 10; i++) DJJob.BulkEnqueue(Enumerable.Range(0, 1000).Select(_ => new NoopJob()));
}), "/s", "floor_multirow_insert_per_s");

long peakMemory = 0;
foreach (var backlog in backlogs)
{
    Truncate();
    for (var done = 0; done < backlog; done += 10_000)
        DJJob.BulkEnqueue(Enumerable.Range(0, Math.Min(10_000, backlog - done)).Select(_ => new NoopJob()));
    var rate = PerSecond(backlog, () =>
        new DJWorker(new DJWorkerOptions { ExitWhenEmpty = true, Sleep = TimeSpan.Zero, HandleSignals = false }).Start());
    Add($"drain_default_{backlog}_per_s", $"DJWorker default, backlog {backlog:N0}", rate, "/s", "floor_one_commit_per_job_per_s");
    Process.GetCurrentProcess().Refresh();
    peakMemory = Math.Max(peakMemory, Process.GetCurrentProcess().PeakWorkingSet64);
}
Add("worker_peak_memory_mb", $"process peak memory after backlog {backlogs.Max():N0}", peakMemory / 1024.0 / 1024.0, "MB");

// Pickup latency: an idle worker polling every 100 ms; jobs enqueued one at a time, 30 ms apart.
Truncate();
NoopJob.Latencies.Clear();
var idle = new DJWorker(new DJWorkerOptions { Sleep = TimeSpan.FromMilliseconds(100), HandleSignals = false });
var running = Task.Run(idle.Start);
Thread.Sleep(300);
for (var i = 0; i < 200; i++)
{
    DJJob.Enqueue(new NoopJob { EnqueuedAt = DateTime.UtcNow.Ticks });
    Thread.Sleep(30);
}
var deadline = DateTime.UtcNow.AddSeconds(30);
while (NoopJob.Latencies.Count < 200 && DateTime.UtcNow < deadline) Thread.Sleep(50);
idle.Stop();
running.Wait();
var latencies = NoopJob.Latencies.Order().ToArray();
double Percentile(double p) => latencies.Length == 0 ? double.NaN : latencies[(int)Math.Min(latencies.Length - 1, Math.Ceiling(p * latencies.Length) - 1)];
Add("pickup_latency_p50_ms", "pickup latency p50 (sleep 100 ms)", Percentile(0.50), "ms");
Add("pickup_latency_p99_ms", "pickup latency p99 (sleep 100 ms)", Percentile(0.99), "ms");
Truncate();

// The table, and the JSON.
var byKey = figures.ToDictionary(f => f.Key, f => f.Value);
Console.WriteLine($"{"figure",-52} {"value",12} {"unit",-4} {"ratio to floor",14}");
foreach (var f in figures)
{
    var ratio = f.Floor is null ? "" : (f.Value / byKey[f.Floor]).ToString("0.00", CultureInfo.InvariantCulture);
    Console.WriteLine($"{f.Name,-52} {f.Value,12:0.0} {f.Unit,-4} {ratio,14}");
}
File.WriteAllText(outFile, JsonSerializer.Serialize(byKey, new JsonSerializerOptions { WriteIndented = true }));
Console.WriteLine($"figures written to {Path.GetFullPath(outFile)}");
return 0;

/// <summary>The benchmark's job: does nothing, or records how long after its enqueue it started.</summary>
public sealed class NoopJob : IJob
{
    public static readonly System.Collections.Concurrent.ConcurrentBag<double> Latencies = [];

    public long EnqueuedAt { get; set; }

    public void Perform()
    {
        if (EnqueuedAt != 0) Latencies.Add(TimeSpan.FromTicks(DateTime.UtcNow.Ticks - EnqueuedAt).TotalMilliseconds);
    }
}
