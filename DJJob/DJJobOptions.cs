namespace DJJobNet;

/// <summary>
/// Where the jobs live: PHP DJJob's <c>configure()</c> array as a typed object. Pass it to <see cref="DJJob.Configure(DJJobOptions)"/>.
/// </summary>
public sealed class DJJobOptions
{
    /// <summary>The database driver: <c>"mysql"</c> (MySQL or MariaDB) or <c>"sqlite"</c> (a file on this machine). Required.</summary>
    public string? Driver { get; set; }

    /// <summary>MySQL host name or address.</summary>
    /// <value>The default is <c>127.0.0.1</c>.</value>
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>MySQL TCP port.</summary>
    /// <value>The default is 3306.</value>
    public int Port
    {
        get;
        set => field = value is > 0 and < 65536 ? value : throw new DJException($"Port must be between 1 and 65535; got {value}.");
    } = 3306;

    /// <summary>The MySQL database (schema) name, or for SQLite the database file's path.</summary>
    public string? DbName { get; set; }

    /// <summary>The MySQL user. Required for MySQL.</summary>
    public string? User { get; set; }

    /// <summary>The MySQL password (may be empty, but must be given, as in PHP DJJob). Required for MySQL.</summary>
    public string? Password { get; set; }

    /// <summary>How many times a statement is tried when the server drops the connection, reconnecting each time.</summary>
    /// <value>The default is 3.</value>
    public int Retries
    {
        get;
        set => field = value >= 1 ? value : throw new DJException($"Retries must be at least 1; got {value}.");
    } = 3;

    /// <summary>The jobs table: a plain identifier (letters, digits, underscores; at most 64 characters).</summary>
    /// <value>The default is <c>jobs</c>.</value>
    public string JobsTable
    {
        get;
        set => field = Internal.Sql.ValidTableName(value);
    } = "jobs";

    /// <summary>
    /// Further connection-string keywords (for example <c>SslMode</c> or <c>ConnectionTimeout</c>), added as PHP DJJob adds
    /// every other key of its options array to the DSN.
    /// </summary>
    public IDictionary<string, string> Extra { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
}
