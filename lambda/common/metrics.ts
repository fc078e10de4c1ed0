/**
 * The metrics this package publishes: namespace, metric names and dimensions, defined once. The handlers publish them
 * as CloudWatch EMF (Powertools Metrics, lambda/common/logger.ts); the constructs' `metricX()` methods, and every
 * alarm and dashboard built from them, read the same names (lib/common/metrics.ts). No imports: `lib/` imports this.
 */

/** CloudWatch namespace of every metric this package publishes. */
export const METRICS_NAMESPACE = 'CdkBackupDr';

/** Dimension names. Every metric has `Source`; dump metrics add `Database`, failover metrics `Mode`. */
export const METRIC_DIMENSIONS = {
  /** The source name (`postgres/<source>/…`). */
  source: 'Source',
  /** The database of one dump. */
  database: 'Database',
  /** `failover` or `rehearsal` (a dry run). */
  mode: 'Mode',
} as const;

/** One value per backup run, from the backup report handler (dimension `Source`). */
export const BACKUP_METRICS = {
  succeeded: 'BackupSucceeded',
  bytes: 'BackupBytes',
  durationSeconds: 'BackupDurationSeconds',
  lastSuccessTimestamp: 'LastSuccessTimestamp',
} as const;

/** One value per dumped database, from the dump handler (dimensions `Source`, `Database`). */
export const DUMP_METRICS = {
  bytes: 'DumpBytes',
  durationSeconds: 'DumpDurationSeconds',
} as const;

/** One value per recovery test, from the recovery-report handler (dimension `Source`). */
export const RECOVERY_TEST_METRICS = {
  succeeded: 'RecoveryTestSucceeded',
  restoreDurationSeconds: 'RestoreDurationSeconds',
  backupAgeSeconds: 'BackupAgeSeconds',
} as const;

/** One value per failover or rehearsal, from the failover-report handler (dimensions `Source`, `Mode`). */
export const FAILOVER_METRICS = {
  succeeded: 'FailoverSucceeded',
  durationSeconds: 'FailoverDurationSeconds',
  dataLossWindowSeconds: 'DataLossWindowSeconds',
} as const;
