/**
 * The backup manifest (schema v1) and the S3 key layout of dumps.
 *
 * A dump lives at `postgres/<source>/<database>/<YYYY>/<MM>/<DD>/<timestamp>.dump`; its manifest next to it at
 * `<same>.manifest.json`, written last. A backup exists only when its manifest exists: anything reading backups
 * (verify, restore, retention) starts from manifests, never from dump objects.
 *
 * Pure code: no I/O.
 */
import { TIERS, Tier } from '../common/validate';
import { DATABASE_NAME_HINT, DUMP_KEY_PREFIX, isDatabaseName, isSourceName, SOURCE_NAME_HINT } from '../common/names';

export { TIERS };
export type { Tier };

/** Version of the manifest schema this code writes and reads. */
export const MANIFEST_SCHEMA_VERSION = 1;

/** The only dump format written: `pg_dump -Fc`. */
export const DUMP_FORMAT = 'pg_dump-custom';

/** Suffix of a dump object's key. */
export const DUMP_SUFFIX = '.dump';

/** Suffix of a manifest object's key. */
export const MANIFEST_SUFFIX = '.manifest.json';

/** Exact row count of one table, taken in the same snapshot as the dump. */
export interface TableRowCount {
  readonly schema: string;
  readonly name: string;
  readonly rows: number;
}

/** Where the dump object is, and which version of it the manifest describes. */
export interface ManifestS3Location {
  readonly bucket: string;
  readonly key: string;
  /** The S3 version id of the dump object; `null` only when the bucket is not versioned. */
  readonly versionId: string | null;
}

/**
 * Manifest v1: everything needed to check a dump (bytes, sha256, version) and to check a restore of it
 * (per-table row counts taken in the dump's own snapshot).
 */
export interface BackupManifest {
  readonly schemaVersion: 1;
  readonly format: typeof DUMP_FORMAT;
  /** Name of the backed-up database server (the `SOURCE_ID` of the deployment). */
  readonly source: string;
  readonly database: string;
  /** `server_version` of the source, e.g. `15.18`. */
  readonly serverVersion: string;
  /** Version of the `pg_dump` that wrote the dump, e.g. `15.18`. */
  readonly pgDumpVersion: string;
  /** ISO-8601 UTC. */
  readonly startedAt: string;
  /** ISO-8601 UTC. */
  readonly finishedAt: string;
  readonly bytes: number;
  /** SHA-256 of the dump object's bytes, lowercase hex. */
  readonly sha256: string;
  readonly s3: ManifestS3Location;
  readonly tables: readonly TableRowCount[];
  /** The retention tiers this backup satisfies. */
  readonly tiers: readonly Tier[];
}

/** The keys of one backup. */
export interface BackupKeys {
  readonly dumpKey: string;
  readonly manifestKey: string;
}

/** What a backup key says about the backup. */
export interface ParsedBackupKey {
  readonly source: string;
  readonly database: string;
  /** The instant encoded in the key's timestamp. */
  readonly timestamp: Date;
  readonly kind: 'dump' | 'manifest';
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}

/**
 * The key timestamp: ISO-8601 basic format in UTC with milliseconds, `20240131T020000.123Z`. Sorts lexically in
 * time order and has no `:`.
 */
export function formatKeyTimestamp(date: Date): string {
  if (Number.isNaN(date.getTime())) throw new Error('formatKeyTimestamp: invalid date');
  return (
    `${pad(date.getUTCFullYear(), 4)}${pad(date.getUTCMonth() + 1, 2)}${pad(date.getUTCDate(), 2)}` +
    `T${pad(date.getUTCHours(), 2)}${pad(date.getUTCMinutes(), 2)}${pad(date.getUTCSeconds(), 2)}` +
    `.${pad(date.getUTCMilliseconds(), 3)}Z`
  );
}

const KEY_TIMESTAMP = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})\.(\d{3})Z$/;

/** Parses {@link formatKeyTimestamp}'s output; `undefined` when `text` is not one. */
export function parseKeyTimestamp(text: string): Date | undefined {
  const m = KEY_TIMESTAMP.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, ms] = m.map(Number);
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s, ms));
  return formatKeyTimestamp(date) === text ? date : undefined;
}

/** The prefix under which all backups of one database of one source live (ends with `/`). */
export function databasePrefix(source: string, database: string): string {
  if (!isSourceName(source)) throw new Error(`source ${SOURCE_NAME_HINT}; got ${JSON.stringify(source)}`);
  if (!isDatabaseName(database)) throw new Error(`database ${DATABASE_NAME_HINT}; got ${JSON.stringify(database)}`);
  return `${DUMP_KEY_PREFIX}${source}/${database}/`;
}

/** The dump and manifest keys of a backup of `database` on `source` started at `startedAt`. */
export function backupKeys(source: string, database: string, startedAt: Date): BackupKeys {
  const stamp = formatKeyTimestamp(startedAt);
  const base =
    `${databasePrefix(source, database)}${stamp.slice(0, 4)}/${stamp.slice(4, 6)}/${stamp.slice(6, 8)}/${stamp}`;
  return { dumpKey: `${base}${DUMP_SUFFIX}`, manifestKey: `${base}${MANIFEST_SUFFIX}` };
}

/**
 * Reads a dump or manifest key back; `undefined` for any key that is not exactly in the layout (including a date
 * folder that does not match the timestamp).
 */
export function parseBackupKey(key: string): ParsedBackupKey | undefined {
  let kind: ParsedBackupKey['kind'];
  let base: string;
  if (key.endsWith(MANIFEST_SUFFIX)) {
    kind = 'manifest';
    base = key.slice(0, -MANIFEST_SUFFIX.length);
  } else if (key.endsWith(DUMP_SUFFIX)) {
    kind = 'dump';
    base = key.slice(0, -DUMP_SUFFIX.length);
  } else {
    return undefined;
  }
  const parts = base.split('/');
  if (parts.length !== 7 || `${parts[0]}/` !== DUMP_KEY_PREFIX) return undefined;
  const [, source, database, yyyy, mm, dd, stamp] = parts;
  if (!isSourceName(source) || !isDatabaseName(database)) return undefined;
  const timestamp = parseKeyTimestamp(stamp);
  if (!timestamp || `${yyyy}${mm}${dd}` !== stamp.slice(0, 8)) return undefined;
  return { source, database, timestamp, kind };
}

/** The dump key that belongs to a manifest key. */
export function dumpKeyForManifestKey(manifestKey: string): string {
  if (!manifestKey.endsWith(MANIFEST_SUFFIX)) {
    throw new Error(`a manifest key ends with ${MANIFEST_SUFFIX}; got ${JSON.stringify(manifestKey)}`);
  }
  return `${manifestKey.slice(0, -MANIFEST_SUFFIX.length)}${DUMP_SUFFIX}`;
}

/** Result of {@link validateManifest}. */
export type ManifestValidation =
  | { readonly ok: true; readonly manifest: BackupManifest }
  | { readonly ok: false; readonly errors: readonly string[] };

const SHA256_HEX = /^[0-9a-f]{64}$/;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}

/** Invalid table entries a manifest error names one by one; the rest are counted. */
const MAX_NAMED_BAD_TABLES = 5;

/**
 * Checks that `value` (parsed JSON) is a v1 manifest. Unknown fields are ignored (a later v1 writer may add
 * optional fields); a different `schemaVersion` is refused. Returns every problem found, not just the first.
 */
export function validateManifest(value: unknown): ManifestValidation {
  const errors: string[] = [];
  if (!isRecord(value)) return { ok: false, errors: ['the manifest must be a JSON object'] };
  const v = value;
  if (v.schemaVersion !== MANIFEST_SCHEMA_VERSION) {
    errors.push(`schemaVersion must be ${MANIFEST_SCHEMA_VERSION}; got ${JSON.stringify(v.schemaVersion)}`);
  }
  if (v.format !== DUMP_FORMAT) errors.push(`format must be "${DUMP_FORMAT}"; got ${JSON.stringify(v.format)}`);
  if (typeof v.source !== 'string' || !isSourceName(v.source)) errors.push(`source ${SOURCE_NAME_HINT}`);
  if (typeof v.database !== 'string' || !isDatabaseName(v.database)) errors.push(`database ${DATABASE_NAME_HINT}`);
  for (const field of ['serverVersion', 'pgDumpVersion'] as const) {
    if (!isNonEmptyString(v[field])) errors.push(`${field} must be a non-empty string`);
  }
  for (const field of ['startedAt', 'finishedAt'] as const) {
    const text = v[field];
    if (typeof text !== 'string' || !ISO_UTC.test(text) || Number.isNaN(Date.parse(text))) {
      errors.push(`${field} must be an ISO-8601 UTC timestamp (…Z)`);
    }
  }
  if (
    typeof v.startedAt === 'string' &&
    typeof v.finishedAt === 'string' &&
    Date.parse(v.finishedAt) < Date.parse(v.startedAt)
  ) {
    errors.push('finishedAt must not be before startedAt');
  }
  if (!isNonNegativeInteger(v.bytes)) errors.push('bytes must be a non-negative integer');
  if (typeof v.sha256 !== 'string' || !SHA256_HEX.test(v.sha256)) errors.push('sha256 must be 64 lowercase hex digits');
  if (!isRecord(v.s3)) {
    errors.push('s3 must be an object { bucket, key, versionId }');
  } else {
    if (!isNonEmptyString(v.s3.bucket)) errors.push('s3.bucket must be a non-empty string');
    if (!isNonEmptyString(v.s3.key) || parseBackupKey(v.s3.key)?.kind !== 'dump') {
      errors.push('s3.key must be a dump key postgres/<source>/<database>/<YYYY>/<MM>/<DD>/<timestamp>.dump');
    }
    if (v.s3.versionId !== null && !isNonEmptyString(v.s3.versionId)) {
      errors.push('s3.versionId must be a non-empty string or null');
    }
  }
  if (!Array.isArray(v.tables)) {
    errors.push('tables must be an array');
  } else {
    const bad = v.tables.flatMap((table: unknown, i) =>
      isRecord(table) && isNonEmptyString(table.schema) && isNonEmptyString(table.name) && isNonNegativeInteger(table.rows) ? [] : [i],
    );
    if (bad.length > 0) {
      // One message however many tables are wrong: it ends up in reports and Step Functions state.
      const named = bad.slice(0, MAX_NAMED_BAD_TABLES).map((i) => `tables[${i}]`).join(', ');
      const more = bad.length > MAX_NAMED_BAD_TABLES ? ` and ${bad.length - MAX_NAMED_BAD_TABLES} more` : '';
      errors.push(`${named}${more} must be { schema: string, name: string, rows: non-negative integer }`);
    }
  }
  if (!Array.isArray(v.tiers) || v.tiers.some((t) => !(TIERS as readonly unknown[]).includes(t))) {
    errors.push(`tiers must be an array of ${TIERS.join(', ')}`);
  }
  return errors.length === 0 ? { ok: true, manifest: value as unknown as BackupManifest } : { ok: false, errors };
}

/** Serializes a manifest (stable field order, two-space indent, trailing newline). */
export function serializeManifest(manifest: BackupManifest): string {
  const ordered: BackupManifest = {
    schemaVersion: manifest.schemaVersion,
    format: manifest.format,
    source: manifest.source,
    database: manifest.database,
    serverVersion: manifest.serverVersion,
    pgDumpVersion: manifest.pgDumpVersion,
    startedAt: manifest.startedAt,
    finishedAt: manifest.finishedAt,
    bytes: manifest.bytes,
    sha256: manifest.sha256,
    s3: { bucket: manifest.s3.bucket, key: manifest.s3.key, versionId: manifest.s3.versionId },
    tables: manifest.tables.map((t) => ({ schema: t.schema, name: t.name, rows: t.rows })),
    tiers: [...manifest.tiers],
  };
  return `${JSON.stringify(ordered, null, 2)}\n`;
}

/** Parses manifest JSON text and validates it ({@link validateManifest}); invalid JSON is one more error. */
export function parseManifestJson(text: string): ManifestValidation {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, errors: [`the manifest is not valid JSON: ${(error as Error).message}`] };
  }
  return validateManifest(value);
}
