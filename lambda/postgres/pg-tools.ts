/**
 * Running the PostgreSQL client tools (pg_dump, pg_restore): where each binary is, its version, the one environment
 * a tool's child process gets, and a child whose exit is a promise and whose stderr is kept (bounded) for the error
 * message, with secrets scrubbed.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { parsePgDumpVersion, type PgVersion } from './pg';
import { scrubSecrets, type PgTarget } from './target';
import { libpqTlsEnv } from './tls';
import { STDBUF_LIBRARY_NAME, stdbufEnv, SYSTEM_STDBUF_PATHS } from './stdbuf';

/** The client tools this package runs. */
export type PgTool = 'pg_dump' | 'pg_dumpall' | 'pg_restore';

/** `application_name` of pg_dump's connection (visible in pg_stat_activity). */
export const PG_DUMP_APPLICATION_NAME = 'cdk-backup-dr-pg_dump';

/** Where the PgToolsLayer puts pg_dump inside Lambda. */
export const LAYER_PG_DUMP_PATH = '/opt/bin/pg_dump';

/** Where the PgToolsLayer puts pg_restore inside Lambda. */
export const LAYER_PG_RESTORE_PATH = '/opt/bin/pg_restore';

/** Where the PgToolsLayer puts pg_dumpall inside Lambda. */
export const LAYER_PG_DUMPALL_PATH = '/opt/bin/pg_dumpall';

const LAYER_PATHS: Record<PgTool, string> = {
  pg_dump: LAYER_PG_DUMP_PATH,
  pg_dumpall: LAYER_PG_DUMPALL_PATH,
  pg_restore: LAYER_PG_RESTORE_PATH,
};

/** The environment variable that names a tool's binary. */
const PATH_VARIABLES: Record<PgTool, string> = { pg_dump: 'PG_DUMP_PATH', pg_dumpall: 'PG_DUMPALL_PATH', pg_restore: 'PG_RESTORE_PATH' };

/** `application_name` of pg_dumpall's connection. */
export const PG_DUMPALL_APPLICATION_NAME = 'cdk-backup-dr-pg_dumpall';


/** Where the dump looks for libstdbuf: the PgToolsLayer's copy first, then the system's. */
export const STDBUF_LIBRARY_CANDIDATES: readonly string[] = [`/opt/lib/${STDBUF_LIBRARY_NAME}`, ...SYSTEM_STDBUF_PATHS];

/**
 * The environment that makes pg_dump write its archive 128 KiB at a time instead of 4 KiB.
 *
 * pg_dump writes through stdio, which buffers 4 KiB on a pipe: about 37,000 writes per 145 MiB, each one waking the
 * reader. Preloading libstdbuf with `_STDBUF_O` (what `stdbuf -o` does) enlarges that buffer. Measured with the
 * dump core on 145 MiB at 10 MiB/s: 2.1 s of CPU instead of 3.3–3.6 s, kernel time 0.45 s instead of 1.25 s.
 * Without the library pg_dump runs as it is. `PG_DUMP_STDBUF_LIBRARY` names another copy, or `none` to turn it off.
 */
export function largeWritesEnv(
  parent: NodeJS.ProcessEnv = process.env,
  exists: (path: string) => boolean = existsSync,
): Record<string, string> {
  const chosen = parent.PG_DUMP_STDBUF_LIBRARY;
  if (chosen === 'none') return {};
  const library = chosen ?? STDBUF_LIBRARY_CANDIDATES.find((candidate) => exists(candidate));
  return library ? stdbufEnv(library) : {};
}

/**
 * The binary of `tool` to run: `explicit` when given, else its variable (`PG_DUMP_PATH`, `PG_RESTORE_PATH`), else the
 * layer's when it exists, else `tool` from `PATH`.
 */
export function resolvePgToolPath(
  tool: PgTool,
  explicit: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  exists: (path: string) => boolean = existsSync,
): string {
  if (explicit) return explicit;
  const fromEnv = env[PATH_VARIABLES[tool]];
  if (fromEnv) return fromEnv;
  return exists(LAYER_PATHS[tool]) ? LAYER_PATHS[tool] : tool;
}

/** {@link resolvePgToolPath} for pg_dump. */
export function resolvePgDumpPath(explicit: string | undefined, env?: NodeJS.ProcessEnv, exists?: (path: string) => boolean): string {
  return resolvePgToolPath('pg_dump', explicit, env, exists);
}

/** {@link resolvePgToolPath} for pg_dumpall. */
export function resolvePgDumpallPath(explicit: string | undefined, env?: NodeJS.ProcessEnv, exists?: (path: string) => boolean): string {
  return resolvePgToolPath('pg_dumpall', explicit, env, exists);
}

/** {@link resolvePgToolPath} for pg_restore. */
export function resolvePgRestorePath(explicit: string | undefined, env?: NodeJS.ProcessEnv, exists?: (path: string) => boolean): string {
  return resolvePgToolPath('pg_restore', explicit, env, exists);
}

/**
 * The library path for a child running the pg tools. Lambda puts a layer's /opt/lib LAST on the library path, so the
 * runtime image's own libssl/libkrb5 would be loaded instead of the ones bundled with the tools: when
 * `PG_TOOLS_LIB_DIR` is set (PgToolsLayer's lib folder), it goes first.
 */
export function toolsLibraryPath(parent: NodeJS.ProcessEnv): string | undefined {
  const toolsLibDir = parent.PG_TOOLS_LIB_DIR;
  if (!toolsLibDir) return parent.LD_LIBRARY_PATH;
  const rest = (parent.LD_LIBRARY_PATH ?? '').split(':').filter((d) => d && d !== toolsLibDir);
  return [toolsLibDir, ...rest].join(':');
}

/** The variables of the parent that a tool needs to run; nothing else (no `PG*`, no AWS credentials) is passed on. */
const INHERITED_VARIABLES = ['PATH', 'LD_LIBRARY_PATH', 'LANG', 'LC_ALL', 'TZ', 'HOME', 'TMPDIR'];

/** The environment of a pg tool's child process without a connection (`--version`): see {@link libpqEnv}. */
export function toolEnv(parent: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const name of INHERITED_VARIABLES) {
    if (parent[name] !== undefined) env[name] = parent[name];
  }
  const libraryPath = toolsLibraryPath(parent);
  if (libraryPath !== undefined) env.LD_LIBRARY_PATH = libraryPath;
  return env;
}

/**
 * The environment of a libpq child (`pg_dump`, `pg_restore`): the harmless variables of the parent it needs to run
 * ({@link toolEnv}), and the connection, credentials and TLS settings as `PG*` variables (so nothing secret and
 * nothing misreadable is on the command line): `PGSSLMODE` (`verify-full` by default) and `PGSSLROOTCERT`, a file in
 * the temp directory holding the trusted CA (see lambda/postgres/tls.ts). Other `PG*` variables of the parent are not
 * inherited, so they cannot redirect the child or weaken its TLS.
 */
export function libpqEnv(target: PgTarget, parent: NodeJS.ProcessEnv, applicationName: string): NodeJS.ProcessEnv {
  return {
    ...toolEnv(parent),
    PGHOST: target.host,
    PGPORT: String(target.port),
    PGUSER: target.user,
    PGDATABASE: target.database,
    ...(target.password !== undefined ? { PGPASSWORD: target.password } : {}),
    ...libpqTlsEnv(target, parent.TMPDIR),
    PGAPPNAME: applicationName,
    PGCONNECT_TIMEOUT: '15',
  };
}

/** The message for a tool that could not be started. */
function notStarted(tool: PgTool, path: string, error: Error & { readonly code?: unknown }): string {
  return error.code === 'ENOENT'
    ? `${tool} was not found at ${path}: add the PgToolsLayer to the function, install the PostgreSQL client ` +
        `(e.g. postgresql-client), or set ${PATH_VARIABLES[tool]}`
    : `${tool} could not be started: ${error.message}`;
}

/** Runs `<path> --version` and returns what it printed. */
export async function readPgToolVersionOutput(tool: PgTool, path: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    execFile(path, ['--version'], { timeout: 30_000, env: toolEnv(process.env) }, (error, stdout) => {
      if (!error) resolve(stdout);
      else if (error.code === 'ENOENT') reject(new Error(notStarted(tool, path, error)));
      else reject(new Error(`\`${path} --version\` failed: ${error.message}`));
    });
  });
}

/** Runs `pg_dump --version`. */
export async function readPgDumpVersion(pgDumpPath: string): Promise<PgVersion> {
  const output = await readPgToolVersionOutput('pg_dump', pgDumpPath);
  const version = parsePgDumpVersion(output);
  if (!version) throw new Error(`cannot read the version from \`${pgDumpPath} --version\`: ${output.trim()}`);
  return version;
}

/**
 * How much of a tool's stderr an error keeps: its end, where pg_dump and pg_restore say what went wrong. Bounded so
 * that the failures of many databases, each kept in a Step Functions Map's output, stay below the 256 KiB payload
 * limit (past it a run ends with States.DataLimitExceeded, which no Catch handles, so no report would be written).
 */
export const STDERR_TAIL_BYTES = 4 * 1024;

/** Keeps the last `limit` bytes written to it (stderr of a long-running child). */
export class OutputTail {
  private chunks: Buffer[] = [];
  private length = 0;
  private dropped = false;

  constructor(private readonly limit = STDERR_TAIL_BYTES) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
    while (this.length > this.limit && this.chunks.length > 0) {
      const excess = this.length - this.limit;
      const first = this.chunks[0];
      if (first.length <= excess) {
        this.chunks.shift();
        this.length -= first.length;
      } else {
        this.chunks[0] = first.subarray(excess);
        this.length -= excess;
      }
      this.dropped = true;
    }
  }

  toString(): string {
    const text = Buffer.concat(this.chunks).toString('utf8');
    return this.dropped ? `…${text}` : text;
  }
}

/**
 * The message for a tool that did not exit 0: how it ended and what it said, secrets scrubbed, whitespace collapsed
 * so it reads on one line in a Step Functions cause.
 */
export function describePgToolExit(
  tool: PgTool,
  code: number | null,
  signal: NodeJS.Signals | null,
  stderr: string,
  secrets: readonly (string | undefined)[],
): string {
  const how = signal ? `${tool} was killed by ${signal}` : `${tool} exited with code ${code}`;
  const said = scrubSecrets(stderr, secrets).replace(/\s+/g, ' ').trim();
  return said ? `${how}: ${said}` : how;
}

/** How a tool's process ended. */
export interface PgToolExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A running pg tool. */
export interface PgToolProcess {
  readonly child: ChildProcess;
  /**
   * Resolves with how the tool ended once its pipes are closed (so the stderr tail is complete); rejects with a
   * message naming the tool when it could not be started.
   */
  readonly ended: Promise<PgToolExit>;
  /** {@link describePgToolExit}'s message for an exit, with the stderr tail and secrets scrubbed. */
  describe(exit: PgToolExit): string;
  /** SIGTERM, then SIGKILL after `graceMs` if it is still running. */
  stop(graceMs?: number): void;
}

/** Options of {@link spawnPgTool}. */
export interface SpawnPgToolOptions {
  readonly tool: PgTool;
  /** The binary (see {@link resolvePgToolPath}). */
  readonly path: string;
  readonly args: readonly string[];
  /** From {@link libpqEnv}: the password travels here only. */
  readonly env: NodeJS.ProcessEnv;
  /** `pipe` to feed stdin (pg_restore reading an archive), else `ignore`. */
  readonly stdin: 'pipe' | 'ignore';
  /** `pipe` to read stdout (pg_dump writing an archive), else `ignore`. */
  readonly stdout: 'pipe' | 'ignore';
  /** Scrubbed from every message. */
  readonly secrets: readonly (string | undefined)[];
}

/** Starts a pg tool; nothing secret on its command line. The one way this package runs pg_dump and pg_restore. */
export function spawnPgTool(options: SpawnPgToolOptions): PgToolProcess {
  const { tool, path } = options;
  const child = spawn(path, options.args, { env: options.env, stdio: [options.stdin, options.stdout, 'pipe'] });
  const stderr = new OutputTail();
  child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk));
  const ended = new Promise<PgToolExit>((resolve, reject) => {
    child.once('error', (error) => reject(new Error(notStarted(tool, path, error))));
    // 'close' (not 'exit'): stdio is drained, so the stderr tail is complete.
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  return {
    child,
    ended,
    describe: (exit) => describePgToolExit(tool, exit.code, exit.signal, stderr.toString(), options.secrets),
    stop(graceMs = 2_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }, graceMs);
      timer.unref();
    },
  };
}

/** A running pg_dump. */
export interface PgDumpProcess {
  readonly child: ChildProcess;
  /** The dump bytes. */
  readonly stdout: Readable;
  /** Resolves when pg_dump exits 0; rejects with {@link describePgToolExit}'s message otherwise. */
  readonly exited: Promise<void>;
  /** SIGTERM, then SIGKILL after `graceMs` if it is still running. */
  stop(graceMs?: number): void;
}

/** Options of {@link spawnPgDump}. */
export interface SpawnPgDumpOptions {
  readonly pgDumpPath: string;
  readonly target: PgTarget;
  /** From `pg_export_snapshot()`; the exporting transaction must stay open until pg_dump has started. */
  readonly snapshotId: string;
  /**
   * The `--compress=…` argument (`compressArgument` of compression.ts).
   * @default - none: pg_dump's own default (gzip level 6)
   */
  readonly compressArg?: string;
  /** @default process.env (filtered by {@link libpqEnv}) */
  readonly parentEnv?: NodeJS.ProcessEnv;
}

/**
 * The argv of a custom-format dump in a given snapshot. Nothing secret, nothing from user input but the id and the
 * compression (checked against its own pattern).
 */
export function pgDumpArgs(snapshotId: string, compressArg?: string): string[] {
  if (!/^[0-9A-Fa-f-]+$/.test(snapshotId)) throw new Error(`unexpected snapshot id ${JSON.stringify(snapshotId)}`);
  if (compressArg !== undefined && !/^--compress=((gzip|zstd|lz4):)?\d{1,2}$/.test(compressArg)) {
    throw new Error(`unexpected compression argument ${JSON.stringify(compressArg)}`);
  }
  return ['--format=custom', `--snapshot=${snapshotId}`, ...(compressArg === undefined ? [] : [compressArg]), '--no-password'];
}

/** Most parallel jobs a directory dump may ask for. */
export const MAX_DUMP_JOBS = 64;

/**
 * The argv of a directory-format dump with `jobs` parallel workers into `directory` (which must not exist: pg_dump
 * creates it), in a given snapshot.
 */
export function pgDumpDirectoryArgs(snapshotId: string, directory: string, jobs: number, compressArg?: string): string[] {
  if (!(Number.isInteger(jobs) && jobs >= 1 && jobs <= MAX_DUMP_JOBS)) throw new Error(`unexpected number of jobs ${jobs}`);
  if (!path.isAbsolute(directory) || directory.includes('\0')) throw new Error(`the dump directory must be an absolute path; got ${JSON.stringify(directory)}`);
  const [, snapshot, ...rest] = pgDumpArgs(snapshotId, compressArg);
  return ['--format=directory', `--jobs=${jobs}`, `--file=${directory}`, snapshot, ...rest];
}

/** Starts `pg_dump -Fc --snapshot=<id>` with the connection and password in its environment only. */
export function spawnPgDump(options: SpawnPgDumpOptions): PgDumpProcess {
  return startPgDump(options, pgDumpArgs(options.snapshotId, options.compressArg), 'pipe');
}

/** Starts `pg_dump -Fd -j <jobs> -f <directory> --snapshot=<id>`; its `stdout` is empty. */
export function spawnPgDumpDirectory(options: SpawnPgDumpOptions & { readonly directory: string; readonly jobs: number }): PgDumpProcess {
  return startPgDump(options, pgDumpDirectoryArgs(options.snapshotId, options.directory, options.jobs, options.compressArg), 'pipe');
}

function startPgDump(options: SpawnPgDumpOptions, args: string[], stdout: 'pipe'): PgDumpProcess {
  const parentEnv = options.parentEnv ?? process.env;
  const proc = spawnPgTool({
    tool: 'pg_dump',
    path: options.pgDumpPath,
    args,
    env: { ...libpqEnv(options.target, parentEnv, PG_DUMP_APPLICATION_NAME), ...largeWritesEnv(parentEnv) },
    stdin: 'ignore',
    stdout,
    secrets: [options.target.password],
  });
  const exited = proc.ended.then((exit) => {
    if (exit.code !== 0) throw new Error(proc.describe(exit));
  });
  // The caller awaits `exited` only on the success path; never leave a rejection unobserved.
  exited.catch(() => undefined);
  return { child: proc.child, stdout: proc.child.stdout!, exited, stop: proc.stop };
}

/**
 * The argv of the globals dump: roles (without passwords, so a non-superuser such as RDS's master user can read
 * them from `pg_roles`), role memberships and settings, tablespaces. `--database` is the database pg_dumpall
 * connects to (the one being dumped: the user can connect to it); nothing secret on the command line.
 */
export function pgDumpallGlobalsArgs(database: string): string[] {
  if (!/^[^\0]{1,63}$/.test(database)) throw new Error(`unexpected database name ${JSON.stringify(database)}`);
  return ['--globals-only', '--no-role-passwords', '--no-password', `--database=${database}`];
}

/** Largest globals dump read into memory: ~100,000 roles with settings; anything larger is refused, not truncated. */
export const MAX_GLOBALS_BYTES = 32 * 1024 * 1024;

/** Options of {@link dumpGlobals}. */
export interface DumpGlobalsOptions {
  readonly pgDumpallPath: string;
  readonly target: PgTarget;
  /** @default process.env (filtered by {@link libpqEnv}) */
  readonly parentEnv?: NodeJS.ProcessEnv;
  /** @default {@link MAX_GLOBALS_BYTES} */
  readonly maxBytes?: number;
  /** Kills pg_dumpall. */
  readonly signal?: AbortSignal;
}

/**
 * Runs `pg_dumpall --globals-only --no-role-passwords` against the target's server and returns its output.
 *
 * @throws Error with pg_dumpall's exit and stderr (scrubbed) when it fails, is killed or writes more than `maxBytes`.
 */
export async function dumpGlobals(options: DumpGlobalsOptions): Promise<Buffer> {
  const maxBytes = options.maxBytes ?? MAX_GLOBALS_BYTES;
  const proc = spawnPgTool({
    tool: 'pg_dumpall',
    path: options.pgDumpallPath,
    args: pgDumpallGlobalsArgs(options.target.database),
    env: libpqEnv(options.target, options.parentEnv ?? process.env, PG_DUMPALL_APPLICATION_NAME),
    stdin: 'ignore',
    stdout: 'pipe',
    secrets: [options.target.password],
  });
  const chunks: Buffer[] = [];
  let bytes = 0;
  let tooLarge = false;
  proc.child.stdout!.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes > maxBytes) {
      tooLarge = true;
      proc.stop();
    } else {
      chunks.push(chunk);
    }
  });
  const onAbort = (): void => proc.stop();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) onAbort();
  try {
    const exit = await proc.ended;
    if (tooLarge) throw new Error(`pg_dumpall wrote more than ${maxBytes} bytes of globals; that many roles are not supported`);
    if (options.signal?.aborted) throw new Error('pg_dumpall was stopped: the run was aborted');
    if (exit.code !== 0) throw new Error(proc.describe(exit));
    return Buffer.concat(chunks);
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
}
