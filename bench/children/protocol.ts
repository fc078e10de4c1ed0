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

/** Runs `work`, then reports its duration and this process's peak RSS; exits non-zero on failure. */
export async function runChild<T>(work: () => Promise<T>): Promise<void> {
  const started = process.hrtime.bigint();
  try {
    const result = await work();
    const innerSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    writeResult({ ok: true, innerSeconds, maxRssKb: process.resourceUsage().maxRSS, result });
  } catch (error) {
    const innerSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    writeResult({ ok: false, innerSeconds, maxRssKb: process.resourceUsage().maxRSS, error: message });
    process.exitCode = 1;
  }
}
