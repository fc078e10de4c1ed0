/**
 * How the bench talks to its measured child processes: input as JSON in BENCH_CHILD_INPUT, output as one line
 * `BENCH_RESULT <json>` on stdout (other stdout lines, e.g. logs, are ignored).
 */
export const INPUT_ENV = 'BENCH_CHILD_INPUT';
export const RESULT_PREFIX = 'BENCH_RESULT ';

export interface ChildResult<T> {
  readonly ok: boolean;
  /** Seconds spent inside the core call (excludes node start-up and module loading). */
  readonly innerSeconds: number;
  /** process.resourceUsage().maxRSS of the child itself (KiB): the core's own peak memory. */
  readonly maxRssKb: number;
  /** Peaks of process.memoryUsage() fields (KiB), sampled every 100 ms: where the memory went. */
  readonly memoryPeaksKb?: MemoryPeaks;
  /** process.memoryUsage().rss (KiB) just before the core call: node + bundle baseline. */
  readonly baselineRssKb?: number;
  /** CPU seconds (user + system) of this node process alone during the core call (not its pg_dump/pg_restore). */
  readonly nodeCpuSeconds?: number;
  /** CPU seconds of this node process before the core call (start-up and module loading). */
  readonly startupCpuSeconds?: number;
  readonly result?: T;
  readonly error?: string;
}

export function readInput<T>(): T {
  const text = process.env[INPUT_ENV];
  if (text === undefined) throw new Error(`${INPUT_ENV} is not set: this script is started by bench/run.ts`);
  return JSON.parse(text) as T;
}

export function writeResult<T>(result: ChildResult<T>): void {
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
}

/** The child's result line out of its stdout, or an error naming what was printed instead. */
export function parseChildOutput<T>(stdout: string): ChildResult<T> {
  const line = stdout.split('\n').reverse().find((l) => l.startsWith(RESULT_PREFIX));
  if (line === undefined) {
    throw new Error(`child printed no ${RESULT_PREFIX.trim()} line; stdout tail: ${stdout.slice(-2000)}`);
  }
  return JSON.parse(line.slice(RESULT_PREFIX.length)) as ChildResult<T>;
}

export interface MemoryPeaks {
  readonly rss: number;
  readonly heapTotal: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly arrayBuffers: number;
}

/** Tracks the peak of each process.memoryUsage() field. */
class MemorySampler {
  private peaks: MemoryPeaks = { rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
  private readonly timer: NodeJS.Timeout;

  constructor(intervalMs: number) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  private sample(): void {
    const u = process.memoryUsage();
    const kb = (n: number) => Math.round(n / 1024);
    this.peaks = {
      rss: Math.max(this.peaks.rss, kb(u.rss)),
      heapTotal: Math.max(this.peaks.heapTotal, kb(u.heapTotal)),
      heapUsed: Math.max(this.peaks.heapUsed, kb(u.heapUsed)),
      external: Math.max(this.peaks.external, kb(u.external)),
      arrayBuffers: Math.max(this.peaks.arrayBuffers, kb(u.arrayBuffers)),
    };
  }

  stop(): MemoryPeaks {
    clearInterval(this.timer);
    this.sample();
    return this.peaks;
  }
}

/** Runs `work`, then reports its duration and this process's peak RSS; exits non-zero on failure. */
export async function runChild<T>(work: () => Promise<T>): Promise<void> {
  const baselineRssKb = Math.round(process.memoryUsage().rss / 1024);
  const sampler = new MemorySampler(100);
  const cpuBefore = process.cpuUsage();
  const seconds = (u: NodeJS.CpuUsage) => Math.round(((u.user + u.system) / 1e6) * 100) / 100;
  const started = process.hrtime.bigint();
  type Figures = 'innerSeconds' | 'maxRssKb' | 'memoryPeaksKb' | 'baselineRssKb' | 'nodeCpuSeconds' | 'startupCpuSeconds';
  const finish = (): Pick<ChildResult<T>, Figures> => ({
    innerSeconds: Number(process.hrtime.bigint() - started) / 1e9,
    maxRssKb: process.resourceUsage().maxRSS,
    memoryPeaksKb: sampler.stop(),
    baselineRssKb,
    nodeCpuSeconds: seconds(process.cpuUsage(cpuBefore)),
    startupCpuSeconds: seconds(cpuBefore),
  });
  try {
    const result = await work();
    writeResult({ ok: true, ...finish(), result });
  } catch (error) {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    writeResult({ ok: false, ...finish(), error: message });
    process.exitCode = 1;
  }
}
