/**
 * Name rules the recovery constructs validate at synth time. They repeat the handlers' rules (lambda/shared) on
 * purpose: the published package ships `dist/lib` only, so construct code never imports handler code.
 */

/** RDS identifiers (instances, clusters): letters, digits, single hyphens, starting with a letter, no trailing hyphen. */
export function isRdsIdentifier(id: string, maxLength = 63): boolean {
  return id.length >= 1 && id.length <= maxLength && /^[A-Za-z](?:[A-Za-z0-9]|-(?!-))*(?<!-)$/.test(id);
}

/** The source name in S3 keys (`postgres/<source>/…`) and metric dimensions. */
export const SOURCE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** What a source name may be, for messages. */
export const SOURCE_NAME_HINT = '1-128 characters of letters, digits, ".", "_" or "-", starting with a letter or digit';

/** A database name the backups use as a key segment. */
export function isDatabaseName(name: string): boolean {
  return /^[A-Za-z0-9_][A-Za-z0-9_$.-]{0,62}$/.test(name) && name !== '.' && name !== '..';
}

/** What a database name may be, for messages. */
export const DATABASE_NAME_HINT = 'must be 1-63 characters of letters, digits, "_", "$", "." or "-", starting with a letter, digit or "_"';

/** Prefix of every scratch DB instance / cluster identifier (lambda/rds/instances SCRATCH_ID_PREFIX). */
export const SCRATCH_ID_PREFIX = 'cdkbdr-rt-';

/** Prefix of every scratch secret name (lambda/aws/secrets SCRATCH_SECRET_PREFIX). */
export const SCRATCH_SECRET_PREFIX = 'cdk-backup-dr/scratch/';

/** Prefix of every snapshot the backup workflow takes (lambda/rds/snapshot SNAPSHOT_ID_PREFIX). */
export const SNAPSHOT_ID_PREFIX = 'cdkbdr-';

/** Key prefix of recovery-test reports. */
export const RECOVERY_REPORT_PREFIX = 'reports/recovery-test/';
