// Measures DJJob against the floor of minimal SQL on the same MySQL/MariaDB server, prints a table and writes the
// figures to a JSON file (one key per figure). Speed and memory live here, never in a timed test.
//
//   dotnet run -c Release --project samples/Benchmark -- --mysql "Server=127.0.0.1;Database=djjob_bench;User ID=...;Password=..."
//
// Options: --mysql <connection string> (or DJJOB_MYSQL; the database must exist and may be written to),
// --backlogs 1000,10000,100000, --rounds 3, --out bench-results.json.
//
// Each figure is measured in every round, right after its floor, so that a disk or a neighbour that slows down for a
// while slows both; the table gives the median of the rounds and the median of the per-round ratios.
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using DJJobNet;
using MySqlConnector;

var mysql = Environment.GetEnvironmentVariable("DJJOB_MYSQL");
var backlogs = new[] { 1_000, 10_000, 100_000 };
var rounds = 3;
var outFile = "bench-results.json";
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--mysql": mysql = args[++i]; break;
        case "--backlogs": backlogs = args[++i].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray(); break;
        case "--rounds": rounds = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--out": outFile = args[++i]; break;
        case "--help" or "-h":
            Console.WriteLine("usage: Benchmark --mysql <connection string> [--backlogs 1000,10000,100000] [--rounds 3] [--out bench-results.json]");
            return 0;
        default: Console.Error.WriteLine($"unknown option {args[i]} (try --help)"); return 2;
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
var handler = DJJobNet.Samples.Benchmark.Noop.Handler; // the floor stores a handler of the same size
var samples = new Dictionary<string, List<double>>();
var figures = new List<(string Key, string Name, string Unit, string? Floor, string Target, Func<double, double?, bool> Meets)>();

void Figure(string key, string name, string unit, string? floor = null, string target = "", Func<double, double?, bool>? meets = null) =>
    figures.Add((key, name, unit, floor, target, meets ?? ((_, _) => true)));

void Sample(string key, double value)
{
    if (!samples.TryGetValue(key, out var list)) samples[key] = list = [];
    list.Add(value);
}

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

void Fill(int backlog)
{
    Truncate();
    for (var done = 0; done < backlog; done += 10_000)
        DJJob.BulkEnqueue(Enumerable.Range(0, Math.Min(10_000, backlog - done)).Select(_ => new DJJobNet.Samples.Benchmark.Noop()));
    // The fill's garbage (100,000 serialized jobs) is collected now, not in the middle of the drain that is timed next.
    GC.Collect();
    GC.WaitForPendingFinalizers();
    GC.Collect();
}

double PerSecond(int count, Action action)
{
    var watch = Stopwatch.StartNew();
    action();
    return count / watch.Elapsed.TotalSeconds;
}

const string ClaimSql = "SELECT id FROM `bench_jobs` WHERE queue = 'default' AND failed_at IS NULL AND run_at <= @now ORDER BY run_at, id LIMIT {0} FOR UPDATE SKIP LOCKED";
// Claims and deletes `jobs` jobs, `batch` at a time, one commit per batch, on one connection.
double FloorDrain(int backlog, int jobs, int batch)
{
    Truncate();
    RawFill(backlog);
    return PerSecond(jobs, () =>
    {
        using var c = Open();
        for (var done = 0; done < jobs; done += batch)
        {
            using var tx = c.BeginTransaction(System.Data.IsolationLevel.ReadCommitted);
            var ids = new List<long>();
            using (var cmd = new MySqlCommand(string.Format(CultureInfo.InvariantCulture, ClaimSql, Math.Min(batch, jobs - done)), c, tx))
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

// Runs a worker until it has run `jobs` jobs of the backlog (all of them when jobs == backlog).
double Drain(int backlog, int jobs, Func<DJWorkerOptions> settings)
{
    Fill(backlog);
    var options = settings();
    options.Sleep = TimeSpan.Zero;
    options.HandleSignals = false;
    if (jobs == backlog) options.ExitWhenEmpty = true;
    else options.Count = jobs / options.BatchSize;
    return PerSecond(jobs, () => new DJWorker(options).Start());
}

// The settings the README documents as the fastest.
DJWorkerOptions Fastest() => new() { BatchSize = 100, BatchedCompletion = true };

// At large backlogs a drain runs the first jobs of the backlog (the rate at that backlog), not all of them.
const int inserts = 2_000, multiRow = 10_000, oneCommitJobs = 5_000, batchJobs = 10_000;
Figure("floor_insert_per_s", "floor: single-row INSERT", "/s");
Figure("enqueue_per_s", "DJJob.Enqueue", "/s", "floor_insert_per_s", ">= 0.8", (_, r) => r >= 0.8);
Figure("floor_multirow_insert_per_s", "floor: multi-row INSERT (1,000 rows)", "/s");
Figure("bulk_enqueue_per_s", "DJJob.BulkEnqueue (1,000 per call)", "/s", "floor_multirow_insert_per_s", ">= 0.5", (_, r) => r >= 0.5);
// Each drain is compared with the floor doing the same work at the same backlog, measured just before it.
foreach (var b in backlogs)
{
    Figure($"floor_one_commit_{b}_per_s", $"floor: claim one + delete, one commit, backlog {b:N0}", "/s");
    Figure($"drain_default_{b}_per_s", $"DJWorker default, backlog {b:N0}", "/s", $"floor_one_commit_{b}_per_s", ">= 0.8", (_, r) => r >= 0.8);
}
// The batched floor runs 10,000 jobs at a backlog of 10,000 (at 1,000 it would be ten statements, too short to time).
Figure("floor_batch_100_per_s", "floor: claim 100 (SKIP LOCKED) + one DELETE, 10,000 jobs", "/s");
foreach (var b in backlogs)
    Figure($"drain_fastest_{b}_per_s", $"DJWorker fastest, backlog {b:N0}", "/s", "floor_batch_100_per_s", ">= 0.5", (_, r) => r >= 0.5);

for (var round = 1; round <= rounds; round++)
{
    Console.Error.WriteLine($"round {round}/{rounds}...");
    Truncate();
    Sample("floor_insert_per_s", PerSecond(inserts, () =>
    {
        using var c = Open();
        for (var i = 0; i < inserts; i++)
            Exec(c, $"INSERT INTO `{Table}` (handler, queue, run_at, created_at) VALUES (@h, 'default', @now, @now)", null, ("@h", handler), ("@now", DateTime.UtcNow));
    }));
    Truncate();
    Sample("enqueue_per_s", PerSecond(inserts, () =>
    {
        for (var i = 0; i < inserts; i++) DJJob.Enqueue(new DJJobNet.Samples.Benchmark.Noop());
    }));

    Truncate();
    Sample("floor_multirow_insert_per_s", PerSecond(multiRow, () => RawFill(multiRow)));
    Truncate();
    Sample("bulk_enqueue_per_s", PerSecond(multiRow, () =>
    {
        for (var i = 0; i < multiRow / 1000; i++) DJJob.BulkEnqueue(Enumerable.Range(0, 1000).Select(_ => new DJJobNet.Samples.Benchmark.Noop()));
    }));

    // The default worker commits each success before the next job starts: its floor is one commit per job.
    foreach (var b in backlogs)
    {
        Sample($"floor_one_commit_{b}_per_s", FloorDrain(b, Math.Min(b, oneCommitJobs), 1));
        Sample($"drain_default_{b}_per_s", Drain(b, Math.Min(b, oneCommitJobs), () => new DJWorkerOptions()));
    }
    Sample("floor_batch_100_per_s", FloorDrain(batchJobs, batchJobs, 100));
    foreach (var b in backlogs)
        Sample($"drain_fastest_{b}_per_s", Drain(b, Math.Min(b, batchJobs), Fastest));

    // Flat as the backlog grows: the same work (the first jobs, as many as the smallest backlog holds) at the smallest
    // and the largest backlog, so that only the backlog differs.
    foreach (var (mode, settings) in new (string, Func<DJWorkerOptions>)[] { ("default", () => new DJWorkerOptions()), ("fastest", Fastest) })
        foreach (var b in new[] { backlogs.Min(), backlogs.Max() })
            Sample($"first_{mode}_{b}", Drain(b, backlogs.Min(), settings));
}

// A worker that runs every job of the largest backlog, for its memory (and its rate from that backlog down to none).
Figure("drain_fastest_all_per_s", $"DJWorker fastest, all {backlogs.Max():N0} jobs of the backlog", "/s", "floor_batch_100_all");
Sample("floor_batch_100_all", FloorDrain(backlogs.Max(), backlogs.Max(), 100));
Sample("drain_fastest_all_per_s", Drain(backlogs.Max(), backlogs.Max(), Fastest));

// Flat as the backlog grows.
if (backlogs.Length > 1)
{
    foreach (var mode in new[] { "default", "fastest" })
    {
        var key = $"drain_{mode}_flatness";
        Figure(key, $"DJWorker {mode}, first {backlogs.Min():N0} jobs: rate at {backlogs.Max():N0} / at {backlogs.Min():N0}", "x", null, ">= 0.8", (v, _) => v >= 0.8);
        for (var r = 0; r < rounds; r++)
            Sample(key, samples[$"first_{mode}_{backlogs.Max()}"][r] / samples[$"first_{mode}_{backlogs.Min()}"][r]);
    }
}

// Memory: the process's peak working set, after a worker ran every job of the largest backlog.
Process.GetCurrentProcess().Refresh();
Figure("worker_peak_memory_mb", $"process peak memory (worker ran {backlogs.Max():N0} jobs)", "MB", null, "< 150", (v, _) => v < 150);
Sample("worker_peak_memory_mb", Process.GetCurrentProcess().PeakWorkingSet64 / 1024.0 / 1024.0);

// Pickup latency: an idle worker polling every 100 ms; jobs enqueued one at a time, 30 ms apart.
Truncate();
DJJobNet.Samples.Benchmark.Noop.Latencies.Clear();
var idle = new DJWorker(new DJWorkerOptions { Sleep = TimeSpan.FromMilliseconds(100), HandleSignals = false });
var running = Task.Run(idle.Start);
Thread.Sleep(300);
const int pickups = 300;
for (var i = 0; i < pickups; i++)
{
    DJJob.Enqueue(new DJJobNet.Samples.Benchmark.Noop { EnqueuedAt = DateTime.UtcNow.Ticks });
    Thread.Sleep(30);
}
var deadline = DateTime.UtcNow.AddSeconds(30);
while (DJJobNet.Samples.Benchmark.Noop.Latencies.Count < pickups && DateTime.UtcNow < deadline) Thread.Sleep(50);
idle.Stop();
running.Wait();
var latencies = DJJobNet.Samples.Benchmark.Noop.Latencies.Order().ToArray();
double Percentile(double p) => latencies.Length == 0 ? double.NaN : latencies[(int)Math.Min(latencies.Length - 1, Math.Ceiling(p * latencies.Length) - 1)];
Figure("pickup_latency_p50_ms", "pickup latency p50 (sleep 100 ms)", "ms");
Figure("pickup_latency_p99_ms", "pickup latency p99 (sleep 100 ms)", "ms", null, "< 200", (v, _) => v < 200);
Sample("pickup_latency_p50_ms", Percentile(0.50));
Sample("pickup_latency_p99_ms", Percentile(0.99));
Truncate();

// The table, and the JSON.
static double Median(IEnumerable<double> values)
{
    var sorted = values.Order().ToArray();
    return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
}
var json = new Dictionary<string, double>();
Console.WriteLine($"{"figure",-58} {"value",10} {"unit",-4} {"ratio to floor",14} {"target",8} {"met",4}");
foreach (var f in figures)
{
    var value = Median(samples[f.Key]);
    double? ratio = f.Floor is null ? null : Median(samples[f.Key].Zip(samples[f.Floor], (v, floor) => v / floor));
    json[f.Key] = Math.Round(value, 2);
    if (ratio is not null) json[f.Key.Replace("_per_s", "", StringComparison.Ordinal) + "_ratio_to_floor"] = Math.Round(ratio.Value, 3);
    var met = f.Target.Length == 0 ? "" : f.Meets(value, ratio) ? "yes" : "NO";
    Console.WriteLine($"{f.Name,-58} {value,10:0.00} {f.Unit,-4} {ratio?.ToString("0.00", CultureInfo.InvariantCulture) ?? "",14} {f.Target,8} {met,4}");
}
File.WriteAllText(outFile, JsonSerializer.Serialize(json, new JsonSerializerOptions { WriteIndented = true }));
Console.WriteLine($"{rounds} rounds; medians. Figures written to {Path.GetFullPath(outFile)}");
return 0;
