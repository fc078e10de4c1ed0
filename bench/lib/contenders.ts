/** The measured contenders: the project's cores (as bundled node children) and the stock tools they are held to. */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseChildOutput, INPUT_ENV, type ChildResult } from '../children/protocol';
import { GNU_TIME_FORMAT, gnuTimeAvailable, machineStealSeconds, parseGnuTime, processCpuSeconds, runProcess, shellQuote, timed, type ProcessRun } from './measure';
import type { Measurement } from './report';
import type { PostgresService } from '../../local/services';

export interface BenchContext {
  readonly pg: PostgresService;
  readonly motoEndpoint: string;
  readonly bucket: string;
  /** Scratch directory for GNU time outputs and dump files. */
  readonly tmp: string;
  /** The awscli executable used for the pipeline contender; undefined when none was found (contender skipped). */
  readonly awsPath?: string;
  /** PostgreSQL's postmaster, whose CPU (with its reaped backends) is charged to the run that caused it. */
  readonly serverPid?: number;
  /** moto_server, whose CPU is charged likewise. */
  readonly emulatorPid?: number;
  /** When set, core children run with `--cpu-prof` writing here. */
  readonly profileDir?: string;
  readonly log: (line: string) => void;
}

/** CPU seconds a run cost, by where it was spent. */
export interface CpuSeconds {
  /** The measured processes and their children (GNU time user + system). */
  readonly client?: number;
  /** The PostgreSQL server (postmaster + backends that ended during the run). */
  readonly server?: number;
  /** moto_server. */
  readonly emulator?: number;
  /** Not the run's: CPU the hypervisor took from this machine (all CPUs) while it ran, a noise indicator. */
  readonly steal?: number;
}

async function serverSideCpu(ctx: BenchContext): Promise<{ server?: number; emulator?: number; steal?: number }> {
  const [server, emulator, steal] = await Promise.all([
    processCpuSeconds(ctx.serverPid), processCpuSeconds(ctx.emulatorPid), machineStealSeconds(),
  ]);
  return { server, emulator, steal };
}

function delta(after: number | undefined, before: number | undefined): number | undefined {
  return after === undefined || before === undefined ? undefined : Math.round((after - before) * 100) / 100;
}

/** Only what the children need from the parent's environment, so a stray PG* or AWS_* variable cannot leak in. */
function baseEnv(): NodeJS.ProcessEnv {
  const keep = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TMPDIR', 'TZ'];
  const env: NodeJS.ProcessEnv = {};
  for (const k of keep) if (process.env[k] !== undefined) env[k] = process.env[k];
  return env;
}

export function libpqEnv(ctx: BenchContext, database: string): NodeJS.ProcessEnv {
  return {
    ...baseEnv(),
    PGHOST: ctx.pg.host, PGPORT: String(ctx.pg.port), PGUSER: ctx.pg.user, PGPASSWORD: ctx.pg.password,
    PGDATABASE: database,
  };
}

export function awsEnv(ctx: BenchContext): NodeJS.ProcessEnv {
  return {
    AWS_ENDPOINT_URL: ctx.motoEndpoint, AWS_REGION: 'us-east-1', AWS_DEFAULT_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_EC2_METADATA_DISABLED: 'true',
  };
}

/**
 * Runs `work` with one GNU time output file per named process, and collects their peak RSS and CPU, plus the CPU
 * the database server and the emulator spent meanwhile.
 */
async function withTimeFiles<T>(ctx: BenchContext, names: readonly string[],
  work: (files: Record<string, string>) => Promise<T>): Promise<{ value: T; rss: Record<string, number>; cpu: CpuSeconds }> {
  const dir = await mkdtemp(join(ctx.tmp, 'time-'));
  try {
    const files: Record<string, string> = {};
    for (const n of names) files[n] = join(dir, `${n.replace(/[^A-Za-z0-9_-]/g, '_')}.txt`);
    const before = await serverSideCpu(ctx);
    const value = await work(files);
    const after = await serverSideCpu(ctx);
    const rss: Record<string, number> = {};
    let client: number | undefined;
    if (gnuTimeAvailable()) {
      for (const n of names) {
        const text = await readFile(files[n], 'utf8').catch(() => undefined);
        if (text === undefined) continue;
        const figures = parseGnuTime(text);
        rss[n] = figures.maxRssKb;
        client = Math.round(((client ?? 0) + figures.cpuSeconds) * 100) / 100;
      }
    }
    return {
      value, rss,
      cpu: {
        client, server: delta(after.server, before.server), emulator: delta(after.emulator, before.emulator),
        steal: delta(after.steal, before.steal),
      },
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function failure(run: ProcessRun, what: string): string | undefined {
  if (run.exitCode === 0) return undefined;
  const how = run.signal ? `killed by ${run.signal}` : `exited with code ${run.exitCode}`;
  return `${what} ${how}: ${run.stderr.trim().slice(-1500)}`;
}

/** The shell prefix that makes GNU time write a command's figures to `file` (nothing without GNU time). */
function timePrefix(file: string): string {
  return gnuTimeAvailable() ? `/usr/bin/time -f '${GNU_TIME_FORMAT}' -o ${shellQuote(file)} ` : '';
}

/** `pg_dump -Fc > /dev/null`: the floor every dump pays. */
export async function pgDumpToNull(ctx: BenchContext, database: string, round: number): Promise<Measurement> {
  const loadavg1 = loadavg()[0];
  const { value: run, rss, cpu } = await withTimeFiles(ctx, ['pg_dump'], async (files) => {
    const [cmd, args] = gnuTimeAvailable() ? timed(files.pg_dump, 'pg_dump', ['-Fc']) : ['pg_dump', ['-Fc']];
    return runProcess(cmd, args, { env: libpqEnv(ctx, database), stdout: 'ignore' });
  });
  const error = failure(run, 'pg_dump');
  return {
    contender: 'pg_dump > /dev/null', database, round, ok: error === undefined, error,
    wallSeconds: run.wallSeconds, processMaxRssKb: rss, treePeakRssKb: run.treePeakRssKb, scheduling: run.scheduling, loadavg1, cpuSeconds: cpu,
  };
}

/**
 * `pg_dump -Fc | cat > /dev/null`: the cheapest consumer there is. What it costs over `pg_dump > /dev/null` is what
 * this machine charges any program that reads pg_dump's output (on 2 cores, the reader shares them with pg_dump and
 * its server backend), before hashing or uploading a byte.
 */
/**
 * `pg_dump -Fc [-Z level] | cat > /dev/null`: the cheapest reader of pg_dump's output, this machine's floor for any
 * consumer of it at that compression (`compressLevel` undefined: pg_dump's default, gzip 6).
 */
export async function pgDumpToCat(ctx: BenchContext, database: string, round: number, compressLevel?: number): Promise<Measurement> {
  const loadavg1 = loadavg()[0];
  const z = compressLevel === undefined ? '' : ` -Z${compressLevel}`;
  const { value: run, rss, cpu } = await withTimeFiles(ctx, ['pg_dump'], async (files) => {
    return runProcess('bash', ['-o', 'pipefail', '-c', `${timePrefix(files.pg_dump)}pg_dump -Fc${z} | cat > /dev/null`], {
      env: libpqEnv(ctx, database), stdout: 'ignore',
    });
  });
  const error = failure(run, `pg_dump${z} | cat`);
  return {
    contender: `pg_dump${z} | cat > /dev/null`, database, round, ok: error === undefined, error,
    wallSeconds: run.wallSeconds, processMaxRssKb: rss, treePeakRssKb: run.treePeakRssKb, scheduling: run.scheduling, loadavg1, cpuSeconds: cpu,
  };
}

/**
 * Size of an uncompressed custom-format dump (`pg_dump -Fc -Z0`, counted, not stored): with the compressed size it
 * tells how compressible the generated data is. Also serves as the cache warm-up before the measured runs.
 */
export async function uncompressedDumpBytes(ctx: BenchContext, database: string): Promise<number> {
  const run = await runProcess('pg_dump', ['-Fc', '-Z0'], { env: libpqEnv(ctx, database), stdout: 'count' });
  const error = failure(run, 'pg_dump -Z0');
  if (error !== undefined) throw new Error(error);
  return run.stdoutBytes;
}

/** `pg_dump -Fc | aws s3 cp - s3://bucket/key`: the naive pipeline a script would use. */
export async function pgDumpToAwsCli(ctx: BenchContext, database: string, round: number, key: string): Promise<Measurement> {
  const awsPath = ctx.awsPath;
  if (awsPath === undefined) throw new Error('pgDumpToAwsCli: no aws CLI was found; the bench skips this contender');
  const loadavg1 = loadavg()[0];
  const { value: run, rss, cpu } = await withTimeFiles(ctx, ['pg_dump', 'aws'], async (files) => {
    const script = `${timePrefix(files.pg_dump)}pg_dump -Fc | ${timePrefix(files.aws)}${shellQuote(awsPath)} s3 cp - ` +
      `${shellQuote(`s3://${ctx.bucket}/${key}`)} --endpoint-url ${shellQuote(ctx.motoEndpoint)} --no-progress`;
    return runProcess('bash', ['-o', 'pipefail', '-c', script], {
      env: { ...libpqEnv(ctx, database), ...awsEnv(ctx) }, stdout: 'ignore',
    });
  });
  const error = failure(run, 'pg_dump | aws s3 cp');
  return {
    contender: 'pg_dump | aws s3 cp', database, round, ok: error === undefined, error,
    wallSeconds: run.wallSeconds, processMaxRssKb: rss, treePeakRssKb: run.treePeakRssKb, scheduling: run.scheduling, loadavg1, cpuSeconds: cpu,
  };
}

/** A bundled core child (`node <script>`), input in its environment; returns the measurement and its result. */
export async function coreChild<T>(ctx: BenchContext, contender: string, script: string, input: unknown,
  database: string, round: number, extraEnv: NodeJS.ProcessEnv = {},
  /** A command the child runs under, e.g. `['taskset', '-c', '0']`. */
  prefix: readonly string[] = []): Promise<{ measurement: Measurement; result?: T }> {
  const loadavg1 = loadavg()[0];
  const { value: run, rss, cpu } = await withTimeFiles(ctx, ['node'], async (files) => {
    const nodeArgs = [...(ctx.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${ctx.profileDir}`] : []), script];
    const [timedCmd, timedArgs] = gnuTimeAvailable() ? timed(files.node, process.execPath, nodeArgs) : [process.execPath, nodeArgs];
    const [cmd, args] = prefix.length === 0 ? [timedCmd, timedArgs] : [prefix[0], [...prefix.slice(1), timedCmd, ...timedArgs]];
    return runProcess(cmd, args, {
      env: {
        ...baseEnv(), ...awsEnv(ctx), ...extraEnv,
        POWERTOOLS_LOG_LEVEL: 'WARN', POWERTOOLS_METRICS_DISABLED: 'true',
        [INPUT_ENV]: JSON.stringify(input),
      },
      stdout: 'capture',
    });
  });
  let child: ChildResult<T> | undefined;
  let error = failure(run, contender);
  try {
    child = parseChildOutput<T>(run.stdout);
    if (!child.ok) error = child.error ?? error ?? 'child reported failure';
  } catch (parseError) {
    error ??= String(parseError);
  }
  return {
    measurement: {
      contender, database, round, ok: error === undefined, error,
      wallSeconds: run.wallSeconds, innerSeconds: child?.innerSeconds, coreMaxRssKb: child?.maxRssKb,
      coreMemoryPeaksKb: child?.memoryPeaksKb ? { ...child.memoryPeaksKb } : undefined,
      coreBaselineRssKb: child?.baselineRssKb,
      processMaxRssKb: rss, treePeakRssKb: run.treePeakRssKb, scheduling: run.scheduling, loadavg1,
      cpuSeconds: { ...cpu, node: child?.nodeCpuSeconds, nodeStartup: child?.startupCpuSeconds },
    },
    result: child?.ok ? child.result : undefined,
  };
}

/** `pg_restore [-j N]` from a local file into an existing, empty database. */
export async function pgRestoreFile(ctx: BenchContext, file: string, database: string, label: string, jobs: number,
  round: number): Promise<Measurement> {
  const loadavg1 = loadavg()[0];
  const restoreArgs = ['--no-owner', '--no-acl', '--exit-on-error', '-d', database, ...(jobs > 1 ? [`-j${jobs}`] : []), file];
  const { value: run, rss, cpu } = await withTimeFiles(ctx, ['pg_restore'], async (files) => {
    const [cmd, args] = gnuTimeAvailable() ? timed(files.pg_restore, 'pg_restore', restoreArgs) : ['pg_restore', restoreArgs];
    return runProcess(cmd, args, { env: libpqEnv(ctx, database), stdout: 'ignore' });
  });
  const error = failure(run, `pg_restore -j${jobs}`);
  return {
    contender: `pg_restore -j${jobs} (local file)`, database: label, round, ok: error === undefined, error,
    wallSeconds: run.wallSeconds, processMaxRssKb: rss, treePeakRssKb: run.treePeakRssKb, scheduling: run.scheduling, loadavg1, cpuSeconds: cpu,
  };
}
