using Dapper;
using DJJobNet.Tests.Infrastructure;
using MySqlConnector;

namespace DJJobNet.Tests;

/// <summary>What only the MySQL store has: the seed's table, server time zones, the query plan, lost connections.</summary>
[TestFixture]
public sealed class MySqlTests() : StoreTest("mysql")
{
    [Test]
    public void Install_AddsTheClaimIndex_ToATableMadeFromTheSeedReadme()
    {
        Execute("DROP TABLE `{table}`");
        Execute("""
            CREATE TABLE `{table}` (
            `id` INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, `handler` TEXT NOT NULL,
            `queue` VARCHAR(255) NOT NULL DEFAULT 'default', `attempts` INT UNSIGNED NOT NULL DEFAULT 0,
            `run_at` DATETIME NULL, `locked_at` DATETIME NULL, `locked_by` VARCHAR(255) NULL,
            `failed_at` DATETIME NULL, `error` TEXT NULL, `created_at` DATETIME NOT NULL) ENGINE = INNODB
            """);

        Store.Install();

        Assert.That(Scalar<long>($"SELECT COUNT(*) FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = '{Table}' AND index_name = '{Table}_claim'"), Is.GreaterThan(0));
    }

}
