/**
 * `npm run bench`: measures the dump core against `pg_dump -Fc > /dev/null` and `pg_dump -Fc | aws s3 cp -`, the
 * dump core's memory on a database and on one twice its size, and the restore core against `pg_restore -j1/-j2`
 * from a local file. Starts its own PostgreSQL 15 and moto, stops them on every exit path, writes
 * bench/results/<name>-<timestamp>.json and bench/results/latest.json, and prints a table. Targets are reported
 * as pass/fail, never asserted. `--suite retention` runs the retention bench instead (./retention.ts).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile, copyFile } from 'node:fs/promises';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { build } from 'esbuild';
import { Client } from 'pg';
import type { DumpChildInput, DumpChildOutput } from './children/dump-child';
import type { RunnerChildInput, RunnerChildOutput, RunnerKind } from './children/runner-child';
import type { RestoreChildInput, RestoreChildOutput } from './children/restore-child';
import { parseArgs, USAGE, type BenchOptions, type DumpVariant } from './lib/args';
import {
  coreChild, pgDumpToAwsCli, pgDumpToCat, pgDumpToNull, pgRestoreFile, uncompressedDumpBytes, type BenchContext,
} from './lib/contenders';
import { generate, SCHEMA_SQL, type GeneratedDatabase } from './lib/generate';
import { gnuTimeAvailable } from './lib/measure';
import {
  cpuRatio, dumpVerdicts, formatRatio, formatTable, formatVerdicts, memoryVerdict, restoreVerdicts, summarizeContender, TARGETS, wallRatio,
  type ContenderSummary, type Measurement, type Ratio,
} from './lib/report';
import { createVersionedBucket, deletePrefix, downloadTo, objectSize, s3Client } from './lib/s3';
import { Cleanup, startMoto, startPostgres, type PostgresService } from '../local/services';
import { atMost, differingCounts, interleave, type Verdict } from './lib/stats';
import { runRetentionBench } from './retention';
import { awsCliCandidates, findTool, type ToolLookup } from './lib/tools';
import { formatLevelsMarkdown, levelContender, summarizeLevel } from './lib/levels';
import { type Compression, DEFAULT_COMPRESSION } from '../lambda/postgres/compression';

/** pg_dump's own default for the custom format: what `pg_dump -Fc | …` compresses with. */
const PG_DUMP_DEFAULT_COMPRESSION: Compression = { method: 'gzip', level: 6 };
import {
  formatParallelMarkdown, PARALLEL_TABLES, parallelContender, parallelVerdict, rowsPerTable, similarTablesSql, summarizeParallel,
} from './lib/parallel';

const ROOT = resolve(__dirname, '..');
const RESULTS_DIR = join(ROOT, 'bench', 'results');
const DUMP_CORE = join(ROOT, 'lambda', 'backup', 'dump-core.ts');
const RESTORE_CORE = join(ROOT, 'lambda', 'restore', 'restore-core.ts');
const BUCKET = 'cdk-backup-dr-bench';
const SOURCE_ID = 'bench';

const C = {
  core: 'dump core -> S3 (moto)',
  coreGzip6: 'dump core gzip:6 -> S3 (moto)',
  pgDump: 'pg_dump > /dev/null',
  awscli: 'pg_dump | aws s3 cp',
  cat: 'pg_dump | cat > /dev/null',
  /** At the dump core's default compression (gzip 3; the name is pgDumpToCat's). */
  catGzip3: `pg_dump -Z${DEFAULT_COMPRESSION.level} | cat > /dev/null`,
  restoreStream: 'restore core jobs=1 (stream from S3)',
  restoreFile: 'restore core jobs=2 (S3 -> file -> -j2)',
  pgRestore1: 'pg_restore -j1 (local file)',
  pgRestore2: 'pg_restore -j2 (local file)',
} as const;

/** Contender name of a tuned dump-core variant, e.g. `dump core [q2] part=16MiB queue=2`. */
function variantContender(v: DumpVariant): string {
  const settings = [
    v.partSizeMb === undefined ? '' : `part=${v.partSizeMb}MiB`,
    v.queueSize === undefined ? '' : `queue=${v.queueSize}`,
    v.s3Checksum === undefined ? '' : `checksum=${v.s3Checksum}`,
  ].filter((x) => x.length > 0);
  return `dump core [${v.name}] ${settings.join(' ')}`.trim();
}

const started = Date.now();
function log(line: string): void {
  process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(5)}s] ${line}\n`);
}

function commandOutput(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (error) {
    return `unavailable (${error instanceof Error ? error.message.split('\n')[0] : String(error)})`;
  }
}

/** The version line of `<path> --version`, or undefined when the executable is missing or fails. */
function probeVersion(path: string): string | undefined {
  try {
    const out = execFileSync(path, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
    return out.trim().split('\n')[0];
  } catch {
    return undefined;
  }
}

/**
 * Debian's awscli (/usr/bin/aws) as the issue asks, else the aws on PATH (a pyenv shim is awscli 1) with a note,
 * else none: the pipeline contender is then skipped with a note. AWS_CLI_PATH overrides.
 */
function findAwsCli(): ToolLookup {
  return findTool(awsCliCandidates(process.env), probeVersion,
    "install Debian's awscli (`apt-get install -y awscli`) or set AWS_CLI_PATH to the aws executable to compare against");
}

async function bundle(entry: string, outDir: string): Promise<string> {
  const outfile = join(outDir, entry.replace(/^.*\//, '').replace(/\.ts$/, '.js'));
  await build({
    entryPoints: [join(ROOT, 'bench', 'children', entry)],
    bundle: true, platform: 'node', target: 'node20', format: 'cjs', outfile, logLevel: 'warning',
    // As the Lambda assets are built (scripts/build): less to parse at start-up.
    minify: true, keepNames: true,
  });
  return outfile;
}

async function withClient<T>(pg: PostgresService, database: string, work: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: pg.url(database) });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

function mb(bytes: number): number {
  return Math.round((bytes / 1048576) * 10) / 10;
}

interface DatabaseInfo extends GeneratedDatabase {
  readonly targetMb: number;
  readonly sizeMb: number;
  readonly tableBytes: number;
  readonly indexBytes: number;
}

async function describeDatabase(pg: PostgresService, generated: GeneratedDatabase, targetMb: number): Promise<DatabaseInfo> {
  const split = await withClient(pg, generated.database, (c) => c.query<{ tables: string; indexes: string }>(
    `SELECT sum(pg_table_size(c.oid))::text AS tables, sum(pg_indexes_size(c.oid))::text AS indexes
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'bench' AND c.relkind = 'r'`));
  return {
    ...generated, targetMb, sizeMb: mb(generated.sizeBytes),
    tableBytes: Number(split.rows[0].tables), indexBytes: Number(split.rows[0].indexes),
  };
}

async function createDatabase(pg: PostgresService, name: string, template?: string): Promise<void> {
  await withClient(pg, 'postgres', (c) => c.query(`CREATE DATABASE "${name}"${template ? ` TEMPLATE "${template}"` : ''}`));
}

async function dropDatabase(pg: PostgresService, name: string): Promise<void> {
  await withClient(pg, 'postgres', (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
}

async function rowCounts(pg: PostgresService, database: string): Promise<Record<string, number>> {
  return withClient(pg, database, async (c) => {
    const r = await c.query<{ t: string; n: string }>(
      `SELECT 'bench.customers' AS t, count(*)::text AS n FROM bench.customers
       UNION ALL SELECT 'bench.orders', count(*)::text FROM bench.orders
       UNION ALL SELECT 'bench.events', count(*)::text FROM bench.events
       ORDER BY 1`);
    return Object.fromEntries(r.rows.map((row) => [row.t, Number(row.n)]));
  });
}

interface Section {
  available: boolean;
  note?: string;
  measurements: Measurement[];
  summaries: ContenderSummary[];
  ratios: Ratio[];
}

function cpuText(m: Measurement): string {
  const c = m.cpuSeconds;
  const f = (v: number | undefined) => (v === undefined ? '?' : v.toFixed(1));
  const node = c?.node === undefined ? '' : ` (node ${f(c.node)} + start-up ${f(c.nodeStartup)})`;
  return c ? `client ${f(c.client)}${node} server ${f(c.server)} moto ${f(c.emulator)} s, stolen ${f(c.steal)} s` : '-';
}

function waitText(m: Measurement): string {
  return Object.entries(m.scheduling ?? {})
    .map(([program, s]) => `, ${program} ran ${s.runSeconds.toFixed(1)} s and waited ${s.waitSeconds.toFixed(2)} s for a CPU`)
    .join('');
}

function mibText(kb: number): string {
  return (kb / 1024).toFixed(1);
}

function emptySection(note?: string): Section {
  return { available: note === undefined, note, measurements: [], summaries: [], ratios: [] };
}

function record(section: Section, m: Measurement): void {
  section.measurements.push(m);
  const p = m.coreMemoryPeaksKb;
  const detail = p && m.coreBaselineRssKb !== undefined
    ? ` (baseline ${mibText(m.coreBaselineRssKb)}, heap ${mibText(p.heapUsed)}, buffers ${mibText(p.arrayBuffers)})` : '';
  const rss = m.coreMaxRssKb !== undefined ? ` core RSS ${mibText(m.coreMaxRssKb)} MiB${detail}` : '';
  log(`  ${m.contender} [${m.database} #${m.round}] ${m.ok ? 'ok' : 'FAILED'} ${m.wallSeconds.toFixed(2)} s${rss}` +
    ` tree ${(m.treePeakRssKb / 1024).toFixed(1)} MiB cpu ${cpuText(m)}${waitText(m)} load ${m.loadavg1.toFixed(2)}` +
    `${m.error ? ` — ${m.error}` : ''}`);
}

/**
 * `--parallel`: a database of {@link PARALLEL_TABLES} tables of the same size, then the dump core single-stream and
 * with `parallelism` interleaved round by round at the default compression; results JSON and the Markdown table.
 */
async function parallelMode(args: {
  options: BenchOptions; ctx: BenchContext; pg: PostgresService; s3: ReturnType<typeof s3Client>; tmp: string;
  machine: Record<string, unknown>; startedAt: Date; serverVersion: string;
}): Promise<void> {
  const { options, ctx, pg, s3, tmp, machine, startedAt } = args;
  const jobs = options.parallel ?? 2;
  const database = 'bench_parallel';
  await createDatabase(pg, database);
  const rows = rowsPerTable(options.sizeMb, PARALLEL_TABLES);
  log(`generating ${database}: ${PARALLEL_TABLES} tables of ${rows} rows (about ${options.sizeMb} MiB together)`);
  const generationStarted = Date.now();
  await withClient(pg, database, async (c) => {
    await c.query(SCHEMA_SQL);
    for (const sql of similarTablesSql(PARALLEL_TABLES, rows)) await c.query(sql);
    await c.query('VACUUM ANALYZE');
  });
  const sizes = await withClient(pg, database, (c) => c.query<{ name: string; bytes: string }>(
    `SELECT c.relname AS name, pg_table_size(c.oid)::text AS bytes FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'bench' AND c.relkind = 'r' ORDER BY 1`));
  const databaseBytes = await withClient(pg, database, (c) => c.query<{ b: string }>('SELECT pg_database_size(current_database())::text AS b'));
  const tables = Object.fromEntries(sizes.rows.map((r) => [r.name, Number(r.bytes)]));
  log(`${database}: ${mb(Number(databaseBytes.rows[0].b))} MiB in ${((Date.now() - generationStarted) / 1000).toFixed(0)} s, tables ${JSON.stringify(tables)}`);

  const dumpScript = await bundle('dump-child.ts', tmp);
  log('warm-up: pg_dump -Fc -Z0');
  const uncompressedBytes = await uncompressedDumpBytes(ctx, database);
  const workDir = await mkdtemp(join(tmp, 'parallel-work-'));
  const section = emptySection();
  const contenders = [1, jobs];
  let kept: DumpChildOutput | undefined;
  log(`parallel dumps on ${database}: ${options.repeats} round(s) of ${contenders.map(parallelContender).join(', ')}`);
  for (const { contender: j, round } of interleave(contenders, options.repeats)) {
    const input: DumpChildInput = {
      target: { host: pg.host, port: pg.port, user: pg.user, password: pg.password, database, sslMode: 'disable' },
      bucket: BUCKET, sourceId: SOURCE_ID, tiers: ['daily'], parallelism: j, workDir,
    };
    const { measurement, result } = await coreChild<DumpChildOutput>(ctx, parallelContender(j), dumpScript, input, database, round);
    record(section, { ...measurement, bytes: result?.bytes });
    if (result && j > 1 && round === options.repeats) kept = result;
    else if (result) await deletePrefix(s3, BUCKET, result.dumpKey.replace(/\.dump$/, ''));
  }
  const restore = kept ? await parallelRestores(ctx, pg, s3, tmp, kept.manifestKey, jobs, options.repeats, database) : emptySection('no parallel dump to restore');
  const summaries = contenders.map((j) => summarizeParallel(section.measurements, j));
  const { ratio: wallRatioMedian, verdict } = parallelVerdict(summaries[0], summaries[1]);
  const restoreLabel = `restore of ${database}`;
  const find = (sec: Section, c: string, db: string) => sec.summaries.find((x) => x.contender === c && x.database === db);
  restore.summaries = [PC.restoreCore(jobs), PC.pgRestore(jobs)].map((c) => summarizeContender(restore.measurements, c, restoreLabel));
  const restoreRatio = wallRatio(`restore core jobs=${jobs} (directory dump, download included) / pg_restore -j${jobs} (local directory)`,
    find(restore, PC.restoreCore(jobs), restoreLabel), find(restore, PC.pgRestore(jobs), restoreLabel));
  const restoreVerdict = atMost(`restore jobs=${jobs} of a directory dump incl. the download <= 1.15x pg_restore -j${jobs} from a local directory`,
    restoreRatio.median, 1.15, restoreRatio.median === undefined ? 'not available' : `${restoreRatio.median.toFixed(3)}x`);
  const results = {
    schemaVersion: 1, mode: 'parallel', name: options.name,
    startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(),
    options, machine: { ...machine, loadavgAtEnd: loadavg() },
    server: { version: args.serverVersion },
    database: { name: database, bytes: Number(databaseBytes.rows[0].b), tables, rowsPerTable: rows },
    uncompressedDumpBytes: uncompressedBytes,
    summaries,
    wallRatioMedian,
    verdict,
    measurements: section.measurements,
    restore: { note: restore.note, summaries: restore.summaries, ratio: restoreRatio, verdict: restoreVerdict, measurements: restore.measurements },
    notes: [
      'Both contenders are the dump core (bundled node child, as the Lambda asset) to moto at its default compression ' +
        '(gzip:3), rounds interleaved; the parallel one runs pg_dump -Fd -jN into a local directory and uploads each file ' +
        'once pg_dump has closed it. wallSeconds includes node start-up; bytes is what the manifest counts in S3.',
      'cpuSeconds.client is GNU time of node and its descendants (pg_dump and its workers); cpuSeconds.server is the ' +
        'PostgreSQL backends that ended during the run (one per pg_dump connection, plus the snapshot session); ' +
        'loadavg1 is the 1-minute load average when each run started (the machine is shared).',
    ],
  };
  await mkdir(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${options.name}-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\n${database}: ${mb(Number(databaseBytes.rows[0].b))} MiB in ${PARALLEL_TABLES} tables; uncompressed dump ` +
    `${mb(uncompressedBytes)} MiB; ${options.repeats} round(s)\n\n${formatParallelMarkdown(summaries)}\n\n` +
    `${verdict.status.toUpperCase()}: ${verdict.target}: ${verdict.measured}\n` +
    `${restoreVerdict.status.toUpperCase()}: ${restoreVerdict.target}: ${restoreVerdict.measured}\n\n${formatTable(restore.summaries)}\n\nresults: ${file}`);
}

/** Contender names of the runner mode. */
const RC = {
  lambda: 'dump handler, Lambda path (1 CPU)',
  fargate: 'dump handler, Fargate entrypoint (1 CPU)',
} as const;

/**
 * `--runners`: the dump handler of one database as the Lambda runtime calls it and as the Fargate runner's container
 * runs it (runTask with the task's environment, answering a loopback Step Functions endpoint), in node children pinned
 * to one CPU (`taskset -c 0`: a 1769 MB function and a 1024-cpu task both have one vCPU), rounds interleaved. The
 * container's other differences (its image's pg_dump build, Fargate's network and CPU) are not reproduced here.
 */
async function runnersMode(args: {
  options: BenchOptions; ctx: BenchContext; pg: PostgresService; s3: ReturnType<typeof s3Client>; tmp: string;
  machine: Record<string, unknown>; startedAt: Date; motoEndpoint: string;
}): Promise<void> {
  const { options, ctx, pg, s3, tmp, machine, startedAt } = args;
  const database = 'bench_runners';
  await createDatabase(pg, database);
  log(`generating ${database} (${options.sizeMb} MiB)`);
  const info = await describeDatabase(pg, await withClient(pg, database, (c) => generate(c, options.sizeMb, log)), options.sizeMb);
  const { SecretsManagerClient, CreateSecretCommand } = await import('@aws-sdk/client-secrets-manager');
  const secrets = new SecretsManagerClient({ endpoint: args.motoEndpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  const secret = await secrets.send(new CreateSecretCommand({
    Name: `bench-runners-${Date.now()}`,
    SecretString: JSON.stringify({ username: pg.user, password: pg.password, host: pg.host, port: pg.port }),
  }));
  const script = await bundle('runner-child.ts', tmp);
  const pin = existsSync('/usr/bin/taskset') ? ['taskset', '-c', '0'] : [];
  if (pin.length === 0) log('taskset is missing: the children are not pinned to one CPU');
  const env = {
    BUCKET_NAME: BUCKET, BUCKET_KMS_KEY_ARN: 'arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000',
    SOURCE_ID: SOURCE_ID, PG_DUMP_PATH: 'pg_dump', PG_DUMPALL_PATH: 'pg_dumpall',
  };
  const event = { target: { secretArn: secret.ARN, sslMode: 'disable' }, database, tiers: ['daily'] };
  log('warm-up: pg_dump -Fc -Z0');
  const uncompressedBytes = await uncompressedDumpBytes(ctx, database);
  const section = emptySection();
  const kinds: RunnerKind[] = ['lambda', 'fargate'];
  log(`runners on ${database}: ${options.repeats} round(s) of ${kinds.map((k) => RC[k]).join(', ')}`);
  for (const { contender: runner, round } of interleave(kinds, options.repeats)) {
    const input: RunnerChildInput = { runner, event, timeoutSeconds: 3600 };
    const { measurement, result } = await coreChild<RunnerChildOutput>(ctx, RC[runner], script, input, database, round, env, pin);
    record(section, { ...measurement, bytes: result?.bytes });
    if (result) await deletePrefix(s3, BUCKET, result.dumpKey.replace(/\.dump$/, ''));
  }
  section.summaries = kinds.map((k) => summarizeContender(section.measurements, RC[k], database));
  const find = (c: string) => section.summaries.find((x) => x.contender === c);
  const ratios = [
    wallRatio('Fargate entrypoint / Lambda path (wall)', find(RC.fargate), find(RC.lambda)),
    cpuRatio('CPU (client+server+emulator): Fargate entrypoint / Lambda path', find(RC.fargate), find(RC.lambda)),
  ];
  const memory = memoryVerdict(section.summaries);
  const results = {
    schemaVersion: 1, mode: 'runners', name: options.name,
    startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(),
    options, machine: { ...machine, loadavgAtEnd: loadavg(), pinnedTo: pin.length === 0 ? null : 'CPU 0' },
    database: { name: database, sizeMb: info.sizeMb }, uncompressedDumpBytes: uncompressedBytes,
    summaries: section.summaries, ratios, memory, measurements: section.measurements,
    notes: [
      'Both contenders run the bundled dump handler (secret from moto\'s Secrets Manager, default compression gzip:3) in a ' +
        'node child pinned to one CPU with taskset, as a 1769 MB Lambda function and a 1024-cpu Fargate task each have one vCPU. ' +
        'The Lambda path calls handler(event, context); the Fargate path calls the container entrypoint\'s runTask with ' +
        'RUNNER_HANDLER, TASK_TOKEN and TASK_INPUT set as the task definition and the state\'s overrides set them, and its ' +
        'SendTaskSuccess goes to a loopback endpoint in the child (heartbeats every 60 s).',
      'Not reproduced: the image (Amazon Linux 2023, its postgresql package), Fargate\'s network to S3 and RDS, the task\'s ' +
        'start (image pull: tens of seconds) and Lambda\'s cold start; PostgreSQL and moto are not pinned.',
    ],
  };
  await mkdir(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${options.name}-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\n${database}: ${info.sizeMb} MiB; ${options.repeats} round(s)\n\n${formatTable(section.summaries)}\n\n` +
    `${ratios.map(formatRatio).join('\n')}\n${memory.status.toUpperCase()}: ${memory.target}: ${memory.measured}\n\nresults: ${file}`);
}

/** Contender names of the parallel mode's restores. */
const PC = {
  restoreCore: (jobs: number) => `restore core jobs=${jobs} (directory dump: S3 -> directory -> -j${jobs})`,
  pgRestore: (jobs: number) => `pg_restore -j${jobs} (local directory)`,
};

/**
 * The directory dump at `manifestKey` restored by the restore core (download included) and by `pg_restore -jN` from a
 * local copy of its directory, interleaved, each into a fresh database whose row counts are then checked.
 */
async function parallelRestores(ctx: BenchContext, pg: PostgresService, s3: ReturnType<typeof s3Client>, tmp: string,
  manifestKey: string, jobs: number, repeats: number, source: string): Promise<Section> {
  const section = emptySection();
  const restoreScript = await bundle('restore-child.ts', tmp);
  const manifest = JSON.parse(await (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: manifestKey }))).Body!.transformToString()) as {
    files: Array<{ name: string; key: string; versionId: string | null }>;
  };
  const directory = await mkdtemp(join(tmp, 'directory-dump-'));
  for (const file of manifest.files) await downloadTo(s3, BUCKET, file.key, join(directory, file.name));
  const counts = async (database: string): Promise<Record<string, number>> => withClient(pg, database, async (c) => {
    const r = await c.query<{ t: string; n: string }>(
      Array.from({ length: PARALLEL_TABLES }, (_, i) => `SELECT 'bench.part_${i + 1}' AS t, count(*)::text AS n FROM bench.part_${i + 1}`).join(' UNION ALL '));
    return Object.fromEntries(r.rows.map((row) => [row.t, Number(row.n)]));
  });
  const expectedRows = await counts(source);
  const label = `restore of ${source}`;
  const workDir = await mkdtemp(join(tmp, 'restore-work-'));
  const contenders = [PC.restoreCore(jobs), PC.pgRestore(jobs)];
  log(`restores of the directory dump: ${repeats} round(s) of ${contenders.join(', ')}`);
  let n = 0;
  for (const { contender, round } of interleave(contenders, repeats)) {
    const target = `bench_restore_${++n}`;
    await createDatabase(pg, target, 'template0');
    try {
      let m: Measurement;
      if (contender === PC.restoreCore(jobs)) {
        const input: RestoreChildInput = {
          bucket: BUCKET, manifestKey,
          target: { host: pg.host, port: pg.port, user: pg.user, password: pg.password, database: target, sslMode: 'disable' },
          jobs, workDir,
        };
        const out = await coreChild<RestoreChildOutput>(ctx, contender, restoreScript, input, label, round);
        m = { ...out.measurement, bytes: out.result?.restoredBytes };
      } else {
        m = { ...(await pgRestoreFile(ctx, directory, target, label, jobs, round)), contender };
      }
      if (m.ok) {
        const differing = differingCounts(await counts(target), expectedRows);
        if (differing.length > 0) m = { ...m, ok: false, error: `restored row counts of ${differing.join(', ')} differ` };
      }
      record(section, m);
    } finally {
      await dropDatabase(pg, target);
    }
  }
  await deletePrefix(s3, BUCKET, manifestKey.replace(/\.manifest\.json$/, ''));
  return section;
}

async function main(options: BenchOptions): Promise<void> {
  const cleanup = new Cleanup(log);
  const startedAt = new Date();
  const tmp = await mkdtemp(join(tmpdir(), 'cdk-backup-dr-bench-'));
  cleanup.add('scratch directory', () => rm(tmp, { recursive: true, force: true }));
  // The signal path may exit before the asynchronous cleanup gets here (see startPostgres).
  process.once('exit', () => rmSync(tmp, { recursive: true, force: true }));
  try {
    const awsCli = findAwsCli();
    if (!awsCli.available) log(`aws CLI: ${awsCli.note}`);
    else if (awsCli.note) log(`aws CLI: ${awsCli.path} (${awsCli.version}): ${awsCli.note}`);
    const machine = {
      cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memTotalMb: Math.round(totalmem() / 1048576),
      kernel: release(), node: process.version,
      pgDump: commandOutput('pg_dump', ['--version']), pgRestore: commandOutput('pg_restore', ['--version']),
      awscli: awsCli,
      motoServer: process.env.MOTO_SERVER_BIN ?? 'moto_server (PATH)',
      gnuTime: gnuTimeAvailable(), loadavgAtStart: loadavg(),
    };
    log(`options ${JSON.stringify(options)}; ${machine.cpus} cpus, node ${machine.node}, ${machine.pgDump}, ${awsCli.available ? awsCli.version : 'no aws CLI'}`);

    const [pg, moto] = await Promise.all([startPostgres(log), startMoto(log)]);
    cleanup.add('postgres', pg.stop);
    cleanup.add('moto', moto.stop);
    const s3 = s3Client(moto.endpoint);
    await createVersionedBucket(s3, BUCKET);
    const ctx: BenchContext = {
      pg, motoEndpoint: moto.endpoint, bucket: BUCKET, tmp, awsPath: awsCli.available ? awsCli.path : undefined, log, serverPid: pg.pid, emulatorPid: moto.pid,
      profileDir: options.profileDir === undefined ? undefined : resolve(options.profileDir),
    };
    const serverVersion = await withClient(pg, 'postgres', (c) => c.query<{ v: string }>('SHOW server_version'));

    if (options.runners) {
      await runnersMode({ options, ctx, pg, s3, tmp, machine, startedAt, motoEndpoint: moto.endpoint });
      return;
    }
    if (options.parallel !== undefined) {
      await parallelMode({ options, ctx, pg, s3, tmp, machine, startedAt, serverVersion: serverVersion.rows[0].v });
      return;
    }

    // Databases.
    const base = 'bench_base';
    const double = 'bench_double';
    await createDatabase(pg, base);
    log(`generating ${base} (${options.sizeMb} MiB)`);
    const baseInfo = await describeDatabase(pg,
      await withClient(pg, base, (c) => generate(c, options.sizeMb, log)), options.sizeMb);
    log(`${base}: ${baseInfo.sizeMb} MiB in ${baseInfo.seconds.toFixed(0)} s, rows ${JSON.stringify(baseInfo.rows)}`);
    let doubleInfo: DatabaseInfo | undefined;
    if (options.double) {
      await createDatabase(pg, double, base);
      log(`generating ${double} (${options.sizeMb * 2} MiB, grown from a copy of ${base})`);
      doubleInfo = await describeDatabase(pg,
        await withClient(pg, double, (c) => generate(c, options.sizeMb * 2, log)), options.sizeMb * 2);
      log(`${double}: ${doubleInfo.sizeMb} MiB in ${doubleInfo.seconds.toFixed(0)} s`);
    }

    // Children.
    const dumpScript = existsSync(DUMP_CORE) && existsSync(join(ROOT, 'bench', 'children', 'dump-child.ts'))
      ? await bundle('dump-child.ts', tmp) : undefined;
    const restoreScript = existsSync(RESTORE_CORE) ? await bundle('restore-child.ts', tmp) : undefined;

    // Warm-up (the first read of a freshly generated database is not what we compare), measuring on the way the
    // uncompressed dump size, i.e. how compressible the data is.
    log('warm-up: pg_dump -Fc -Z0 of each database');
    const uncompressedBytes: Record<string, number> = {};
    for (const db of [base, ...(doubleInfo ? [double] : [])]) uncompressedBytes[db] = await uncompressedDumpBytes(ctx, db);

    if (options.levels) {
      if (!dumpScript) throw new Error('--levels needs the dump core (lambda/backup/dump-core.ts)');
      const levels = options.levels;
      const section = emptySection();
      log(`compression levels on ${base}: ${options.repeats} round(s) of ${levels.map(levelContender).join(', ')}`);
      for (const { contender: compression, round } of interleave(levels, options.repeats)) {
        const input: DumpChildInput = {
          target: { host: pg.host, port: pg.port, user: pg.user, password: pg.password, database: base, sslMode: 'disable' },
          bucket: BUCKET, sourceId: SOURCE_ID, tiers: ['daily'], compression,
        };
        const { measurement, result } = await coreChild<DumpChildOutput>(ctx, levelContender(compression), dumpScript, input, base, round);
        record(section, { ...measurement, bytes: result?.bytes });
        if (result) await deletePrefix(s3, BUCKET, result.dumpKey.replace(/\.dump$/, ''));
      }
      const summaries = levels.map((c) => summarizeLevel(section.measurements, c, uncompressedBytes[base]));
      const results = {
        schemaVersion: 1, mode: 'levels', name: options.name,
        startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(),
        options, machine: { ...machine, loadavgAtEnd: loadavg() },
        server: { version: serverVersion.rows[0].v },
        databases: { base: baseInfo },
        uncompressedDumpBytes: uncompressedBytes[base],
        levels: summaries,
        measurements: section.measurements,
        notes: [
          'The dump core (bundled node child, as the Lambda asset) to moto at each compression, rounds interleaved. ' +
            'wallSeconds includes node start-up; bytes is the object written; coreMaxRssKb is the node process\'s ' +
            'own peak, processMaxRssKb.node the larger of node and its pg_dump (GNU time).',
          'uncompressedDumpBytes: pg_dump -Fc -Z0 of the same database, counted (the warm-up run).',
        ],
      };
      await mkdir(RESULTS_DIR, { recursive: true });
      const file = join(RESULTS_DIR, `${options.name}-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
      await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
      console.log(`\n${base}: ${baseInfo.sizeMb} MiB; uncompressed dump ${mb(uncompressedBytes[base])} MiB; ` +
        `${options.repeats} round(s)\n\n${formatLevelsMarkdown(summaries)}\n\nresults: ${file}`);
      return;
    }

    // Dump benchmark.
    const dump = emptySection(dumpScript ? undefined : 'not available: lambda/backup/dump-core.ts has not landed');
    let keptManifestKey: string | undefined;
    let keptDumpKey: string | undefined;
    let coreDumpBytes: number | undefined;
    let awscliDumpBytes: number | undefined;
    const runCoreDump = async (database: string, round: number, keep: boolean, variant?: DumpVariant,
      compression?: Compression): Promise<void> => {
      if (!dumpScript) return;
      const input: DumpChildInput = {
        target: { host: pg.host, port: pg.port, user: pg.user, password: pg.password, database, sslMode: 'disable' },
        bucket: BUCKET, sourceId: SOURCE_ID, tiers: ['daily'],
        partSizeBytes: variant?.partSizeMb === undefined ? undefined : variant.partSizeMb * 1024 * 1024,
        queueSize: variant?.queueSize,
        requestChecksumCalculation: variant?.s3Checksum,
        compression,
      };
      const contender = variant ? variantContender(variant) : compression ? C.coreGzip6 : C.core;
      const { measurement, result } = await coreChild<DumpChildOutput>(ctx, contender, dumpScript, input, database, round);
      record(dump, { ...measurement, bytes: result?.bytes });
      if (result) {
        if (!variant && !compression) coreDumpBytes ??= result.bytes;
        if (keep && !variant && !compression && keptManifestKey === undefined) {
          keptManifestKey = result.manifestKey;
          keptDumpKey = result.dumpKey;
        } else {
          await deletePrefix(s3, BUCKET, result.dumpKey.replace(/\.dump$/, ''));
        }
      }
    };
    const variants = new Map(options.variants.map((v) => [variantContender(v), v]));
    const contenders: string[] = [C.core, C.coreGzip6, C.pgDump, ...(awsCli.available ? [C.awscli] : []), C.cat, C.catGzip3, ...variants.keys()];
    log(`dump benchmark on ${base}: ${options.repeats} round(s) of ${contenders.join(', ')}`);
    for (const { contender, round } of interleave(contenders, options.repeats)) {
      if (contender === C.core) await runCoreDump(base, round, true);
      else if (contender === C.coreGzip6) await runCoreDump(base, round, false, undefined, PG_DUMP_DEFAULT_COMPRESSION);
      else if (contender === C.pgDump) record(dump, await pgDumpToNull(ctx, base, round));
      else if (contender === C.cat) record(dump, await pgDumpToCat(ctx, base, round));
      else if (contender === C.catGzip3) record(dump, await pgDumpToCat(ctx, base, round, DEFAULT_COMPRESSION.level));
      else if (contender === C.awscli) {
        const key = `awscli/${base}-${round}.dump`;
        const m = await pgDumpToAwsCli(ctx, base, round, key);
        if (m.ok) awscliDumpBytes ??= await objectSize(s3, BUCKET, key);
        record(dump, { ...m, bytes: m.ok ? awscliDumpBytes : undefined });
        await deletePrefix(s3, BUCKET, key);
      } else {
        await runCoreDump(base, round, false, variants.get(contender));
      }
    }
    if (doubleInfo) {
      log(`memory check on ${double}: ${options.repeats} round(s) of ${C.core}, ${C.pgDump}`);
      for (const { contender, round } of interleave([C.core, C.pgDump], options.repeats)) {
        if (contender === C.core) await runCoreDump(double, round, false);
        else record(dump, await pgDumpToNull(ctx, double, round));
      }
    }
    dump.summaries = [
      ...contenders.map((c) => summarizeContender(dump.measurements, c, base)),
      ...(doubleInfo ? [C.core, C.pgDump].map((c) => summarizeContender(dump.measurements, c, double)) : []),
    ];
    const find = (s: Section, c: string, db: string) => s.summaries.find((x) => x.contender === c && x.database === db);
    dump.ratios = [
      wallRatio('dump core / pg_dump > /dev/null', find(dump, C.core, base), find(dump, C.pgDump, base)),
      ...[...variants.keys()].map((v) => wallRatio(`${v} / pg_dump > /dev/null`, find(dump, v, base), find(dump, C.pgDump, base))),
      wallRatio('dump core / pg_dump | aws s3 cp', find(dump, C.core, base), find(dump, C.awscli, base)),
      wallRatio('pg_dump | aws s3 cp / pg_dump > /dev/null', find(dump, C.awscli, base), find(dump, C.pgDump, base)),
      wallRatio('pg_dump | cat / pg_dump > /dev/null (what any reader costs here)', find(dump, C.cat, base), find(dump, C.pgDump, base)),
      wallRatio('dump core / pg_dump | cat', find(dump, C.core, base), find(dump, C.cat, base)),
      wallRatio('dump core gzip:6 / pg_dump | cat (same compression)', find(dump, C.coreGzip6, base), find(dump, C.cat, base)),
      wallRatio('dump core / pg_dump -Z3 | cat (same compression: the default\'s floor)', find(dump, C.core, base), find(dump, C.catGzip3, base)),
      wallRatio('pg_dump -Z3 | cat / pg_dump | aws s3 cp (the floor of any reader at gzip 3 against the pipeline)',
        find(dump, C.catGzip3, base), find(dump, C.awscli, base)),
      ...(doubleInfo ? [wallRatio(`dump core / pg_dump > /dev/null on ${double}`,
        find(dump, C.core, double), find(dump, C.pgDump, double))] : []),
      cpuRatio('CPU (client+server+emulator): dump core / pg_dump > /dev/null', find(dump, C.core, base), find(dump, C.pgDump, base)),
      cpuRatio('CPU (client+server+emulator): pg_dump | aws s3 cp / pg_dump > /dev/null',
        find(dump, C.awscli, base), find(dump, C.pgDump, base)),
      ...[...variants.keys()].map((v) => cpuRatio(`CPU (client+server+emulator): ${v} / pg_dump > /dev/null`,
        find(dump, v, base), find(dump, C.pgDump, base))),
    ];
    const verdicts: Verdict[] = dumpVerdicts({
      core: find(dump, C.core, base), coreAtPgDumpDefault: find(dump, C.coreGzip6, base), cat: find(dump, C.cat, base),
      awscli: find(dump, C.awscli, base), coreDouble: doubleInfo ? find(dump, C.core, double) : undefined,
      coreBytes: coreDumpBytes, awscliBytes: awscliDumpBytes,
    });

    // Restore benchmark.
    let restore: Section;
    if (!options.restore) {
      restore = emptySection('skipped (--no-restore)');
    } else if (!restoreScript || !keptManifestKey || !keptDumpKey) {
      restore = emptySection(!restoreScript
        ? 'not available: lambda/restore/restore-core.ts has not landed'
        : 'not available: no dump-core backup (manifest) to restore');
    } else {
      restore = emptySection();
      const manifestKey = keptManifestKey;
      const file = join(tmp, 'bench.dump');
      await downloadTo(s3, BUCKET, keptDumpKey, file);
      const expectedRows = await rowCounts(pg, base);
      const label = `restore of ${base}`;
      const restoreContenders = [C.restoreStream, C.restoreFile, C.pgRestore1, C.pgRestore2] as const;
      log(`restore benchmark: ${options.repeats} round(s) of ${restoreContenders.join(', ')}`);
      let n = 0;
      for (const { contender, round } of interleave(restoreContenders, options.repeats)) {
        const target = `bench_restore_${++n}`;
        await createDatabase(pg, target, 'template0');
        try {
          let m: Measurement;
          if (contender === C.restoreStream || contender === C.restoreFile) {
            const input: RestoreChildInput = {
              bucket: BUCKET, manifestKey,
              target: { host: pg.host, port: pg.port, user: pg.user, password: pg.password, database: target, sslMode: 'disable' },
              jobs: contender === C.restoreStream ? 1 : 2, workDir: tmp,
            };
            const out = await coreChild<RestoreChildOutput>(ctx, contender, restoreScript, input, label, round);
            m = { ...out.measurement, bytes: out.result?.restoredBytes };
          } else {
            m = await pgRestoreFile(ctx, file, target, label, contender === C.pgRestore1 ? 1 : 2, round);
          }
          if (m.ok) {
            const rows = await rowCounts(pg, target);
            const differing = differingCounts(rows, expectedRows);
            if (differing.length > 0) {
              m = { ...m, ok: false, error: `restored row counts of ${differing.join(', ')} differ: ${JSON.stringify(rows)} vs ${JSON.stringify(expectedRows)}` };
            }
          }
          record(restore, m);
        } finally {
          await dropDatabase(pg, target);
        }
      }
      restore.summaries = restoreContenders.map((c) => summarizeContender(restore.measurements, c, label));
      restore.ratios = [
        wallRatio('restore core jobs=2 / pg_restore -j2', find(restore, C.restoreFile, label), find(restore, C.pgRestore2, label)),
        wallRatio('restore core jobs=1 / pg_restore -j1', find(restore, C.restoreStream, label), find(restore, C.pgRestore1, label)),
        wallRatio('pg_restore -j2 / pg_restore -j1', find(restore, C.pgRestore2, label), find(restore, C.pgRestore1, label)),
        cpuRatio('CPU (client+server+emulator): restore core jobs=2 / pg_restore -j2',
          find(restore, C.restoreFile, label), find(restore, C.pgRestore2, label)),
        cpuRatio('CPU (client+server+emulator): restore core jobs=1 / pg_restore -j1',
          find(restore, C.restoreStream, label), find(restore, C.pgRestore1, label)),
      ];
    }
    const restoreLabel = `restore of ${base}`;
    const restoreChecks = restoreVerdicts({
      coreJ1: find(restore, C.restoreStream, restoreLabel), pgRestoreJ1: find(restore, C.pgRestore1, restoreLabel),
      coreJ2: find(restore, C.restoreFile, restoreLabel), pgRestoreJ2: find(restore, C.pgRestore2, restoreLabel),
    });
    verdicts.push(...(restore.available ? restoreChecks : restoreChecks.map((v) => ({ ...v, measured: restore.note ?? 'not measured' }))));
    verdicts.push(memoryVerdict([
      find(dump, C.core, base), find(dump, C.coreGzip6, base), ...(doubleInfo ? [find(dump, C.core, double)] : []),
      ...[...variants.keys()].map((v) => find(dump, v, base)),
      find(restore, C.restoreStream, restoreLabel), find(restore, C.restoreFile, restoreLabel),
    ]));

    const finishedAt = new Date();
    const results = {
      schemaVersion: 1,
      name: options.name,
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      options,
      machine: { ...machine, loadavgAtEnd: loadavg() },
      server: {
        version: serverVersion.rows[0].v,
        settings: 'fsync=off full_page_writes=off synchronous_commit=off shared_buffers=256MB max_wal_size=4GB ' +
          'maintenance_work_mem=256MB (same for every contender)',
      },
      targets: TARGETS,
      databases: { base: baseInfo, double: doubleInfo },
      dumpSize: {
        coreBytes: coreDumpBytes, coreMb: coreDumpBytes === undefined ? undefined : mb(coreDumpBytes),
        awscliBytes: awscliDumpBytes,
        uncompressedBytes: uncompressedBytes[base],
        compressedToUncompressed: coreDumpBytes === undefined ? undefined
          : Math.round((coreDumpBytes / uncompressedBytes[base]) * 1000) / 1000,
        ofDatabaseSize: coreDumpBytes === undefined ? undefined : Math.round((coreDumpBytes / baseInfo.sizeBytes) * 1000) / 1000,
        ofTableSize: coreDumpBytes === undefined ? undefined : Math.round((coreDumpBytes / baseInfo.tableBytes) * 1000) / 1000,
      },
      dump,
      restore,
      verdicts,
      skipped: awsCli.available ? [] : [{ contender: C.awscli, note: awsCli.note }],
      notes: [
        ...(awsCli.available && awsCli.note ? [`${C.awscli}: ${awsCli.path} (${awsCli.version}); ${awsCli.note}`] : []),
        'Wall times are measured by the bench from process start to exit, so node start-up and module loading count ' +
          'against the cores (innerSeconds excludes them). Contenders run interleaved round by round.',
        'coreMaxRssKb is the core process\'s own peak (process.resourceUsage().maxRSS); processMaxRssKb comes from ' +
          'GNU time (for a node child: max of node and its pg_dump/pg_restore); treePeakRssKb sums the whole process ' +
          'tree, sampled every 200 ms.',
        'Everything (PostgreSQL, moto, the contenders) shares one machine; loadavg1 per run shows how busy it was, ' +
          'and cpuSeconds.steal how much CPU the hypervisor took from the whole machine during the run (/proc/stat).',
        'scheduling gives, per pg_dump / pg_restore of a run, the CPU seconds it ran and the seconds it was ready but ' +
          'waited for a CPU (/proc/<pid>/schedstat, sampled every 200 ms): what the other processes cost the tool.',
        'cpuSeconds splits each run\'s CPU into client (the measured process tree, GNU time user+system including ' +
          'reaped children), server (PostgreSQL postmaster + backends that ended during the run, from /proc) and ' +
          'emulator (moto_server). CPU time is far less sensitive to a busy machine than wall time.',
      ],
    };
    await mkdir(RESULTS_DIR, { recursive: true });
    const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
    const file = join(RESULTS_DIR, `${options.name}-${stamp}.json`);
    await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
    await copyFile(file, join(RESULTS_DIR, 'latest.json'));

    const sizes = [
      `${base}: ${baseInfo.sizeMb} MiB (tables ${mb(baseInfo.tableBytes)}, indexes ${mb(baseInfo.indexBytes)})`,
      doubleInfo ? `${double}: ${doubleInfo.sizeMb} MiB` : undefined,
      coreDumpBytes !== undefined ? `dump: ${mb(coreDumpBytes)} MiB (${results.dumpSize.ofDatabaseSize} of the database size, ` +
        `${results.dumpSize.compressedToUncompressed} of the uncompressed dump's ${mb(uncompressedBytes[base])} MiB)` : undefined,
    ].filter((s) => s !== undefined).join('; ');
    console.log(`\n${sizes}\n`);
    console.log(formatTable([...dump.summaries, ...restore.summaries]));
    console.log('');
    for (const r of [...dump.ratios, ...restore.ratios]) console.log(formatRatio(r));
    for (const s of [dump, restore]) if (s.note) console.log(`note: ${s.note}`);
    if (!awsCli.available) console.log(`note: ${C.awscli} ${awsCli.note}`);
    console.log(`\n${formatVerdicts(verdicts)}\n\nresults: ${file}`);
  } finally {
    await cleanup.run();
  }
}

let options: BenchOptions;
try {
  options = parseArgs(process.argv.slice(2));
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  console.error(USAGE);
  process.exit(2);
}
(options.suite === 'retention' ? runRetentionBench(options, log) : main(options)).catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
});
