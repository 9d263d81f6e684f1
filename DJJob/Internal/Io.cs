using System.Data;
using System.Data.Common;
using Dapper;

namespace DJJobNet.Internal;

/// <summary>
/// How a database step does its I/O: synchronously (the task it returns is already complete, and no thread is handed
/// work) or asynchronously. One code path serves both, as MySqlConnector's own IOBehavior does: a worker started with
/// <see cref="DJWorker.Start"/> owns its thread and uses cheap synchronous calls; <see cref="DJWorker.RunAsync"/> and
/// the *Async methods never block a thread.
/// </summary>
internal readonly record struct Io(bool Sync, CancellationToken Token = default)
{
    public static readonly Io Blocking = new(true);

    public static Io Async(CancellationToken token) => new(false, token);

    /// <summary>The result of a step run with <see cref="Blocking"/>, which never goes asynchronous.</summary>
    public static T Result<T>(Task<T> step) =>
        step.IsCompleted ? step.GetAwaiter().GetResult() : throw new InvalidOperationException("a synchronous database step went asynchronous");

    private CommandDefinition Command(string sql, object? parameters, DbTransaction? tx) => new(sql, parameters, tx, cancellationToken: Token);

    public async Task<List<T>> Query<T>(DbConnection c, string sql, object? parameters, DbTransaction? tx = null) =>
        Sync ? c.Query<T>(sql, parameters, tx).AsList() : (await c.QueryAsync<T>(Command(sql, parameters, tx)).ConfigureAwait(false)).AsList();

    public async Task<T> QuerySingle<T>(DbConnection c, string sql, object? parameters) =>
        Sync ? c.QuerySingle<T>(sql, parameters) : await c.QuerySingleAsync<T>(Command(sql, parameters, null)).ConfigureAwait(false);

    public async Task<T?> Scalar<T>(DbConnection c, string sql, object? parameters, DbTransaction? tx = null) =>
        Sync ? c.ExecuteScalar<T>(sql, parameters, tx) : await c.ExecuteScalarAsync<T>(Command(sql, parameters, tx)).ConfigureAwait(false);

    public async Task<int> Execute(DbConnection c, string sql, object? parameters, DbTransaction? tx = null) =>
        Sync ? c.Execute(sql, parameters, tx) : await c.ExecuteAsync(Command(sql, parameters, tx)).ConfigureAwait(false);

    public async Task<DbTransaction> Begin(DbConnection c, IsolationLevel level = IsolationLevel.Unspecified) =>
        Sync ? c.BeginTransaction(level) : await c.BeginTransactionAsync(level, Token).ConfigureAwait(false);

    public async Task<int> Commit(DbTransaction tx)
    {
        if (Sync) tx.Commit();
        else await tx.CommitAsync(Token).ConfigureAwait(false);
        return 0;
    }
}
