/**
 * The restore-verify core: proves that a restored database holds what the backup's manifest says it should.
 *
 * - Exact per-table row counts of every user table (the dump's own `countAllTables` in ../postgres/pg, so the
 *   same table list and count query) compared with the manifest: a missing table, an extra table and a count mismatch are
 *   each a failed check. After a partial restore (./partial-restore), only the tables it restored are compared.
 * - User-supplied validation queries `{ name, sql }`, each run in its own READ ONLY transaction with a statement
 *   timeout; each must return exactly one row whose first column is boolean `true`.
 *
 * The comparison and the judging of a query's result are pure functions, exported and unit-tested on their own.
 */
import type { Client, QueryArrayConfig } from 'pg';
import type { BackupManifest, TableRowCount } from '../backup/manifest';
import { RestoreFailed } from '../common/errors';
import { countAllTables, qualifiedName } from '../postgres/pg';
import { connect, scrubSecrets, type PgTarget } from '../postgres/target';
import { clip } from '../common/validate';
import { isPartial, resolveSelection, selectedTable, type RestoreSelection } from './partial-restore';

/** A check of a restored database. `name` is `table <schema>.<name>` or `query <name>`. */
export interface VerifyCheck {
  readonly name: string;
  readonly passed: boolean;
  /** Row count in the manifest, or `true` for a validation query. */
  readonly expected?: number | boolean;
  /** Row count found, or the value the query returned (text for a non-boolean). */
  readonly actual?: number | boolean | string | null;
  /** Why it failed (or what was checked). */
  readonly detail?: string;
}

/** The outcome of a verify: passed only when every check passed. */
export interface VerifyResult {
  readonly passed: boolean;
  readonly checks: readonly VerifyCheck[];
}

/** A user-supplied SQL check: one statement returning one row whose first column is `true` when the data is good. */
export interface ValidationQuery {
  /** Names the check in the report, e.g. `orders-have-customers`. */
  readonly name: string;
  /** e.g. `SELECT count(*) > 0 FROM app.orders` or `SELECT NOT EXISTS (SELECT 1 FROM app.orders WHERE total < 0)` */
  readonly sql: string;
}

/** The check name of a table. */
export function tableCheckName(table: { readonly schema: string; readonly name: string }): string {
  return `table ${qualifiedName(table.schema, table.name)}`;
}

function tableKey(table: { readonly schema: string; readonly name: string }): string {
  // JSON keeps schema and name apart whatever characters they contain.
  return JSON.stringify([table.schema, table.name]);
}

/**
 * Compares the manifest's per-table row counts with the restored database's: one check per table of either side,
 * in the manifest's order, then extra tables (sorted).
 */
export function compareTableCounts(
  expected: readonly TableRowCount[],
  actual: readonly TableRowCount[],
): VerifyCheck[] {
  const found = new Map(actual.map((t) => [tableKey(t), t]));
  const checks: VerifyCheck[] = [];
  const seen = new Set<string>();
  for (const table of expected) {
    const key = tableKey(table);
    seen.add(key);
    const restored = found.get(key);
    if (!restored) {
      checks.push({ name: tableCheckName(table), passed: false, expected: table.rows, detail: 'missing from the restored database' });
    } else if (restored.rows !== table.rows) {
      checks.push({
        name: tableCheckName(table),
        passed: false,
        expected: table.rows,
        actual: restored.rows,
        detail: `row count differs from the manifest by ${restored.rows - table.rows}`,
      });
    } else {
      checks.push({ name: tableCheckName(table), passed: true, expected: table.rows, actual: restored.rows });
    }
  }
  const extra = actual
    .filter((t) => !seen.has(tableKey(t)))
    .sort((a, b) => (a.schema === b.schema ? (a.name < b.name ? -1 : 1) : a.schema < b.schema ? -1 : 1));
  for (const table of extra) {
    checks.push({ name: tableCheckName(table), passed: false, actual: table.rows, detail: 'not in the manifest (extra table)' });
  }
  return checks;
}

/** What one validation query returned, reduced to what judging it needs. */
export interface QueryOutcome {
  /** The rows, each as its column values in order. */
  readonly rows: readonly (readonly unknown[])[];
  /** PostgreSQL type OID of each column (16 = boolean). */
  readonly columnTypes: readonly number[];
  /** Set when the query failed, or returned several result sets (several statements). */
  readonly error?: string;
}

/** PostgreSQL's OID of `boolean`. */
export const BOOL_OID = 16;

/**
 * Longest database error a failed query's check keeps. Some errors quote the offending value whole (`invalid input
 * syntax for type integer: "…"`), and the check travels through Step Functions state (see {@link MAX_LISTED_CHECKS}).
 */
export const MAX_ERROR_DETAIL_LENGTH = 1000;

/** Renders a returned value for a report without dumping it whole. */
function render(value: unknown): string {
  return clip(typeof value === 'string' ? JSON.stringify(value) : value instanceof Date ? value.toISOString() : String(value), 120);
}

/** Judges a validation query's outcome: exactly one row, first column boolean `true`. */
export function judgeValidationQuery(query: ValidationQuery, outcome: QueryOutcome): VerifyCheck {
  const name = `query ${query.name}`;
  if (outcome.error !== undefined) {
    return { name, passed: false, expected: true, detail: `failed: ${clip(outcome.error, MAX_ERROR_DETAIL_LENGTH)}` };
  }
  if (outcome.rows.length !== 1) {
    return { name, passed: false, expected: true, detail: `returned ${outcome.rows.length} rows; it must return exactly one` };
  }
  const row = outcome.rows[0];
  if (row.length === 0) {
    return { name, passed: false, expected: true, detail: 'returned a row with no columns; select one boolean' };
  }
  const value = row[0];
  if (value === null || value === undefined) {
    return { name, passed: false, expected: true, actual: null, detail: 'returned NULL; it must return true' };
  }
  if (outcome.columnTypes[0] !== BOOL_OID || typeof value !== 'boolean') {
    return {
      name,
      passed: false,
      expected: true,
      actual: render(value),
      detail: 'the first column is not a boolean; write the check as a condition, e.g. SELECT count(*) > 0 FROM …',
    };
  }
  return value
    ? { name, passed: true, expected: true, actual: true }
    : { name, passed: false, expected: true, actual: false, detail: 'returned false' };
}

/**
 * Most checks a verify Lambda returns. Its result travels through Step Functions, where a state's data is at most
 * 256 KiB and a result over that ends the execution with States.DataLimitExceeded, which no Catch handles: the
 * cleanup after it would never run. At one check per table, a database with a few thousand tables would get there.
 */
export const MAX_LISTED_CHECKS = 100;

/** Name of the check that stands for the checks {@link listedChecks} leaves out. */
export const UNLISTED_CHECKS_NAME = 'checks not listed';

/**
 * The checks to return, at most `limit`: all of them when they fit; otherwise the failed ones first, then passed
 * ones, in their original order, and last one check that counts what was left out (failed when any of those failed).
 */
export function listedChecks(checks: readonly VerifyCheck[], limit = MAX_LISTED_CHECKS): VerifyCheck[] {
  if (checks.length <= limit) return [...checks];
  const room = limit - 1;
  const failed = checks.filter((c) => !c.passed);
  const keep = new Set<VerifyCheck>(failed.slice(0, room));
  for (const check of checks) {
    if (keep.size >= room) break;
    if (check.passed) keep.add(check);
  }
  const left = checks.filter((c) => !keep.has(c));
  const leftFailed = left.filter((c) => !c.passed).length;
  return [
    ...checks.filter((c) => keep.has(c)),
    {
      name: UNLISTED_CHECKS_NAME,
      passed: leftFailed === 0,
      detail: `${left.length - leftFailed} more passed and ${leftFailed} more failed; a result lists at most ${limit} checks`,
    },
  ];
}

/** Builds the result: passed when every check passed (a backup of a database without tables has no checks). */
export function summarize(checks: readonly VerifyCheck[]): VerifyResult {
  return { passed: checks.every((c) => c.passed), checks };
}

/**
 * One line per failed check (at most `limit`, then how many more), for an error message or a notification.
 * Contains names, numbers and the database's error texts only — never credentials.
 */
export function describeFailures(result: VerifyResult, limit = 20): string {
  const failed = result.checks.filter((c) => !c.passed);
  if (failed.length === 0) return result.checks.length === 0 ? 'no checks were run' : 'all checks passed';
  const lines = failed.slice(0, limit).map((c) => {
    const numbers =
      c.expected !== undefined || c.actual !== undefined
        ? ` (expected ${c.expected === undefined ? '-' : String(c.expected)}, actual ${c.actual === undefined ? '-' : String(c.actual)})`
        : '';
    return `${c.name}: ${c.detail ?? 'failed'}${numbers}`;
  });
  if (failed.length > limit) lines.push(`… and ${failed.length - limit} more failed checks`);
  return lines.join('; ');
}

/** Validates validation queries (unique non-empty names, non-empty SQL); returns the problems found. */
export function validationQueryProblems(queries: readonly ValidationQuery[]): string[] {
  const problems: string[] = [];
  const names = new Set<string>();
  queries.forEach((q, i) => {
    if (typeof q.name !== 'string' || q.name.trim() === '') problems.push(`validationQueries[${i}].name must be a non-empty string`);
    else if (names.has(q.name)) problems.push(`validationQueries[${i}].name "${q.name}" is used twice; names must be unique`);
    else names.add(q.name);
    if (typeof q.sql !== 'string' || q.sql.trim() === '') problems.push(`validationQueries[${i}].sql must be a non-empty string`);
  });
  return problems;
}

/** Runs one validation query in a READ ONLY transaction (always rolled back) and reports what it returned. */
export async function runValidationQuery(client: Client, query: ValidationQuery, timeoutMs: number): Promise<QueryOutcome> {
  await client.query('BEGIN READ ONLY');
  try {
    await client.query(`SET LOCAL statement_timeout = ${Math.max(1, Math.floor(timeoutMs))}`);
    // The extended protocol runs exactly one statement ("cannot insert multiple commands into a prepared
    // statement" otherwise), so a query cannot COMMIT its way out of the read-only transaction.
    const config: QueryArrayConfig & { readonly queryMode: 'extended' } = { text: query.sql, rowMode: 'array', queryMode: 'extended' };
    const { rows, fields } = await client.query(config);
    return { rows, columnTypes: fields.map((f) => f.dataTypeID) };
  } catch (error) {
    return { rows: [], columnTypes: [], error: error instanceof Error ? error.message : String(error) };
  } finally {
    await client.query('ROLLBACK');
  }
}

/** Options of {@link runRestoreVerify}. */
export interface RestoreVerifyOptions {
  /** The restored database. */
  readonly target: PgTarget;
  /** The manifest of the backup that was restored (its `tables` are the expected counts). */
  readonly manifest: BackupManifest;
  /** @default - none */
  readonly validationQueries?: readonly ValidationQuery[];
  /**
   * Statement timeout of each validation query, milliseconds.
   * @default 60000
   */
  readonly queryTimeoutMs?: number;
  /**
   * The selection of a partial restore: only the tables it restored are counted and compared (other tables in the
   * target are neither expected nor extra).
   * @default - the whole backup: every table of the manifest, and no other table in the target
   */
  readonly selection?: RestoreSelection;
}

/**
 * Connects to the restored database, compares every table's exact row count with the manifest and runs the
 * validation queries.
 *
 * @throws RestoreFailed when the database cannot be reached or the table counting itself fails (a validation
 *   query's failure is a failed check, not an exception).
 * @example
 * const result = await runRestoreVerify({
 *   target: { host: 'scratch.internal', port: 5432, user: 'postgres', password, database: 'app_restore' },
 *   manifest,
 *   validationQueries: [{ name: 'orders-present', sql: 'SELECT count(*) > 0 FROM app.orders' }],
 * });
 * if (!result.passed) throw new Error(describeFailures(result));
 */
export async function runRestoreVerify(options: RestoreVerifyOptions): Promise<VerifyResult> {
  const queries = options.validationQueries ?? [];
  const problems = validationQueryProblems(queries);
  if (problems.length > 0) throw new RangeError(problems.join('; '));
  const partial = isPartial(options.selection) ? resolveSelection(options.manifest.tables, options.selection) : undefined;
  const expected = partial?.tables ?? options.manifest.tables;
  const client = await connect(options.target);
  try {
    let actual: TableRowCount[];
    try {
      actual = await countAllTables(client, partial ? selectedTable(partial) : undefined);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new RestoreFailed(scrubSecrets(`counting the rows of ${options.target.database} failed: ${reason}`, [options.target.password]));
    }
    const checks = compareTableCounts(expected, actual);
    for (const query of queries) {
      const outcome = await runValidationQuery(client, query, options.queryTimeoutMs ?? 60_000);
      const check = judgeValidationQuery(query, outcome);
      checks.push(check.detail ? { ...check, detail: scrubSecrets(check.detail, [options.target.password]) } : check);
    }
    return summarize(checks);
  } finally {
    await client.end();
  }
}
