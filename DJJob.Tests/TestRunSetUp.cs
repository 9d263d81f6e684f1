using DJJobNet.Tests.Infrastructure;

namespace DJJobNet.Tests;

/// <summary>Stops the throwaway database server after the last test.</summary>
[SetUpFixture]
public sealed class TestRunSetUp
{
    [OneTimeTearDown]
    public void StopServer() => MySqlTestServer.Stop();
}
