using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace DJJobNet.Tests;

/// <summary>
/// The packages as a user gets them: DJJob and DJJob.Calendar are packed into a folder, and a fresh console app
/// outside the repository restores them from that folder and runs a job on SQLite.
/// </summary>
/// <remarks>
/// The version is unique to the run, so it can only come from that folder; the machine's global packages folder is
/// reused (the dependencies are already there) and the run's version is deleted from it afterwards.
/// </remarks>
[NonParallelizable]
public sealed class PackageTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(5);

    private readonly string _version = $"0.0.0-test.{DateTime.UtcNow.Ticks}.{Environment.ProcessId}";
    private string _temp = "";
    private string _feed = "";

    [OneTimeSetUp]
    public void PackIntoAFolder()
    {
        _temp = Directory.CreateTempSubdirectory("djjob-package-test-").FullName;
        _feed = Path.Combine(_temp, "feed");
        var repository = RepositoryRoot();
        foreach (var project in new[] { "DJJob/DJJob.csproj", "DJJob.Calendar/DJJob.Calendar.csproj", "DJJob/Tool/DJJob.Tool.csproj" })
        {
            // Built under the temporary folder, so the repository's own bin/ and obj/ stay as they are.
            var output = Dotnet(repository, "pack", project, "-c", "Release", "-o", _feed, $"-p:Version={_version}",
                "--artifacts-path", Path.Combine(_temp, "artifacts"));
            Assert.That(output, Does.Not.Match(@"\bwarning\b"), $"dotnet pack {project} warned:\n{output}");
        }
    }

    [OneTimeTearDown]
    public void DeleteTheRunsFiles()
    {
        if (_temp != "") Directory.Delete(_temp, recursive: true);
        var globalPackages = Regex.Match(Dotnet(Path.GetTempPath(), "nuget", "locals", "global-packages", "--list"),
            @"global-packages: (.+)").Groups[1].Value.Trim();
        if (globalPackages == "") return;
        foreach (var id in new[] { "djjob", "djjob.calendar", "djjob.tool" })
        {
            var extracted = Path.Combine(globalPackages, id, _version);
            if (Directory.Exists(extracted)) Directory.Delete(extracted, recursive: true);
        }
    }

    [TestCase("DJJob", "DJJob.Configure")]
    [TestCase("DJJob.Calendar", "SendLater()")]
    [TestCase("DJJob.Tool", "djjob status")]
    public void ThePackage_CarriesItsReadme_TheLicenseExpression_XmlDocs_AndSymbols(string id, string inReadme)
    {
        using (var package = ZipFile.OpenRead(Path.Combine(_feed, $"{id}.{_version}.nupkg")))
        {
            var nuspec = XDocument.Load(package.GetEntry($"{id}.nuspec")!.Open()).Root!;
            var metadata = nuspec.Elements().Single(e => e.Name.LocalName == "metadata");
            string? Meta(string name) => metadata.Elements().SingleOrDefault(e => e.Name.LocalName == name)?.Value;
            var license = metadata.Elements().Single(e => e.Name.LocalName == "license");

            Assert.That(license.Attribute("type")?.Value, Is.EqualTo("expression"));
            Assert.That(license.Value, Is.EqualTo("MIT"));
            Assert.That(Meta("readme"), Is.EqualTo("README.md"));
            Assert.That(Meta("version"), Is.EqualTo(_version));
            Assert.That(metadata.Elements().Single(e => e.Name.LocalName == "repository").Attribute("type")?.Value, Is.EqualTo("git"));
            using var readme = new StreamReader(package.GetEntry("README.md")!.Open());
            Assert.That(readme.ReadToEnd(), Does.StartWith($"# {id}\n").And.Contain(inReadme));
            // A library's dll and XML docs under lib/; a .NET tool's program under tools/.
            var folder = id == "DJJob.Tool" ? "tools/net10.0/any" : "lib/net10.0";
            Assert.That(package.Entries.Select(e => e.FullName), Does.Contain($"{folder}/{id}.dll"));
            if (id != "DJJob.Tool") Assert.That(package.Entries.Select(e => e.FullName), Does.Contain($"{folder}/{id}.xml"));
        }
        using var symbols = ZipFile.OpenRead(Path.Combine(_feed, $"{id}.{_version}.snupkg"));
        Assert.That(symbols.Entries.Select(e => e.FullName), Has.Some.EndsWith($"/{id}.pdb"));
    }

    [Test]
    public void AFreshApp_RestoresThePackagesFromTheFolder_AndItsWorkerRunsAJob()
    {
        var app = Path.Combine(_temp, "app");
        Directory.CreateDirectory(app);
        // Empty files here stop MSBuild from looking further up for the props of whatever folder holds the temp dir.
        File.WriteAllText(Path.Combine(app, "Directory.Build.props"), "<Project />\n");
        File.WriteAllText(Path.Combine(app, "Directory.Build.targets"), "<Project />\n");
        File.WriteAllText(Path.Combine(app, "Directory.Packages.props"), "<Project />\n");
        // Adds the folder to the machine's sources rather than replacing them.
        File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="djjob-package-test" value="{_feed}" />
              </packageSources>
            </configuration>
            """);
        File.WriteAllText(Path.Combine(app, "App.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
                <NuGetAudit>false</NuGetAudit>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="DJJob" Version="[{_version}]" />
                <PackageReference Include="DJJob.Calendar" Version="[{_version}]" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(app, "Program.cs"), """
            using DJJobNet;
            using DJJobNet.Facebook;

            DJJob.Configure("sqlite:" + args[0]);
            DJJob.Install();
            DJJob.Enqueue(new WriteMarker { Path = args[1], Text = "the job ran" }, "default", DateTimeOffset.UtcNow.AddSeconds(-1));
            new Calendar { Name = "Launch party", StartTime = DateTimeOffset.UtcNow.AddDays(7), AccessToken = "token" }
                .SendLater("calendar", DateTimeOffset.UtcNow.AddDays(1));

            new DJWorker(new DJWorkerOptions { ExitWhenEmpty = true }).Start();

            Console.WriteLine($"marker: {File.ReadAllText(args[1]).Trim()}");
            Console.WriteLine($"default total: {DJJob.Status().Total}");
            Console.WriteLine($"calendar total: {DJJob.Status("calendar").Total}");

            public sealed class WriteMarker : IJob
            {
                public string Path { get; set; } = "";
                public string Text { get; set; } = "";
                public void Perform() => File.AppendAllText(Path, Text + "\n");
            }
            """);

        var output = Dotnet(app, "run", "--", Path.Combine(_temp, "jobs.db"), Path.Combine(_temp, "marker.txt"));

        Assert.That(output, Does.Contain("marker: the job ran"), output);
        Assert.That(output, Does.Contain("default total: 0"), output);
        Assert.That(output, Does.Contain("calendar total: 1"), output);
        var assets = File.ReadAllText(Path.Combine(app, "obj", "project.assets.json"));
        Assert.That(assets, Does.Contain($"\"DJJob/{_version}\"").And.Contain($"\"DJJob.Calendar/{_version}\""));
    }

    [Test]
    public void TheTool_InstallsFromTheFolder_AndRunsAgainstADatabase()
    {
        var tools = Path.Combine(_temp, "tools");
        Dotnet(_temp, "tool", "install", "DJJob.Tool", "--tool-path", tools, "--add-source", _feed, "--version", _version);
        var djjob = Path.Combine(tools, "djjob");
        var database = $"sqlite:{Path.Combine(_temp, "tool.db")}";

        Assert.That(Run(djjob, "install", "--connection", database), Is.Zero);
        Assert.That(Run(djjob, "status", "--connection", database), Is.Zero);
        Assert.That(Run(djjob, "failed", "--connection", "sqlite:/nonexistent/dir/jobs.db"), Is.EqualTo(1), "a clear error, exit 1");

        static int Run(string program, params string[] arguments)
        {
            var info = new ProcessStartInfo(program) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var argument in arguments) info.ArgumentList.Add(argument);
            using var process = Process.Start(info)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            Assert.That(process.WaitForExit(Timeout), Is.True, $"{program} {string.Join(' ', arguments)} did not finish");
            TestContext.Out.WriteLine($"$ djjob {string.Join(' ', arguments)}\n{output.Result}{error.Result}");
            return process.ExitCode;
        }
    }

    /// <summary>Runs the dotnet CLI and returns its output; fails the test, output included, unless it exits 0 in time.</summary>
    private static string Dotnet(string workingDirectory, params string[] arguments)
    {
        var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            WorkingDirectory = workingDirectory,
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        // `dotnet test` leaves MSBuild's own variables in the test's environment; a nested build must find its own.
        foreach (var name in info.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
            info.Environment.Remove(name);
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        info.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";

        var output = new StringBuilder();
        using var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var command = $"dotnet {string.Join(' ', arguments)}";
        if (!process.WaitForExit(Timeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            Assert.Fail($"{command} did not finish within {Timeout}; output:\n{output}");
        }
        process.WaitForExit(); // drains the output
        Assert.That(process.ExitCode, Is.Zero, $"{command} (in {workingDirectory}) failed; output:\n{output}");
        return output.ToString();
    }

    private static string RepositoryRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "DJJob.sln"))) return folder.FullName;
        }
        throw new DirectoryNotFoundException($"No DJJob.sln above {AppContext.BaseDirectory}.");
    }
}
