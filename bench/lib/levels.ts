/**
 * `--levels`: the dump core at several compressions on one database — wall time, object size, peak RSS and CPU per
 * level. Pure parts: parsing the list, summarizing runs, the Markdown table for docs/benchmarks.md.
 */
import { formatCompression, parseCompression, type Compression } from '../../lambda/postgres/compression';
import type { Measurement } from './report';
import { summarize, type Summary } from './stats';

/** The levels compared when `--levels` is given without a list: none, and gzip's fastest, default, pg_dump's default, best. */
export const DEFAULT_LEVELS = 'none,gzip:1,gzip:3,gzip:6,gzip:9';

/** Parses `none,1,gzip:3,zstd:5` (a bare number is a gzip level). @throws Error saying what to write */
export function parseLevels(text: string): Compression[] {
  const items = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 0) throw new Error(`--levels needs a comma-separated list such as ${DEFAULT_LEVELS}`);
  const out: Compression[] = [];
  for (const item of items) {
    const parsed = parseCompression(/^\d+$/.test(item) ? `gzip:${item}` : item);
    if ('problem' in parsed) throw new Error(`--levels: ${JSON.stringify(item)} ${parsed.problem.replace(/^compression\.?/, '')}`);
    if (out.some((c) => formatCompression(c) === formatCompression(parsed.compression))) {
      throw new Error(`--levels lists ${formatCompression(parsed.compression)} twice`);
    }
    out.push(parsed.compression);
  }
  return out;
}

/** Contender name of the dump core at one compression. */
export function levelContender(compression: Compression): string {
  return `dump core ${formatCompression(compression)}`;
}

/** One level's figures over its successful runs. */
export interface LevelSummary {
  readonly compression: string;
  readonly runs: number;
  readonly failed: number;
  readonly wallSeconds?: Summary;
  /** Object size (identical in every run of a level: the data does not change). */
  readonly bytes?: number;
  /** bytes / the uncompressed dump's bytes. */
  readonly ofUncompressed?: number;
  /** Peak RSS of the core's node process (KiB). */
  readonly coreMaxRssKb?: Summary;
  /** Peak RSS of node and its pg_dump, the larger of the two, from GNU time (KiB). */
  readonly processMaxRssKb?: Summary;
  /** CPU seconds of the client (node + pg_dump). */
  readonly clientCpuSeconds?: Summary;
  /** CPU seconds of the PostgreSQL server. */
  readonly serverCpuSeconds?: Summary;
}

export function summarizeLevel(all: readonly Measurement[], compression: Compression, uncompressedBytes: number | undefined): LevelSummary {
  const runs = all.filter((m) => m.contender === levelContender(compression));
  const ok = runs.filter((m) => m.ok);
  const of = (pick: (m: Measurement) => number | undefined): Summary | undefined => {
    const values = ok.map(pick).filter((v): v is number => v !== undefined);
    return values.length > 0 ? summarize(values) : undefined;
  };
  const bytes = ok.find((m) => m.bytes !== undefined)?.bytes;
  return {
    compression: formatCompression(compression),
    runs: runs.length,
    failed: runs.length - ok.length,
    wallSeconds: of((m) => m.wallSeconds),
    bytes,
    ofUncompressed: bytes !== undefined && uncompressedBytes ? Math.round((bytes / uncompressedBytes) * 1000) / 1000 : undefined,
    coreMaxRssKb: of((m) => m.coreMaxRssKb),
    processMaxRssKb: of((m) => m.processMaxRssKb?.node),
    clientCpuSeconds: of((m) => m.cpuSeconds?.client),
    serverCpuSeconds: of((m) => m.cpuSeconds?.server),
  };
}

const MIB = 1048576;

/** The Markdown table of docs/benchmarks.md#compression-level. */
export function formatLevelsMarkdown(levels: readonly LevelSummary[]): string {
  const rows = [
    '| compression | wall median (min) s | dump MiB | of uncompressed | client CPU s | peak RSS MiB (node; node or pg_dump) |',
    '|---|---|---|---|---|---|',
  ];
  const f1 = (v: number | undefined) => (v === undefined ? '-' : v.toFixed(1));
  for (const l of levels) {
    rows.push(`| ${l.compression} | ${l.wallSeconds ? `${l.wallSeconds.median.toFixed(1)} (${l.wallSeconds.min.toFixed(1)})` : '-'}` +
      ` | ${l.bytes === undefined ? '-' : (l.bytes / MIB).toFixed(1)}` +
      ` | ${l.ofUncompressed === undefined ? '-' : `${(l.ofUncompressed * 100).toFixed(1)} %`}` +
      ` | ${f1(l.clientCpuSeconds?.median)}` +
      ` | ${f1(l.coreMaxRssKb ? l.coreMaxRssKb.max / 1024 : undefined)}; ${f1(l.processMaxRssKb ? l.processMaxRssKb.max / 1024 : undefined)} |` +
      (l.failed > 0 ? ` ${l.failed} of ${l.runs} runs failed` : ''));
  }
  return rows.join('\n');
}
