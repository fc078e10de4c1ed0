/** Pure statistics and target verdicts for the benchmark results. */

export interface Summary {
  readonly n: number;
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) throw new Error('summarize needs at least one value');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { n: sorted.length, median, min: sorted[0], max: sorted[sorted.length - 1] };
}

/** a / b rounded to 3 decimals; undefined when b is not a positive number. */
export function ratio(a: number, b: number): number | undefined {
  if (!(b > 0) || !Number.isFinite(a)) return undefined;
  return Math.round((a / b) * 1000) / 1000;
}

export type VerdictStatus = 'pass' | 'fail' | 'not-available';

export interface Verdict {
  readonly target: string;
  readonly status: VerdictStatus;
  readonly measured: string;
}

/** `value <= limit` (or `<` when strict) as a verdict; missing inputs give 'not-available'. */
export function atMost(target: string, value: number | undefined, limit: number | undefined, measured: string,
  strict = false): Verdict {
  if (value === undefined || limit === undefined) return { target, status: 'not-available', measured };
  const ok = strict ? value < limit : value <= limit;
  return { target, status: ok ? 'pass' : 'fail', measured };
}

/** Relative change from `base` to `other` (0.05 = 5 % more). */
export function relativeChange(base: number, other: number): number | undefined {
  if (!(base > 0)) return undefined;
  return Math.round(((other - base) / base) * 1000) / 1000;
}

/** Memory is "flat" when the larger database's peak is within `tolerance` above the smaller one's. */
export function flatVerdict(target: string, smallKb: number | undefined, largeKb: number | undefined,
  tolerance: number): Verdict {
  if (smallKb === undefined || largeKb === undefined) {
    return { target, status: 'not-available', measured: 'not measured' };
  }
  const change = relativeChange(smallKb, largeKb);
  const measured = `${mib(smallKb)} MiB -> ${mib(largeKb)} MiB (${change === undefined ? '?' : pct(change)})`;
  return { target, status: change !== undefined && change <= tolerance ? 'pass' : 'fail', measured };
}

export function mib(kb: number): string {
  return (kb / 1024).toFixed(1);
}

export function pct(fraction: number): string {
  return `${fraction >= 0 ? '+' : ''}${(fraction * 100).toFixed(1)}%`;
}

/** Round-robin order of `repeats` runs of each contender, so slow drift on a shared machine hits all alike. */
export function interleave<T>(contenders: readonly T[], repeats: number): Array<{ contender: T; round: number }> {
  const order: Array<{ contender: T; round: number }> = [];
  for (let round = 1; round <= repeats; round++) {
    for (const contender of contenders) order.push({ contender, round });
  }
  return order;
}

/**
 * The tables whose row counts differ between two `{ table: rows }` records (a table missing on one side counts as
 * differing), sorted. Key order is ignored: PostgreSQL may return a UNION ALL's rows in any order.
 */
export function differingCounts(actual: Readonly<Record<string, number>>, expected: Readonly<Record<string, number>>): string[] {
  const tables = new Set([...Object.keys(actual), ...Object.keys(expected)]);
  return [...tables].filter((t) => actual[t] !== expected[t]).sort();
}
