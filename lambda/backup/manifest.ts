/**
 * The backup manifest (schema v2 for custom-format dumps, v3 for directory-format dumps; v1 still read) and the S3
 * key layout of dumps.
 *
 * A dump lives at `postgres/<source>/<database>/<YYYY>/<MM>/<DD>/<timestamp>.dump`, the server's roles and other
 * globals (`pg_dumpall --globals-only --no-role-passwords`) beside it at `<same>.globals.sql`, its manifest at
 * `<same>.manifest.json`, written last. A directory-format dump (`pg_dump -Fd -j N`) keeps its `toc.dat` at the dump
 * key and every other file of the directory at `<same>.dump.d/<file>`. A backup exists only when its manifest exists: anything reading backups
 * (verify, restore, retention) starts from manifests, never from dump objects.
 *
 * Pure code: no I/O.
 */
import { TIERS, Tier } from '../common/validate';
import { parseCompression } from '../postgres/compression';
import { DATABASE_NAME_HINT, DUMP_KEY_PREFIX, isDatabaseName, isSourceName, SOURCE_NAME_HINT } from '../common/names';

export { TIERS };
export type { Tier };

/**
 * Version of the manifest schema this code writes. v2 = v1 + `globals` (required in v2). v1 manifests (written
 * before the roles were dumped) are still read: everything but a restore of roles works with them.
 */
export const MANIFEST_SCHEMA_VERSION = 2;

/**
 * Version of the manifest of a directory-format dump: v2 + `format: 'pg_dump-directory'` + `files` (required). A
 * separate version so that code from before parallel dumps refuses such a manifest instead of misreading it.
 */
export const DIRECTORY_MANIFEST_SCHEMA_VERSION = 3;

/** Schema versions this code reads. */
export const READABLE_MANIFEST_SCHEMA_VERSIONS: readonly number[] = [1, 2, 3];

/** The custom format (`pg_dump -Fc`): one object; the default, and the only format of v1 and v2 manifests. */
export const DUMP_FORMAT = 'pg_dump-custom';

/** The directory format (`pg_dump -Fd -j N`): `toc.dat` at the dump key, the table files beside it (v3 manifests). */
export const DIRECTORY_DUMP_FORMAT = 'pg_dump-directory';

/** Formats a manifest can name. */
export type DumpFormat = typeof DUMP_FORMAT | typeof DIRECTORY_DUMP_FORMAT;

/** What ends the dump key to make the prefix of a directory dump's files (`<same>.dump.d/<file>`). */
export const DIRECTORY_FILES_SUFFIX = '.dump.d/';

/** Name of the directory format's table of contents: stored at the dump key, written last. */
export const TOC_FILE_NAME = 'toc.dat';

/**
 * Names pg_dump gives the files of a directory dump (`toc.dat`, `<dumpId>.dat[.gz|.lz4|.zst]`, `blobs.toc`,
 * `blob_<oid>.dat…`, `blobs_<dumpId>.toc` from 17): one path component, nothing else accepted in a key or a path.
 */
const DIRECTORY_FILE_NAME = /^[A-Za-z0-9_]{1,64}\.(dat|toc)(\.(gz|lz4|zst))?$/;

/** Whether `name` is a file name of a directory dump (see {@link DIRECTORY_FILE_NAME}). */
export function isDirectoryFileName(name: string): boolean {
  return DIRECTORY_FILE_NAME.test(name);
}

/** One file of a directory-format dump. */
export interface ManifestFile {
  /** The file's name in pg_dump's directory (`toc.dat`, `3421.dat.gz`). */
  readonly name: string;
  /** Its key: the dump key for `toc.dat`, `<same>.dump.d/<name>` for the others. */
  readonly key: string;
  readonly bytes: number;
  /** SHA-256 of the object's bytes, lowercase hex. */
  readonly sha256: string;
  /** The S3 version id of the object; `null` only when the bucket is not versioned. */
  readonly versionId: string | null;
}

/** Suffix of a dump object's key. */
export const DUMP_SUFFIX = '.dump';

/** Suffix of a manifest object's key. */
export const MANIFEST_SUFFIX = '.manifest.json';

/** Suffix of the globals object's key (the roles, as SQL). */
export const GLOBALS_SUFFIX = '.globals.sql';

/** The roles and other cluster-wide objects of the source, as `pg_dumpall --globals-only --no-role-passwords` wrote them. */
export interface ManifestGlobals {
  /** Key of the SQL object, beside the dump. */
  readonly key: string;
  readonly bytes: number;
  /** SHA-256 of the object's bytes, lowercase hex. */
  readonly sha256: string;
  /** The S3 version id of the globals object; `null` only when the bucket is not versioned. */
  readonly versionId: string | null;
}

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
 * The manifest: everything needed to check a dump (bytes, sha256, version) and to check a restore of it
 * (per-table row counts taken in the dump's own snapshot), and, from v2, the roles beside it.
 */
export interface BackupManifest {
  readonly schemaVersion: 1 | 2 | 3;
  /** `pg_dump-custom` in v1 and v2, `pg_dump-directory` in v3. */
  readonly format: DumpFormat;
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
  /** Bytes of the dump: the dump object, or for a directory dump all its files together. */
  readonly bytes: number;
  /** SHA-256 of the object at `s3` (for a directory dump its `toc.dat`), lowercase hex. */
  readonly sha256: string;
  /** The dump object (for a directory dump, its `toc.dat`). */
  readonly s3: ManifestS3Location;
  /** Every file of a directory dump, `toc.dat` last (v3 only). */
  readonly files?: readonly ManifestFile[];
  readonly tables: readonly TableRowCount[];
  /** The retention tiers this backup satisfies. */
  readonly tiers: readonly Tier[];
  /** The roles and globals beside the dump: always in v2, never in v1. */
  readonly globals?: ManifestGlobals;
  /**
   * pg_dump's compression, as the dump input gives it (`gzip:3`, `none`, `zstd:5`): a restore checks that its
   * pg_restore can read it.
   * @default - not recorded (backups written before the compression was a setting): pg_dump's default, gzip
   */
  readonly compression?: string;
}

/** The keys of one backup. */
export interface BackupKeys {
  readonly dumpKey: string;
  readonly globalsKey: string;
  readonly manifestKey: string;
}

/** What a backup key says about the backup. */
export interface ParsedBackupKey {
  readonly source: string;
  readonly database: string;
  /** The instant encoded in the key's timestamp. */
  readonly timestamp: Date;
  /** `file`: a file of a directory dump other than its `toc.dat`. */
  readonly kind: 'dump' | 'globals' | 'manifest' | 'file';
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
  return { dumpKey: `${base}${DUMP_SUFFIX}`, globalsKey: `${base}${GLOBALS_SUFFIX}`, manifestKey: `${base}${MANIFEST_SUFFIX}` };
}

/**
 * Reads a dump or manifest key back; `undefined` for any key that is not exactly in the layout (including a date
 * folder that does not match the timestamp).
 */
export function parseBackupKey(key: string): ParsedBackupKey | undefined {
  let kind: ParsedBackupKey['kind'];
  let base: string;
  const files = directoryFileParts(key);
  if (files) {
    const dump = parseBackupKey(files.dumpKey);
    return dump && { ...dump, kind: 'file' };
  }
  if (key.endsWith(MANIFEST_SUFFIX)) {
    kind = 'manifest';
    base = key.slice(0, -MANIFEST_SUFFIX.length);
  } else if (key.endsWith(DUMP_SUFFIX)) {
    kind = 'dump';
    base = key.slice(0, -DUMP_SUFFIX.length);
  } else if (key.endsWith(GLOBALS_SUFFIX)) {
    kind = 'globals';
    base = key.slice(0, -GLOBALS_SUFFIX.length);
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

/** A directory dump's file key split into the dump key and the file name; `undefined` for any other key. */
function directoryFileParts(key: string): { readonly dumpKey: string; readonly name: string } | undefined {
  const at = key.lastIndexOf(DIRECTORY_FILES_SUFFIX);
  if (at < 0) return undefined;
  const name = key.slice(at + DIRECTORY_FILES_SUFFIX.length);
  if (!isDirectoryFileName(name)) return undefined;
  return { dumpKey: `${key.slice(0, at)}${DUMP_SUFFIX}`, name };
}

/** The key of file `name` of the directory dump at `dumpKey`: `toc.dat` is the dump key itself. */
export function directoryFileKey(dumpKey: string, name: string): string {
  if (!dumpKey.endsWith(DUMP_SUFFIX)) throw new Error(`a dump key ends with ${DUMP_SUFFIX}; got ${JSON.stringify(dumpKey)}`);
  if (!isDirectoryFileName(name)) throw new Error(`unexpected file name in a directory dump: ${JSON.stringify(name)}`);
  return name === TOC_FILE_NAME ? dumpKey : `${dumpKey.slice(0, -DUMP_SUFFIX.length)}${DIRECTORY_FILES_SUFFIX}${name}`;
}

/** The prefix of the files (other than `toc.dat`) of the directory dump whose manifest is `manifestKey`. */
export function directoryFilesPrefixForManifestKey(manifestKey: string): string {
  return `${manifestBase(manifestKey)}${DIRECTORY_FILES_SUFFIX}`;
}

/**
 * The objects of a backup besides its manifest: the dump object (for a directory dump its `toc.dat`), every other
 * file of a directory dump, and the globals object (v2 and later). What deleting a backup deletes.
 */
export function backupObjectKeys(manifest: BackupManifest): string[] {
  const keys = new Set<string>([manifest.s3.key, ...(manifest.files ?? []).map((f) => f.key)]);
  if (manifest.globals) keys.add(manifest.globals.key);
  return [...keys];
}

/** The size of the object at the manifest's `s3` (for a directory dump, its `toc.dat`'s entry). */
export function dumpObjectBytes(manifest: BackupManifest): number {
  if (manifest.format !== DIRECTORY_DUMP_FORMAT) return manifest.bytes;
  return manifest.files?.find((f) => f.key === manifest.s3.key)?.bytes ?? manifest.bytes;
}

/** The dump key that belongs to a manifest key. */
export function dumpKeyForManifestKey(manifestKey: string): string {
  return `${manifestBase(manifestKey)}${DUMP_SUFFIX}`;
}

/** The globals key that belongs to a manifest key (the object exists for v2 manifests). */
export function globalsKeyForManifestKey(manifestKey: string): string {
  return `${manifestBase(manifestKey)}${GLOBALS_SUFFIX}`;
}

/** The manifest key that belongs to a dump or globals key; `undefined` for any other key. */
export function manifestKeyForObjectKey(key: string): string | undefined {
  const files = directoryFileParts(key);
  if (files) return `${files.dumpKey.slice(0, -DUMP_SUFFIX.length)}${MANIFEST_SUFFIX}`;
  for (const suffix of [DUMP_SUFFIX, GLOBALS_SUFFIX]) {
    if (key.endsWith(suffix)) return `${key.slice(0, -suffix.length)}${MANIFEST_SUFFIX}`;
  }
  return undefined;
}

function manifestBase(manifestKey: string): string {
  if (!manifestKey.endsWith(MANIFEST_SUFFIX)) {
    throw new Error(`a manifest key ends with ${MANIFEST_SUFFIX}; got ${JSON.stringify(manifestKey)}`);
  }
  return manifestKey.slice(0, -MANIFEST_SUFFIX.length);
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
 * Checks that `value` (parsed JSON) is a v1 or v2 manifest. Unknown fields are ignored (a later writer of the same
 * version may add optional fields); another `schemaVersion` is refused. Returns every problem found, not just the
 * first.
 */
export function validateManifest(value: unknown): ManifestValidation {
  const errors: string[] = [];
  if (!isRecord(value)) return { ok: false, errors: ['the manifest must be a JSON object'] };
  const v = value;
  if (!READABLE_MANIFEST_SCHEMA_VERSIONS.includes(v.schemaVersion as number)) {
    errors.push(`schemaVersion must be ${READABLE_MANIFEST_SCHEMA_VERSIONS.slice(0, -1).join(', ')} or ${READABLE_MANIFEST_SCHEMA_VERSIONS[READABLE_MANIFEST_SCHEMA_VERSIONS.length - 1]}; got ${JSON.stringify(v.schemaVersion)}`);
  }
  const format = v.schemaVersion === DIRECTORY_MANIFEST_SCHEMA_VERSION ? DIRECTORY_DUMP_FORMAT : DUMP_FORMAT;
  if (v.format !== format) errors.push(`format must be "${format}" in a v${String(v.schemaVersion)} manifest; got ${JSON.stringify(v.format)}`);
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
  errors.push(...globalsErrors(v));
  errors.push(...filesErrors(v));
  if (v.compression !== undefined) {
    const parsed = typeof v.compression === 'string' ? parseCompression(v.compression) : undefined;
    if (parsed === undefined || 'problem' in parsed) {
      errors.push(`compression must be "none" or <method>:<level> (e.g. "gzip:3"); got ${JSON.stringify(v.compression)}`);
    }
  }
  return errors.length === 0 ? { ok: true, manifest: value as unknown as BackupManifest } : { ok: false, errors };
}

/** What is wrong with the `globals` of a manifest: required in v2, absent in v1, beside its own dump. */
function globalsErrors(v: Record<string, unknown>): string[] {
  if (v.schemaVersion === 1) return v.globals === undefined ? [] : ['globals is not part of a v1 manifest; write schemaVersion 2'];
  if (v.schemaVersion !== 2 && v.schemaVersion !== DIRECTORY_MANIFEST_SCHEMA_VERSION) return [];
  const g = v.globals;
  if (!isRecord(g)) return [`globals must be an object { key, bytes, sha256, versionId } in a v${String(v.schemaVersion)} manifest`];
  const errors: string[] = [];
  const dumpKey = isRecord(v.s3) && typeof v.s3.key === 'string' ? v.s3.key : undefined;
  if (typeof g.key !== 'string' || parseBackupKey(g.key)?.kind !== 'globals' || (dumpKey !== undefined && manifestKeyForObjectKey(g.key) !== manifestKeyForObjectKey(dumpKey))) {
    errors.push(`globals.key must be the key beside the dump, ending in ${GLOBALS_SUFFIX}`);
  }
  if (!isNonNegativeInteger(g.bytes)) errors.push('globals.bytes must be a non-negative integer');
  if (typeof g.sha256 !== 'string' || !SHA256_HEX.test(g.sha256)) errors.push('globals.sha256 must be 64 lowercase hex digits');
  if (g.versionId !== null && !isNonEmptyString(g.versionId)) errors.push('globals.versionId must be a non-empty string or null');
  return errors;
}

/** Files a manifest error names one by one; the rest are counted. */
const MAX_NAMED_BAD_FILES = 5;

/**
 * What is wrong with the `files` of a manifest: required in v3 (every file beside its own dump, `toc.dat` at the dump
 * key and listed once, `bytes` their sum), absent before.
 */
function filesErrors(v: Record<string, unknown>): string[] {
  if (v.schemaVersion !== DIRECTORY_MANIFEST_SCHEMA_VERSION) {
    return v.files === undefined ? [] : [`files is part of a v${DIRECTORY_MANIFEST_SCHEMA_VERSION} (directory-format) manifest only`];
  }
  if (!Array.isArray(v.files) || v.files.length === 0) return ['files must be a non-empty array in a v3 manifest'];
  const dumpKey = isRecord(v.s3) && typeof v.s3.key === 'string' ? v.s3.key : undefined;
  const bad: number[] = [];
  const names = new Set<string>();
  let total = 0;
  v.files.forEach((file: unknown, i) => {
    const good =
      isRecord(file) &&
      typeof file.name === 'string' &&
      isDirectoryFileName(file.name) &&
      !names.has(file.name) &&
      (dumpKey === undefined || (dumpKey.endsWith(DUMP_SUFFIX) && file.key === directoryFileKey(dumpKey, file.name))) &&
      isNonNegativeInteger(file.bytes) &&
      typeof file.sha256 === 'string' &&
      SHA256_HEX.test(file.sha256) &&
      (file.versionId === null || isNonEmptyString(file.versionId));
    if (!good) {
      bad.push(i);
      return;
    }
    names.add(file.name as string);
    total += file.bytes as number;
  });
  const errors: string[] = [];
  if (bad.length > 0) {
    const named = bad.slice(0, MAX_NAMED_BAD_FILES).map((i) => `files[${i}]`).join(', ');
    const more = bad.length > MAX_NAMED_BAD_FILES ? ` and ${bad.length - MAX_NAMED_BAD_FILES} more` : '';
    errors.push(`${named}${more} must be { name, key: beside the dump, bytes, sha256, versionId }, each name once`);
    return errors;
  }
  const toc = (v.files as Array<Record<string, unknown>>).find((f) => f.name === TOC_FILE_NAME);
  if (!toc) errors.push(`files must list ${TOC_FILE_NAME}`);
  else {
    if (isRecord(v.s3) && v.s3.versionId !== toc.versionId) errors.push(`s3.versionId must be the version of ${TOC_FILE_NAME}`);
    if (v.sha256 !== toc.sha256) errors.push(`sha256 must be the SHA-256 of ${TOC_FILE_NAME}`);
  }
  if (isNonNegativeInteger(v.bytes) && v.bytes !== total) errors.push(`bytes must be the sum of the files' bytes (${total}); got ${v.bytes}`);
  return errors;
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
    ...(manifest.globals
      ? {
          globals: {
            key: manifest.globals.key,
            bytes: manifest.globals.bytes,
            sha256: manifest.globals.sha256,
            versionId: manifest.globals.versionId,
          },
        }
      : {}),
    ...(manifest.compression === undefined ? {} : { compression: manifest.compression }),
    ...(manifest.files
      ? { files: manifest.files.map((f) => ({ name: f.name, key: f.key, bytes: f.bytes, sha256: f.sha256, versionId: f.versionId })) }
      : {}),
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
