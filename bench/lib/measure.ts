/**
 * Process measurement: wall time from the parent, per-process peak RSS from GNU time (`/usr/bin/time -f`), and
 * the peak of the summed RSS of the whole process tree sampled from /proc (what a Lambda sandbox would hold).
 */
import { spawn, StdioOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';

export const GNU_TIME = '/usr/bin/time';
const PAGE_KB = 4;

export interface ProcessRun {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly wallSeconds: number;
  /** Peak of the summed RSS of the process and all its descendants, sampled every `sampleMs`. */
  readonly treePeakRssKb: number;
  /**
   * For each program named in {@link SCHEDULED_PROGRAMS} that ran in the tree: CPU seconds it ran and seconds it was
   * ready but waited for a CPU, summed over its processes (last sample of each, so up to `sampleMs` is missed).
   */
  readonly scheduling: Readonly<Record<string, Scheduling>>;
  readonly stdout: string;
  /** Bytes written to stdout (counted in every mode but 'ignore'). */
  readonly stdoutBytes: number;
  readonly stderr: string;
}

export interface RunOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** 'ignore' sends stdout to /dev/null; 'capture' keeps it (for small outputs only); 'count' only counts bytes. */
  readonly stdout: 'ignore' | 'capture' | 'count';
  readonly sampleMs?: number;
  /** Kill the process (SIGKILL) after this long; the run then reports signal SIGKILL. @default 30 minutes */
  readonly timeoutMs?: number;
}

/** The programs whose CPU time and run-queue wait the bench records: the ones that set a run's pace. */
export const SCHEDULED_PROGRAMS: readonly string[] = ['pg_dump', 'pg_restore'];

/** From /proc/<pid>/schedstat: time on a CPU, and time runnable but waiting for one. */
export interface Scheduling {
  readonly runSeconds: number;
  readonly waitSeconds: number;
}

/** Parses /proc/<pid>/schedstat ("<run ns> <wait ns> <timeslices>"). */
export function parseSchedstat(text: string): Scheduling | undefined {
  const [run, wait] = text.trim().split(/\s+/).map(Number);
  if (!Number.isFinite(run) || !Number.isFinite(wait)) return undefined;
  return { runSeconds: run / 1e9, waitSeconds: wait / 1e9 };
}

/** The command name (in parentheses, may contain spaces) of a /proc/<pid>/stat line. */
export function parseStatComm(stat: string): string | undefined {
  const open = stat.indexOf('(');
  const close = stat.lastIndexOf(')');
  return open < 0 || close < open ? undefined : stat.slice(open + 1, close);
}

/** Sums the last sample of each process by program, rounded to 10 ms. */
export function schedulingByProgram(samples: ReadonlyMap<number, { program: string } & Scheduling>): Record<string, Scheduling> {
  const out: Record<string, { runSeconds: number; waitSeconds: number }> = {};
  for (const { program, runSeconds, waitSeconds } of samples.values()) {
    const sum = (out[program] ??= { runSeconds: 0, waitSeconds: 0 });
    sum.runSeconds += runSeconds;
    sum.waitSeconds += waitSeconds;
  }
  for (const sum of Object.values(out)) {
    sum.runSeconds = Math.round(sum.runSeconds * 100) / 100;
    sum.waitSeconds = Math.round(sum.waitSeconds * 100) / 100;
  }
  return out;
}

/** Parses `ppid` (4th field) out of a /proc/<pid>/stat line; the command name in parentheses may contain spaces. */
export function parseStatPpid(stat: string): number | undefined {
  const close = stat.lastIndexOf(')');
  if (close < 0) return undefined;
  const fields = stat.slice(close + 2).split(' ');
  const ppid = Number(fields[1]);
  return Number.isInteger(ppid) ? ppid : undefined;
}

/** Resident pages (2nd field of /proc/<pid>/statm) in KiB. */
export function parseStatmRssKb(statm: string): number | undefined {
  const pages = Number(statm.trim().split(/\s+/)[1]);
  return Number.isFinite(pages) ? pages * PAGE_KB : undefined;
}

async function readOrUndefined(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    // The process exited between listing /proc and reading it: it simply no longer counts.
    return undefined;
  }
}

/**
 * Sum of RSS over `root` and its descendants, from one scan of /proc; the scheduling figures of the tree's
 * {@link SCHEDULED_PROGRAMS} processes are recorded into `scheduling` by pid.
 */
export async function treeRssKb(root: number,
  scheduling?: Map<number, { program: string } & Scheduling>): Promise<number> {
  const parents = new Map<number, number>();
  const programs = new Map<number, string>();
  const entries = await readdir('/proc');
  await Promise.all(entries.filter((e) => /^\d+$/.test(e)).map(async (e) => {
    const stat = await readOrUndefined(`/proc/${e}/stat`);
    const ppid = stat === undefined ? undefined : parseStatPpid(stat);
    if (ppid !== undefined) parents.set(Number(e), ppid);
    const comm = stat === undefined ? undefined : parseStatComm(stat);
    if (comm !== undefined && SCHEDULED_PROGRAMS.includes(comm)) programs.set(Number(e), comm);
  }));
  const inTree = (pid: number): boolean => {
    for (let p: number | undefined = pid, hops = 0; p !== undefined && p > 1 && hops < 64; p = parents.get(p), hops++) {
      if (p === root) return true;
    }
    return false;
  };
  let total = 0;
  for (const pid of parents.keys()) {
    if (!inTree(pid)) continue;
    const statm = await readOrUndefined(`/proc/${pid}/statm`);
    total += (statm === undefined ? undefined : parseStatmRssKb(statm)) ?? 0;
    const program = programs.get(pid);
    if (scheduling && program !== undefined) {
      const text = await readOrUndefined(`/proc/${pid}/schedstat`);
      const figures = text === undefined ? undefined : parseSchedstat(text);
      if (figures) scheduling.set(pid, { program, ...figures });
    }
  }
  return total;
}

/** Spawns a command, measures its wall time and sampled tree RSS, and collects stderr (and stdout if asked). */
export async function runProcess(command: string, args: readonly string[], options: RunOptions): Promise<ProcessRun> {
  const stdio: StdioOptions = ['ignore', options.stdout === 'ignore' ? 'ignore' : 'pipe', 'pipe'];
  const started = process.hrtime.bigint();
  const child = spawn(command, args, { env: options.env ?? process.env, stdio });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let stdoutBytes = 0;
  child.stdout?.on('data', (c: Buffer) => {
    stdoutBytes += c.length;
    if (options.stdout === 'capture') out.push(c);
  });
  child.stderr?.on('data', (c: Buffer) => {
    err.push(c);
  });
  let peak = 0;
  let sampling = true;
  const scheduling = new Map<number, { program: string } & Scheduling>();
  const sampler = (async () => {
    while (sampling) {
      if (child.pid !== undefined) {
        try {
          peak = Math.max(peak, await treeRssKb(child.pid, scheduling));
        } catch (error) {
          // /proc unreadable (not Linux): leave the tree figure at 0 and say so once.
          console.error(`RSS sampling unavailable: ${String(error)}`);
          return;
        }
      }
      await new Promise((resolve) => setTimeout(resolve, options.sampleMs ?? 200));
    }
  })();
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30 * 60 * 1000);
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c, s) => resolve({ code: c, signal: s }));
  });
  const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  clearTimeout(timer);
  sampling = false;
  await sampler;
  return {
    exitCode: code,
    signal,
    wallSeconds,
    treePeakRssKb: peak,
    scheduling: schedulingByProgram(scheduling),
    stdout: Buffer.concat(out).toString('utf8'),
    stdoutBytes,
    stderr: Buffer.concat(err).toString('utf8'),
  };
}

export function gnuTimeAvailable(): boolean {
  return existsSync(GNU_TIME);
}

/** Arguments that run `command` under GNU time writing "<elapsed seconds> <max RSS KiB>" to `outFile`. */
export function timed(outFile: string, command: string, args: readonly string[]): [string, string[]] {
  return [GNU_TIME, ['-f', GNU_TIME_FORMAT, '-o', outFile, command, ...args]];
}

/** Elapsed s, max RSS KiB, user s, system s (user/system include the children the process waited for). */
export const GNU_TIME_FORMAT = '%e %M %U %S';

export interface GnuTimeFigures {
  readonly elapsedSeconds: number;
  readonly maxRssKb: number;
  /** User + system CPU seconds of the process and its waited-for children. */
  readonly cpuSeconds: number;
}

/** Parses GNU time's {@link GNU_TIME_FORMAT} line (the last non-empty one; earlier lines may be "Command exited..."). */
export function parseGnuTime(text: string): GnuTimeFigures {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
  const last = lines[lines.length - 1] ?? '';
  const match = /^(\d+(?:\.\d+)?) (\d+) (\d+(?:\.\d+)?) (\d+(?:\.\d+)?)$/.exec(last);
  if (!match) throw new Error(`unexpected GNU time output: ${JSON.stringify(text)}`);
  return {
    elapsedSeconds: Number(match[1]),
    maxRssKb: Number(match[2]),
    cpuSeconds: Math.round((Number(match[3]) + Number(match[4])) * 100) / 100,
  };
}

/** CLK_TCK on Linux (USER_HZ), the unit of the CPU times in /proc/<pid>/stat. */
const CLOCK_TICKS_PER_SECOND = 100;

/**
 * utime + stime + cutime + cstime (fields 14-17) of a /proc/<pid>/stat line in seconds: the process's CPU plus that
 * of the children it has reaped (for the postmaster: every backend that has exited).
 */
export function parseStatCpuSeconds(stat: string): number | undefined {
  const close = stat.lastIndexOf(')');
  if (close < 0) return undefined;
  // Fields after the command: state is field 3, so field n is at index n - 3.
  const fields = stat.slice(close + 2).split(' ');
  const ticks = [11, 12, 13, 14].map((i) => Number(fields[i]));
  if (ticks.some((t) => !Number.isFinite(t))) return undefined;
  return ticks.reduce((a, b) => a + b, 0) / CLOCK_TICKS_PER_SECOND;
}

/** CPU seconds (self + reaped children) of a process so far, or undefined when it cannot be read. */
export async function processCpuSeconds(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  const stat = await readOrUndefined(`/proc/${pid}/stat`);
  return stat === undefined ? undefined : parseStatCpuSeconds(stat);
}

/**
 * Seconds of CPU the hypervisor gave to other guests (the `steal` column, 8th value, of /proc/stat's aggregate `cpu`
 * line), summed over all CPUs. Its growth during a run says how much of the machine was taken away meanwhile: on a
 * shared virtual machine the main source of noise in wall times.
 */
export function parseStealSeconds(procStat: string): number | undefined {
  const line = procStat.split('\n').find((l) => l.startsWith('cpu '));
  const steal = Number(line?.trim().split(/\s+/)[8]);
  return Number.isFinite(steal) ? steal / CLOCK_TICKS_PER_SECOND : undefined;
}

/** Machine-wide stolen CPU seconds since boot, or undefined when /proc/stat cannot be read. */
export async function machineStealSeconds(): Promise<number | undefined> {
  const stat = await readOrUndefined('/proc/stat');
  return stat === undefined ? undefined : parseStealSeconds(stat);
}

/** Shell-quotes one argument for `bash -c`. */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
