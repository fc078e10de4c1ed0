/** The results document: measurement records, per-contender summaries, ratios, verdicts, the printed table. */
import { atMost, flatVerdict, mib, ratio, summarize, type Summary, type Verdict } from './stats';

/** One run of one contender. */
export interface Measurement {
  readonly contender: string;
  readonly database: string;
  readonly round: number;
  readonly ok: boolean;
  readonly error?: string;
  /** Wall time seen by the bench, process start to exit (includes start-up). */
  readonly wallSeconds: number;
  /** Wall time inside the core call (dump/restore core children only). */
  readonly innerSeconds?: number;
  /** Peak RSS of the core's own node process, from process.resourceUsage() in that process. */
  readonly coreMaxRssKb?: number;
  /** Core children only: peaks of process.memoryUsage() fields (KiB), sampled every 100 ms. */
  readonly coreMemoryPeaksKb?: Readonly<Record<string, number>>;
  /** Core children only: RSS (KiB) of the loaded child before the core call starts. */
  readonly coreBaselineRssKb?: number;
  /** Peak RSS per process from GNU time; for a node child this is max(node, its pg_dump/pg_restore). */
  readonly processMaxRssKb?: Readonly<Record<string, number>>;
  /** Peak of the summed RSS of the process tree, sampled every 200 ms (approximate: short peaks can be missed). */
  readonly treePeakRssKb: number;
  /**
   * pg_dump / pg_restore of the run: CPU seconds they ran and seconds they were ready but waited for a CPU (from
   * /proc/<pid>/schedstat, sampled every 200 ms). The wait is what the rest of the machine cost them.
   */
  readonly scheduling?: Readonly<Record<string, { readonly runSeconds: number; readonly waitSeconds: number }>>;
  readonly bytes?: number;
  /** 1-minute load average when the run started: a noise indicator on a shared machine. */
  readonly loadavg1: number;
  /**
   * CPU seconds the run cost: far less sensitive to a busy machine than wall time. `client` is the measured
   * process tree (for a core child: node + its pg_dump/pg_restore), `server` PostgreSQL, `emulator` moto.
   */
  readonly cpuSeconds?: {
    readonly client?: number;
    readonly server?: number;
    readonly emulator?: number;
    /** Core children only: the node process alone during the core call (client minus this = pg_dump/pg_restore). */
    readonly node?: number;
    /** Core children only: node start-up and module loading before the core call. */
    readonly nodeStartup?: number;
    /** CPU the hypervisor took from the machine (all CPUs) during the run: not the run's own, a noise indicator. */
    readonly steal?: number;
  };
}

export interface ContenderSummary {
  readonly contender: string;
  readonly database: string;
  readonly runs: number;
  readonly failed: number;
  readonly wallSeconds?: Summary;
  /** (max - min) / median of the wall times: how noisy this contender's runs were. */
  readonly wallSpread?: number;
  /** Range of the 1-minute load average over this contender's runs. */
  readonly loadavg1?: { readonly min: number; readonly max: number };
  readonly innerSeconds?: Summary;
  /** CPU seconds of the measured process tree (client side). */
  readonly clientCpuSeconds?: Summary;
  /** CPU seconds of client + PostgreSQL server + emulator. */
  readonly totalCpuSeconds?: Summary;
  /** CPU seconds stolen from the machine by the hypervisor during the runs (noise). */
  readonly stealSeconds?: Summary;
  /** Seconds pg_dump / pg_restore waited for a CPU while ready to run (summed over their processes). */
  readonly toolWaitSeconds?: Summary;
  readonly coreMaxRssKb?: Summary;
  readonly treePeakRssKb?: Summary;
}

export function summarizeContender(all: readonly Measurement[], contender: string, database: string): ContenderSummary {
  const runs = all.filter((m) => m.contender === contender && m.database === database);
  const ok = runs.filter((m) => m.ok);
  const of = (pick: (m: Measurement) => number | undefined): Summary | undefined => {
    const values = ok.map(pick).filter((v): v is number => v !== undefined);
    return values.length > 0 ? summarize(values) : undefined;
  };
  const wall = of((m) => m.wallSeconds);
  const loads = runs.map((m) => m.loadavg1);
  return {
    contender,
    database,
    runs: runs.length,
    failed: runs.length - ok.length,
    wallSeconds: wall,
    wallSpread: wall && wall.median > 0 ? Math.round(((wall.max - wall.min) / wall.median) * 1000) / 1000 : undefined,
    loadavg1: loads.length > 0 ? { min: Math.min(...loads), max: Math.max(...loads) } : undefined,
    innerSeconds: of((m) => m.innerSeconds),
    clientCpuSeconds: of((m) => m.cpuSeconds?.client),
    totalCpuSeconds: of((m) => {
      const c = m.cpuSeconds;
      return c?.client === undefined || c.server === undefined ? undefined
        : Math.round((c.client + c.server + (c.emulator ?? 0)) * 100) / 100;
    }),
    stealSeconds: of((m) => m.cpuSeconds?.steal),
    toolWaitSeconds: of((m) => {
      const programs = Object.values(m.scheduling ?? {});
      return programs.length === 0 ? undefined : Math.round(programs.reduce((sum, p) => sum + p.waitSeconds, 0) * 100) / 100;
    }),
    coreMaxRssKb: of((m) => m.coreMaxRssKb),
    treePeakRssKb: of((m) => m.treePeakRssKb),
  };
}

export interface Ratio {
  readonly name: string;
  /** Ratio of the median process wall times. */
  readonly median?: number;
  /** Ratio of the minimum process wall times. */
  readonly min?: number;
  /** Ratio with the numerator's time inside the core call (no node start-up) where it has one. */
  readonly innerMedian?: number;
}

export function wallRatio(name: string, a: ContenderSummary | undefined, b: ContenderSummary | undefined): Ratio {
  const bMedian = b?.wallSeconds?.median;
  return {
    name,
    median: a?.wallSeconds && bMedian !== undefined ? ratio(a.wallSeconds.median, bMedian) : undefined,
    min: a?.wallSeconds && b?.wallSeconds ? ratio(a.wallSeconds.min, b.wallSeconds.min) : undefined,
    innerMedian: a?.innerSeconds && bMedian !== undefined ? ratio(a.innerSeconds.median, bMedian) : undefined,
  };
}

/** Ratio of median total CPU (client + server + emulator): a load-independent view of the extra work. */
export function cpuRatio(name: string, a: ContenderSummary | undefined, b: ContenderSummary | undefined): Ratio {
  return {
    name,
    median: a?.totalCpuSeconds && b?.totalCpuSeconds ? ratio(a.totalCpuSeconds.median, b.totalCpuSeconds.median) : undefined,
    min: a?.totalCpuSeconds && b?.totalCpuSeconds ? ratio(a.totalCpuSeconds.min, b.totalCpuSeconds.min) : undefined,
  };
}

export function formatRatio(r: Ratio): string {
  const x = (v: number | undefined) => (v === undefined ? '-' : `${v.toFixed(3)}x`);
  const inner = r.innerMedian === undefined ? '' : `, inner median ${x(r.innerMedian)}`;
  return `${r.name}: median ${x(r.median)}, min ${x(r.min)}${inner}`;
}

/**
 * Target limits of the scale issue (16): the dump core at pg_dump's own compression against `pg_dump -Fc | cat`, the
 * core with its defaults against what a user writes instead (`pg_dump -Fc | aws s3 cp -`), the restore core against
 * `pg_restore` from a local file, and memory in every mode.
 */
export const TARGETS = {
  /** Dump core at gzip:6 (pg_dump's default) / `pg_dump -Fc | cat > /dev/null`. */
  dumpWallVsCat: 1.05,
  /** Dump core with its defaults (gzip:3) / `pg_dump -Fc | aws s3 cp -`. */
  dumpWallVsAwsCli: 0.60,
  /** The default dump's object / the awscli pipeline's object. */
  dumpSizeVsAwsCli: 1.25,
  /** Every core run, dump or restore: the node process's peak RSS. */
  peakRssMb: 150,
  dumpRssFlatTolerance: 0.10,
  /** Restore core jobs=1 (streamed) / `pg_restore -j1` from a local file. */
  restoreJ1VsPgRestore: 1.0,
  /** Restore core jobs=2 (download included) / `pg_restore -j2` from a local file. */
  restoreJ2VsPgRestore: 1.15,
} as const;

export interface DumpVerdictInputs {
  /** The dump core with its defaults. */
  readonly core?: ContenderSummary;
  /** The dump core at pg_dump's default compression (gzip:6). */
  readonly coreAtPgDumpDefault?: ContenderSummary;
  readonly cat?: ContenderSummary;
  readonly awscli?: ContenderSummary;
  readonly coreDouble?: ContenderSummary;
  /** Object sizes in bytes: the core's default dump and the awscli pipeline's. */
  readonly coreBytes?: number;
  readonly awscliBytes?: number;
}

function ratioText(value: number | undefined): string {
  return value === undefined ? 'not measured' : `${value.toFixed(3)}x`;
}

export function dumpVerdicts(x: DumpVerdictInputs): Verdict[] {
  const vsCat = wallRatio('core gzip:6/pg_dump | cat', x.coreAtPgDumpDefault, x.cat).median;
  const vsAws = wallRatio('core/awscli', x.core, x.awscli).median;
  const size = x.coreBytes !== undefined && x.awscliBytes ? ratio(x.coreBytes, x.awscliBytes) : undefined;
  return [
    atMost(`dump core at gzip:6 <= ${TARGETS.dumpWallVsCat}x pg_dump -Fc | cat > /dev/null (medians)`, vsCat,
      TARGETS.dumpWallVsCat, ratioText(vsCat)),
    atMost(`dump core (defaults) <= ${TARGETS.dumpWallVsAwsCli}x pg_dump -Fc | aws s3 cp - (medians)`, vsAws,
      TARGETS.dumpWallVsAwsCli, ratioText(vsAws)),
    atMost(`dump core (defaults) object <= ${TARGETS.dumpSizeVsAwsCli}x the awscli pipeline's`, size,
      TARGETS.dumpSizeVsAwsCli, size === undefined ? 'not measured'
        : `${ratioText(size)} (${mib(x.coreBytes! / 1024)} MiB vs ${mib(x.awscliBytes! / 1024)} MiB)`),
    flatVerdict(`dump core peak RSS flat when the database doubles (<= +${TARGETS.dumpRssFlatTolerance * 100}%, medians)`,
      x.core?.coreMaxRssKb?.median, x.coreDouble?.coreMaxRssKb?.median, TARGETS.dumpRssFlatTolerance),
  ];
}

/** Peak RSS of every core run (dump in each mode, restore), against the one limit. */
export function memoryVerdict(cores: readonly (ContenderSummary | undefined)[]): Verdict {
  const measured = cores.filter((c): c is ContenderSummary => c?.coreMaxRssKb !== undefined);
  if (measured.length === 0) return { target: `core peak RSS <= ${TARGETS.peakRssMb} MiB in every mode`, status: 'not-available', measured: 'not measured' };
  const worst = measured.reduce((a, b) => (b.coreMaxRssKb!.max > a.coreMaxRssKb!.max ? b : a));
  const peakMb = worst.coreMaxRssKb!.max / 1024;
  return atMost(`core peak RSS <= ${TARGETS.peakRssMb} MiB in every mode (worst run)`, peakMb, TARGETS.peakRssMb,
    `${peakMb.toFixed(1)} MiB (${worst.contender} on ${worst.database}; ${measured.length} modes)`);
}

export function restoreVerdicts(x: {
  coreJ1?: ContenderSummary; pgRestoreJ1?: ContenderSummary; coreJ2?: ContenderSummary; pgRestoreJ2?: ContenderSummary;
}): Verdict[] {
  const j1 = wallRatio('restore core jobs=1/pg_restore -j1', x.coreJ1, x.pgRestoreJ1).median;
  const j2 = wallRatio('restore core jobs=2/pg_restore -j2', x.coreJ2, x.pgRestoreJ2).median;
  return [
    atMost(`restore core jobs=1 (streamed) <= ${TARGETS.restoreJ1VsPgRestore}x pg_restore -j1 from a local file (medians)`, j1,
      TARGETS.restoreJ1VsPgRestore, ratioText(j1)),
    atMost(`restore core jobs=2 (download included) <= ${TARGETS.restoreJ2VsPgRestore}x pg_restore -j2 from a local file (medians)`, j2,
      TARGETS.restoreJ2VsPgRestore, ratioText(j2)),
  ];
}

function cell(value: string, width: number): string {
  return value.length >= width ? value : value + ' '.repeat(width - value.length);
}

/** A compact fixed-width table of contender summaries. */
export function formatTable(rows: readonly ContenderSummary[]): string {
  const header = ['contender', 'database', 'ok/runs', 'wall med s', 'wall min s', 'inner med s', 'cpu med s',
    'steal max s', 'tool wait med s', 'core RSS MiB', 'tree RSS MiB'];
  const widths = [40, 22, 7, 10, 10, 11, 14, 11, 15, 13, 13];
  const line = (cells: string[]) => cells.map((c, i) => cell(c, widths[i])).join(' ').trimEnd();
  const out = [line(header), line(widths.map((w) => '-'.repeat(w)))];
  for (const r of rows) {
    out.push(line([
      r.contender,
      r.database,
      `${r.runs - r.failed}/${r.runs}`,
      r.wallSeconds ? r.wallSeconds.median.toFixed(2) : '-',
      r.wallSeconds ? r.wallSeconds.min.toFixed(2) : '-',
      r.innerSeconds ? r.innerSeconds.median.toFixed(2) : '-',
      r.clientCpuSeconds
        ? `${r.clientCpuSeconds.median.toFixed(1)}${r.totalCpuSeconds ? `/${r.totalCpuSeconds.median.toFixed(1)}` : ''}` : '-',
      r.stealSeconds ? r.stealSeconds.max.toFixed(2) : '-',
      r.toolWaitSeconds ? r.toolWaitSeconds.median.toFixed(2) : '-',
      r.coreMaxRssKb ? `${mib(r.coreMaxRssKb.max)} max` : '-',
      r.treePeakRssKb ? `${mib(r.treePeakRssKb.max)} max` : '-',
    ]));
  }
  return out.join('\n');
}

export function formatVerdicts(verdicts: readonly Verdict[]): string {
  return verdicts.map((v) => `${cell(v.status.toUpperCase(), 13)} ${v.target}: ${v.measured}`).join('\n');
}
