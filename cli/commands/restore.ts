/** `restore`: runs the restore core once (whole backup or some schemas/tables), checks row counts, prints a summary. */
import { InvalidInput } from '../../lambda/common/errors';
import { parseTableName, type RestoreSelection } from '../../lambda/restore/partial-restore';
import { runRestore } from '../../lambda/restore/restore-core';
import { describeFailures, runRestoreVerify } from '../../lambda/restore/restore-verify-core';
import { withAws } from '../aws';
import { checkManifestKey } from '../backups';
import { DATABASE_OPTIONS, DATABASE_OPTIONS_HELP, databaseTarget } from '../connection';
import { emit, EXIT, formatBytes, helpRequested, parseOptions, USAGE_FOOTER, UsageError, wholeNumber, type CliCommand } from '../io';

const USAGE = `Usage: cdk-backup-dr restore --bucket BUCKET --manifest-key KEY [--database-url URL] [options]

Restores the backup whose manifest is s3://BUCKET/KEY into the database named in URL with pg_restore
(--no-owner --no-acl --exit-on-error), re-hashing the dump against the manifest's SHA-256, then compares every
restored table's exact row count with the manifest, and prints a summary. With --jobs 1 (default) the dump streams
from S3 into pg_restore without touching disk; with more jobs it is downloaded to --work-dir first (it must fit
there), checked, then restored in parallel.

Partial restore: --schema restores whole schemas; --table restores tables (definition and data only: no indexes,
constraints or triggers, as pg_restore -t). Names are case-sensitive; quote a part containing a dot ("a.b".t). The
selected schemas are created when missing; the row-count check covers the restored tables only. pg_restore selects
schemas and table names separately, so tables of different schemas whose names would cross-select are refused. A
schema whose foreign keys point outside the selection fails (restore the referenced schema too); a database
--create-database made is then dropped again.

Options:
  --bucket BUCKET        the backup bucket (or its replica in the DR region)
  --manifest-key KEY     postgres/<source>/<database>/<YYYY>/<MM>/<DD>/<timestamp>.manifest.json
${DATABASE_OPTIONS_HELP}  --create-database      create TARGET first (fails if it exists); it is dropped again if the restore fails
  --schema NAME          restore only this schema (repeatable)
  --table [SCHEMA.]NAME  restore only this table (repeatable); with --schema, an unqualified NAME is looked for
                         in those schemas only
  --skip-row-check       do not count the restored rows (the checksum is still checked)
  --jobs N               parallel pg_restore jobs, 1-64 (default 1: streamed, no disk)
  --work-dir DIR         where --jobs > 1 downloads the dump (default: the system temp directory)
  --pg-restore PATH      pg_restore binary (default: PG_RESTORE_PATH, else pg_restore on PATH)

${USAGE_FOOTER}`;

/** The `--schema`/`--table` options as a selection (undefined: the whole backup). @throws UsageError */
export function selectionOf(schemas: readonly string[] | undefined, tables: readonly string[] | undefined): RestoreSelection | undefined {
  if (!schemas?.length && !tables?.length) return undefined;
  if (schemas?.some((s) => s === '')) throw new UsageError('--schema needs a name');
  try {
    return { ...(schemas?.length ? { schemas } : {}), ...(tables?.length ? { tables: tables.map(parseTableName) } : {}) };
  } catch (error) {
    throw new UsageError(`--${(error as Error).message}`);
  }
}

export const restoreCommand: CliCommand = {
  name: 'restore',
  summary: 'restore a backup (whole, or --schema/--table) into a database, checked against its manifest',
  usage: USAGE,
  async run(args, io) {
    const values = parseOptions(args, {
      ...DATABASE_OPTIONS,
      bucket: { type: 'string' },
      'manifest-key': { type: 'string' },
      'create-database': { type: 'boolean' },
      schema: { type: 'string', multiple: true },
      table: { type: 'string', multiple: true },
      'skip-row-check': { type: 'boolean' },
      jobs: { type: 'string' },
      'work-dir': { type: 'string' },
      'pg-restore': { type: 'string' },
    });
    if (helpRequested(values, io, USAGE)) return EXIT.ok;
    const { bucket } = values;
    if (!bucket) throw new UsageError('--bucket is required');
    const manifestKey = values['manifest-key'];
    if (!manifestKey) throw new UsageError('--manifest-key is required');
    checkManifestKey(manifestKey);
    const jobs = wholeNumber(values.jobs, '--jobs', 1, 1, 64);
    const selection = selectionOf(values.schema, values.table);
    const target = databaseTarget(values, io.env, (m) => io.stderr(`warn ${m}\n`));
    return withAws(values.region, [target.password], async (aws) => {
      const result = await runRestore({
        bucket,
        manifestKey,
        target,
        createDatabase: values['create-database'] ?? false,
        jobs,
        workDir: values['work-dir'],
        pgRestorePath: values['pg-restore'],
        signal: io.signal,
        s3: aws.s3,
        ...(selection ? { selection } : {}),
      }).catch((error: unknown) => {
        // A selection the backup cannot satisfy is a mistake on the command line.
        throw error instanceof InvalidInput ? new UsageError(error.message) : error;
      });
      const rowCheck = values['skip-row-check'] ? undefined : await runRestoreVerify({ target, manifest: result.manifest, ...(selection ? { selection } : {}) });
      const summary = {
        database: result.database,
        manifestKey,
        restoredBytes: result.restoredBytes,
        sha256: result.sha256,
        durationSeconds: result.durationSeconds,
        mode: result.mode,
        jobs: result.jobs,
        createdDatabase: result.createdDatabase,
        backupFinishedAt: result.manifest.finishedAt,
        ...(result.partial ? { tablesRestored: result.partial.tables.map((t) => `${t.schema}.${t.name}`) } : {}),
        ...(rowCheck ? { rowCheck: { passed: rowCheck.passed, tables: rowCheck.checks.length, failures: rowCheck.passed ? [] : describeFailures(rowCheck) } } : {}),
      };
      emit(io, values.json, summary, () =>
        [
          `restored ${manifestKey} into ${result.database}: ${formatBytes(result.restoredBytes)} in ${result.durationSeconds} s (${result.mode}, sha256 ok)`,
          result.partial ? `tables restored: ${result.partial.tables.map((t) => `${t.schema}.${t.name}`).join(', ')}` : undefined,
          rowCheck ? `row counts: ${rowCheck.passed ? `all ${rowCheck.checks.length} tables match the manifest` : `FAILED: ${describeFailures(rowCheck)}`}` : 'row counts: not checked (--skip-row-check)',
        ]
          .filter((l) => l !== undefined)
          .join('\n') + '\n',
      );
      return rowCheck && !rowCheck.passed ? EXIT.failed : EXIT.ok;
    });
  },
};
