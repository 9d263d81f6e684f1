using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace DJJobNet.Tests.Infrastructure;

/// <summary>A sample program (samples/Worker by default) as a real process, so tests can signal and kill it.</summary>
public sealed partial class WorkerProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    public WorkerProcess(params string[] arguments) : this("Worker.dll", null, arguments) { }

    public WorkerProcess(string program, IDictionary<string, string>? environment, params string[] arguments)
    {
        var info = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(ProgramPath(program));
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) info.Environment[key] = value;
        _process = Process.Start(info)!;
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public int Id => _process.Id;

    // Each sample runs from its own build output, with its own dependencies (the test's folder has ASP.NET Core's
    // framework copies of some, which a plain console program cannot load).
    private static string ProgramPath(string program)
    {
        var framework = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/'));
        var configuration = framework.Parent!.Name;
        var repository = framework.Parent.Parent!.Parent!.Parent!.FullName;
        var path = Path.Combine(repository, "samples", Path.GetFileNameWithoutExtension(program), "bin", configuration, framework.Name, program);
        return File.Exists(path) ? path : throw new FileNotFoundException($"{path} is not built; build DJJob.sln first.", path);
    }

    /// <summary>How the worker's name (its locked_by) starts: PHP's part, before the random worker id.</summary>
    public string Name => $"host::{Environment.MachineName} pid::{Id} worker::";

    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    public void Signal(int signal)
    {
        if (Kill(Id, signal) != 0) throw new InvalidOperationException($"kill({Id}, {signal}) failed: {Marshal.GetLastPInvokeError()}");
    }

    public int WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout)) throw new TimeoutException($"the worker did not exit within {timeout}; output:\n{Output}");
        _process.WaitForExit(); // drains the output
        return _process.ExitCode;
    }

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
    }

    public const int SIGINT = 2, SIGKILL = 9, SIGTERM = 15;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
