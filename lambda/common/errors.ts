/**
 * Named errors thrown by the handlers.
 *
 * Step Functions matches a Lambda error by its `name` (the `errorType` of the failed invocation), so every
 * class here sets `name` to a string literal that never changes: state machines use these names in `Retry`
 * and `Catch` (`errors: [NotReady.NAME]`). Do not derive the name from the class (bundlers may rename classes).
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

// --- Errors of the dump and verify handlers. Their messages name the cause and never contain a credential. ---

/** What made a dump fail, for logs and tests (the message says it in words). */
export type DumpFailureCause =
  | 'pg_dump'
  | 'connection'
  | 'version'
  | 'upload'
  | 'manifest'
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
 * The run's report could not be written to the bucket. The message says which report (status and key) and why.
 *
 * @example
 * throw new ReportFailed('the SUCCEEDED backup report could not be written to s3://b/reports/backup/…json: AccessDenied: Access Denied');
 */
export class ReportFailed extends BackupDrError {
  static readonly NAME = 'ReportFailed';
  override readonly name = ReportFailed.NAME;
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
