using System.Data;
using System.Data.Common;
using Dapper;
using MySqlConnector;

namespace DJJobNet.Internal;

/// <summary>The jobs table on MySQL 8.0+ or MariaDB 10.6+.</summary>
internal sealed class MySqlJobStore(MySqlDataSource dataSource, string table, int retries) : JobStore(table, retries)
{
    public override string Driver => "mysql";

    /// <summary>
    /// A data source of DJJob's own, from <see cref="DJJob.Configure(DJJobOptions)"/>. Only DJJob uses its connections
    /// and it leaves no session state behind, so a pooled connection is not reset on reuse (a round trip per statement
    /// saved) unless the connection string asks for it.
    /// </summary>
    public static MySqlDataSource OwnDataSource(MySqlConnectionStringBuilder builder)
    {
        if (!builder.ContainsKey("ConnectionReset")) builder.ConnectionReset = false;
        return new MySqlDataSource(builder.ConnectionString);
    }

    private HandlerColumn? _column;

    private sealed record HandlerColumn(long Bytes, string? Charset, long MaxPacket);

    // What the table really is decides what fits: a table made from the seed README has a 64 KB TEXT handler, maybe in
    // another character set, and a server in non-strict mode would truncate or turn characters into '?' without error.
    // Read once and kept; read again while the table is missing (Charset null) and after Install().
    private HandlerColumn Column => _column is { Charset: not null } known ? known : _column = ReadColumn();

    private HandlerColumn ReadColumn() => Run(c =>
    {
        var row = c.QuerySingleOrDefault<(long? Bytes, string? Charset)>(
            "SELECT CHARACTER_OCTET_LENGTH, CHARACTER_SET_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = @Table AND COLUMN_NAME = 'handler'",
            new { Table });
        var packet = c.ExecuteScalar<long>("SELECT @@max_allowed_packet");
        return new HandlerColumn(row.Bytes ?? 16_777_215, row.Charset, packet);
    });

    protected override void CheckHandler(string handler)
    {
        var column = Column;
        if (column.Charset is not null && !column.Charset.Equals("utf8mb4", StringComparison.OrdinalIgnoreCase) && handler.Any(ch => ch > 0x7F))
            throw new DJException($"The handler column of `{Table}` is in character set {column.Charset}, which cannot hold every character of this job; " +
                                  "convert the table to utf8mb4 (ALTER TABLE ... CONVERT TO CHARACTER SET utf8mb4). Nothing was stored.");
        CheckSize(handler, column.Bytes, $"the handler column of `{Table}`");
        // The statement carries the escaped handler plus a little SQL; the server refuses packets over max_allowed_packet.
        var wire = EscapedBytes(handler);
        if (wire > MaxStatementBytes)
            throw new DJException($"The job's handler is {wire} bytes once escaped for the server; one statement holds at most {MaxStatementBytes} (max_allowed_packet {column.MaxPacket}). Nothing was stored.");
    }

    protected override long MaxStatementBytes => Column.MaxPacket - 4096;

    protected override DbConnection Open()
    {
        try
        {
            return dataSource.OpenConnection();
        }
        catch (MySqlException e)
        {
            throw CannotConnect(e);
        }
    }

    protected override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (MySqlException e)
        {
            throw CannotConnect(e);
        }
    }

    private static DJUnavailableException CannotConnect(MySqlException e) => new($"DJJob couldn't connect to the database. MySQL said [{e.Message}]", e);

    protected override bool IsConnectionLost(Exception error, DbConnection connection) =>
        connection.State != ConnectionState.Open
        || error is MySqlException { ErrorCode: MySqlErrorCode.UnableToConnectToHost or MySqlErrorCode.ServerShutdown }
        || error is MySqlException { Number: 2006 or 2013 or 1927 };

    protected override void DiscardPool(DbConnection connection) => MySqlConnection.ClearPool((MySqlConnection)connection);

    protected override DJException? Explain(DbException error) => error switch
    {
        MySqlException { ErrorCode: MySqlErrorCode.NoSuchTable } =>
            new DJException($"DJJob's jobs table `{Table}` does not exist in this database: run DJJob.Install() to create it. MySQL said [{error.Message}]", error),
        MySqlException { ErrorCode: MySqlErrorCode.TruncatedWrongValueForField or MySqlErrorCode.DataTooLong or MySqlErrorCode.CannotConvertString } =>
            new DJException($"The jobs table `{Table}` cannot store this value intact: a column is too small for it, or not utf8mb4 (DJJob.Install() creates a table that fits). MySQL said [{error.Message}]", error),
        _ => null,
    };

    // The id comes back in the server's OK packet (MySqlCommand.LastInsertedId): no second statement.
    protected override async Task<long> InsertAsync(Io io, DbConnection c, DbTransaction? tx, string handler, string queue, DateTime runAt, DateTime now)
    {
        await using var command = new MySqlCommand(InsertSql, (MySqlConnection)c, (MySqlTransaction?)tx);
        command.Parameters.AddWithValue("@handler", handler);
        command.Parameters.AddWithValue("@queue", queue);
        command.Parameters.AddWithValue("@runAt", runAt);
        command.Parameters.AddWithValue("@now", now);
        if (io.Sync) command.ExecuteNonQuery();
        else await command.ExecuteNonQueryAsync(io.Token).ConfigureAwait(false);
        return command.LastInsertedId;
    }

    /// <summary>
    /// Whether the server has <c>SKIP LOCKED</c> (MySQL 8.0.1+, MariaDB 10.6+): read from the server's version at the
    /// first claim unless set. Without it, claims take the optimistic path that PHP DJJob takes.
    /// </summary>
    internal bool? SkipLocked { get; set; }

    protected override Type ConnectionType => typeof(MySqlConnection);

    public override Task<IReadOnlyList<ClaimedJob>> ClaimAsync(Io io, ClaimRequest request, IReadOnlyCollection<long> completed) =>
        RunAsync<IReadOnlyList<ClaimedJob>>(io, async c =>
        {
            var skipLocked = SkipLocked ??= HasSkipLocked(c.ServerVersion);
            // One short transaction. READ COMMITTED takes no gap locks, so enqueues are never held up by a claim.
            await using var tx = await io.Begin(c, IsolationLevel.ReadCommitted).ConfigureAwait(false);
            // The successes of the last jobs are deleted in the same commit that claims the next ones.
            var delete = completed.Count > 0 ? $"DELETE FROM `{Table}` WHERE id IN @completed;\n" : "";
            var parameters = new DynamicParameters(request);
            parameters.Add("completed", completed);
            List<ClaimedJob> jobs = [];
            if (skipLocked)
            {
                // Read the first runnable rows, skipping rows another worker is claiming right now, and mark them ours.
                jobs = await io.Query<ClaimedJob>(c,
                    $"""
                    {delete}SELECT id AS Id, handler AS Handler, attempts AS Attempts FROM `{Table}`
                    WHERE {RunnableWhere(request)}
                    ORDER BY run_at, id LIMIT {request.Limit} FOR UPDATE SKIP LOCKED
                    """, parameters, tx).ConfigureAwait(false);
                if (jobs.Count > 0)
                    await io.Execute(c, $"UPDATE `{Table}` SET locked_at = @Now, locked_by = @Worker WHERE id IN @ids",
                        new { request.Now, request.Worker, ids = jobs.Select(j => j.Id) }, tx).ConfigureAwait(false);
            }
            else
            {
                // Without SKIP LOCKED: read candidates without locking, lock those still runnable (a row another worker
                // took meanwhile no longer matches once its claim commits), and read back the rows that are now ours.
                // Candidates that other workers all took first are not "nothing to do": read again, a few times.
                for (var tries = 0; tries < 5 && jobs.Count == 0; tries++)
                {
                    var ids = await io.Query<long>(c, $"{(tries == 0 ? delete : "")}SELECT id FROM `{Table}` WHERE {RunnableWhere(request)} ORDER BY run_at, id LIMIT {request.Limit}",
                        parameters, tx).ConfigureAwait(false);
                    if (ids.Count == 0) break;
                    parameters.Add("ids", ids);
                    var locked = await io.Execute(c, $"UPDATE `{Table}` SET locked_at = @Now, locked_by = @Worker WHERE id IN @ids AND {RunnableWhere(request)}",
                        parameters, tx).ConfigureAwait(false);
                    if (locked > 0)
                        jobs = await io.Query<ClaimedJob>(c,
                            $"SELECT id AS Id, handler AS Handler, attempts AS Attempts FROM `{Table}` WHERE id IN @ids AND locked_by = @Worker ORDER BY run_at, id",
                            parameters, tx).ConfigureAwait(false);
                }
            }
            await io.Commit(tx).ConfigureAwait(false);
            return jobs;
        });

    // "8.0.36", "10.11.6-MariaDB-0+deb12u1", "5.5.5-10.11.6-MariaDB" (the old replication prefix).
    internal static bool HasSkipLocked(string version)
    {
        var mariaDb = version.Contains("MariaDB", StringComparison.OrdinalIgnoreCase);
        if (mariaDb && version.StartsWith("5.5.5-", StringComparison.Ordinal)) version = version[6..];
        var numbers = version.Split('.', '-').Take(3).Select(part => int.TryParse(part, out var n) ? n : 0).ToArray();
        var parsed = new Version(numbers.ElementAtOrDefault(0), numbers.ElementAtOrDefault(1), numbers.ElementAtOrDefault(2));
        return parsed >= (mariaDb ? new Version(10, 6, 0) : new Version(8, 0, 1));
    }

    public override void Install() =>
        Run(c =>
        {
            _column = null; // read the table's shape again after installing
            c.Execute(Script("mysql.sql"));
            // A table made by hand from the seed README lacks the claim index: add it, so Install() upgrades it too.
            var hasIndex = c.ExecuteScalar<long>(
                "SELECT COUNT(*) FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = @Table AND index_name = @index",
                new { Table, index = $"{Table}_claim" });
            if (hasIndex == 0)
                c.Execute($"ALTER TABLE `{Table}` ADD INDEX `{Table}_claim` (`queue`, `failed_at`, `run_at`)");
            return 0;
        });
}
