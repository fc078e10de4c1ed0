/**
 * The restore core: puts a backup (a `pg_dump -Fc` object described by its manifest) back into a PostgreSQL
 * database with `pg_restore`, re-hashing the bytes on the way and refusing a dump whose SHA-256 or size differs
 * from the manifest. Used by the restore Lambda, the CLI and the benchmarks; no Lambda specifics here.
 *
 * Two paths:
 * - `jobs: 1` (default), streaming: S3 body → SHA-256 tap → `pg_restore` stdin. Constant memory and no disk, so
 *   the dump size is bounded only by time (a Lambda stops at 15 minutes). The object's size is checked against the
 *   manifest before the database is touched; the checksum can only be known once the last byte has been read, so
 *   the tap holds back the last 64 KiB until it is: pg_restore, which must read the archive to its end to finish,
 *   cannot complete (no post-data steps, no exit 0) on a dump that does not match. On a mismatch it is killed
 *   (SIGKILL, before its stdin is closed) and a database this call created is dropped again; tables it had already
 *   loaded into an existing database stay there (restore into a fresh database to avoid that).
 * - `jobs > 1`, file: S3 body → SHA-256 tap → a file in `workDir` (mode 0600), checked before anything touches the
 *   database, then `pg_restore -j jobs <file>` (parallel restore needs a seekable archive). Needs the dump's size
 *   free in `workDir` (Lambda's `/tmp` is at most 10240 MiB); the file is deleted afterwards whatever happens.
 * - a directory-format dump (manifest v3, `pg_dump -Fd`), whatever `jobs`: after checking that `workDir` has room for
 *   all its files (the manifest's `bytes`), every file is downloaded into a fresh directory through a SHA-256 tap and
 *   checked against its manifest entry before anything touches the database, then `pg_restore -j jobs <directory>`;
 *   the directory is deleted afterwards whatever happens.
 *
 * Owners and privileges: by default objects belong to the restoring user and no GRANTs are restored (`--no-owner
 * --no-acl`), since the source's roles may not exist on the target. With `restoreRoles`, the roles and globals saved
 * beside the dump (manifest v2) are checked against their SHA-256 before anything is touched, replayed on the target
 * (./roles.ts), and pg_restore then restores owners and privileges.
 */
import { moreDiskAdvice } from '../common/runner';
import { METHOD_COMPRESSION_MIN_MAJOR, parseCompression } from '../postgres/compression';
import type { ChildProcess } from 'child_process';
import { createHash, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Transform, Writable, type Readable, type TransformCallback } from 'stream';
import { pipeline } from 'stream/promises';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { BackupDrError, ChecksumMismatch, ManifestUnusable, RestoreAborted, RestoreFailed } from '../common/errors';
import {
  DIRECTORY_DUMP_FORMAT,
  DUMP_FORMAT,
  dumpKeyForManifestKey,
  isDirectoryFileName,
  parseManifestJson,
  type BackupManifest,
  type ManifestFile,
} from '../backup/manifest';
import {
  libpqEnv,
  readPgToolVersionOutput,
  resolvePgRestorePath,
  spawnPgTool,
  type PgToolExit,
  type PgToolProcess,
} from '../postgres/pg-tools';
import { buildConninfo, connect, quoteIdent, RESTORE_APPLICATION_NAME, scrubSecrets, type PgTarget } from '../postgres/target';
import { isPartial, resolveSelection, type ResolvedSelection, type RestoreSelection } from './partial-restore';
import { replayRoles, type RolesOutcome } from './roles';

/** Options of {@link runRestore}. */
export interface RestoreOptions {
  /**
   * The bucket that holds the manifest and the dump. The dump is read from this bucket at the manifest's key and
   * version id (not from `manifest.s3.bucket`), so a replica bucket in the DR region works: replication keeps keys
   * and version ids.
   */
  readonly bucket: string;
  /** Key of the manifest JSON; give this or `manifest`. */
  readonly manifestKey?: string;
  /** The manifest itself (already loaded); give this or `manifestKey`. */
  readonly manifest?: BackupManifest;
  /** Where to restore; the database must exist unless `createDatabase` is true. */
  readonly target: PgTarget;
  /**
   * Parallel `pg_restore` jobs. 1 streams the dump into `pg_restore` without touching disk; more than 1 downloads
   * it to `workDir` first (see the module doc).
   * @default 1
   */
  readonly jobs?: number;
  /**
   * Create the target database first (`CREATE DATABASE … TEMPLATE template0`, as pg_restore's documentation
   * advises), failing if it already exists; if the restore then fails, the database is dropped again.
   * @default false
   */
  readonly createDatabase?: boolean;
  /**
   * The database to connect to for `CREATE DATABASE` / `DROP DATABASE`.
   * @default 'postgres'
   */
  readonly maintenanceDatabase?: string;
  /** Stops the restore: the S3 read is cancelled and `pg_restore` killed; the call rejects with RestoreAborted. */
  readonly signal?: AbortSignal;
  /** @default - a client from the environment (region, `AWS_ENDPOINT_URL`) */
  readonly s3?: S3Client;
  /** @default os.tmpdir() */
  readonly workDir?: string;
  /**
   * When pg_restore fails while the dump is streamed, the rest of the object is still read (and discarded) so the
   * error can say whether the object was corrupt; this caps how much more is read for that.
   * @default 1 GiB
   */
  readonly maxDrainBytes?: number;
  /** @default process.env.PG_RESTORE_PATH, else the PgToolsLayer's /opt/bin/pg_restore when present, else from PATH */
  readonly pgRestorePath?: string;
  /**
   * Restore only these schemas or tables (see ./partial-restore): resolved against the manifest before anything is
   * touched, the schemas created first, then `pg_restore --schema/--table`.
   * @default - the whole backup
   */
  readonly selection?: RestoreSelection;
  /**
   * Recreate the source's roles (saved beside the dump, manifest v2) before the restore, then restore owners and
   * privileges. Needs a user that may create roles (CREATEROLE, or a superuser). Roles the target already has are
   * left as they are; passwords are not restored.
   * @default false - objects belong to the restoring user, no GRANTs restored
   */
  readonly restoreRoles?: boolean;
}

/** What {@link runRestore} did. */
export interface RestoreResult {
  /** The database restored into. */
  readonly database: string;
  /** Bytes of dump read from S3 and fed to `pg_restore` (equal to the manifest's `bytes`). */
  readonly restoredBytes: number;
  /** SHA-256 (hex) of those bytes (equal to the manifest's `sha256`). */
  readonly sha256: string;
  /** Wall time of the whole call, seconds (3 decimals). */
  readonly durationSeconds: number;
  /** `stream` (jobs 1, stdin), `file` (jobs > 1, downloaded first) or `directory` (a directory-format dump, downloaded first). */
  readonly mode: 'stream' | 'file' | 'directory';
  readonly jobs: number;
  /** Whether this call created the target database. */
  readonly createdDatabase: boolean;
  /** The manifest the restore followed. */
  readonly manifest: BackupManifest;
  /** For a partial restore: the manifest's tables it restored (what a row-count check compares). */
  readonly partial?: ResolvedSelection;
  /** What replaying the roles did (with `restoreRoles`). */
  readonly roles?: RolesOutcome;
}

/** Room left in `workDir` beyond the dump itself. */
const DISK_MARGIN_BYTES = 64 * 1024 * 1024;

/**
 * Write buffer of the downloaded dump file. With the default 16 KiB every 64 KiB network chunk waited for its own
 * disk write; a large buffer lets writes gather while one is in flight (measured: 145 MiB from the emulator in
 * 0.45 s instead of 0.65 s).
 */
const DOWNLOAD_WRITE_BUFFER_BYTES = 8 * 1024 * 1024;

/** Validates `jobs`: a whole number from 1 to 64. */
export function normalizeJobs(jobs: number | undefined): number {
  const value = jobs ?? 1;
  if (!Number.isInteger(value) || value < 1 || value > 64) {
    throw new RangeError(`jobs must be a whole number from 1 to 64; got ${String(jobs)}`);
  }
  return value;
}

/**
 * The `pg_restore` arguments (no password: that goes in `PGPASSWORD`). `file` undefined = read stdin; `selection` the
 * `--schema`/`--table` arguments of a partial restore. `owners`:
 * restore owners and privileges (the roles exist), else `--no-owner --no-acl`.
 */
export function pgRestoreArgs(target: PgTarget, jobs: number, file?: string, owners = false, selection: readonly string[] = []): string[] {
  const args = [...(owners ? [] : ['--no-owner', '--no-acl']), '--exit-on-error', `--dbname=${buildConninfo(target)}`, ...selection];
  if (file !== undefined) {
    if (jobs > 1) args.push(`--jobs=${jobs}`);
    args.push(file);
  }
  return args;
}

/** The major version in a `pg_dump --version` / `pg_restore --version` line or a bare `15.4`. */
export function majorVersion(text: string): number | undefined {
  const match = /(\d+)(?:\.(\d+))?/.exec(text.replace(/^[^\d]*/, ''));
  if (!match) return undefined;
  const major = Number(match[1]);
  // Before 10 the major was two numbers (9.6); treat 9.x as 9.
  return Number.isFinite(major) ? major : undefined;
}

/**
 * A reason the local `pg_restore` cannot read an archive written by `pg_dump` of `pgDumpVersion`, or undefined.
 * pg_restore reads archives of its own major version and older ones.
 */
export function archiveIncompatibility(pgDumpVersion: string, pgRestoreVersion: string): string | undefined {
  const dumpMajor = majorVersion(pgDumpVersion);
  const restoreMajor = majorVersion(pgRestoreVersion);
  if (dumpMajor === undefined || restoreMajor === undefined) return undefined;
  if (dumpMajor > restoreMajor) {
    return (
      `the dump was written by pg_dump ${pgDumpVersion.trim()} but this pg_restore is ${pgRestoreVersion.trim()}: ` +
      `pg_restore cannot read archives of a newer major version; use a pg_restore of major ${dumpMajor} or newer ` +
      '(PgToolsLayer postgresVersion)'
    );
  }
  return undefined;
}

/**
 * A reason the local `pg_restore` cannot decompress an archive of the manifest's `compression`, or undefined
 * (also for manifests without one, written before it was recorded: those are gzip).
 */
export function compressionIncompatibility(compression: string | undefined, pgRestoreVersion: string): string | undefined {
  if (compression === undefined) return undefined;
  const parsed = parseCompression(compression);
  const restoreMajor = majorVersion(pgRestoreVersion);
  if ('problem' in parsed || restoreMajor === undefined) return undefined;
  if (parsed.compression.method !== 'gzip' && restoreMajor < METHOD_COMPRESSION_MIN_MAJOR) {
    return (
      `the dump is compressed with ${compression} but this pg_restore is ${pgRestoreVersion.trim()}: ` +
      `${parsed.compression.method} archives need pg_restore ${METHOD_COMPRESSION_MIN_MAJOR} or newer ` +
      '(PgToolsLayer postgresVersion)'
    );
  }
  return undefined;
}

/**
 * A reason `workDir` cannot hold the dump, or undefined.
 *
 * @param dumpBytes the manifest's size of the dump
 * @param freeBytes free bytes in `workDir`
 */
export function diskShortfall(dumpBytes: number, freeBytes: number, workDir: string, directoryFormat = false,
  env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (dumpBytes + DISK_MARGIN_BYTES <= freeBytes) return undefined;
  const mib = (n: number) => `${Math.ceil(n / 1048576)} MiB`;
  const otherwise = directoryFormat
    ? ' or restore it where there is room (the CLI\'s restore on a host): a directory-format (parallel) dump is always downloaded first'
    : ' or restore with jobs: 1, which streams without using disk';
  return (
    `the dump is ${mib(dumpBytes)} but ${workDir} has ${mib(freeBytes)} free (${mib(DISK_MARGIN_BYTES)} margin ` +
    `needed): ${moreDiskAdvice('restore', env)}${otherwise}`
  );
}

/** What a {@link VerifyingTap} checks the bytes against. */
export interface ExpectedObject {
  readonly bytes: number;
  /** Lowercase hex SHA-256. */
  readonly sha256: string;
  /** Names the object in error messages (`s3://bucket/key?versionId=…`). */
  readonly where: string;
}

/** How much of the end of the dump the streaming restore holds back until the checksum is proven. */
export const HOLD_BACK_BYTES = 64 * 1024;

/**
 * A pass-through that hashes and counts the bytes and, at the end (or as soon as there are too many), compares them
 * with the manifest, failing with ChecksumMismatch.
 *
 * With `holdBackBytes`, the last that many bytes of the expected object are released only after the whole object
 * has been hashed and matched. A consumer that must read an archive to its end to complete (pg_restore runs its
 * post-data steps and exits only then) therefore never completes on bytes that did not verify.
 */
export class VerifyingTap extends Transform {
  private readonly hash = createHash('sha256');
  private count = 0;
  private released = 0;
  private readonly held: Buffer[] = [];
  private digest?: string;

  constructor(
    private readonly expected: ExpectedObject,
    private readonly holdBackBytes = 0,
  ) {
    super();
  }

  /** Bytes seen so far. */
  get bytes(): number {
    return this.count;
  }

  /** The size the manifest gives. */
  get expectedBytes(): number {
    return this.expected.bytes;
  }

  /** The hex SHA-256 of all bytes, once the stream has ended. */
  get sha256(): string | undefined {
    return this.digest;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.count += chunk.length;
    if (this.count > this.expected.bytes) {
      callback(this.fail(`${this.expected.where}: more than the manifest's ${this.expected.bytes} bytes`));
      return;
    }
    this.hash.update(chunk);
    const releasable = Math.max(0, this.expected.bytes - this.holdBackBytes - this.released);
    if (releasable >= chunk.length) {
      this.released += chunk.length;
      callback(null, chunk);
      return;
    }
    if (releasable > 0) {
      this.released += releasable;
      this.push(chunk.subarray(0, releasable));
    }
    this.held.push(chunk.subarray(releasable));
    callback();
  }

  override _flush(callback: TransformCallback): void {
    this.digest = this.hash.digest('hex');
    if (this.count !== this.expected.bytes) {
      callback(this.fail(`${this.expected.where}: ${this.count} bytes but the manifest says ${this.expected.bytes}`));
    } else if (this.digest !== this.expected.sha256.toLowerCase()) {
      callback(this.fail(`${this.expected.where}: sha256 is ${this.digest} but the manifest says ${this.expected.sha256}`));
    } else {
      for (const buffer of this.held.splice(0)) this.push(buffer);
      callback();
    }
  }

  private fail(message: string): ChecksumMismatch {
    this.held.length = 0;
    return new ChecksumMismatch(`${message}; the object was overwritten or corrupted, restore another backup`);
  }
}

/** The ChecksumMismatch for an object whose size (from S3) differs from the manifest's, or undefined. */
export function sizeMismatch(expected: ExpectedObject, contentLength: number | undefined): ChecksumMismatch | undefined {
  if (contentLength === undefined || contentLength === expected.bytes) return undefined;
  return new ChecksumMismatch(
    `${expected.where} is ${contentLength} bytes but the manifest says ${expected.bytes}; the object was overwritten ` +
      'or corrupted, restore another backup',
  );
}

/** Reads and validates the manifest at `s3://bucket/key`. */
export async function loadManifest(s3: S3Client, bucket: string, key: string, signal?: AbortSignal): Promise<BackupManifest> {
  let text: string;
  try {
    const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
    if (!response.Body) throw new Error('empty response body');
    text = await response.Body.transformToString('utf-8');
  } catch (error) {
    const name = error instanceof Error ? error.name : '';
    const reason = error instanceof Error ? error.message : String(error);
    const hint = name === 'NoSuchKey' ? ' (a backup exists only once its manifest has been written)' : '';
    throw new ManifestUnusable(`cannot read the manifest s3://${bucket}/${key}: ${name ? `${name}: ` : ''}${reason}${hint}`);
  }
  const parsed = parseManifestJson(text);
  if (!parsed.ok) {
    throw new ManifestUnusable(`s3://${bucket}/${key} is not a valid backup manifest: ${parsed.errors.join('; ')}`);
  }
  return parsed.manifest;
}

/** Runs `<pgRestorePath> --version` and returns its first line. */
export async function pgRestoreVersion(pgRestorePath: string): Promise<string> {
  const output = await readPgToolVersionOutput('pg_restore', pgRestorePath).catch((error: unknown) => {
    throw new RestoreFailed(error instanceof Error ? error.message : String(error));
  });
  return output.split('\n')[0].trim();
}

/**
 * Restores the backup described by a manifest into `target.database`.
 *
 * @throws ManifestUnusable, ChecksumMismatch, RestoreFailed (connection, database missing or present, pg_restore's
 *   exit code and stderr), RestoreAborted; every message is scrubbed of the target's password.
 * @example
 * const result = await runRestore({
 *   bucket: 'my-backups',
 *   manifestKey: 'postgres/main/app/2024/05/01/20240501T020000.000Z.manifest.json',
 *   target: { host: 'scratch.example.internal', port: 5432, user: 'postgres', password, database: 'app_restore' },
 *   createDatabase: true,
 * });
 */
export async function runRestore(options: RestoreOptions): Promise<RestoreResult> {
  const started = process.hrtime.bigint();
  const jobs = normalizeJobs(options.jobs);
  const { target, signal } = options;
  const secrets = [target.password];
  throwIfAborted(signal, 'before it started');
  const s3 = options.s3 ?? new S3Client({});
  const pgRestorePath = resolvePgRestorePath(options.pgRestorePath);

  // Asked while the manifest is read: neither depends on the other.
  const restoreVersion = pgRestoreVersion(pgRestorePath);
  restoreVersion.catch(() => undefined);
  let manifest: BackupManifest;
  if (options.manifest) {
    manifest = options.manifest;
  } else if (options.manifestKey) {
    manifest = await loadManifest(s3, options.bucket, options.manifestKey, signal);
    const dumpKey = dumpKeyForManifestKey(options.manifestKey);
    if (manifest.s3.key !== dumpKey) {
      throw new ManifestUnusable(
        `the manifest ${options.manifestKey} describes ${manifest.s3.key}, not the dump next to it (${dumpKey}); ` +
          'a manifest is only valid beside its own dump',
      );
    }
  } else {
    throw new ManifestUnusable('give manifestKey or manifest');
  }
  const directoryFormat = manifest.format === DIRECTORY_DUMP_FORMAT;
  if (manifest.format !== DUMP_FORMAT && !directoryFormat) {
    throw new ManifestUnusable(`manifest format is '${String(manifest.format)}'; only '${DUMP_FORMAT}' and '${DIRECTORY_DUMP_FORMAT}' can be restored`);
  }
  if (directoryFormat && !(manifest.files && manifest.files.length > 0 && manifest.files.every((f) => isDirectoryFileName(f.name)))) {
    throw new ManifestUnusable(`the directory-format manifest of ${manifest.s3.key} lists no valid files`);
  }
  const partial = isPartial(options.selection) ? resolveSelection(manifest.tables, options.selection) : undefined;
  const selectionArgs = partial?.pgRestoreArgs ?? [];
  const localVersion = await restoreVersion;
  const incompatible =
    archiveIncompatibility(manifest.pgDumpVersion, localVersion) ?? compressionIncompatibility(manifest.compression, localVersion);
  if (incompatible) throw new RestoreFailed(incompatible);
  // Read and checked before anything is touched, like the dump.
  const globalsSql = options.restoreRoles ? await loadGlobals(s3, options.bucket, manifest, signal) : undefined;
  const owners = globalsSql !== undefined;

  const object = { bucket: options.bucket, key: manifest.s3.key, versionId: manifest.s3.versionId ?? undefined };
  const where = `s3://${object.bucket}/${object.key}${object.versionId ? `?versionId=${object.versionId}` : ''}`;
  const expected: ExpectedObject = { bytes: manifest.bytes, sha256: manifest.sha256, where };
  const env = childEnv(target);
  let createdDatabase = false;
  const tap = new VerifyingTap(expected, jobs === 1 ? HOLD_BACK_BYTES : 0);
  /** What a directory-format restore downloaded (every file checked). */
  let downloaded: { readonly bytes: number; readonly sha256: string } | undefined;
  let roles: RolesOutcome | undefined;
  /** Replays the roles once the database exists, runs `restore`, then revokes the temporary memberships. */
  const withRoles = async (restore: () => Promise<void>): Promise<void> => {
    if (globalsSql === undefined) return restore();
    const client = await connect(target);
    try {
      const replay = await replayRoles(client, globalsSql).catch((error: unknown) => {
        throw new RestoreFailed(scrubSecrets(`recreating the roles failed: ${error instanceof Error ? error.message : String(error)}`, secrets));
      });
      roles = replay.outcome;
      try {
        await restore();
      } catch (error) {
        if (error instanceof Error) {
          if (/permission denied for schema .*OWNER TO/s.test(error.message)) {
            error.message +=
              '; a user that is not a superuser can give an object only to an owner with CREATE on its schema, and ' +
              'pg_restore restores that GRANT only at the end: restore as a superuser, or without restoreRoles';
          }
          if (replay.outcome.failed.length > 0) error.message += `; the roles replayed with problems: ${replay.outcome.failed.join(' | ')}`;
        }
        throw error;
      } finally {
        roles = await replay.finish();
      }
    } finally {
      await client.end().catch(() => undefined);
    }
  };

  try {
    // Checking that an existing database accepts connections changes nothing, so it overlaps the download;
    // creating one waits until the object has been checked.
    const connectionChecked = options.createDatabase ? undefined : prepareDatabase(options);
    connectionChecked?.catch(() => undefined);
    if (directoryFormat) {
      const workDir = options.workDir ?? os.tmpdir();
      const stats = await fs.promises.statfs(workDir);
      const shortfall = diskShortfall(manifest.bytes, stats.bavail * stats.bsize, workDir, true);
      if (shortfall) throw new RestoreFailed(shortfall);
      const directory = await fs.promises.mkdtemp(path.join(workDir, 'cdk-backup-dr-restore-'));
      try {
        downloaded = await downloadFiles(s3, options.bucket, manifest.files!, directory, signal).catch(async (error: unknown) => {
          await connectionChecked?.catch(() => undefined);
          throw error;
        });
        createdDatabase = await (connectionChecked ?? prepareDatabase(options));
        if (partial) await createSchemas(target, partial.schemas);
        await withRoles(() => runChild(pgRestorePath, pgRestoreArgs(target, jobs, directory, owners, selectionArgs), env, signal, secrets));
      } finally {
        await fs.promises.rm(directory, { recursive: true, force: true });
      }
    } else if (jobs === 1) {
      // The size is checked before anything touches the database; the checksum only once the last byte is read,
      // and pg_restore cannot finish before that (the tap holds back the end of the archive).
      const body = await openObject(s3, object, expected, signal);
      createdDatabase = await (connectionChecked ?? prepareDatabase(options)).catch((error: unknown) => {
        body.destroy();
        throw error;
      });
      if (partial) {
        await createSchemas(target, partial.schemas).catch((error: unknown) => {
          body.destroy();
          throw error;
        });
      }
      await withRoles(() =>
        restoreFromStream(pgRestorePath, pgRestoreArgs(target, 1, undefined, owners, selectionArgs), env, body, tap, signal, secrets, options.maxDrainBytes),
      ).catch((error: unknown) => {
        body.destroy();
        throw error;
      });
    } else {
      const workDir = options.workDir ?? os.tmpdir();
      const stats = await fs.promises.statfs(workDir);
      const shortfall = diskShortfall(manifest.bytes, stats.bavail * stats.bsize, workDir);
      if (shortfall) throw new RestoreFailed(shortfall);
      const file = path.join(workDir, `cdk-backup-dr-restore-${randomBytes(8).toString('hex')}.dump`);
      let writer: fs.WriteStream | undefined;
      try {
        const body = await openObject(s3, object, expected, signal);
        // A database that cannot be reached stops the download: its error is then the one reported.
        connectionChecked?.catch(() => body.destroy());
        // Checked before the database is touched: a bad object never creates or changes anything.
        writer = fs.createWriteStream(file, { mode: 0o600, highWaterMark: DOWNLOAD_WRITE_BUFFER_BYTES });
        await pipeline(body, tap, writer, { signal }).catch(async (error: unknown) => {
          await connectionChecked;
          throw asAbort(error, signal) ?? readError(error, where);
        });
        createdDatabase = await (connectionChecked ?? prepareDatabase(options));
        if (partial) await createSchemas(target, partial.schemas);
        await withRoles(() => runChild(pgRestorePath, pgRestoreArgs(target, jobs, file, owners, selectionArgs), env, signal, secrets));
      } finally {
        if (writer) await closeFile(writer);
        await fs.promises.rm(file, { force: true });
      }
    }
  } catch (error) {
    if (createdDatabase) await dropCreatedDatabase(options, error);
    throw error;
  }

  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  return {
    database: target.database,
    restoredBytes: downloaded?.bytes ?? tap.bytes,
    sha256: downloaded?.sha256 ?? tap.sha256 ?? '',
    durationSeconds: Math.round(elapsed * 1000) / 1000,
    mode: directoryFormat ? 'directory' : jobs === 1 ? 'stream' : 'file',
    jobs,
    createdDatabase,
    manifest,
    ...(partial ? { partial } : {}),
    ...(roles ? { roles } : {}),
  };
}

/** Files of a directory dump downloaded at once. */
const DOWNLOAD_CONCURRENCY = 2;

/**
 * Downloads every file of a directory dump into `directory` (mode 0600), each through a {@link VerifyingTap} against
 * its manifest entry. Returns the total bytes and the SHA-256 of `toc.dat` (the manifest's `sha256`).
 * @throws ChecksumMismatch naming the first file that differs; RestoreFailed or RestoreAborted for a failed read.
 */
async function downloadFiles(
  s3: S3Client,
  bucket: string,
  files: readonly ManifestFile[],
  directory: string,
  signal: AbortSignal | undefined,
): Promise<{ readonly bytes: number; readonly sha256: string }> {
  const queue = [...files];
  let bytes = 0;
  let tocSha256 = '';
  const failure = new AbortController();
  const worker = async (): Promise<void> => {
    for (let file = queue.shift(); file !== undefined && !failure.signal.aborted; file = queue.shift()) {
      const where = `s3://${bucket}/${file.key}${file.versionId ? `?versionId=${file.versionId}` : ''}`;
      const expected: ExpectedObject = { bytes: file.bytes, sha256: file.sha256, where };
      const body = await openObject(s3, { bucket, key: file.key, versionId: file.versionId ?? undefined }, expected, signal);
      const tap = new VerifyingTap(expected);
      const writer = fs.createWriteStream(path.join(directory, file.name), { mode: 0o600, highWaterMark: DOWNLOAD_WRITE_BUFFER_BYTES });
      try {
        await pipeline(body, tap, writer, { signal: signal ? AbortSignal.any([signal, failure.signal]) : failure.signal });
      } catch (error) {
        body.destroy();
        throw asAbort(error, signal) ?? readError(error, where);
      } finally {
        await closeFile(writer);
      }
      bytes += file.bytes;
      if (file.name === 'toc.dat') tocSha256 = tap.sha256 ?? '';
    }
  };
  const workers = Array.from({ length: Math.min(DOWNLOAD_CONCURRENCY, files.length) }, () =>
    worker().catch((error: unknown) => {
      failure.abort();
      throw error;
    }),
  );
  const results = await Promise.allSettled(workers);
  const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected' && !(r.reason instanceof Error && r.reason.name === 'AbortError'));
  if (rejected) throw rejected.reason;
  const anyRejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (anyRejected) throw anyRejected.reason;
  return { bytes, sha256: tocSha256 };
}

/**
 * Creates the schemas of a partial restore that the target lacks: `pg_restore --schema` restores a schema's objects
 * but not the schema itself.
 */
async function createSchemas(target: PgTarget, schemas: readonly string[]): Promise<void> {
  if (schemas.length === 0) return;
  const client = await connect(target);
  try {
    for (const schema of schemas) await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new RestoreFailed(scrubSecrets(`cannot create the schemas to restore into ${target.database}: ${reason}`, [target.password]));
  } finally {
    await client.end();
  }
}

/** The globals SQL of a v2 manifest, read at its version and checked against its size and SHA-256. */
async function loadGlobals(s3: S3Client, bucket: string, manifest: BackupManifest, signal: AbortSignal | undefined): Promise<string> {
  const globals = manifest.globals;
  if (!globals) {
    throw new ManifestUnusable(
      `the backup ${manifest.s3.key} was written without its roles (manifest v${manifest.schemaVersion}); restore it without ` +
        'restoreRoles, or pick a backup taken since the dump saves them',
    );
  }
  const where = `s3://${bucket}/${globals.key}${globals.versionId ? `?versionId=${globals.versionId}` : ''}`;
  const expected: ExpectedObject = { bytes: globals.bytes, sha256: globals.sha256, where };
  const body = await openObject(s3, { bucket, key: globals.key, versionId: globals.versionId ?? undefined }, expected, signal);
  const tap = new VerifyingTap(expected);
  const chunks: Buffer[] = [];
  await pipeline(
    body,
    tap,
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        chunks.push(chunk);
        callback();
      },
    }),
    { signal },
  ).catch((error: unknown) => {
    throw asAbort(error, signal) ?? (error instanceof ChecksumMismatch ? error : readError(error, where));
  });
  return Buffer.concat(chunks).toString('utf8');
}

function throwIfAborted(signal: AbortSignal | undefined, when: string): void {
  if (signal?.aborted) throw new RestoreAborted(`restore aborted ${when}: ${abortReason(signal)}`);
}

function abortReason(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason.message : reason === undefined ? 'aborted' : String(reason);
}

/** The RestoreAborted for an error caused by `signal`, or undefined when the error has another cause. */
function asAbort(error: unknown, signal: AbortSignal | undefined): RestoreAborted | undefined {
  if (!signal?.aborted) return undefined;
  if (error instanceof RestoreAborted) return error;
  return new RestoreAborted(`restore aborted: ${abortReason(signal)}; pg_restore was killed`);
}

/** Turns an S3 read error into a message naming the object; ChecksumMismatch passes through. */
function readError(error: unknown, where: string): Error {
  if (error instanceof BackupDrError) return error;
  const name = error instanceof Error ? error.name : '';
  const reason = error instanceof Error ? error.message : String(error);
  return new RestoreFailed(`reading ${where} failed: ${name && name !== 'Error' ? `${name}: ` : ''}${reason}`);
}

/**
 * Closes a file stream and waits until its descriptor is closed. A failed pipeline rejects without waiting for that:
 * the file's open can still be in flight, and would create the file again after it had been removed.
 */
async function closeFile(writer: fs.WriteStream): Promise<void> {
  if (writer.closed) return;
  const closed = new Promise<void>((resolve) => writer.once('close', () => resolve()));
  writer.destroy();
  await closed;
}

function childEnv(target: PgTarget): NodeJS.ProcessEnv {
  return libpqEnv(target, process.env, RESTORE_APPLICATION_NAME);
}

async function openObject(
  s3: S3Client,
  object: { bucket: string; key: string; versionId?: string },
  expected: ExpectedObject,
  signal: AbortSignal | undefined,
): Promise<Readable> {
  let body: Readable;
  let contentLength: number | undefined;
  try {
    const response = await s3.send(
      new GetObjectCommand({ Bucket: object.bucket, Key: object.key, VersionId: object.versionId }),
      { abortSignal: signal },
    );
    if (!response.Body) throw new Error('empty response body');
    body = response.Body as Readable;
    contentLength = response.ContentLength;
  } catch (error) {
    throw asAbort(error, signal) ?? readError(error, expected.where);
  }
  // The body sits unread while the database is prepared. An error on it meanwhile (connection reset) stays
  // recorded on the stream and is reported by the pipeline that reads it; without a listener it would instead be
  // an unhandled 'error' event that ends the process.
  body.on('error', () => undefined);
  const mismatch = sizeMismatch(expected, contentLength);
  if (mismatch) {
    body.destroy();
    throw mismatch;
  }
  return body;
}

/** Creates the target database when asked (returns true), else checks that it accepts connections. */
async function prepareDatabase(options: RestoreOptions): Promise<boolean> {
  const { target } = options;
  if (!options.createDatabase) {
    const client = await connect(target);
    await client.end();
    return false;
  }
  const client = await connect(target, { database: options.maintenanceDatabase ?? 'postgres' });
  try {
    await client.query(`CREATE DATABASE ${quoteIdent(target.database)} TEMPLATE template0`);
    return true;
  } catch (error) {
    const code = (error as { code?: string }).code;
    const reason = error instanceof Error ? error.message : String(error);
    throw new RestoreFailed(
      scrubSecrets(
        code === '42P04'
          ? `target database "${target.database}" already exists on ${target.host}:${target.port}: restore into a ` +
              'fresh name, or drop it first, or omit createDatabase to restore into it as it is'
          : `cannot create database "${target.database}" on ${target.host}:${target.port}: ${reason}`,
        [target.password],
      ),
    );
  } finally {
    await client.end();
  }
}

/** Drops the database this call created, after a failure; a failure to drop is added to the original error. */
async function dropCreatedDatabase(options: RestoreOptions, cause: unknown): Promise<void> {
  const { target } = options;
  try {
    const client = await connect(target, { database: options.maintenanceDatabase ?? 'postgres' });
    try {
      const { rows } = await client.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`);
      const force = Number(rows[0].v) >= 130000 ? ' WITH (FORCE)' : '';
      await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(target.database)}${force}`);
    } finally {
      await client.end();
    }
  } catch (dropError) {
    if (cause instanceof Error) {
      const reason = dropError instanceof Error ? dropError.message : String(dropError);
      cause.message += scrubSecrets(`; the database "${target.database}" this restore created could not be dropped: ${reason}`, [
        target.password,
      ]);
    }
  }
}

/** Starts pg_restore; a failure to start is a RestoreFailed. */
function startPgRestore(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  stdin: 'pipe' | 'ignore',
  secrets: readonly (string | undefined)[],
): { proc: PgToolProcess; exit: Promise<PgToolExit> } {
  const proc = spawnPgTool({ tool: 'pg_restore', path: command, args, env, stdin, stdout: 'ignore', secrets });
  const exit = proc.ended.catch((error: unknown) => {
    throw new RestoreFailed(error instanceof Error ? error.message : String(error));
  });
  return { proc, exit };
}

/** After pg_restore has stopped reading, at most this much more of the object is read to finish its checksum. */
export const MAX_DRAIN_BYTES = 1024 * 1024 * 1024;

/** The reading of the object was stopped because pg_restore had failed and the rest was too large to drain. */
class DrainStopped extends Error {
  override readonly name = 'DrainStopped';
}

/**
 * A writable end that feeds a child's stdin.
 * - When the pipeline fails (checksum mismatch, S3 error, abort), it kills the child (SIGKILL) *before* closing its
 *   stdin, so the child never mistakes a failed or tampered input for a complete one.
 * - When the child stops reading (it exited, e.g. pg_restore failed), it keeps accepting and discarding the rest
 *   (up to `maxDrainBytes`), so the checksum is still computed over the whole object and a corrupt object is
 *   reported as such rather than as whatever error pg_restore met first.
 */
class ChildInput extends Writable {
  private discarding = false;
  private discarded = 0;

  constructor(
    private readonly child: ChildProcess,
    private readonly maxDrainBytes: number,
  ) {
    super({ highWaterMark: 1024 * 1024 });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.discarding) {
      this.discarded += chunk.length;
      callback(this.discarded > this.maxDrainBytes ? new DrainStopped() : null);
      return;
    }
    this.child.stdin!.write(chunk, (error) => {
      // EPIPE (or a destroyed pipe): the child has stopped reading. Its exit status tells why.
      if (error) this.discarding = true;
      callback();
    });
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.discarding) {
      callback();
      return;
    }
    this.child.stdin!.end(() => callback());
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (error && this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    this.child.stdin!.destroy();
    callback(error);
  }
}

async function restoreFromStream(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  body: Readable,
  tap: VerifyingTap,
  signal: AbortSignal | undefined,
  secrets: readonly (string | undefined)[],
  maxDrainBytes = MAX_DRAIN_BYTES,
): Promise<void> {
  const { proc, exit } = startPgRestore(command, args, env, 'pipe', secrets);
  const { child } = proc;
  // A failed write (EPIPE once pg_restore has exited) is handled by ChildInput's write callback; this listener only
  // keeps the same error from also surfacing as an unhandled 'error' event.
  child.stdin!.on('error', () => undefined);
  const input = new ChildInput(child, maxDrainBytes);
  const fed = pipeline(body, tap, input, { signal }).then(
    () => undefined,
    (error: unknown) => error,
  );
  const [streamError, result] = await Promise.all([fed, exit.catch((error: unknown) => error as Error)]);
  if (result instanceof Error) throw result;
  // The object differs from the manifest: that is the cause, whatever pg_restore printed meanwhile.
  if (streamError instanceof ChecksumMismatch) throw streamError;
  // pg_restore exited by itself with an error: its stderr is the cause (also when an abort or a read error came
  // while the rest of the object was being drained to finish the checksum).
  if (result.code !== null && result.code !== 0) {
    const failure = new RestoreFailed(proc.describe(result));
    if (streamError) {
      failure.message += ` (the dump's sha256 was not checked: reading stopped at byte ${tap.bytes} of ${tap.expectedBytes})`;
    }
    throw failure;
  }
  const abort = asAbort(streamError ?? undefined, signal);
  if (abort) throw abort;
  // Reading S3 failed and we killed pg_restore.
  if (streamError) throw readError(streamError, `the dump (after ${tap.bytes} bytes)`);
  if (result.code !== 0) throw new RestoreFailed(proc.describe(result));
}

async function runChild(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  signal: AbortSignal | undefined,
  secrets: readonly (string | undefined)[],
): Promise<void> {
  throwIfAborted(signal, 'before pg_restore started');
  const { proc, exit } = startPgRestore(command, args, env, 'ignore', secrets);
  // SIGTERM lets pg_restore cancel its workers' queries; SIGKILL if it has not gone after 5 s.
  const onAbort = () => proc.stop(5000);
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const result = await exit;
    throwIfAborted(signal, 'while pg_restore was running; pg_restore was killed');
    if (result.code !== 0) throw new RestoreFailed(proc.describe(result));
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}
