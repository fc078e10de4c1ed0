/**
 * Named errors of the dump and verify handlers (see errors.ts for why names are literals). Their messages name the
 * cause and never contain a credential.
 */
import { BackupDrError } from './errors';

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
