#!/usr/bin/env node
/**
 * cdk-backup-dr command line: the same cores the Lambda functions run, usable from any machine that reaches the
 * database and S3.
 *
 *   npx cdk-backup-dr backup --database-url postgres://user@host:5432/app --bucket B --source S [--kms-key-id K]
 *                               [--tiers daily,weekly]
 *
 * Commands live in {@link COMMANDS}; each parses its own options. Output meant for programs (a manifest) goes to
 * stdout, progress and errors to stderr. No credential is ever printed.
 */
import { parseArgs } from 'node:util';
import { S3Client } from '@aws-sdk/client-s3';
import { DumpFailed } from '../lambda/common/errors';
import { runDump } from '../lambda/backup/dump-core';
import type { LogSink } from '../lambda/common/logger';
import { MANIFEST_SUFFIX, parseBackupKey, serializeManifest, TIERS, type Tier } from '../lambda/backup/manifest';
import { scrubSecrets, type PgTarget } from '../lambda/postgres/target';
import { DEFAULT_SSL_MODE, SSL_MODES, type SslMode } from '../lambda/postgres/ssl-mode';
import { readCaCertificate } from '../lambda/postgres/ca-pem';
import { runRestore } from '../lambda/restore/restore-core';

/** Where a command reads its environment and writes its output. */
export interface CliIo {
  readonly env: NodeJS.ProcessEnv;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Fires on Ctrl-C; commands abort cleanly when it does. */
  readonly signal?: AbortSignal;
}

/** A sub-command. */
export interface CliCommand {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  /** Runs the command; resolves to the process exit code. */
  run(args: readonly string[], io: CliIo): Promise<number>;
}

/** A mistake in the command line: printed with the usage, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * Reads a `postgres://` / `postgresql://` URL. The password comes from the URL or, when it has none, from
 * `PGPASSWORD` (so it need not appear on a command line); `sslmode` from the query string (verify-full by default,
 * verify-ca, require, disable).
 *
 * @throws UsageError saying what is wrong, never echoing the password.
 */
export function parseDatabaseUrl(text: string, env: NodeJS.ProcessEnv): PgTarget {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError('--database-url must be a URL like postgres://user@host:5432/database');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new UsageError(`--database-url must start with postgres:// or postgresql://, not ${url.protocol}//`);
  }
  const user = decodeURIComponent(url.username) || env.PGUSER;
  if (!user) throw new UsageError('--database-url names no user (postgres://USER@host/database) and PGUSER is not set');
  const password = url.password ? decodeURIComponent(url.password) : env.PGPASSWORD;
  if (!password) {
    throw new UsageError('no password: put it in the URL (postgres://user:PASSWORD@host/db) or, better, in PGPASSWORD');
  }
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!database) throw new UsageError('--database-url names no database (postgres://user@host:5432/DATABASE)');
  const port = url.port ? Number(url.port) : 5432;
  const sslParam = url.searchParams.get('sslmode') ?? DEFAULT_SSL_MODE;
  if (!(SSL_MODES as readonly string[]).includes(sslParam)) {
    throw new UsageError(`sslmode=${sslParam} is not supported; use one of ${SSL_MODES.join(', ')}`);
  }
  return {
    host: decodeURIComponent(url.hostname.replace(/^\[|\]$/g, '')) || 'localhost',
    port,
    user,
    password,
    database,
    sslMode: sslParam as SslMode,
  };
}

/** Parses `daily,weekly` into canonical tiers. @throws UsageError */
export function parseTiers(text: string): Tier[] {
  const names = text.split(',').map((t) => t.trim()).filter((t) => t !== '');
  const unknown = names.filter((t) => !(TIERS as readonly string[]).includes(t));
  if (names.length === 0 || unknown.length > 0) {
    throw new UsageError(`--tiers must be a comma-separated list of ${TIERS.join(', ')}; got ${JSON.stringify(text)}`);
  }
  return TIERS.filter((tier) => names.includes(tier));
}

/** A log sink writing one line per event to stderr. */
function stderrLog(io: CliIo): LogSink {
  const line = (level: string, message: string, attributes?: Record<string, unknown>): void =>
    io.stderr(`${level} ${message}${attributes ? ` ${JSON.stringify(attributes)}` : ''}\n`);
  return { info: (m, a) => line('info', m, a), warn: (m, a) => line('warn', m, a) };
}

/** The options every command takes. */
const COMMON_OPTIONS = {
  'database-url': { type: 'string' },
  'ssl-root-cert': { type: 'string' },
  bucket: { type: 'string' },
  region: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Parses a command's arguments: {@link COMMON_OPTIONS} and the command's own `options`. */
function parseCommandArgs<T extends Record<string, { readonly type: 'string' | 'boolean' }>>(args: readonly string[], options: T) {
  return parseArgs({ args: [...args], options: { ...COMMON_OPTIONS, ...options }, strict: true, allowPositionals: false }).values;
}

/**
 * The database of `--database-url`, else of `DATABASE_URL`, with the CA of `--ssl-root-cert` (a PEM file or PEM
 * text), else of `PGSSLROOTCERT`, else the Amazon RDS CA bundle. @throws UsageError
 */
function databaseTarget(values: { readonly 'database-url'?: string; readonly 'ssl-root-cert'?: string }, io: CliIo): PgTarget {
  const url = values['database-url'] ?? io.env.DATABASE_URL;
  if (!url) throw new UsageError('--database-url is required (or set DATABASE_URL)');
  const target = parseDatabaseUrl(url, io.env);
  const ca = values['ssl-root-cert'] ?? io.env.PGSSLROOTCERT;
  if (ca === undefined) return target;
  try {
    return { ...target, sslRootCert: readCaCertificate(ca, '--ssl-root-cert') };
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/**
 * Runs `work` with an S3 client for `region` (closed afterwards); an error's message is scrubbed of the target's
 * password, the original kept as its cause.
 */
async function withS3<T>(target: PgTarget, region: string | undefined, work: (s3: S3Client) => Promise<T>): Promise<T> {
  const s3 = new S3Client(region ? { region } : {});
  try {
    return await work(s3);
  } catch (error) {
    throw error instanceof Error ? new Error(scrubSecrets(error.message, [target.password]), { cause: error }) : error;
  } finally {
    s3.destroy();
  }
}

const BACKUP_USAGE = `Usage: cli backup --database-url URL --bucket BUCKET --source SOURCE [options]

Dumps one database with pg_dump -Fc into s3://BUCKET/postgres/SOURCE/<database>/<YYYY>/<MM>/<DD>/<timestamp>.dump,
streamed (constant memory) with SHA-256, then writes its manifest (.manifest.json) and prints the manifest.
Nothing is left in the bucket if it fails; the error names the step, AWS's error code and what to do. The bucket
may be unversioned (the manifest then has no version id); with versioning on, the credentials need
s3:GetObjectVersion (else s3:GetObject), s3:PutObject, s3:AbortMultipartUpload, s3:DeleteObjectVersion (else
s3:DeleteObject) on the keys and s3:ListBucketMultipartUploads on the bucket.

Options:
  --database-url URL   postgres://user[:password]@host[:port]/database[?sslmode=MODE]
                       (leave the password out and set PGPASSWORD instead, so it is not on the command line);
                       MODE verify-full (default), verify-ca, require (no certificate check), disable (no TLS)
  --ssl-root-cert CA   PEM file (or PEM text) of the CA that signed the server's certificate
                       (default: PGSSLROOTCERT, else the Amazon RDS CA bundle)
  --bucket BUCKET      the backup bucket
  --source SOURCE      name of the database server in the keys (letters, digits, . _ -)
  --kms-key-id KEY     SSE-KMS key for the objects (default: the bucket's default encryption)
  --tiers LIST         comma-separated tiers this backup satisfies (default: daily)
  --region REGION      AWS region of the bucket (default: AWS_REGION)
  --pg-dump PATH       pg_dump binary (default: PG_DUMP_PATH, else pg_dump on PATH)
  --quiet              no progress on stderr
  -h, --help           this help

AWS credentials and endpoint come from the usual AWS SDK settings (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, ...).
`;

/** `backup`: runs the dump core once and prints the manifest. */
export const backupCommand: CliCommand = {
  name: 'backup',
  summary: 'dump one database into the backup bucket and print its manifest',
  usage: BACKUP_USAGE,
  async run(args, io) {
    const values = parseCommandArgs(args, {
      source: { type: 'string' },
      'kms-key-id': { type: 'string' },
      tiers: { type: 'string' },
      'pg-dump': { type: 'string' },
      quiet: { type: 'boolean' },
    });
    if (values.help) {
      io.stdout(BACKUP_USAGE);
      return 0;
    }
    const target = databaseTarget(values, io);
    const { bucket, source } = values;
    if (!bucket) throw new UsageError('--bucket is required');
    if (!source) throw new UsageError('--source is required');
    const tiers = parseTiers(values.tiers ?? 'daily');
    return withS3(target, values.region, async (s3) => {
      const result = await runDump({
        target,
        bucket,
        kmsKeyId: values['kms-key-id'],
        source,
        tiers,
        s3,
        signal: io.signal,
        pgDumpPath: values['pg-dump'],
        log: values.quiet ? undefined : stderrLog(io),
      });
      io.stdout(serializeManifest(result.manifest));
      return 0;
    });
  },
};

const RESTORE_USAGE = `Usage: cli restore --bucket BUCKET --manifest-key KEY --database-url URL [options]

Restores the backup whose manifest is s3://BUCKET/KEY into the database named in URL with pg_restore
(--no-owner --no-acl --exit-on-error), re-hashing the dump against the manifest's SHA-256, and prints a JSON
summary. With --jobs 1 (default) the dump streams from S3 into pg_restore without touching disk; with more jobs it
is downloaded to --work-dir first (it must fit there), checked, then restored in parallel.

Options:
  --bucket BUCKET        the backup bucket (or its replica in the DR region)
  --manifest-key KEY     postgres/<source>/<database>/<YYYY>/<MM>/<DD>/<timestamp>.manifest.json
  --database-url URL     postgres://user[:password]@host[:port]/TARGET[?sslmode=MODE]
                         (leave the password out and set PGPASSWORD instead, so it is not on the command line);
                         MODE verify-full (default), verify-ca, require (no certificate check), disable (no TLS)
  --ssl-root-cert CA     PEM file (or PEM text) of the CA that signed the server's certificate
                         (default: PGSSLROOTCERT, else the Amazon RDS CA bundle)
  --create-database      create TARGET first (fails if it exists); it is dropped again if the restore fails
  --jobs N               parallel pg_restore jobs, 1-64 (default 1: streamed, no disk)
  --work-dir DIR         where --jobs > 1 downloads the dump (default: the system temp directory)
  --region REGION        AWS region of the bucket (default: AWS_REGION)
  --pg-restore PATH      pg_restore binary (default: PG_RESTORE_PATH, else pg_restore on PATH)
  -h, --help             this help

AWS credentials and endpoint come from the usual AWS SDK settings (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, ...).
`;

/** `restore`: runs the restore core once and prints what it did. */
export const restoreCommand: CliCommand = {
  name: 'restore',
  summary: 'restore a backup (by its manifest) into a database, checked against the manifest',
  usage: RESTORE_USAGE,
  async run(args, io) {
    const values = parseCommandArgs(args, {
      'manifest-key': { type: 'string' },
      'create-database': { type: 'boolean' },
      jobs: { type: 'string' },
      'work-dir': { type: 'string' },
      'pg-restore': { type: 'string' },
    });
    if (values.help) {
      io.stdout(RESTORE_USAGE);
      return 0;
    }
    const { bucket } = values;
    if (!bucket) throw new UsageError('--bucket is required');
    const manifestKey = values['manifest-key'];
    if (!manifestKey) throw new UsageError('--manifest-key is required');
    if (parseBackupKey(manifestKey)?.kind !== 'manifest') {
      throw new UsageError(`--manifest-key must be a key ending in ${MANIFEST_SUFFIX} in the backup layout; got ${JSON.stringify(manifestKey)}`);
    }
    const target = databaseTarget(values, io);
    const jobs = values.jobs === undefined ? 1 : Number(values.jobs);
    if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64) {
      throw new UsageError(`--jobs must be a whole number from 1 to 64; got ${JSON.stringify(values.jobs)}`);
    }
    return withS3(target, values.region, async (s3) => {
      const result = await runRestore({
        bucket,
        manifestKey,
        target,
        createDatabase: values['create-database'] ?? false,
        jobs,
        workDir: values['work-dir'],
        pgRestorePath: values['pg-restore'],
        signal: io.signal,
        s3,
      });
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
      };
      io.stdout(`${JSON.stringify(summary, null, 2)}\n`);
      return 0;
    });
  },
};

/** Every command, in help order. */
export const COMMANDS: readonly CliCommand[] = [backupCommand, restoreCommand];

function generalUsage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return (
    'Usage: cli <command> [options]\n\nCommands:\n' +
    COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n') +
    '\n\nRun `cli <command> --help` for the options of a command.\n'
  );
}

/** Runs the command line; resolves to the exit code (0 ok, 1 failed, 2 usage). */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.stderr : io.stdout)(generalUsage());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    io.stderr(`error: unknown command ${JSON.stringify(name)}\n\n${generalUsage()}`);
    return 2;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    // parseArgs' errors are TypeErrors with an ERR_PARSE_ARGS_* code (checked by shape: they may come from another realm).
    const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
    if (error instanceof UsageError || code.startsWith('ERR_PARSE_ARGS')) {
      io.stderr(`error: ${(error as Error).message}\n\n${command.usage}`);
      return 2;
    }
    const cause = error instanceof Error && error.cause instanceof DumpFailed ? ` (${error.cause.failure})` : '';
    io.stderr(`error${cause}: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

if (require.main === module) {
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort(new Error('interrupted (SIGINT)')));
  process.once('SIGTERM', () => controller.abort(new Error('terminated (SIGTERM)')));
  main(process.argv.slice(2), {
    env: process.env,
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    signal: controller.signal,
  }).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
