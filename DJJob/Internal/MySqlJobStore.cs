using System.Data;
using System.Data.Common;
using Dapper;
using MySqlConnector;

namespace DJJobNet.Internal;

/// <summary>The jobs table on MySQL 8.0+ or MariaDB 10.6+.</summary>
internal sealed class MySqlJobStore(MySqlDataSource dataSource, string table, int retries) : JobStore(table, retries)
{
    public override string Driver => "mysql";

    public override long MaxHandlerBytes => 16_777_215; // MEDIUMTEXT

    protected override DbConnection Open()
    {
        try
        {
            return dataSource.OpenConnection();
        }
        catch (MySqlException e)
        {
            throw new DJException($"DJJob couldn't connect to the database. MySQL said [{e.Message}]", e);
        }
    }

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

    protected override string InsertReturningIdSql =>
        $"INSERT INTO `{Table}` (handler, queue, run_at, created_at) VALUES (@handler, @queue, @runAt, @now); SELECT LAST_INSERT_ID();";

    public override ClaimedJob? Claim(string queue, string worker, int maxAttempts, DateTime now, DateTime lockExpiry) =>
        Run(c =>
        {
            // One short transaction: read the first runnable row, skipping rows another worker is claiming right now,
            // and mark it ours. READ COMMITTED takes no gap locks, so enqueues are never held up by a claim.
            using var tx = c.BeginTransaction(IsolationLevel.ReadCommitted);
            var job = c.QuerySingleOrDefault<ClaimedJob>(
                $"""
                SELECT id AS Id, handler AS Handler, attempts AS Attempts FROM `{Table}`
                WHERE {RunnableWhere}
                ORDER BY run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED
                """,
                new { queue, worker, maxAttempts, now, lockExpiry }, tx);
            if (job is not null)
                c.Execute($"UPDATE `{Table}` SET locked_at = @now, locked_by = @worker WHERE id = @Id", new { now, worker, job.Id }, tx);
            tx.Commit();
            return job;
        });

    public override void Install() =>
        Run(c =>
        {
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
