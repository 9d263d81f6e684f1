-- DJJob jobs table for SQLite: the seed's columns and the claim index. Times are stored as UTC text.
CREATE TABLE IF NOT EXISTS `{table}` (
  `id` INTEGER PRIMARY KEY AUTOINCREMENT,
  `handler` TEXT NOT NULL,
  `queue` TEXT NOT NULL DEFAULT 'default',
  `attempts` INTEGER NOT NULL DEFAULT 0,
  `run_at` TEXT NULL,
  `locked_at` TEXT NULL,
  `locked_by` TEXT NULL,
  `failed_at` TEXT NULL,
  `error` TEXT NULL,
  `created_at` TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS `{table}_claim` ON `{table}` (`queue`, `failed_at`, `run_at`);
