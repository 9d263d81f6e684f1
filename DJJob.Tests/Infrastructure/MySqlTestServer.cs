using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using MySqlConnector;
using Testcontainers.MySql;

namespace DJJobNet.Tests.Infrastructure;

/// <summary>
/// The MySQL-compatible server the tests use, found once: DJJOB_TEST_MYSQL, else Testcontainers when a Docker engine
/// answers, else a throwaway MariaDB/MySQL process started here. When none can be had, every MySQL test fails with
/// <see cref="HowToGetOne"/>; none is skipped.
/// </summary>
internal static class MySqlTestServer
{
    public const string HowToGetOne =
        "No MySQL-compatible server for the tests. Do one of: set DJJOB_TEST_MYSQL to a MySqlConnector connection string " +
        "of a user that may create databases (e.g. \"Server=127.0.0.1;Port=3306;User ID=root;Password=secret\"); " +
        "start a Docker engine (Testcontainers runs mysql:8.0); or install a server binary " +
        "(Debian: apt-get install mariadb-server) so the tests can start a throwaway one. .ci/run does the last.";

    private static readonly Lazy<Server> Instance = new(Start, LazyThreadSafetyMode.ExecutionAndPublication);
    private static int _databases;

    /// <summary>A connection string of an account that may create databases.</summary>
    public static string AdminConnectionString => Instance.Value.ConnectionString;

    /// <summary>Where the server came from, for the test log.</summary>
    public static string Origin => Instance.Value.Origin;

    /// <summary>Creates an empty utf8mb4 database and returns a connection string to it.</summary>
    public static string CreateDatabase()
    {
        var name = $"djjob_test_{Environment.ProcessId}_{Interlocked.Increment(ref _databases)}";
        using (var c = new MySqlConnection(AdminConnectionString))
        {
            c.Open();
            using var cmd = new MySqlCommand($"DROP DATABASE IF EXISTS `{name}`; CREATE DATABASE `{name}` CHARACTER SET utf8mb4", c);
            cmd.ExecuteNonQuery();
        }
        return new MySqlConnectionStringBuilder(AdminConnectionString) { Database = name }.ConnectionString;
    }

    public static void DropDatabase(string connectionString)
    {
        var name = new MySqlConnectionStringBuilder(connectionString).Database;
        MySqlConnection.ClearAllPools();
        using var c = new MySqlConnection(AdminConnectionString);
        c.Open();
        using var cmd = new MySqlCommand($"DROP DATABASE IF EXISTS `{name}`", c);
        cmd.ExecuteNonQuery();
    }

    public static void Stop()
    {
        if (Instance.IsValueCreated) Instance.Value.Dispose();
    }

    private sealed record Server(string ConnectionString, string Origin, IDisposable? Owner) : IDisposable
    {
        public void Dispose() => Owner?.Dispose();
    }

    private static Server Start()
    {
        var tried = new List<string>();
        var fromEnvironment = Environment.GetEnvironmentVariable("DJJOB_TEST_MYSQL");
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            // The user asked for this server: use it or say why not, never fall through to another one.
            Ping(fromEnvironment, "DJJOB_TEST_MYSQL");
            return new Server(fromEnvironment, "DJJOB_TEST_MYSQL", null);
        }
        tried.Add("DJJOB_TEST_MYSQL is not set");

        if (DockerMayAnswer())
        {
            try
            {
                var container = new MySqlBuilder("mysql:8.0").WithUsername("root").WithPassword("djjob").Build();
                container.StartAsync().WaitAsync(TimeSpan.FromMinutes(5)).GetAwaiter().GetResult();
                return new Server(container.GetConnectionString(), "Testcontainers mysql:8.0", new ContainerOwner(container));
            }
            catch (Exception e)
            {
                tried.Add($"Testcontainers failed: {e.Message}");
            }
        }
        else
        {
            tried.Add("no Docker engine answers");
        }

        var process = ThrowawayServer.TryStart(tried);
        if (process is not null) return new Server(process.ConnectionString, process.Origin, process);

        throw new InvalidOperationException($"{HowToGetOne}\nTried: {string.Join("; ", tried)}.");
    }

    private static void Ping(string connectionString, string source)
    {
        try
        {
            using var c = new MySqlConnection(connectionString);
            c.Open();
        }
        catch (Exception e)
        {
            throw new InvalidOperationException($"{source} is set, but its server cannot be reached: {e.Message}", e);
        }
    }

    private static bool DockerMayAnswer()
    {
        var host = Environment.GetEnvironmentVariable("DOCKER_HOST");
        if (!string.IsNullOrEmpty(host)) return true;
        if (!File.Exists("/var/run/docker.sock")) return false;
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            socket.Connect(new UnixDomainSocketEndPoint("/var/run/docker.sock"));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private sealed class ContainerOwner(MySqlContainer container) : IDisposable
    {
        public void Dispose() => container.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    /// <summary>A MariaDB or MySQL server process on a free loopback port with a temporary data folder.</summary>
    private sealed class ThrowawayServer : IDisposable
    {
        private readonly Process _process;
        private readonly string _dataDir;

        private ThrowawayServer(Process process, string dataDir, string connectionString, string origin)
        {
            _process = process;
            _dataDir = dataDir;
            ConnectionString = connectionString;
            Origin = origin;
        }

        public string ConnectionString { get; }
        public string Origin { get; }

        public static ThrowawayServer? TryStart(List<string> tried)
        {
            var server = Find("mariadbd") ?? Find("mysqld");
            if (server is null)
            {
                tried.Add("no mariadbd or mysqld binary on PATH or in /usr/sbin");
                return null;
            }
            var dir = Directory.CreateTempSubdirectory("djjob-mysql-").FullName;
            var data = Path.Combine(dir, "data");
            var socket = Path.Combine(dir, "mysqld.sock");
            var asRoot = Environment.UserName == "root" ? "--user=root" : "";
            var version = Run(server, "--version", TimeSpan.FromSeconds(30)).Output;
            var isMariaDb = version.Contains("MariaDB", StringComparison.OrdinalIgnoreCase);
            try
            {
                if (isMariaDb)
                {
                    var installer = Find("mariadb-install-db") ?? Find("mysql_install_db")
                        ?? throw new InvalidOperationException("mariadb-install-db not found beside mariadbd");
                    Check(Run(installer, $"--no-defaults --datadir={data} --auth-root-authentication-method=normal --skip-test-db {asRoot}", TimeSpan.FromMinutes(2)), "mariadb-install-db");
                }
                else
                {
                    Check(Run(server, $"--no-defaults --initialize-insecure --datadir={data} {asRoot}", TimeSpan.FromMinutes(3)), "mysqld --initialize-insecure");
                }

                var port = Loopback.FreePort();
                var info = new ProcessStartInfo(server,
                    $"--no-defaults --datadir={data} --socket={socket} --port={port} --bind-address=127.0.0.1 " +
                    $"--pid-file={dir}/mysqld.pid --log-error={dir}/error.log --innodb-buffer-pool-size=256M " +
                    $"--max-connections=500 --innodb-flush-log-at-trx-commit=2 --skip-log-bin {asRoot}")
                { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
                var process = Process.Start(info)!;
                process.OutputDataReceived += (_, _) => { };
                process.ErrorDataReceived += (_, _) => { };
                process.BeginOutputReadLine();
                process.BeginErrorReadLine();

                var root = $"Server={socket};Protocol=Unix;User ID=root;Password=;Pooling=false";
                var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
                while (true)
                {
                    try
                    {
                        using var c = new MySqlConnection(root);
                        c.Open();
                        using var cmd = new MySqlCommand(
                            "CREATE USER IF NOT EXISTS 'djjob'@'%' IDENTIFIED BY 'djjob'; GRANT ALL ON *.* TO 'djjob'@'%' WITH GRANT OPTION; " +
                            "CREATE USER IF NOT EXISTS 'djjob'@'localhost' IDENTIFIED BY 'djjob'; GRANT ALL ON *.* TO 'djjob'@'localhost' WITH GRANT OPTION;", c);
                        cmd.ExecuteNonQuery();
                        break;
                    }
                    catch (MySqlException) when (DateTime.UtcNow < deadline && !process.HasExited)
                    {
                        Thread.Sleep(200); // the server is still starting; nothing to await but its socket
                    }
                    catch (MySqlException e)
                    {
                        var log = File.Exists($"{dir}/error.log") ? File.ReadAllText($"{dir}/error.log") : "";
                        throw new InvalidOperationException($"{server} did not start: {e.Message}\n{log}", e);
                    }
                }
                var tcp = $"Server=127.0.0.1;Port={port};User ID=djjob;Password=djjob;SslMode=None;AllowPublicKeyRetrieval=true";
                return new ThrowawayServer(process, dir, tcp, $"throwaway {version.Trim()} on 127.0.0.1:{port}");
            }
            catch (Exception e)
            {
                tried.Add($"starting {server} failed: {e.Message}");
                try { Directory.Delete(dir, true); } catch (IOException) { }
                return null;
            }
        }

        public void Dispose()
        {
            try
            {
                if (!_process.HasExited)
                {
                    _process.Kill(entireProcessTree: true);
                    _process.WaitForExit(30_000);
                }
            }
            finally
            {
                try { Directory.Delete(_dataDir, true); } catch (IOException) { }
            }
        }

        private static string? Find(string name)
        {
            var dirs = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Append("/usr/sbin").Append("/usr/local/sbin");
            return dirs.Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);
        }

        private static (int ExitCode, string Output) Run(string file, string arguments, TimeSpan timeout)
        {
            var info = new ProcessStartInfo(file, arguments) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            using var p = Process.Start(info)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(timeout))
            {
                p.Kill(true);
                throw new TimeoutException($"{file} {arguments} took longer than {timeout}");
            }
            return (p.ExitCode, stdout.Result + stderr.Result);
        }

        private static void Check((int ExitCode, string Output) result, string what)
        {
            if (result.ExitCode != 0) throw new InvalidOperationException($"{what} exited {result.ExitCode}: {result.Output}");
        }
    }
}
