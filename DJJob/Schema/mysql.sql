-- DJJob jobs table for MySQL 8.0+ and MariaDB 10.6+. The seed's columns, with:
--   id BIGINT (room for billions of jobs), handler MEDIUMTEXT (16 MB of JSON), DATETIME(6) times in UTC,
--   utf8mb4 throughout, a binary collation on queue (queue names match exactly), and the claim index.
CREATE TABLE IF NOT EXISTS `{table}` (
  `id` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  `handler` MEDIUMTEXT NOT NULL,
  `queue` VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL DEFAULT 'default',
  `attempts` INT UNSIGNED NOT NULL DEFAULT 0,
  `run_at` DATETIME(6) NULL,
  `locked_at` DATETIME(6) NULL,
  `locked_by` VARCHAR(255) NULL,
  `failed_at` DATETIME(6) NULL,
  `error` TEXT NULL,
  `created_at` DATETIME(6) NOT NULL,
  KEY `{table}_claim` (`queue`, `failed_at`, `run_at`)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
