using MySqlConnector;

namespace DJJobNet.Internal;

/// <summary>
/// Builds a <see cref="JobStore"/> from a connection string, as <see cref="DJJob.Configure(string, string, int)"/> accepts
/// it: <c>"sqlite:path"</c>, or a MySqlConnector connection string (optionally after <c>"mysql:"</c>) that names the user.
/// </summary>
internal static class StoreFactory
{
    private const string SqlitePrefix = "sqlite:", MySqlPrefix = "mysql:";

    /// <summary>The SQLite file that <paramref name="connectionString"/> names, or null when it is a MySQL connection string.</summary>
    public static string? SqlitePath(string connectionString) =>
        connectionString.StartsWith(SqlitePrefix, StringComparison.OrdinalIgnoreCase) ? connectionString[SqlitePrefix.Length..] : null;

    /// <summary>The store for <paramref name="connectionString"/>; connects to nothing yet.</summary>
    /// <exception cref="DJException">The string is invalid, names no user, or <paramref name="jobsTable"/> or <paramref name="retries"/> is invalid.</exception>
    public static JobStore FromConnectionString(string connectionString, string jobsTable = "jobs", int retries = 3)
    {
        ArgumentNullException.ThrowIfNull(connectionString);
        retries = new DJJobOptions { Retries = retries }.Retries; // the same check as the options form
        if (SqlitePath(connectionString) is { } path) return new SqliteJobStore(path, jobsTable, retries);
        if (connectionString.StartsWith(MySqlPrefix, StringComparison.OrdinalIgnoreCase)) connectionString = connectionString[MySqlPrefix.Length..];
        MySqlConnectionStringBuilder builder;
        try
        {
            builder = new MySqlConnectionStringBuilder(connectionString);
        }
        catch (ArgumentException e)
        {
            throw new DJException($"Invalid MySQL connection string: {e.Message}", e);
        }
        if (string.IsNullOrEmpty(builder.UserID)) throw new DJException("Please provide the database user in the connection string (User ID=...).");
        return new MySqlJobStore(MySqlJobStore.OwnDataSource(builder), jobsTable, retries);
    }
}
