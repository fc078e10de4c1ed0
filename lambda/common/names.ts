/**
 * The name rules and name prefixes of this package, in one place for the handlers and the constructs alike: the
 * constructs validate props with these rules at synth time, and scope IAM to these prefixes, so what synth accepts is
 * exactly what the handlers accept at run time. No imports: `lib/` imports this module, and it must stay free of
 * anything that would pull runtime dependencies into the construct code.
 */

/**
 * A source name: 1–128 characters, letters, digits, `.`, `_`, `-`, starting with a letter or digit. It becomes one
 * S3 key segment (`postgres/<source>/…`) and the metrics' `Source` dimension, so no `/`.
 */
export const SOURCE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** The message part after "<field> " for a bad source name. */
export const SOURCE_NAME_HINT = 'must be 1-128 characters of letters, digits, ".", "_" or "-", starting with a letter or digit';

/** Whether `value` is a valid source name ({@link SOURCE_NAME_PATTERN}). */
export function isSourceName(value: string): boolean {
  return SOURCE_NAME_PATTERN.test(value);
}

/**
 * A database name this package backs up: 1–63 characters (PostgreSQL's limit), letters, digits, `_`, `$`, `-`, `.`,
 * starting with a letter, digit or `_`. Stricter than PostgreSQL on purpose: the name becomes a key segment and a
 * libpq parameter, so no `/`, `=`, quotes or spaces.
 */
export const DATABASE_NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_$.-]{0,62}$/;

/** The message part after "<field> " for a bad database name. */
export const DATABASE_NAME_HINT =
  'must be 1-63 characters of letters, digits, "_", "$", "." or "-", starting with a letter, digit or "_"';

/** Whether `value` is a database name this package accepts ({@link DATABASE_NAME_PATTERN}, not `.` or `..`). */
export function isDatabaseName(value: string): boolean {
  return DATABASE_NAME_PATTERN.test(value) && value !== '.' && value !== '..';
}

/** Longest DB instance / DB cluster identifier RDS accepts. */
export const MAX_DB_IDENTIFIER_LENGTH = 63;

/**
 * RDS identifier rules shared by DB instances, clusters and snapshots: letters, digits and hyphens, first character
 * a letter, no trailing hyphen, no two consecutive hyphens.
 */
const RDS_IDENTIFIER = /^[A-Za-z](?:[A-Za-z0-9]|-(?!-))*(?<!-)$/;

/** Whether `id` follows the RDS identifier rules and is at most `maxLength` characters long. */
export function isRdsIdentifier(id: string, maxLength = MAX_DB_IDENTIFIER_LENGTH): boolean {
  return id.length >= 1 && id.length <= maxLength && RDS_IDENTIFIER.test(id);
}

/** Every dump and manifest key starts with this prefix: `postgres/<source>/<database>/…`. */
export const DUMP_KEY_PREFIX = 'postgres/';

/** Every snapshot (and DR copy) the backup workflow takes has an identifier that starts with this prefix. */
export const SNAPSHOT_ID_PREFIX = 'cdkbdr-';

/** Prefix of every recovery-test scratch identifier (instances and clusters); IAM is scoped to it. */
export const SCRATCH_ID_PREFIX = 'cdkbdr-rt-';

/** Name prefix of every recovery-test scratch secret; IAM is scoped to it. */
export const SCRATCH_SECRET_PREFIX = 'cdk-backup-dr/scratch/';

/** Prefix of every DB instance / cluster identifier a failover creates; IAM is scoped to it. */
export const FAILOVER_ID_PREFIX = 'cdkbdr-fo-';

/** Prefix of the secrets holding the master credentials of databases a failover creates. */
export const FAILOVER_SECRET_PREFIX = 'cdk-backup-dr/failover/';

/** `true` on what a failover dry run creates: only such resources are ever deleted by the Failover state machine. */
export const DRY_RUN_TAG = 'cdk-backup-dr:dry-run';

/** Tag on every snapshot, database and secret this package creates, always {@link CREATOR_TAG_VALUE}: only what carries it is ever deleted. */
export const CREATOR_TAG = 'cdk-backup-dr:creator';

/** Value of {@link CREATOR_TAG}. */
export const CREATOR_TAG_VALUE = 'cdk-backup-dr';

/** Tag saying why a database or secret exists: {@link RECOVERY_TEST_PURPOSE}, `failover`, … IAM conditions read it. */
export const PURPOSE_TAG = 'cdk-backup-dr:purpose';

/** The {@link PURPOSE_TAG} value of recovery-test scratch databases and secrets. */
export const RECOVERY_TEST_PURPOSE = 'recovery-test';

/** Key prefix of backup run reports. */
export const BACKUP_REPORT_PREFIX = 'reports/backup/';

/** Key prefix of recovery-test reports. */
export const RECOVERY_REPORT_PREFIX = 'reports/recovery-test/';

/** Key prefix of failover reports. */
export const FAILOVER_REPORT_PREFIX = 'reports/failover/';

/** Key prefix of retention cleanup reports. */
export const CLEANUP_REPORT_PREFIX = 'reports/cleanup/';

/** Key prefix of the reports of the sweeper (what failed recovery tests and failover rehearsals left). */
export const SWEEP_REPORT_PREFIX = 'reports/sweep/';

/**
 * A Step Functions state machine name: 1–80 characters of letters, digits, `-` and `_` (Step Functions also allows a
 * few punctuation marks; this package keeps to the ones every ARN-matching IAM pattern and CloudWatch dimension take).
 */
export const STATE_MACHINE_NAME_PATTERN = /^[A-Za-z0-9_-]{1,80}$/;

/** The message part after "<field> " for a bad state machine name. */
export const STATE_MACHINE_NAME_HINT = 'must be 1-80 characters of letters, digits, "-" or "_"';

/** Whether `value` is a state machine name this package accepts ({@link STATE_MACHINE_NAME_PATTERN}). */
export function isStateMachineName(value: string): boolean {
  return STATE_MACHINE_NAME_PATTERN.test(value);
}

/** Prefix of the Failover state machine's name that PostgresDisasterRecovery gives it. */
export const FAILOVER_STATE_MACHINE_PREFIX = 'cdkbdr-failover-';

/**
 * The name PostgresDisasterRecovery gives the Failover state machine of source `sourceName` (the primary region's
 * retention cleanup addresses it by name in the DR region): {@link FAILOVER_STATE_MACHINE_PREFIX} + the source name
 * with every character a state machine name cannot hold replaced by `-`; a source name too long for 80 characters is
 * cut and ends in 8 hex digits of its hash, so two long names that share a beginning stay apart.
 */
export function failoverStateMachineName(sourceName: string): string {
  const safe = sourceName.replace(/[^A-Za-z0-9_-]/g, '-');
  const name = `${FAILOVER_STATE_MACHINE_PREFIX}${safe}`;
  if (name.length <= 80) return name;
  // FNV-1a (32 bits): a stable, dependency-free digest of the whole source name.
  let hash = 0x811c9dc5;
  for (let i = 0; i < sourceName.length; i++) {
    hash ^= sourceName.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return `${name.slice(0, 80 - 9)}-${hash.toString(16).padStart(8, '0')}`;
}
