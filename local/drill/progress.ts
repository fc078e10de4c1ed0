/**
 * The drill's progress output: one line per step start and end; while a dump or restore streams, its bytes and
 * throughput — rewritten in place on a terminal, a plain line every few seconds otherwise (logs, CI, pipes).
 */

/** Where progress goes. */
export interface Progress {
  /** A line of its own. */
  line(text: string): void;
  /** A transient status (the current step's bytes): in place on a terminal, throttled plain lines otherwise. */
  status(text: string): void;
  /** Ends a transient status. */
  clearStatus(): void;
}

/** How often a non-terminal gets a status line. */
const PLAIN_STATUS_INTERVAL_MS = 5_000;

/**
 * Progress on a stream (stdout). `write` is captured when created: the drill mutes `process.stdout.write` while
 * handlers run (their JSON logs and EMF metrics are not for the user), its own lines still go through.
 */
export function streamProgress(stream: NodeJS.WriteStream = process.stdout): Progress {
  const write = stream.write.bind(stream) as (text: string) => boolean;
  const tty = stream.isTTY === true;
  let statusShown = false;
  let lastPlain = 0;
  return {
    line(text) {
      if (statusShown) write('\r\x1b[2K');
      statusShown = false;
      write(`${text}\n`);
    },
    status(text) {
      if (tty) {
        write(`\r\x1b[2K${text}`);
        statusShown = true;
      } else if (Date.now() - lastPlain >= PLAIN_STATUS_INTERVAL_MS) {
        lastPlain = Date.now();
        write(`${text}\n`);
      }
    },
    clearStatus() {
      if (statusShown) write('\r\x1b[2K');
      statusShown = false;
    },
  };
}

/** Progress that keeps every line (tests). */
export function recordingProgress(): Progress & { readonly lines: string[] } {
  const lines: string[] = [];
  return { lines, line: (text) => lines.push(text), status: (text) => lines.push(text), clearStatus: () => undefined };
}

/** `1.2 MiB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** `2.5 s`, `3 min 4 s`, `26 h`. */
export function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${seconds < 10 ? seconds.toFixed(2) : seconds.toFixed(1)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  const hours = seconds / 3600;
  return `${Number.isInteger(hours) ? hours : hours.toFixed(1)} h`;
}

/** Mutes `process.stdout.write` (handler logs and EMF metrics) while `work` runs; the drill's own output is unaffected. */
export async function muted<T>(work: () => Promise<T>): Promise<T> {
  const original = process.stdout.write;
  process.stdout.write = ((_chunk: unknown, ...rest: unknown[]) => {
    const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
    callback?.();
    return true;
  }) as typeof process.stdout.write;
  try {
    return await work();
  } finally {
    process.stdout.write = original;
  }
}
