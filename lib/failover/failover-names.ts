/**
 * Names and name rules of the Failover construct, repeating the handlers' (lambda/failover/request) on purpose:
 * the published package ships `dist/lib` only, so construct code never imports handler code at run time.
 */

/** RDS identifiers: letters, digits, single hyphens, starting with a letter, no trailing hyphen. */
export function isRdsIdentifier(id: string, maxLength = 63): boolean {
  return id.length >= 1 && id.length <= maxLength && /^[A-Za-z](?:[A-Za-z0-9]|-(?!-))*(?<!-)$/.test(id);
}

/** A database name the backups use as a key segment. */
export function isBackupDatabaseName(name: string): boolean {
  return /^[A-Za-z0-9_][A-Za-z0-9_$.-]{0,62}$/.test(name) && name !== '.' && name !== '..';
}

/** A source name (`postgres/<source>/…`, metric dimension). */
export function isSourceName(name: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(name);
}

/** Prefix of every DB instance / cluster a failover creates (lambda/failover/request FAILOVER_ID_PREFIX). */
export const FAILOVER_ID_PREFIX = 'cdkbdr-fo-';

/** Prefix of the secrets a failover creates (lambda/failover/request FAILOVER_SECRET_PREFIX). */
export const FAILOVER_SECRET_PREFIX = 'cdk-backup-dr/failover/';

/** Tag on what a dry run creates; only resources carrying it with `true` may be deleted. */
export const DRY_RUN_TAG = 'cdk-backup-dr:dry-run';

/** Prefix of the snapshots (and DR copies) the backup workflow takes. */
export const SNAPSHOT_ID_PREFIX = 'cdkbdr-';

/** Key prefix of failover reports. */
export const FAILOVER_REPORT_PREFIX = 'reports/failover/';
