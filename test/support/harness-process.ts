/**
 * Starts and stops the harness supervisor (see harness-supervisor.ts) from the jest process.
 *
 * Guarantees, in order of how often they matter:
 * - global teardown stops it: PostgreSQL and moto stopped, temp dir removed, problems reported as an error;
 * - SIGINT/SIGTERM/SIGHUP to jest, or jest exiting without teardown: a handler tells the supervisor to stop and
 *   waits for it (bounded) before jest dies;
 * - jest killed outright (SIGKILL, OOM): the supervisor sees its stdin pipe close and cleans up on its own;
 * - both killed outright: the next run's global setup removes the leftovers ({@link cleanAbandonedRuns}).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import type * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import {
  HARNESS_DIR_PREFIX,
  commandLine,
  isRunning,
  ownerFile,
  readJson,
  sleepSync,
  stateFile,
  writeJsonAtomic,
  type HarnessState,
} from './harness-state';

const START_TIMEOUT_MS = 180_000;
const STOP_TIMEOUT_MS = 40_000;
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** A running harness, as seen from the jest process. */
export interface HarnessHandle {
  readonly state: HarnessState;
  /** Stops PostgreSQL and moto and removes the temp dir; rejects when anything could not be cleaned up. */
  stop(): Promise<void>;
}

interface SupervisorMessage {
  readonly ready?: HarnessState;
  readonly error?: string;
  readonly stopped?: { readonly reason: string; readonly problems: readonly string[] };
}

const HANDLE_KEY = Symbol.for('cdk-backup-dr.test-harness');

/** The handle global setup left for global teardown (both run in the jest main process). */
export function currentHandle(): HarnessHandle | undefined {
  return (globalThis as Record<symbol, HarnessHandle | undefined>)[HANDLE_KEY];
}

function setCurrentHandle(handle: HarnessHandle | undefined): void {
  (globalThis as Record<symbol, HarnessHandle | undefined>)[HANDLE_KEY] = handle;
}

/** Directory on PATH that holds an executable `name`, or undefined. */
export function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not in this directory: keep looking
    }
  }
  return undefined;
}

/** Starts the supervisor and waits until PostgreSQL and moto answer. */
export async function startHarness(): Promise<HarnessHandle> {
  if (findOnPath('moto_server') === undefined) {
    throw new Error(
      "moto_server is not on PATH. The integration tests need the moto AWS emulator 5.2.1 installed in this machine's " +
        "Python: pip install 'moto[server]==5.2.1'",
    );
  }
  const root = fs.mkdtempSync(path.join(os.tmpdir(), HARNESS_DIR_PREFIX));
  let child: ChildProcess;
  try {
    const log = fs.openSync(path.join(root, 'supervisor.log'), 'a');
    child = spawn(
      process.execPath,
      ['--import', pathToFileURL(require.resolve('tsx')).href, path.join(__dirname, 'harness-supervisor.ts'), root, String(process.pid)],
      // Own session: a Ctrl-C in the terminal reaches jest, and the supervisor then stops the servers in order.
      { detached: true, stdio: ['pipe', 'pipe', log], cwd: path.resolve(__dirname, '..', '..') },
    );
    fs.closeSync(log);
    if (child.pid === undefined) throw new Error(`could not start ${process.execPath} for the harness supervisor`);
    writeJsonAtomic(ownerFile(root), { ownerPid: process.pid, supervisorPid: child.pid });
  } catch (error) {
    fs.rmSync(root, { recursive: true, force: true });
    throw error;
  }
  const supervisor = child;
  const supervisorPid = child.pid;
  const messages = createInterface({ input: supervisor.stdout as NodeJS.ReadableStream });
  const exited = new Promise<number | null>((resolve) => supervisor.once('exit', (code) => resolve(code)));
  let stopped: SupervisorMessage['stopped'];

  const unexpectedOutput: string[] = [];
  const ready = await new Promise<HarnessState>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`the test harness did not start within ${START_TIMEOUT_MS / 1000}s`)), START_TIMEOUT_MS);
    const fail = (error: Error): void => {
      clearTimeout(timer);
      reject(error);
    };
    messages.on('line', (line) => {
      if (!line.startsWith('{')) {
        unexpectedOutput.push(line);
        return;
      }
      const message = JSON.parse(line) as SupervisorMessage;
      if (message.ready !== undefined) {
        clearTimeout(timer);
        resolve(message.ready);
      }
      if (message.error !== undefined) fail(new Error(`the test harness could not start: ${message.error}`));
      if (message.stopped !== undefined) stopped = message.stopped;
    });
    supervisor.once('exit', (code, signal) => {
      const output = unexpectedOutput.length > 0 ? `; it printed:\n${unexpectedOutput.join('\n')}` : '';
      fail(new Error(`the harness supervisor exited during start-up (code ${code}, signal ${signal})${output}`));
    });
  }).catch((error: unknown) => {
    stopSupervisorSync(supervisorPid, root);
    throw error;
  });

  const onSignal = (signal: NodeJS.Signals): void => {
    removeGuards();
    stopSupervisorSync(supervisorPid, root);
    // Die of the signal as jest would have without this handler, unless someone else took it over.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
  const onExit = (): void => stopSupervisorSync(supervisorPid, root);
  const removeGuards = (): void => {
    for (const signal of SIGNALS) process.removeListener(signal, onSignal);
    process.removeListener('exit', onExit);
  };
  for (const signal of SIGNALS) process.on(signal, onSignal);
  process.on('exit', onExit);

  // Nothing here may keep jest alive: the pipes and the child are unreferenced until teardown.
  supervisor.unref();
  (supervisor.stdin as net.Socket).unref();
  (supervisor.stdout as net.Socket).unref();

  const handle: HarnessHandle = {
    state: ready,
    async stop() {
      removeGuards();
      setCurrentHandle(undefined);
      supervisor.ref();
      (supervisor.stdout as net.Socket).ref();
      supervisor.stdin?.end();
      let timer: NodeJS.Timeout | undefined;
      const code = await Promise.race([
        exited,
        new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), STOP_TIMEOUT_MS))),
      ]);
      clearTimeout(timer);
      messages.close();
      if (code === 'timeout') {
        stopSupervisorSync(supervisorPid, root);
        throw new Error(`the harness supervisor did not stop within ${STOP_TIMEOUT_MS / 1000}s; it was killed`);
      }
      const leftovers = killLeftoversSync(ready);
      const problems = [...(stopped?.problems ?? []), ...leftovers];
      if (code !== 0) problems.push(`the harness supervisor exited with code ${code}`);
      if (problems.length > 0) throw new Error(`test harness teardown: ${problems.join('; ')}`);
    },
  };
  setCurrentHandle(handle);
  return handle;
}

/**
 * Stops a supervisor without the event loop (for signal and exit handlers): SIGTERM, wait up to the stop timeout,
 * then SIGKILL it and whatever it started, and remove the temp dir.
 */
export function stopSupervisorSync(supervisorPid: number, root: string): void {
  if (isRunning(supervisorPid)) {
    process.kill(supervisorPid, 'SIGTERM');
    const deadline = Date.now() + STOP_TIMEOUT_MS;
    while (isRunning(supervisorPid) && Date.now() < deadline) sleepSync(50);
    if (isRunning(supervisorPid)) process.kill(supervisorPid, 'SIGKILL');
  }
  const state = readJson<HarnessState>(stateFile(root));
  if (state !== undefined) killLeftoversSync(state);
  fs.rmSync(root, { recursive: true, force: true });
}

/** Kills PostgreSQL or moto if they survived their supervisor; returns what had to be killed or removed. */
function killLeftoversSync(state: HarnessState): string[] {
  const found: string[] = [];
  const targets = [
    { what: 'PostgreSQL', pid: state.postgres?.pid, marker: state.postgres?.dataDir },
    { what: 'moto_server', pid: state.moto?.pid, marker: state.moto === undefined ? undefined : `-p ${state.moto.port}` },
  ];
  for (const { what, pid, marker } of targets) {
    if (pid === undefined || marker === undefined || !isRunning(pid) || !commandLine(pid)?.includes(marker)) continue;
    process.kill(pid, 'SIGKILL');
    found.push(`${what} (pid ${pid}) was still running and was killed`);
  }
  if (fs.existsSync(state.root)) {
    fs.rmSync(state.root, { recursive: true, force: true });
    found.push(`${state.root} was left behind and was removed`);
  }
  return found;
}
