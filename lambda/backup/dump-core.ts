/**
 * The dump core: one consistent, streamed, verified-by-construction `pg_dump -Fc` of one database into S3, with its
 * manifest written last. Free of Lambda: the dump handler and the CLI's `backup` command both run it.
 *
 * How it stays consistent: one connection opens a REPEATABLE READ transaction and exports its snapshot; pg_dump
 * imports it (`--snapshot`) while the same connection counts every table's rows in that snapshot. The dump and the
 * counts therefore describe the same instant.
 *
 * How nothing half-written remains: pg_dump's stdout flows through a SHA-256 tap into a multipart upload; the tap
 * holds back the end of the stream until pg_dump has exited 0 and the counts are in, so the upload cannot complete
 * on a failed dump. Any failure (pg_dump exit or kill, connection loss, S3 error, abort signal) errors the stream,
 * which aborts the multipart upload. Every step after the upload completed (the HEAD that checks its size, the
 * manifest write) runs inside the same failure path: when one fails, the dump object version this run wrote is
 * deleted, so a run ends with a complete backup or with nothing. Each S3 error names the step, AWS's error code and
 * what to do. An unversioned bucket works the same way; its manifest then carries no version id.
 *
 * The roles: `pg_dumpall --globals-only --no-role-passwords` runs beside pg_dump (a few KiB, its own connection);
 * its output goes to `<same>.globals.sql` after the dump completed, with its SHA-256 in the manifest. A failed
 * globals dump or upload fails the run like a failed pg_dump: the dump object and the globals object are deleted.
 */
import { moreDiskAdvice } from '../common/runner';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Client } from 'pg';
import { DumpFailed, type DumpFailureCause } from '../common/errors';
import { InvalidInput } from '../common/errors';
import { HashTap } from '../common/hash';
import { silentLogSink, type LogSink } from '../common/logger';
import {
  backupKeys,
  DIRECTORY_DUMP_FORMAT,
  DIRECTORY_MANIFEST_SCHEMA_VERSION,
  DUMP_FORMAT,
  MANIFEST_SCHEMA_VERSION,
  type ManifestFile,
  serializeManifest,
  type BackupManifest,
  type ManifestGlobals,
  type TableRowCount,
  type Tier,
} from './manifest';
import { beginExportedSnapshot, choosePartSize, countAllTables, MIN_PART_SIZE, pgDumpCompatibilityProblem } from '../postgres/pg';
import { connect, scrubSecrets, type PgTarget } from '../postgres/target';
import {
  dumpGlobals,
  readPgDumpVersion,
  resolvePgDumpallPath,
  resolvePgDumpPath,
  MAX_DUMP_JOBS,
  spawnPgDump,
  spawnPgDumpDirectory,
  type PgDumpProcess,
} from '../postgres/pg-tools';
import { DirectoryUploader, FileUploadFailed } from './directory-dump';
import { DATABASE_NAME_HINT, isDatabaseName, isSourceName, SOURCE_NAME_HINT } from '../common/names';
import { awsErrorInfo, describeAwsError } from '../aws/aws-error';
import { compressArgument, compressionProblem, DEFAULT_COMPRESSION, formatCompression, type Compression } from '../postgres/compression';

/** The S3 side of a dump: the client and the upload helpers, loaded once pg_dump is running (see {@link loadS3}). */
interface S3Side {
  readonly s3: S3Client;
  readonly io: typeof import('../aws/s3');
}

/**
 * Loads the S3 helpers (and with them the AWS SDK) and, when the caller gave no client, creates one from the
 * environment. Called right after pg_dump is spawned: loading the SDK takes about 0.1 s of CPU, which then overlaps
 * pg_dump's own start-up (connecting and reading the catalog) instead of delaying it.
 */
async function loadS3(given: S3Client | undefined): Promise<S3Side> {
  const io = await import('../aws/s3');
  if (given) return { s3: given, io };
  const { S3Client: Client } = await import('@aws-sdk/client-s3');
  return { s3: new Client({}), io };
}

/** `application_name` of the connection that holds the exported snapshot and counts rows. */
export const SNAPSHOT_APPLICATION_NAME = 'cdk-backup-dr-snapshot';

/** Parts of a dump uploaded concurrently unless {@link DumpOptions.queueSize} says otherwise. */
export const DEFAULT_QUEUE_SIZE = 2;

/** Observation and fault-injection points (tests kill pg_dump through them). */
export interface DumpHooks {
  /** pg_dump has been spawned. */
  readonly pgDumpStarted?: (child: ChildProcess) => void;
  /** A file of a directory-format dump is in S3 (its local copy deleted). */
  readonly fileUploaded?: (file: ManifestFile) => void;
  /** Dump bytes streamed so far (called per chunk). */
  readonly progress?: (bytes: number) => void;
}

/** Options of {@link runDump}. */
export interface DumpOptions {
  /** The database to dump (its `database` is the one dumped). */
  readonly target: PgTarget;
  readonly bucket: string;
  /**
   * SSE-KMS key of the bucket (ARN, id or alias).
   * @default - no encryption headers: the bucket's default encryption applies
   */
  readonly kmsKeyId?: string;
  /** Name of the database server in keys and manifests (`SOURCE_ID`). */
  readonly source: string;
  readonly tiers: readonly Tier[];
  /**
   * @default - a client from the environment (region, credentials, `AWS_ENDPOINT_URL`), created once pg_dump has
   *   started
   */
  readonly s3?: S3Client;
  /**
   * Aborts the dump (kills pg_dump, aborts the upload, leaves nothing). The Lambda handler fires it shortly
   * before the function's timeout.
   * @default - never aborted
   */
  readonly signal?: AbortSignal;
  /** @default - `PG_DUMP_PATH`, else `/opt/bin/pg_dump` when it exists, else `pg_dump` on `PATH` */
  readonly pgDumpPath?: string;
  /** @default - `PG_DUMPALL_PATH`, else `/opt/bin/pg_dumpall` when it exists, else `pg_dumpall` on `PATH` */
  readonly pgDumpallPath?: string;
  /**
   * pg_dump's compression (recorded in the manifest). zstd and lz4 need a pg_dump of 16 or newer.
   * @default - gzip level 3 ({@link DEFAULT_COMPRESSION})
   */
  readonly compression?: Compression;
  /**
   * pg_dump's parallel jobs. 1: one custom-format (`-Fc`) stream, no disk. 2 or more: a directory-format dump
   * (`pg_dump -Fd -j N`) into `workDir`, each file uploaded as soon as pg_dump closes it and then deleted locally
   * (manifest v3). Worth it only with as many vCPUs as jobs.
   * @default 1
   */
  readonly parallelism?: number;
  /**
   * Where a directory-format dump writes its files (Lambda: /tmp, sized by the function's ephemeral storage).
   * @default os.tmpdir()
   */
  readonly workDir?: string;
  /** @default - 5 MiB (S3's minimum), more for databases above ~39 GiB so the dump fits in S3's 10,000 parts */
  readonly partSizeBytes?: number;
  /**
   * Parts uploaded concurrently. pg_dump's output rate, not S3, is the limit in practice; two parts in flight keep
   * up with it while holding peak memory down (measured with 8 MiB parts: 135 MB RSS for a 310 MB dump, vs 156 MB
   * with 4).
   * @default 2
   */
  readonly queueSize?: number;
  /**
   * How long a failed upload may take to abort itself before it is cut off and its multipart upload aborted
   * directly.
   * @default 20000
   */
  readonly cleanupTimeoutMs?: number;
  /** @default - `new Date()` */
  readonly now?: () => Date;
  /** @default - silent */
  readonly log?: LogSink;
  readonly hooks?: DumpHooks;
}

/** A completed backup. */
export interface DumpResult {
  readonly manifest: BackupManifest;
  readonly manifestKey: string;
  readonly dumpKey: string;
  /** Version id of the manifest object (`null` when the bucket is not versioned). */
  readonly manifestVersionId: string | null;
}

/** The first failure of a run wins; later ones are consequences of cleaning up after it. */
class FailureLatch {
  private failure?: DumpFailed;
  private sealed = false;
  private readonly listeners: Array<(failure: DumpFailed) => void> = [];
  readonly failed: Promise<DumpFailed>;

  constructor() {
    this.failed = new Promise((resolve) => this.listeners.push(resolve));
  }

  get current(): DumpFailed | undefined {
    return this.failure;
  }

  onFail(listener: (failure: DumpFailed) => void): void {
    if (this.failure) listener(this.failure);
    else this.listeners.push(listener);
  }

  /** From now on failures are not the run's: the dump is complete and the database is no longer needed. */
  seal(): void {
    this.sealed = true;
  }

  fail(failure: DumpFailed): DumpFailed {
    if (this.failure || this.sealed) return this.failure ?? failure;
    this.failure = failure;
    for (const listener of this.listeners.splice(0)) listener(failure);
    return failure;
  }
}

function message(error: unknown): string {
  if (error instanceof Error) return error.name && error.name !== 'Error' ? `${error.name}: ${error.message}` : error.message;
  return String(error);
}

function abortReason(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason.message;
  return typeof reason === 'string' ? reason : 'the abort signal fired';
}

/** An S3 step of a dump: what it does (for messages) and what the role running the dump needs for it. */
interface S3Step {
  readonly doing: string;
  readonly needs: string;
}

/** The S3 steps of a run; `versioned`: whether the dump has a version id (then S3 authorizes its HEAD as GetObjectVersion). */
function s3Steps(versioned: boolean) {
  return {
    upload: {
      doing: 'uploading',
      needs: "s3:PutObject and s3:AbortMultipartUpload on the dump's key and kms:GenerateDataKey and kms:Decrypt on the bucket's key",
    },
    check: {
      doing: 'checking the size of the uploaded dump',
      needs: `${versioned ? 's3:GetObjectVersion' : 's3:GetObject'} on the dump's key`,
    },
    manifest: {
      doing: 'writing the manifest',
      needs: "s3:PutObject on the manifest's key and kms:GenerateDataKey on the bucket's key",
    },
  } satisfies Record<string, S3Step>;
}

/** What to do about an S3 error of `step`, in words. */
function adviceFor(step: S3Step, error: unknown): string {
  const info = awsErrorInfo(error);
  if (info.accessDenied) return `the role or credentials running the dump need ${step.needs}`;
  if (info.code === 'NoSuchBucket') return 'the bucket does not exist: check the bucket name (BUCKET_NAME, --bucket) and its region';
  if (info.code.startsWith('KMS.')) return "check that the bucket's KMS key is enabled and that the role may use it";
  if (info.transient) return 'S3 failed temporarily: run the backup again';
  return 'run the backup again; if it fails the same way, look the error code up in the Amazon S3 error reference';
}

/** `<step> s3://b/k failed: <code> (HTTP n): <AWS's words>; <what to do>`. */
function s3FailureText(step: S3Step, url: string, error: unknown): string {
  return `${step.doing} ${url} failed: ${describeAwsError(error)}; ${adviceFor(step, error)}`;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/**
 * Validates the options that shape keys and upload sizes, before any side effect.
 * @throws InvalidInput naming the option and what to change.
 */
export function checkDumpOptions(
  options: Pick<DumpOptions, 'source' | 'target' | 'partSizeBytes' | 'queueSize' | 'tiers' | 'compression' | 'parallelism'>,
): void {
  const problem0 = options.parallelism === undefined ? undefined : parallelismProblem(options.parallelism);
  if (problem0) throw new InvalidInput(problem0);
  if (!isSourceName(options.source)) {
    throw new InvalidInput(`source ${SOURCE_NAME_HINT}; got ${JSON.stringify(options.source)}`);
  }
  if (!isDatabaseName(options.target.database)) {
    throw new InvalidInput(`database ${DATABASE_NAME_HINT}; got ${JSON.stringify(options.target.database)}`);
  }
  if (options.partSizeBytes !== undefined && !(Number.isInteger(options.partSizeBytes) && options.partSizeBytes >= MIN_PART_SIZE)) {
    throw new InvalidInput(`partSizeBytes must be an integer of at least ${MIN_PART_SIZE} (5 MiB); got ${options.partSizeBytes}`);
  }
  if (options.queueSize !== undefined && !(Number.isInteger(options.queueSize) && options.queueSize >= 1)) {
    throw new InvalidInput(`queueSize must be a positive integer; got ${options.queueSize}`);
  }
  if (options.tiers.length === 0) throw new InvalidInput('tiers must name at least one tier');
  // The pg_dump's own limit (zstd and lz4 from 16) is checked once its version is read, before pg_dump starts.
  const problem = options.compression && compressionProblem(options.compression, Number.POSITIVE_INFINITY);
  if (problem) throw new InvalidInput(problem);
}

/** What is wrong with a `parallelism` value, or `undefined`. */
export function parallelismProblem(parallelism: unknown): string | undefined {
  if (typeof parallelism === 'number' && Number.isInteger(parallelism) && parallelism >= 1 && parallelism <= MAX_DUMP_JOBS) return undefined;
  // Same words as the handler's input validation (dump-input.ts).
  return `parallelism must be an integer from 1 (one custom-format stream) to ${MAX_DUMP_JOBS} (pg_dump -Fd -j N); got ${JSON.stringify(parallelism)}`;
}

/** Room kept free in the work directory beyond what a directory dump is expected to hold at once. */
export const DIRECTORY_DUMP_DISK_MARGIN_BYTES = 64 * 1024 * 1024;

/**
 * The disk a directory dump needs at once: the `jobs` largest tables (each may be written at the same time,
 * uncompressed at worst) plus a margin. Files are deleted as soon as they are in S3.
 */
export const LARGEST_TABLES_SQL = `
SELECT coalesce(sum(bytes), 0)::text AS bytes FROM (
  SELECT pg_table_size(c.oid) AS bytes FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
  ORDER BY 1 DESC LIMIT $1) largest`;

/** The message when `freeBytes` in `workDir` is less than `neededBytes`; `undefined` when there is room. */
export function directoryDiskShortfall(neededBytes: number, freeBytes: number, workDir: string, jobs: number,
  env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (freeBytes >= neededBytes) return undefined;
  const mib = (bytes: number): number => Math.ceil(bytes / (1024 * 1024));
  return (
    `a parallel dump with ${jobs} jobs needs about ${mib(neededBytes)} MiB free in ${workDir} (its ${jobs} largest tables ` +
    `plus ${mib(DIRECTORY_DUMP_DISK_MARGIN_BYTES)} MiB) but ${mib(freeBytes)} MiB are free: ${moreDiskAdvice('dump', env)}, ` +
    'lower parallelism, or use parallelism 1 (a streamed custom-format dump needs no disk)'
  );
}

/**
 * Dumps one database into the bucket and writes its manifest.
 *
 * @throws DumpFailed naming the cause (pg_dump's stderr, the server's or S3's words, secrets scrubbed); when it
 *   throws, neither a dump object nor a manifest nor an open multipart upload of this run remains.
 *
 * @example
 * const { manifest, manifestKey } = await runDump({
 *   target: { host, port: 5432, user, password, database: 'app' },
 *   bucket: 'my-backups', kmsKeyId, source: 'prod-db', tiers: ['daily'], s3: new S3Client({}),
 * });
 */
export async function runDump(options: DumpOptions): Promise<DumpResult> {
  checkDumpOptions(options);
  const log = options.log ?? silentLogSink;
  const { target, bucket } = options;
  const scrub = (text: string): string => scrubSecrets(text, [target.password]);
  const failed = (cause: DumpFailureCause, text: string): DumpFailed => new DumpFailed(cause, scrub(text));

  if (options.signal?.aborted) throw failed('aborted', `dump aborted before it started: ${abortReason(options.signal)}`);
  const now = options.now ?? (() => new Date());
  const startedAt = now();
  const { dumpKey, globalsKey, manifestKey } = backupKeys(options.source, target.database, startedAt);

  const pgDumpPath = resolvePgDumpPath(options.pgDumpPath);
  const pgDumpallPath = resolvePgDumpallPath(options.pgDumpallPath);
  // Asked while connecting: both are on the way to spawning pg_dump, which is what the run waits for.
  const versionRead = readPgDumpVersion(pgDumpPath).then(
    (version) => ({ version }),
    (error: unknown) => ({ error: failed('pg_dump', message(error)) }),
  );

  const latch = new FailureLatch();
  let client: Client;
  try {
    client = await connect(target, {
      applicationName: SNAPSHOT_APPLICATION_NAME,
      onError: (error) => latch.fail(failed('connection', `database connection lost: ${error.message}`)),
      missingDatabaseHint: 'check the database name',
    });
  } catch (error) {
    await versionRead;
    // The message says where and why; the class connect throws (RestoreFailed) means nothing in a dump's cause.
    throw failed('connection', error instanceof Error ? error.message : String(error));
  }

  try {
    const versionResult = await versionRead;
    if ('error' in versionResult) throw versionResult.error;
    const pgDumpVersion = versionResult.version;
    const compression = options.compression ?? DEFAULT_COMPRESSION;
    const compressionUnusable = compressionProblem(compression, pgDumpVersion.major);
    if (compressionUnusable) throw failed('version', compressionUnusable);
    const session = await beginExportedSnapshot(client).catch((error: unknown) => {
      throw latch.current ?? failed('connection', `cannot export a snapshot of ${target.database}: ${message(error)}`);
    });
    const problem = pgDumpCompatibilityProblem(pgDumpVersion, session.serverVersion);
    if (problem) throw failed('version', problem);
    log.info('dump started', {
      database: target.database,
      dumpKey,
      snapshotId: session.snapshotId,
      serverVersion: session.serverVersion.text,
      pgDumpVersion: pgDumpVersion.text,
      databaseBytes: session.databaseBytes,
    });

    // The roles are read on their own connection while pg_dump runs; awaited once the dump is in.
    const globalsRead = dumpGlobals({ pgDumpallPath, target, signal: options.signal }).then(
      (sql) => ({ sql }),
      (error: unknown) => ({ error: failed('globals', `dumping the roles and globals failed: ${message(error)}`) }),
    );
    const dumpArgs: StreamDumpArgs = {
      options,
      latch,
      client,
      pgDumpPath,
      snapshotId: session.snapshotId,
      dumpKey,
      partSize: options.partSizeBytes ?? choosePartSize(session.databaseBytes),
      compressArg: compressArgument(compression, pgDumpVersion.major),
      failed,
    };
    const jobs = options.parallelism ?? 1;
    const streamed: StreamedDump = jobs > 1 ? await directoryDump(dumpArgs, jobs) : await streamDump(dumpArgs);

    // From here on the dump object exists: any failure deletes it again, so no dump stays without its manifest.
    let globals: ManifestGlobals | undefined;
    try {
      const globalsResult = await globalsRead;
      if ('error' in globalsResult) throw globalsResult.error;
      globals = await uploadGlobals(streamed.s3Side, options, globalsKey, globalsResult.sql, failed);
      // The snapshot is no longer needed once pg_dump is done and the counts are in: losing the connection now
      // costs nothing.
      latch.seal();
      // Bounded: a connection that hangs now must not hold the run past the Lambda timeout with the dump in S3 and
      // no manifest. The read-only transaction ends with the connection anyway.
      const committed = await withinMs(
        client.query('COMMIT').then(() => 'done' as const),
        SESSION_END_TIMEOUT_MS,
      ).catch((error: unknown) => {
        log.warn('ending the snapshot transaction failed', { error: scrub(message(error)) });
        return 'failed' as const;
      });
      if (committed === 'timed-out') log.warn('ending the snapshot transaction did not answer in time; going on', { timeoutMs: SESSION_END_TIMEOUT_MS });
      if (options.signal?.aborted) throw failed('aborted', `dump aborted before its manifest was written: ${abortReason(options.signal)}`);

      const manifest: BackupManifest = {
        schemaVersion: streamed.files ? DIRECTORY_MANIFEST_SCHEMA_VERSION : MANIFEST_SCHEMA_VERSION,
        format: streamed.files ? DIRECTORY_DUMP_FORMAT : DUMP_FORMAT,
        source: options.source,
        database: target.database,
        serverVersion: session.serverVersion.text,
        pgDumpVersion: pgDumpVersion.text,
        startedAt: startedAt.toISOString(),
        finishedAt: now().toISOString(),
        bytes: streamed.bytes,
        sha256: streamed.sha256,
        s3: { bucket, key: dumpKey, versionId: streamed.versionId },
        tables: streamed.tables,
        tiers: [...options.tiers],
        globals,
        compression: formatCompression(compression),
        ...(streamed.files ? { files: streamed.files } : {}),
      };

      const { s3, io } = streamed.s3Side;
      let manifestVersionId: string | null;
      try {
        manifestVersionId = await io.putTextObject(
          s3,
          bucket,
          manifestKey,
          serializeManifest(manifest),
          'application/json',
          options.kmsKeyId,
          options.signal,
        );
      } catch (error) {
        if (options.signal?.aborted) throw failed('aborted', `dump aborted while its manifest was being written: ${abortReason(options.signal)}`);
        throw failed('manifest', s3FailureText(s3Steps(streamed.versionId !== null).manifest, `s3://${bucket}/${manifestKey}`, error));
      }
      log.info('dump finished', {
        database: target.database,
        manifestKey,
        bytes: manifest.bytes,
        sha256: manifest.sha256,
        globalsBytes: globals.bytes,
      });
      return { manifest, manifestKey, dumpKey, manifestVersionId };
    } catch (error) {
      let cause = error instanceof DumpFailed ? error : failed('manifest', `preparing the manifest ${manifestKey} failed: ${message(error)}`);
      if (globals) cause = await deleteGlobals(streamed.s3Side, options, globals, cause, failed);
      if (streamed.files) cause = await deleteFiles(streamed.s3Side, options, streamed.files.filter((f) => f.key !== dumpKey), [], cause, failed);
      throw await cleanUp(streamed.s3Side, options, dumpKey, { versionId: streamed.versionId }, cause, failed);
    }
  } finally {
    const ended = await withinMs(client.end(), SESSION_END_TIMEOUT_MS).catch((error: unknown) => {
      log.warn('closing the database connection failed', { error: scrub(message(error)) });
    });
    // A connection that does not close in time is cut, so the invocation can return.
    if (ended === 'timed-out') (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
  }
}

/** Writes the globals SQL beside the dump and describes it for the manifest. */
async function uploadGlobals(
  { s3, io }: S3Side,
  options: DumpOptions,
  key: string,
  sql: Buffer,
  failed: (cause: DumpFailureCause, text: string) => DumpFailed,
): Promise<ManifestGlobals> {
  if (options.signal?.aborted) throw failed('aborted', `dump aborted before its roles were written: ${abortReason(options.signal)}`);
  const sha256 = createHash('sha256').update(sql).digest('hex');
  try {
    const versionId = await io.putTextObject(s3, options.bucket, key, sql, 'application/sql', options.kmsKeyId, options.signal);
    return { key, bytes: sql.length, sha256, versionId };
  } catch (error) {
    if (options.signal?.aborted) throw failed('aborted', `dump aborted while its roles were being written: ${abortReason(options.signal)}`);
    throw failed('globals', s3FailureText(GLOBALS_STEP, `s3://${options.bucket}/${key}`, error));
  }
}

const GLOBALS_STEP: S3Step = {
  doing: 'writing the roles and globals',
  needs: "s3:PutObject on the globals key (beside the dump) and kms:GenerateDataKey on the bucket's key",
};

/** Deletes the globals object of a failed run; returns the error to go on with (saying what is left, if anything). */
async function deleteGlobals(
  { s3, io }: S3Side,
  options: DumpOptions,
  globals: ManifestGlobals,
  cause: DumpFailed,
  failed: (cause: DumpFailureCause, text: string) => DumpFailed,
): Promise<DumpFailed> {
  try {
    await io.deleteObjectVersion(s3, options.bucket, globals.key, globals.versionId);
    return cause;
  } catch (error) {
    const url = `s3://${options.bucket}/${globals.key}`;
    const version = globals.versionId ? ` version ${globals.versionId}` : '';
    const step: S3Step = { doing: 'deleting the globals object', needs: `${globals.versionId === null ? 's3:DeleteObject' : 's3:DeleteObjectVersion'} on its key` };
    const lock = await objectLockOf(io, s3, options.bucket, globals.key, globals.versionId);
    const left = lock
      ? `${url}${version} is under Object Lock (${lock.mode}) until ${lock.until}; it belongs to no backup: delete it once the lock has expired`
      : `delete ${url}${version} by hand: it belongs to no backup`;
    return failed(cause.failure, `${cause.message}; then ${s3FailureText(step, url, error)}; ${left}`);
  }
}

/** How long ending the snapshot session (COMMIT, closing the connection) may take before the dump goes on without it. */
export const SESSION_END_TIMEOUT_MS = 10_000;

/** `promise`'s value, or `'timed-out'` when it does not settle within `ms`. */
async function withinMs<T>(promise: Promise<T>, ms: number): Promise<T | 'timed-out'> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timed-out'>((resolve) => {
    timer = setTimeout(() => resolve('timed-out'), ms);
  });
  try {
    return await Promise.race([promise, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

interface StreamDumpArgs {
  readonly options: DumpOptions;
  readonly latch: FailureLatch;
  readonly client: Client;
  readonly pgDumpPath: string;
  readonly snapshotId: string;
  readonly dumpKey: string;
  readonly partSize: number;
  /** pg_dump's `--compress=…` argument. */
  readonly compressArg: string;
  readonly failed: (cause: DumpFailureCause, text: string) => DumpFailed;
}

interface StreamedDump {
  readonly s3Side: S3Side;
  /** Bytes of the dump (all files of a directory dump). */
  readonly bytes: number;
  readonly sha256: string;
  readonly versionId: string | null;
  readonly tables: TableRowCount[];
  /** A directory dump's files, `toc.dat` (at the dump key; `sha256` and `versionId` above are its) last. */
  readonly files?: ManifestFile[];
}

/** How often a directory dump looks for files pg_dump has closed. */
export const DIRECTORY_SCAN_INTERVAL_MS = 200;

/**
 * `pg_dump -Fd -j jobs` into a fresh directory under `workDir`, each closed file uploaded (./directory-dump.ts), with
 * counts in the same snapshot; `toc.dat` last, to the dump key. On failure everything uploaded is deleted and the
 * directory removed.
 */
async function directoryDump(args: StreamDumpArgs, jobs: number): Promise<StreamedDump> {
  const { options, latch, client, dumpKey, failed } = args;
  const workDir = options.workDir ?? os.tmpdir();
  const log = options.log ?? silentLogSink;

  // Checked before pg_dump starts: the query runs in the snapshot's transaction, before the row counts queue behind it.
  const largest = await client.query<{ bytes: string }>(LARGEST_TABLES_SQL, [jobs]).catch((error: unknown) => {
    throw latch.current ?? failed('connection', `reading the table sizes of ${options.target.database} failed: ${message(error)}`);
  });
  const needed = Number(largest.rows[0].bytes) + DIRECTORY_DUMP_DISK_MARGIN_BYTES;
  const stats = await fsp.statfs(workDir).catch((error: unknown) => {
    throw failed('disk', `cannot read the free space of the work directory ${workDir}: ${message(error)}`);
  });
  const shortfall = directoryDiskShortfall(needed, stats.bavail * stats.bsize, workDir, jobs);
  if (shortfall) throw failed('disk', shortfall);

  const parent = await fsp.mkdtemp(path.join(workDir, 'cdk-backup-dr-dump-'));
  const directory = path.join(parent, 'dump');
  let uploader: DirectoryUploader | undefined;
  let s3Side: S3Side | undefined;
  let scanning: NodeJS.Timeout | undefined;
  const onAbort = (): void => {
    latch.fail(failed('aborted', `dump aborted: ${abortReason(options.signal as AbortSignal)}`));
  };
  let proc: PgDumpProcess | undefined;
  try {
    proc = spawnPgDumpDirectory({
      pgDumpPath: args.pgDumpPath, target: options.target, snapshotId: args.snapshotId, compressArg: args.compressArg, directory, jobs,
    });
    const started = proc;
    options.hooks?.pgDumpStarted?.(started.child);
    started.stdout.resume();
    started.exited.catch((error: unknown) => latch.fail(failed('pg_dump', message(error))));
    latch.onFail(() => started.stop());
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) onAbort();

    const counting = countAllTables(client);
    counting.catch((error: unknown) =>
      latch.fail(latch.current ?? failed('connection', `counting rows in the dump's snapshot failed: ${message(error)}`)),
    );
    try {
      s3Side = await loadS3(options.s3);
    } catch (error) {
      throw latch.fail(failed('upload', `cannot create the S3 client: ${message(error)}`));
    }
    const side = s3Side;
    let streamedBytes = 0;
    const active = new DirectoryUploader({
      s3: side.s3,
      io: side.io,
      bucket: options.bucket,
      dumpKey,
      kmsKeyId: options.kmsKeyId,
      directory,
      pid: started.child.pid ?? -1,
      partSize: args.partSize,
      // One file at a time with the stream's parts in flight: the same memory as a custom-format dump (measured with
      // two files at a time, two parts each: 146–164 MiB peak RSS instead of 122 MiB, for no faster dump).
      concurrency: 1,
      queueSize: options.queueSize ?? DEFAULT_QUEUE_SIZE,
      onUploaded: (file) => {
        streamedBytes += file.bytes;
        options.hooks?.progress?.(streamedBytes);
        options.hooks?.fileUploaded?.(file);
      },
    });
    uploader = active;
    const uploadFailure = (error: unknown): DumpFailed => {
      if (error instanceof FileUploadFailed) {
        return failed('upload', s3FailureText(s3Steps(false).upload, `s3://${options.bucket}/${error.key}`, error.s3Error));
      }
      return failed('pg_dump', message(error));
    };
    let scan = Promise.resolve();
    scanning = setInterval(() => {
      scan = scan
        .then(() => active.scan())
        .then(() => {
          if (active.error) latch.fail(uploadFailure(active.error));
        })
        .catch((error: unknown) => {
          latch.fail(uploadFailure(error));
        });
    }, DIRECTORY_SCAN_INTERVAL_MS);

    await Promise.race([Promise.all([started.exited, counting]), latch.failed]).catch(() => undefined);
    clearInterval(scanning);
    scanning = undefined;
    await scan;
    if (latch.current) throw latch.current;
    const tables = await counting;
    let files: ManifestFile[];
    try {
      files = await active.finish();
    } catch (error) {
      throw latch.fail(latch.current ?? uploadFailure(error));
    }
    if (latch.current) throw latch.current;
    const toc = files[files.length - 1];
    const bytes = files.reduce((sum, f) => sum + f.bytes, 0);
    log.info('directory dump uploaded', { dumpKey, files: files.length, bytes, jobs });
    return { s3Side: side, bytes, sha256: toc.sha256, versionId: toc.versionId, tables, files };
  } catch (error) {
    if (scanning) clearInterval(scanning);
    const cause = error instanceof DumpFailed ? latch.fail(error) : latch.fail(failed('pg_dump', message(error)));
    proc?.stop();
    if (!uploader || !s3Side) throw cause;
    await uploader.stop(options.cleanupTimeoutMs ?? 20_000);
    const toc = uploader.uploaded.find((f) => f.key === dumpKey);
    let result = await deleteFiles(s3Side, options, uploader.uploaded.filter((f) => f.key !== dumpKey), uploader.pending, cause, failed);
    if (toc) result = await cleanUp(s3Side, options, dumpKey, { versionId: toc.versionId }, result, failed);
    throw result;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    proc?.stop();
    if (proc) await proc.exited.catch(() => undefined);
    await fsp.rm(parent, { recursive: true, force: true });
  }
}

/**
 * Deletes the files a failed directory dump uploaded and aborts the open multipart uploads of those still in
 * flight; returns the error to go on with (naming what is left, if anything).
 */
async function deleteFiles(
  { s3, io }: S3Side,
  options: DumpOptions,
  files: readonly ManifestFile[],
  pendingKeys: readonly string[],
  cause: DumpFailed,
  failed: (cause: DumpFailureCause, text: string) => DumpFailed,
): Promise<DumpFailed> {
  const left: string[] = [];
  let firstError: unknown;
  for (const file of files) {
    try {
      await io.deleteObjectVersion(s3, options.bucket, file.key, file.versionId);
    } catch (error) {
      firstError ??= error;
      left.push(`${file.key}${file.versionId ? ` version ${file.versionId}` : ''}`);
    }
  }
  for (const key of pendingKeys) {
    try {
      await io.abortOpenUploads(s3, options.bucket, key);
    } catch (error) {
      firstError ??= error;
      left.push(key);
    }
  }
  // An upload cut off after the grace period may still have been stored by S3: it has no manifest, so the retention
  // cleanup's orphan sweep deletes it after its grace period.
  (options.log ?? silentLogSink).warn('dump failed; deleted the files of the directory dump', { uploaded: files.length, unfinished: pendingKeys.length, left: left.length });
  if (firstError === undefined) return cause;
  const step: S3Step = {
    doing: 'deleting the files of the failed dump',
    needs: "s3:DeleteObjectVersion (s3:DeleteObject when unversioned) and s3:AbortMultipartUpload on the dump's keys",
  };
  const where = left.length > 0 ? `delete by hand (they belong to no backup): ${left.slice(0, 5).join(', ')}${left.length > 5 ? ` and ${left.length - 5} more` : ''}` : "the bucket's abort-incomplete-multipart rule removes leftover parts within a day";
  return failed(cause.failure, `${cause.message}; then ${s3FailureText(step, `s3://${options.bucket}/${options.source}`, firstError)}; ${where}`);
}

/** pg_dump → hash tap → multipart upload, with counts in the same snapshot; cleans up after itself on failure. */
async function streamDump(args: StreamDumpArgs): Promise<StreamedDump> {
  const { options, latch, client, dumpKey, failed } = args;
  const { bucket } = options;

  const proc: PgDumpProcess = spawnPgDump({
    pgDumpPath: args.pgDumpPath, target: options.target, snapshotId: args.snapshotId, compressArg: args.compressArg,
  });
  options.hooks?.pgDumpStarted?.(proc.child);
  proc.exited.catch((error: unknown) => latch.fail(failed('pg_dump', message(error))));

  const counting = countAllTables(client);
  counting.catch((error: unknown) =>
    latch.fail(latch.current ?? failed('connection', `counting rows in the dump's snapshot failed: ${message(error)}`)),
  );

  // pg_dump's output waits in its pipe meanwhile.
  let s3Side: S3Side;
  try {
    s3Side = await loadS3(options.s3);
  } catch (error) {
    proc.stop();
    throw latch.fail(failed('upload', `cannot create the S3 client: ${message(error)}`));
  }
  const { s3, io } = s3Side;

  const tap = new HashTap({
    onBytes: options.hooks?.progress,
    // Let the upload see the end of the stream only when the dump is known good.
    beforeEnd: async () => {
      await Promise.all([proc.exited, counting]).catch(() => undefined);
      if (latch.current) throw latch.current;
    },
  });
  proc.stdout.on('error', (error) => latch.fail(failed('pg_dump', `reading pg_dump's output failed: ${error.message}`)));
  proc.stdout.pipe(tap);

  const upload = io.createStreamingUpload({
    s3,
    bucket,
    key: dumpKey,
    body: tap,
    kmsKeyId: options.kmsKeyId,
    partSize: args.partSize,
    queueSize: options.queueSize ?? DEFAULT_QUEUE_SIZE,
  });

  // On the first failure: stop pg_dump and error the upload's input, which makes lib-storage abort the upload.
  latch.onFail((failure) => {
    proc.stop();
    proc.stdout.unpipe(tap);
    proc.stdout.destroy();
    tap.destroy(failure);
  });
  const onAbort = (): void => {
    latch.fail(failed('aborted', `dump aborted: ${abortReason(options.signal as AbortSignal)}`));
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  // The signal may have fired while connecting; an already-aborted signal never calls its listeners.
  if (options.signal?.aborted) onAbort();

  try {
    const done = upload.done().then(
      (result) => ({ ok: true as const, versionId: io.versionIdOf(result) }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    // After a failure, give lib-storage a bounded time to abort by itself, then cut it off.
    const cutOff = latch.failed.then(() => delay(options.cleanupTimeoutMs ?? 20_000)).then(() => 'cut-off' as const);
    let outcome = await Promise.race([done, cutOff]);
    if (outcome === 'cut-off') {
      await upload.abort();
      outcome = await done;
    }

    const url = `s3://${bucket}/${dumpKey}`;
    const steps = s3Steps(outcome.ok && outcome.versionId !== null);
    if (!outcome.ok) {
      const cause = latch.current ?? latch.fail(failed('upload', s3FailureText(steps.upload, url, outcome.error)));
      throw await cleanUp(s3Side, options, dumpKey, undefined, cause, failed);
    }
    const completed = { versionId: outcome.versionId };
    if (latch.current) throw await cleanUp(s3Side, options, dumpKey, completed, latch.current, failed);

    const { bytes, sha256 } = tap.digest();
    let head;
    try {
      head = await io.headObjectOrUndefined(s3, bucket, dumpKey, completed.versionId, options.signal);
    } catch (error) {
      if (latch.current) throw await cleanUp(s3Side, options, dumpKey, completed, latch.current, failed);
      throw await cleanUp(s3Side, options, dumpKey, completed, latch.fail(failed('upload', s3FailureText(steps.check, url, error))), failed);
    }
    if (head?.ContentLength !== bytes) {
      const cause = latch.fail(failed('upload', `${url} holds ${head?.ContentLength ?? 'no'} bytes, but ${bytes} were streamed`));
      throw await cleanUp(s3Side, options, dumpKey, completed, cause, failed);
    }
    return { s3Side, bytes, sha256, versionId: completed.versionId, tables: await counting };
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    proc.stop();
  }
}

/**
 * Removes what a failed run left and returns the error to throw: the object version the run wrote when its upload
 * completed, else the open multipart uploads of the key. The error says what was deleted, or what is left and why.
 */
async function cleanUp(
  { s3, io }: S3Side,
  options: DumpOptions,
  dumpKey: string,
  completed: { readonly versionId: string | null } | undefined,
  cause: DumpFailed,
  failed: (cause: DumpFailureCause, text: string) => DumpFailed,
): Promise<DumpFailed> {
  const log = options.log ?? silentLogSink;
  const url = `s3://${options.bucket}/${dumpKey}`;
  const step: S3Step = {
    doing: completed ? 'deleting the dump object' : 'aborting the multipart upload of',
    needs: completed
      ? `${completed.versionId === null ? 's3:DeleteObject' : 's3:DeleteObjectVersion'} on the dump's key`
      : 's3:ListBucketMultipartUploads on the bucket and s3:AbortMultipartUpload on the dump\'s key',
  };
  try {
    if (completed) {
      await io.deleteObjectVersion(s3, options.bucket, dumpKey, completed.versionId);
      log.warn('dump failed; deleted the dump object', { dumpKey, versionId: completed.versionId, failure: cause.failure });
      return failed(cause.failure, `${cause.message}; the dump object was deleted, no manifest was written`);
    }
    const aborted = await io.abortOpenUploads(s3, options.bucket, dumpKey);
    log.warn('dump failed; cleaned up', { dumpKey, abortedUploads: aborted, failure: cause.failure });
    return cause;
  } catch (error) {
    const lock = completed ? await objectLockOf(io, s3, options.bucket, dumpKey, completed.versionId) : undefined;
    const version = completed?.versionId ? ` version ${completed.versionId}` : '';
    let left: string;
    if (lock) {
      // Object Lock did what it is for: no role of this package can delete a locked version, not even a failed one.
      left =
        `${url}${version} is under Object Lock (${lock.mode}) until ${lock.until}, so it cannot be deleted before then` +
        `${lock.mode === 'GOVERNANCE' ? ' except by someone allowed s3:BypassGovernanceRetention' : ''}; it has no manifest, so no restore, ` +
        'recovery test or failover picks it; delete it once the lock has expired';
    } else if (completed) {
      left = `delete ${url}${version} by hand: it has no manifest, so it is no backup`;
    } else {
      left = "the bucket's abort-incomplete-multipart rule removes the leftover parts within a day";
    }
    return failed(cause.failure, `${cause.message}; then ${s3FailureText(step, url, error)}; ${left}`);
  }
}

/**
 * The Object Lock retention of an object version, when it has one and the caller may read it (S3 returns the lock
 * headers on HEAD only to callers with s3:GetObjectRetention); `undefined` otherwise, or when the HEAD fails.
 */
async function objectLockOf(
  io: S3Side['io'],
  s3: S3Client,
  bucket: string,
  key: string,
  versionId: string | null,
): Promise<{ readonly mode: string; readonly until: string } | undefined> {
  try {
    const head = await io.headObjectOrUndefined(s3, bucket, key, versionId);
    if (!head?.ObjectLockMode || !head.ObjectLockRetainUntilDate) return undefined;
    if (head.ObjectLockRetainUntilDate.getTime() <= Date.now()) return undefined;
    return { mode: head.ObjectLockMode, until: head.ObjectLockRetainUntilDate.toISOString() };
  } catch {
    return undefined;
  }
}
