/**
 * Every named error of the Lambda code, one section per domain, and the environment readers that throw
 * MissingConfiguration.
 *
 * Step Functions matches a Lambda error by its `name` (the `errorType` of the failed invocation), so every
 * class here sets `name` to a string literal that never changes: state machines use these names in `Retry`
 * and `Catch` (`errors: [NotReady.NAME]`). Do not derive the name from the class (bundlers may rename classes).
 * Messages name the cause and never contain a credential.
 */

/**
 * Base class of every error this package throws on purpose.
 *
 * @example
 * if (error instanceof BackupDrError) logger.error('backup step failed', { error: error.name });
 */
export abstract class BackupDrError extends Error {
  abstract override readonly name: string;
}

// --- Every handler ---

/**
 * The awaited resource is not ready yet (snapshot still creating or copying). Thrown to let a Step Functions
 * `Retry` on `NotReady` poll with back-off instead of sleeping inside a Lambda.
 *
 * @example
 * task.addRetry({ errors: [NotReady.NAME], interval: Duration.seconds(30), backoffRate: 1.5, maxAttempts: 60 });
 */
export class NotReady extends BackupDrError {
  static readonly NAME = 'NotReady';
  override readonly name = NotReady.NAME;
}

/**
 * The handler's input is not valid; the message says which field and what to change. Never retry it.
 *
 * @example
 * throw new InvalidInput('tiers must be a non-empty array of daily, weekly, monthly, yearly; got "hourly"');
 */
export class InvalidInput extends BackupDrError {
  static readonly NAME = 'InvalidInput';
  override readonly name = InvalidInput.NAME;
}

/**
 * The handler is missing a required environment variable (a deployment error, not a runtime condition).
 *
 * @example
 * throw new MissingConfiguration('environment variable DR_REGION is not set');
 */
export class MissingConfiguration extends BackupDrError {
  static readonly NAME = 'MissingConfiguration';
  override readonly name = MissingConfiguration.NAME;
}

/**
 * Reads a required environment variable.
 *
 * @throws MissingConfiguration when the variable is unset or empty.
 */
export function requireEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    throw new MissingConfiguration(`environment variable ${name} is not set; the construct that deploys this function must set it`);
  }
  return value;
}

/**
 * Reads a required comma-separated list from the environment (blank entries dropped).
 *
 * @throws MissingConfiguration when the variable is unset or names nothing.
 */
export function requireEnvList(name: string): string[] {
  const items = requireEnv(name)
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  if (items.length === 0) throw new MissingConfiguration(`environment variable ${name} names nothing; expected a comma-separated list`);
  return items;
}

/**
 * Reads an optional whole number from the environment, `fallback` when unset or empty.
 *
 * @param range the allowed values, and what they count (`GiB`, `days`) for the error
 * @throws MissingConfiguration when it is not a whole number from `min` to `max`.
 */
export function wholeNumberEnv(name: string, fallback: number, range: { min: number; max: number; unit: string }): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < range.min || value > range.max) {
    throw new MissingConfiguration(
      `${name} must be a whole number of ${range.unit} from ${range.min} to ${range.max}; got ${JSON.stringify(text)}`,
    );
  }
  return value;
}

// --- RDS snapshots ---

/**
 * A snapshot (or its copy) reached a terminal state other than `available`, e.g. `failed`.
 *
 * @example
 * throw new SnapshotFailed('snapshot cdkbdr-db1-20240101000000 in us-east-1 is "failed"');
 */
export class SnapshotFailed extends BackupDrError {
  static readonly NAME = 'SnapshotFailed';
  override readonly name = SnapshotFailed.NAME;
}

/**
 * The snapshot asked for does not exist in the region asked for.
 *
 * @example
 * throw new SnapshotNotFound('DB snapshot "cdkbdr-db1-20240101000000" does not exist in us-west-2');
 */
export class SnapshotNotFound extends BackupDrError {
  static readonly NAME = 'SnapshotNotFound';
  override readonly name = SnapshotNotFound.NAME;
}

// --- RDS instances and clusters (recovery-test scratch, failover) ---

/**
 * A DB instance or cluster reached a status from which it will not become available (failed, incompatible-…).
 *
 * @example
 * throw new DbResourceFailed('instance cdkbdr-rt-x in us-east-1 is "incompatible-restore"');
 */
export class DbResourceFailed extends BackupDrError {
  static readonly NAME = 'DbResourceFailed';
  override readonly name = DbResourceFailed.NAME;
}

/**
 * A DB instance or cluster that should exist does not.
 *
 * @example
 * throw new DbResourceMissing('instance cdkbdr-rt-x does not exist in us-east-1');
 */
export class DbResourceMissing extends BackupDrError {
  static readonly NAME = 'DbResourceMissing';
  override readonly name = DbResourceMissing.NAME;
}

/**
 * A database with a scratch name exists but was not created by this package for this recovery test: it is left
 * alone.
 *
 * @example
 * throw new ScratchNotOwned('instance cdkbdr-rt-x-1234abcd is not tagged as this execution\'s scratch database');
 */
export class ScratchNotOwned extends BackupDrError {
  static readonly NAME = 'ScratchNotOwned';
  override readonly name = ScratchNotOwned.NAME;
}

// --- Secrets ---

/**
 * The secret name exists but was not created by this caller: nothing is overwritten.
 *
 * @example
 * throw new SecretConflict('secret cdk-backup-dr/scratch/x exists and was created by another execution');
 */
export class SecretConflict extends BackupDrError {
  static readonly NAME = 'SecretConflict';
  override readonly name = SecretConflict.NAME;
}

// --- Dump and backup verify ---

/** What made a dump fail, for logs and tests (the message says it in words). */
export type DumpFailureCause =
  | 'pg_dump'
  | 'globals'
  | 'connection'
  | 'version'
  | 'upload'
  | 'manifest'
  /** Not enough free space in the work directory for a directory-format (parallel) dump. */
  | 'disk'
  | 'aborted';

/**
 * A dump did not complete. Nothing of it remains in the bucket: the multipart upload was aborted, or the completed
 * object deleted, and no manifest was written.
 *
 * @example
 * throw new DumpFailed('pg_dump', 'pg_dump exited with code 1: pg_dump: error: …');
 */
export class DumpFailed extends BackupDrError {
  static readonly NAME = 'DumpFailed';
  override readonly name = DumpFailed.NAME;

  constructor(
    /** What failed. */
    public readonly failure: DumpFailureCause,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A backup did not verify (corrupt, missing, archived, bad manifest, or the replica is corrupt or failed to
 * replicate). The message lists every manifest key with its status and the failing checks.
 *
 * @example
 * throw new VerificationFailed('postgres/db1/app/2024/01/31/20240131T020000.000Z.manifest.json: corrupt (sha256 …)');
 */
export class VerificationFailed extends BackupDrError {
  static readonly NAME = 'VerificationFailed';
  override readonly name = VerificationFailed.NAME;
}

// --- Restore and restore verify ---

/**
 * A database-level failure of a restore, a verify or a failover check (connection refused, missing database,
 * `pg_restore` exit code); the message carries the server's or `pg_restore`'s words with secrets scrubbed.
 *
 * @example
 * throw new RestoreFailed('pg_restore exited with code 1: pg_restore: error: could not execute query: …');
 */
export class RestoreFailed extends BackupDrError {
  static readonly NAME = 'RestoreFailed';
  override readonly name = RestoreFailed.NAME;
}

/**
 * The restored bytes differ from the manifest (size or SHA-256): the object was overwritten or corrupted. Never
 * retry it; restore another backup.
 *
 * @example
 * throw new ChecksumMismatch('s3://b/k: sha256 is ab12… but the manifest says 9f00…');
 */
export class ChecksumMismatch extends BackupDrError {
  static readonly NAME = 'ChecksumMismatch';
  override readonly name = ChecksumMismatch.NAME;
}

/**
 * The restore was stopped through its `AbortSignal` (in Lambda: the function was about to time out);
 * `pg_restore` has been killed.
 *
 * @example
 * throw new RestoreAborted('restore of s3://b/k aborted after 812 s: the Lambda was about to time out');
 */
export class RestoreAborted extends BackupDrError {
  static readonly NAME = 'RestoreAborted';
  override readonly name = RestoreAborted.NAME;
}

/** The manifest cannot be read or is not a restorable backup. */
export class ManifestUnusable extends BackupDrError {
  static readonly NAME = 'ManifestUnusable';
  override readonly name = ManifestUnusable.NAME;
}

// --- Backup selection (recovery test) ---

/**
 * No backup matches the selection (nothing in the bucket, an unknown manifest key or snapshot id, nothing in the
 * window). Raised before any scratch resource is created.
 *
 * @example
 * throw new BackupNotFound('no manifest postgres/db1/app/2024/05/01/20240501T020000.000Z.manifest.json in bucket b');
 */
export class BackupNotFound extends BackupDrError {
  static readonly NAME = 'BackupNotFound';
  override readonly name = BackupNotFound.NAME;
}

/**
 * The backup named in the input exists but cannot be restored as it is (invalid manifest, dump object missing or of
 * another size, archived in Glacier, snapshot not available). Raised before any scratch resource is created.
 *
 * @example
 * throw new BackupUnusable('postgres/…manifest.json: the dump object is in DEEP_ARCHIVE; restore it from Glacier first');
 */
export class BackupUnusable extends BackupDrError {
  static readonly NAME = 'BackupUnusable';
  override readonly name = BackupUnusable.NAME;
}

// --- Failover ---

/**
 * The freshest recovery point is older than the RPO (or its age cannot be measured) and the input did not say
 * `acceptDataLoss: true`. Nothing has been created.
 *
 * @example
 * throw new RecoveryPointTooOld('the newest DR snapshot is 30 h old, more than the RPO of 24 h; pass acceptDataLoss: true to restore it anyway');
 */
export class RecoveryPointTooOld extends BackupDrError {
  static readonly NAME = 'RecoveryPointTooOld';
  override readonly name = RecoveryPointTooOld.NAME;
}

/**
 * There is nothing to fail over to: no snapshot copy, no dump, no replica, no replicated automated backups.
 *
 * @example
 * throw new NoRecoveryPoint('no snapshot of prod-db created by cdk-backup-dr in us-west-2');
 */
export class NoRecoveryPoint extends BackupDrError {
  static readonly NAME = 'NoRecoveryPoint';
  override readonly name = NoRecoveryPoint.NAME;
}

/**
 * The DR region did not answer (or answered with an error) to the preflight's describe call.
 *
 * @example
 * throw new DrRegionUnavailable('DescribeDBSubnetGroups in us-west-2 failed: ...');
 */
export class DrRegionUnavailable extends BackupDrError {
  static readonly NAME = 'DrRegionUnavailable';
  override readonly name = DrRegionUnavailable.NAME;
}

/**
 * The read replica (or Aurora global secondary) to promote does not exist, or is no longer part of what it should be.
 *
 * @example
 * throw new ReplicaNotFound('read replica prod-db-dr does not exist in us-west-2');
 */
export class ReplicaNotFound extends BackupDrError {
  static readonly NAME = 'ReplicaNotFound';
  override readonly name = ReplicaNotFound.NAME;
}

/**
 * A resource with a failover name exists but is not this execution's dry-run resource: it is never deleted.
 *
 * @example
 * throw new FailoverResourceNotOwned('instance cdkbdr-fo-x-1234abcd is not tagged as this execution\'s dry-run database');
 */
export class FailoverResourceNotOwned extends BackupDrError {
  static readonly NAME = 'FailoverResourceNotOwned';
  override readonly name = FailoverResourceNotOwned.NAME;
}

// --- Reports ---

/**
 * The run's report could not be written to the bucket. The message says which report (status and key) and why.
 *
 * @example
 * throw new ReportFailed('the SUCCEEDED backup report could not be written to s3://b/reports/backup/…json: AccessDenied: Access Denied');
 */
export class ReportFailed extends BackupDrError {
  static readonly NAME = 'ReportFailed';
  override readonly name = ReportFailed.NAME;
}

// --- Retention cleanup ---

/**
 * A cleanup run could not do all it decided: S3 refused to delete some keys, RDS some snapshots, or a listing failed.
 * The run's report lists every failure; what was deleted stays deleted (each backup disappears whole, manifest first).
 *
 * @example
 * throw new CleanupFailed('2 deletions failed: postgres/db1/app/…manifest.json: AccessDenied …');
 */
export class CleanupFailed extends BackupDrError {
  static readonly NAME = 'CleanupFailed';
  override readonly name = CleanupFailed.NAME;
}

/**
 * A sweep could not delete everything it found orphaned (a database or secret RDS or Secrets Manager refused to
 * delete, or a listing failed). Its report lists what was deleted and every failure; the next run tries again.
 *
 * @example
 * throw new SweepFailed('1 deletion failed: instance cdkbdr-rt-weekly-1a2b3c4d: InvalidDBInstanceState …');
 */
export class SweepFailed extends BackupDrError {
  static readonly NAME = 'SweepFailed';
  override readonly name = SweepFailed.NAME;
}
