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
  /** The measured RTO of every test whose verification ran, passed or not (RestoreDurationSeconds: passed tests only). */
  rtoSeconds: 'RecoveryTestRtoSeconds',
} as const;

/** One value per failover or rehearsal, from the failover-report handler (dimensions `Source`, `Mode`). */
export const FAILOVER_METRICS = {
  succeeded: 'FailoverSucceeded',
  durationSeconds: 'FailoverDurationSeconds',
  dataLossWindowSeconds: 'DataLossWindowSeconds',
  /** The measured RTO of every run whose verification ran, passed or not (FailoverDurationSeconds: passed runs only). */
  rtoSeconds: 'FailoverRtoSeconds',
} as const;

// --- Retention cleanup (issue 12) ---

/** Dimensions of the cleanup metrics besides `Source`. */
export const CLEANUP_DIMENSIONS = {
  /** `primary` (the backup bucket, primary-region snapshots) or `replica` (the replica bucket, DR copies). */
  target: 'Target',
  /** The AWS region a snapshot quota is of. */
  region: 'Region',
} as const;

/** One value per cleanup run and target, from the cleanup handler (dimensions `Source`, `Target`). */
export const CLEANUP_METRICS = {
  /** 1 when the run deleted everything it decided to (or planned it, in a dry run), 0 when any step failed. */
  succeeded: 'CleanupSucceeded',
  backupsKept: 'CleanupBackupsKept',
  objectsDeleted: 'CleanupObjectsDeleted',
  bytesFreed: 'CleanupBytesFreed',
  snapshotsDeleted: 'CleanupSnapshotsDeleted',
  orphansSwept: 'CleanupOrphansSwept',
  errors: 'CleanupErrors',
} as const;

/** One value per sweep (dimension `Region`), from the sweeper handler. */
export const SWEEP_METRICS = {
  /** 1 when the sweep deleted everything it found orphaned (or planned it, in a dry run), 0 when any step failed. */
  succeeded: 'SweepSucceeded',
  /** Databases (instances, clusters) and secrets deleted. */
  deleted: 'SweepResourcesDeleted',
  /** Leftovers of executions still running, left alone. */
  running: 'SweepResourcesOfRunningExecutions',
  errors: 'SweepErrors',
} as const;

/** The account's manual snapshots against the RDS quota, per region (dimensions `Source`, `Region`). */
export const SNAPSHOT_QUOTA_METRICS = {
  used: 'ManualSnapshotsUsed',
  quota: 'ManualSnapshotsQuota',
} as const;

// --- Monitoring (issue 13) ---

/**
 * Ages the freshness function (lambda/monitoring/freshness.handler.ts) publishes every run from the newest reports in
 * the bucket, seconds (dimension `Source`): what CloudWatch alarms cannot look back far enough to see themselves.
 */
export const FRESHNESS_METRICS = {
  /** Since the newest SUCCEEDED backup report ended. */
  backupAgeSeconds: 'LatestBackupAgeSeconds',
  /** Since the newest SUCCEEDED recovery-test report ended. */
  recoveryTestAgeSeconds: 'LatestPassedRecoveryTestAgeSeconds',
  /** Since the newest SUCCEEDED failover rehearsal (or real failover) report ended. */
  rehearsalAgeSeconds: 'LatestFailoverRehearsalAgeSeconds',
  /** The newest backup's dump bytes over the median of the (up to 7) SUCCEEDED backups with dumps before it. */
  backupSizeRatio: 'LatestBackupSizeRatio',
} as const;
