/**
 * Shared description of one test-harness run: where its temp dir lives, which processes it started, and the
 * environment variables the test processes get. Used by the global setup/teardown (in the jest process), the
 * supervisor (a separate process that owns PostgreSQL and moto) and out-of-process tools.
 *
 * Layout of one run: `<os.tmpdir()>/cdk-backup-dr-harness-XXXXXX/`
 *   owner.json    written by global setup right after spawning the supervisor ({@link HarnessOwner})
 *   state.json    written by the supervisor as soon as each process is known, complete once `ready` ({@link HarnessState})
 *   pgdata/       the PostgreSQL cluster (owned by the `postgres` user when run as root)
 *   *.log         PostgreSQL, moto and supervisor logs
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Prefix of every harness temp dir in `os.tmpdir()`. */
export const HARNESS_DIR_PREFIX = 'cdk-backup-dr-harness-';

/** Who started a harness run. */
export interface HarnessOwner {
  /** pid of the jest process that ran global setup. */
  readonly ownerPid: number;
  /** pid of the supervisor process. */
  readonly supervisorPid: number;
}

/** Everything known about a running harness. */
export interface HarnessState {
  readonly root: string;
  readonly ownerPid: number;
  readonly supervisorPid: number;
  readonly ready: boolean;
  readonly postgres?: {
    readonly pid: number;
    readonly host: string;
    readonly port: number;
    readonly user: string;
    readonly password: string;
    readonly dataDir: string;
    /** PEM of the test CA that signed the server's certificate (which names only 127.0.0.1). */
    readonly caFile: string;
  };
  readonly moto?: {
    readonly pid: number;
    readonly host: string;
    readonly port: number;
    readonly endpoint: string;
  };
}

export function ownerFile(root: string): string {
  return path.join(root, 'owner.json');
}

export function stateFile(root: string): string {
  return path.join(root, 'state.json');
}

/** Writes JSON atomically (write to a temp name, then rename), so a reader never sees half a file. */
export function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

/** True when a process with this pid exists (signal 0 probes without sending anything). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else; ESRCH: it does not exist.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The command line of a live process, or undefined when it is gone (Linux /proc). */
export function commandLine(pid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return undefined;
  }
}

/**
 * The environment every test process gets. The AWS part points the standard SDK variables at moto; nothing in the
 * product reads a harness-specific variable.
 */
export function testEnvironment(state: HarnessState): Record<string, string> {
  if (!state.ready || state.postgres === undefined || state.moto === undefined) {
    throw new Error(`Harness state in ${state.root} is not ready; global setup did not finish.`);
  }
  const pg = state.postgres;
  const password = encodeURIComponent(pg.password);
  return {
    AWS_ENDPOINT_URL: state.moto.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    // Never fall back to the instance metadata service: a missing credential must fail fast, not probe the network.
    AWS_EC2_METADATA_DISABLED: 'true',
    // The SDK warns once per process that releases after January 2027 need Node 22; noise in every test worker.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    PGHOST: pg.host,
    PGPORT: String(pg.port),
    PGUSER: pg.user,
    PGPASSWORD: pg.password,
    PGDATABASE: 'postgres',
    // For ad-hoc clients only (node-postgres reads PGSSLMODE, and would verify against the system CAs); the product
    // never inherits PG* variables, and the harness' helpers verify against TEST_PG_CA_FILE.
    PGSSLMODE: 'disable',
    TEST_PG_CA_FILE: pg.caFile,
    TEST_PG_URL: `postgres://${pg.user}:${password}@${pg.host}:${pg.port}/postgres`,
    TEST_HARNESS_STATE_FILE: stateFile(state.root),
  };
}

/**
 * Variables that would send AWS or PostgreSQL clients somewhere other than the harness (a real account, a
 * service-specific endpoint, a profile, a pg service file). Global setup removes them from the test environment.
 */
export const SCRUBBED_VARIABLES: readonly RegExp[] = [
  /^AWS_ENDPOINT_URL_.+/,
  /^AWS_IGNORE_CONFIGURED_ENDPOINT_URLS$/,
  /^AWS_SESSION_TOKEN$/,
  /^AWS_SECURITY_TOKEN$/,
  /^AWS_PROFILE$/,
  /^AWS_DEFAULT_PROFILE$/,
  /^AWS_ROLE_ARN$/,
  /^AWS_WEB_IDENTITY_TOKEN_FILE$/,
  /^AWS_CONTAINER_CREDENTIALS_(RELATIVE|FULL)_URI$/,
  /^PGSERVICE$/,
  /^PGSERVICEFILE$/,
  /^PGHOSTADDR$/,
  /^PGPASSFILE$/,
];

export function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** How old a temp dir without an owner file must be before it is considered abandoned. */
const OWNERLESS_GRACE_MS = 10 * 60 * 1000;

/**
 * Removes what earlier runs left behind when they were killed so hard that neither teardown nor the supervisor
 * could clean up (e.g. `kill -9` of both jest and the supervisor). A run counts as abandoned only when both its
 * jest process and its supervisor are gone; runs of other jest processes that are still alive are left alone.
 * Processes are killed only when their command line proves they belong to the abandoned run (pids get reused).
 *
 * @returns the temp dirs that were removed
 */
export function cleanAbandonedRuns(tmpdir: string = os.tmpdir(), now: number = Date.now()): string[] {
  const removed: string[] = [];
  for (const entry of fs.readdirSync(tmpdir, { withFileTypes: true })) {
    if (!entry.isDirectory() || !entry.name.startsWith(HARNESS_DIR_PREFIX)) continue;
    const root = path.join(tmpdir, entry.name);
    const owner = readJson<HarnessOwner>(ownerFile(root));
    if (owner === undefined) {
      if (now - fs.statSync(root).mtimeMs < OWNERLESS_GRACE_MS) continue;
    } else if (isAlive(owner.ownerPid) || isAlive(owner.supervisorPid)) {
      continue;
    }
    const state = readJson<HarnessState>(stateFile(root));
    if (state?.postgres !== undefined) killIfMatches(state.postgres.pid, ['postgres', state.postgres.dataDir]);
    if (state?.moto !== undefined) killIfMatches(state.moto.pid, ['moto_server', `-p ${state.moto.port}`]);
    fs.rmSync(root, { recursive: true, force: true });
    removed.push(root);
  }
  return removed;
}

function killIfMatches(pid: number, mustContain: readonly string[]): void {
  const cmd = commandLine(pid);
  if (cmd === undefined || !mustContain.every((part) => cmd.includes(part))) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/**
 * True while the process runs. Unlike {@link isAlive} this is false for a zombie (exited, not yet reaped), which
 * matters when the parent waits synchronously and so cannot reap its child.
 */
export function isRunning(pid: number): boolean {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    return isAlive(pid);
  }
  const processState = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return processState !== 'Z' && processState !== 'X';
}

/** Blocks the thread (no event loop) for `ms`; for exit and signal handlers, which cannot await. */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
