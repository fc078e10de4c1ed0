/**
 * `--parallel [JOBS]`: the dump core single-stream (`-Fc`) against the same core with `parallelism: JOBS`
 * (`pg_dump -Fd -j JOBS`, files uploaded as pg_dump closes them), at the same compression, interleaved rounds, on a
 * database of several tables of the same size. Pure parts: the data's SQL, the contender names, the summary and the
 * Markdown table of docs/benchmarks.md#parallel-dumps.
 */
import type { Measurement } from './report';
import { atMost, ratio, summarize, type Summary, type Verdict } from './stats';

/** Tables of the parallel bench's database: more than the jobs, so each worker always has one to take. */
export const PARALLEL_TABLES = 4;

/** The issue's target: a parallel dump takes at most this share of the single-stream dump's wall time. */
export const PARALLEL_TARGET = 0.65;

/** Bytes a generated row takes in the table (payload, id and tuple overhead), for sizing. */
const ROW_BYTES = 520;

/**
 * SQL that creates `bench.part_1` … `bench.part_<tables>` of `rows` rows each: an id and 360 random bytes as base64
 * plus a few words, so each table compresses like the base bench data and all are the same size. Needs SCHEMA_SQL's
 * functions (bench.rand_b64, bench.sentence).
 */
export function similarTablesSql(tables: number, rows: number): string[] {
  if (!Number.isInteger(tables) || tables < 1) throw new Error(`tables must be a positive integer, got ${tables}`);
  if (!Number.isInteger(rows) || rows < 1) throw new Error(`rows must be a positive integer, got ${rows}`);
  return Array.from({ length: tables }, (_, i) =>
    `CREATE TABLE bench.part_${i + 1} AS SELECT g::bigint AS id, bench.rand_b64(360) || ' ' || bench.sentence(6) AS payload ` +
      `FROM generate_series(1, ${rows}) g; ALTER TABLE bench.part_${i + 1} ADD PRIMARY KEY (id);`,
  );
}

/** Rows per table so that `tables` tables make about `sizeMb` MiB. */
export function rowsPerTable(sizeMb: number, tables: number): number {
  return Math.max(1, Math.round((sizeMb * 1048576) / ROW_BYTES / tables));
}

/** Contender name of the dump core with `jobs` (1 = single stream). */
export function parallelContender(jobs: number): string {
  return jobs === 1 ? 'dump core -Fc (single stream)' : `dump core -Fd -j${jobs}`;
}

/** One contender's figures over its successful runs. */
export interface ParallelSummary {
  readonly contender: string;
  readonly jobs: number;
  readonly runs: number;
  readonly failed: number;
  readonly wallSeconds?: Summary;
  /** Bytes in S3 (all files of a directory dump). */
  readonly bytes?: number;
  /** CPU seconds of node, pg_dump and its workers (GNU time of the tree). */
  readonly clientCpuSeconds?: Summary;
  /** CPU seconds of the PostgreSQL server (its backends: one per pg_dump connection). */
  readonly serverCpuSeconds?: Summary;
  /** CPU seconds of moto. */
  readonly emulatorCpuSeconds?: Summary;
  /** The node process's own peak RSS (KiB). */
  readonly coreMaxRssKb?: Summary;
  /** 1-minute load average when each run started. */
  readonly loadavg1?: Summary;
}

export function summarizeParallel(all: readonly Measurement[], jobs: number): ParallelSummary {
  const contender = parallelContender(jobs);
  const runs = all.filter((m) => m.contender === contender);
  const ok = runs.filter((m) => m.ok);
  const of = (pick: (m: Measurement) => number | undefined): Summary | undefined => {
    const values = ok.map(pick).filter((v): v is number => v !== undefined);
    return values.length > 0 ? summarize(values) : undefined;
  };
  return {
    contender,
    jobs,
    runs: runs.length,
    failed: runs.length - ok.length,
    wallSeconds: of((m) => m.wallSeconds),
    bytes: ok.find((m) => m.bytes !== undefined)?.bytes,
    clientCpuSeconds: of((m) => m.cpuSeconds?.client),
    serverCpuSeconds: of((m) => m.cpuSeconds?.server),
    emulatorCpuSeconds: of((m) => m.cpuSeconds?.emulator),
    coreMaxRssKb: of((m) => m.coreMaxRssKb),
    loadavg1: of((m) => m.loadavg1),
  };
}

/** Median wall time of the parallel dump over the single stream's, and the verdict against {@link PARALLEL_TARGET}. */
export function parallelVerdict(single: ParallelSummary, parallel: ParallelSummary): { readonly ratio?: number; readonly verdict: Verdict } {
  const r = single.wallSeconds && parallel.wallSeconds ? ratio(parallel.wallSeconds.median, single.wallSeconds.median) : undefined;
  return {
    ratio: r,
    verdict: atMost(
      `parallel -j${parallel.jobs} <= ${PARALLEL_TARGET}x the single-stream dump (median wall time, same compression)`,
      r,
      PARALLEL_TARGET,
      r === undefined ? 'no successful runs of both' : `${r.toFixed(3)}x`,
    ),
  };
}

const MIB = 1048576;

/** The Markdown table of docs/benchmarks.md#parallel-dumps. */
export function formatParallelMarkdown(summaries: readonly ParallelSummary[]): string {
  const rows = [
    '| dump | wall median (min–max) s | MiB in S3 | client CPU s (node + pg_dump) | server CPU s | moto CPU s | node peak RSS MiB | load avg (1 min) at start |',
    '|---|---|---|---|---|---|---|---|',
  ];
  const f = (s: Summary | undefined, digits = 1): string => (s === undefined ? '-' : s.median.toFixed(digits));
  for (const s of summaries) {
    rows.push(
      `| ${s.contender} | ${s.wallSeconds ? `${s.wallSeconds.median.toFixed(1)} (${s.wallSeconds.min.toFixed(1)}–${s.wallSeconds.max.toFixed(1)})` : '-'}` +
        ` | ${s.bytes === undefined ? '-' : (s.bytes / MIB).toFixed(1)} | ${f(s.clientCpuSeconds)} | ${f(s.serverCpuSeconds)} | ${f(s.emulatorCpuSeconds)}` +
        ` | ${s.coreMaxRssKb ? (s.coreMaxRssKb.max / 1024).toFixed(0) : '-'} | ${s.loadavg1 ? `${s.loadavg1.min.toFixed(2)}–${s.loadavg1.max.toFixed(2)}` : '-'} |` +
        (s.failed > 0 ? ` ${s.failed} of ${s.runs} runs failed` : ''),
    );
  }
  return rows.join('\n');
}
