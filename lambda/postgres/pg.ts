/**
 * PostgreSQL queries of the dump and the restore verify: the consistent-snapshot session (export a snapshot), the
 * one row count of every table (in the dump's snapshot and again in a restored database), version parsing, and the
 * part size of the upload.
 */
import type { Client } from 'pg';
import { quoteIdent } from './target';
import type { TableRowCount } from '../backup/manifest';

/** `"schema"."table"`, each part quoted. */
export function qualifiedName(schema: string, name: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(name)}`;
}

/**
 * Every ordinary table (including partitions, excluding partitioned parents whose rows live in the partitions) in
 * every schema except PostgreSQL's own, in a stable order. Tables that belong to an extension are left out: pg_dump
 * does not dump their rows (the extension recreates them).
 */
export const LIST_TABLES_SQL = `
SELECT n.nspname AS schema, c.relname AS name
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r'
  AND n.nspname <> 'information_schema'
  AND n.nspname !~ '^pg_'
  AND NOT EXISTS (
    SELECT 1 FROM pg_catalog.pg_depend d
    WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
  )
ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C"`;

/** The exact-count query of one table. */
export function countRowsSql(schema: string, name: string): string {
  return `SELECT count(*) AS rows FROM ${qualifiedName(schema, name)}`;
}

/** A PostgreSQL version as `major` (`15`, or `9.6` before 10) and the full `x.y` text. */
export interface PgVersion {
  readonly major: number;
  readonly text: string;
}

/** Reads a version number such as `15.18`, `16beta2` or `9.6.24` from the start of `text`'s first version token. */
export function parseVersionText(text: string): PgVersion | undefined {
  const m = /(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(text);
  if (!m) return undefined;
  const first = Number(m[1]);
  if (first >= 10) return { major: first, text: m[2] === undefined ? m[1] : `${m[1]}.${m[2]}` };
  if (m[2] === undefined) return undefined;
  const major = Number(`${m[1]}.${m[2]}`);
  return { major, text: m[3] === undefined ? `${m[1]}.${m[2]}` : `${m[1]}.${m[2]}.${m[3]}` };
}

/** Parses `pg_dump --version` output, e.g. `pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)`. */
export function parsePgDumpVersion(output: string): PgVersion | undefined {
  const m = /^pg_dump \(PostgreSQL\) (\S+)/m.exec(output.trim());
  return m ? parseVersionText(m[1]) : undefined;
}

/** Parses the server's `server_version` setting, e.g. `15.18 (Debian 15.18-1.pgdg120+1)` or `16.4`. */
export function parseServerVersion(serverVersion: string): PgVersion | undefined {
  return parseVersionText(serverVersion.trim().split(/\s/)[0] ?? '');
}

/**
 * pg_dump refuses (or silently mis-dumps) a server of a newer major version than its own. Returns the message to
 * fail with, or `undefined` when the pair works.
 */
export function pgDumpCompatibilityProblem(pgDump: PgVersion, server: PgVersion): string | undefined {
  if (pgDump.major >= server.major) return undefined;
  return (
    `pg_dump ${pgDump.text} cannot dump a PostgreSQL ${server.text} server: pg_dump must be at least the server's ` +
    `major version (${server.major}); use a PgToolsLayer (or PG_DUMP_PATH) with pg_dump ${server.major} or newer`
  );
}

/** Smallest S3 part size (5 MiB); also the unit part sizes are rounded to. */
export const MIN_PART_SIZE = 5 * 1024 * 1024;

/**
 * The part size used when nothing suggests a larger one: S3's minimum, 5 MiB, which {@link choosePartSize} keeps up
 * to about 39 GiB of database. Memory follows the part size: measured on a 145 MiB dump, 5 MiB parts peaked at
 * 114–119 MiB RSS (43 MiB of ArrayBuffers) where 8 MiB parts peaked at 128–146 MiB (57–74 MiB); wall times did not
 * differ measurably (4 interleaved pairs on a noisy machine).
 */
export const DEFAULT_PART_SIZE = MIN_PART_SIZE;

/** S3's limit on parts per multipart upload, less a margin for a dump larger than its database estimate. */
const PART_BUDGET = 8_000;

/**
 * Part size for a dump whose database is `databaseBytes` large on disk. A custom-format dump is compressed and
 * smaller than the database, so sizing parts for the database size keeps well inside S3's 10,000 parts while memory
 * stays constant (the upload holds `queueSize + 1` parts at most).
 */
export function choosePartSize(databaseBytes: number | undefined): number {
  if (databaseBytes === undefined || !Number.isFinite(databaseBytes) || databaseBytes <= 0) return DEFAULT_PART_SIZE;
  const needed = Math.ceil(databaseBytes / PART_BUDGET);
  const rounded = Math.ceil(needed / MIN_PART_SIZE) * MIN_PART_SIZE;
  return Math.max(DEFAULT_PART_SIZE, rounded);
}

/** What the snapshot session learned before pg_dump starts. */
export interface SnapshotSessionInfo {
  readonly snapshotId: string;
  readonly serverVersion: PgVersion;
  readonly databaseBytes: number;
}

/**
 * Opens a REPEATABLE READ, READ ONLY transaction and exports its snapshot. The snapshot stays importable (by
 * `pg_dump --snapshot`) for as long as the transaction is open.
 */
export async function beginExportedSnapshot(client: Client): Promise<SnapshotSessionInfo> {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  const snap = await client.query<{ id: string; version: string; size: string }>(
    "SELECT pg_export_snapshot() AS id, current_setting('server_version') AS version, " +
      'pg_database_size(current_database())::text AS size',
  );
  const row = snap.rows[0];
  const serverVersion = parseServerVersion(row.version);
  if (!serverVersion) throw new Error(`cannot read the server version from ${JSON.stringify(row.version)}`);
  return { snapshotId: row.id, serverVersion, databaseBytes: Number(row.size) };
}

/**
 * Exact row counts of every table ({@link LIST_TABLES_SQL}), in the session's transaction snapshot: the dump writes
 * them into the manifest, the restore verify counts the restored database with the same function and compares.
 */
export async function countAllTables(
  client: Client,
  include: (table: { readonly schema: string; readonly name: string }) => boolean = () => true,
): Promise<TableRowCount[]> {
  const tables = await client.query<{ schema: string; name: string }>(LIST_TABLES_SQL);
  const counts: TableRowCount[] = [];
  for (const { schema, name } of tables.rows.filter(include)) {
    const result = await client.query<{ rows: string }>(countRowsSql(schema, name));
    const rows = Number(result.rows[0].rows);
    if (!Number.isSafeInteger(rows)) throw new Error(`row count of ${qualifiedName(schema, name)} is not a safe integer`);
    counts.push({ schema, name, rows });
  }
  return counts;
}
