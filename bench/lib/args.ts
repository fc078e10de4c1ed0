/** Command-line options of `npm run bench` (pure parsing, no I/O). */
import type { Compression } from '../../lambda/postgres/compression';
import { DEFAULT_LEVELS, parseLevels } from './levels';
import { PARALLEL_TABLES } from './parallel';

/** Settings of an extra dump-core contender, to see what a tuning would change (not judged against targets). */
export interface DumpVariant {
  readonly name: string;
  /** Multipart part size (MiB). @default - the core's own default */
  readonly partSizeMb?: number;
  /** Upload queue size. @default - the core's own default */
  readonly queueSize?: number;
  /** `requestChecksumCalculation` of the child's S3 client. @default - the SDK's default */
  readonly s3Checksum?: 'WHEN_SUPPORTED' | 'WHEN_REQUIRED';
}

/** Which bench runs: the dump/restore cores (default) or the retention decision and cleanup (bench/retention.ts). */
export type BenchSuite = 'dump' | 'retention';

export interface BenchOptions {
  readonly suite: BenchSuite;
  /** Retention suite: backups in the decision's history. */
  readonly backups: number;
  /** Retention suite: backups written to the emulator for the S3 cleanup. */
  readonly s3Backups: number;
  /** Target size of the base database in MiB (pg_database_size). */
  readonly sizeMb: number;
  /** Runs of every contender; medians and minimums are over these. */
  readonly repeats: number;
  /** Also generate a database of twice the size and measure the dump core's memory on it. */
  readonly double: boolean;
  readonly restore: boolean;
  /** Name prefix of the results file (bench/results/<name>-<timestamp>.json). */
  readonly name: string;
  readonly quick: boolean;
  /** Extra dump-core contenders with tuned settings, run on the base database alongside the others. */
  readonly variants: readonly DumpVariant[];
  /** Directory for V8 CPU profiles of the core children (`node --cpu-prof`). @default - no profiling */
  readonly profileDir?: string;
  /**
   * `--levels`: instead of the comparison with the stock tools, the dump core at each of these compressions
   * (interleaved rounds; no doubled database, no restore).
   * @default - the normal bench
   */
  readonly levels?: readonly Compression[];
  /**
   * `--parallel [JOBS]`: instead of the comparison with the stock tools, the dump core single-stream against
   * `parallelism: JOBS` at the same compression, on a database of several tables of the same size.
   * @default - the normal bench
   */
  readonly parallel?: number;
  /**
   * `--runners`: instead of the comparison with the stock tools, one dump through the dump handler as the Lambda
   * runtime calls it against the same handler behind the Fargate runner's entrypoint, each pinned to one CPU.
   */
  readonly runners?: boolean;
}

export const USAGE = `usage: npm run bench -- [--suite dump|retention] [--quick] [--size-mb N] [--repeats N] [--no-double] [--no-restore]
                       [--name NAME] [--variant NAME:part=MiB,queue=N,checksum=WHEN_REQUIRED ...] [--backups N] [--s3-backups N]
  --suite S      dump (default): the dump and restore cores; retention: the GFS decision and the S3 cleanup
  --quick        small smoke run: 30 MiB database, 1 repeat (overridable by the options after it)
  --size-mb N    size of the generated database in MiB, measured with pg_database_size (default 300)
  --repeats N    runs of each contender (default 3)
  --no-double    skip the doubled-size database (memory flatness check)
  --no-restore   skip the restore benchmark
  --name NAME    results file prefix (default "full", or "quick" with --quick)
  --levels [LIST] compression-level mode: the dump core at each compression of LIST (gzip levels as numbers, none,
                 or method:level; default ${DEFAULT_LEVELS}): time, size, peak RSS; implies --no-double --no-restore
  --parallel [J] parallel-dump mode: the dump core single-stream against pg_dump -Fd -jJ (default 2) at the same
                 compression, interleaved, on ${PARALLEL_TABLES} tables of the same size; implies --no-double --no-restore
  --runners      runner mode: the dump handler as Lambda calls it against the Fargate runner's entrypoint (runTask with
                 the task's environment, answering a loopback Step Functions endpoint), each child pinned to one CPU
                 (taskset -c 0, as a 1-vCPU function or task), interleaved; implies --no-double --no-restore
  --profile DIR  write a V8 CPU profile of every core child into DIR (node --cpu-prof; slows the children a little)
  --variant SPEC an extra dump-core contender with tuned settings (repeatable): part size in MiB (>= 5),
                 upload queue size, and the S3 client's requestChecksumCalculation (WHEN_SUPPORTED|WHEN_REQUIRED)
  retention suite (--repeats is the decision's rounds, default 15; --quick: 10,000 / 500 backups, 3 rounds):
  --backups N    hourly backups the decision runs over (default 100000)
  --s3-backups N hourly backups (manifest + dump) written to moto for the cleanup (default 5000)`;

function positiveInt(flag: string, value: string | undefined): number {
  const n = Number(value);
  if (value === undefined || !Number.isInteger(n) || n < 1) {
    throw new Error(`${flag} needs a positive integer, got ${value === undefined ? 'nothing' : JSON.stringify(value)}`);
  }
  return n;
}

/** Parses `NAME:part=16,queue=2,checksum=WHEN_REQUIRED`. */
export function parseVariant(spec: string | undefined): DumpVariant {
  const match = /^([A-Za-z0-9_-]+):(.+)$/.exec(spec ?? '');
  if (!match) throw new Error(`--variant needs NAME:key=value,... (keys part, queue, checksum), got ${JSON.stringify(spec ?? '')}`);
  let variant: DumpVariant = { name: match[1] };
  for (const pair of match[2].split(',')) {
    const [key, value] = pair.split('=');
    switch (key) {
      case 'part': {
        const partSizeMb = positiveInt('--variant part', value);
        if (partSizeMb < 5) throw new Error(`--variant part must be at least 5 (S3's minimum part size), got ${partSizeMb}`);
        variant = { ...variant, partSizeMb };
        break;
      }
      case 'queue':
        variant = { ...variant, queueSize: positiveInt('--variant queue', value) };
        break;
      case 'checksum':
        if (value !== 'WHEN_SUPPORTED' && value !== 'WHEN_REQUIRED') {
          throw new Error(`--variant checksum must be WHEN_SUPPORTED or WHEN_REQUIRED, got ${JSON.stringify(value ?? '')}`);
        }
        variant = { ...variant, s3Checksum: value };
        break;
      default:
        throw new Error(`--variant: unknown key ${JSON.stringify(key)} (use part, queue, checksum)`);
    }
  }
  return variant;
}

function parseSuite(value: string | undefined): BenchSuite {
  if (value !== 'dump' && value !== 'retention') throw new Error(`--suite must be dump or retention, got ${JSON.stringify(value ?? '')}`);
  return value;
}

export function parseArgs(argv: readonly string[]): BenchOptions {
  const quick = argv.includes('--quick');
  const suiteAt = argv.indexOf('--suite');
  const suite: BenchSuite = suiteAt < 0 ? 'dump' : parseSuite(argv[suiteAt + 1]);
  const retention = suite === 'retention';
  let sizeMb = quick ? 30 : 300;
  let repeats = retention ? (quick ? 3 : 15) : quick ? 1 : 3;
  let backups = quick ? 10_000 : 100_000;
  let s3Backups = quick ? 500 : 5_000;
  let double = true;
  let restore = true;
  let name = retention ? (quick ? 'retention-quick' : 'retention') : quick ? 'quick' : 'full';
  const variants: DumpVariant[] = [];
  let profileDir: string | undefined;
  let levels: Compression[] | undefined;
  let parallel: number | undefined;
  let runners = false;
  let named = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    switch (arg) {
      case '--quick':
        break;
      case '--suite':
        i++;
        break;
      case '--backups':
        backups = positiveInt(arg, argv[++i]);
        break;
      case '--s3-backups':
        s3Backups = positiveInt(arg, argv[++i]);
        break;
      case '--size-mb':
        sizeMb = positiveInt(arg, argv[++i]);
        break;
      case '--repeats':
        repeats = positiveInt(arg, argv[++i]);
        break;
      case '--no-double':
        double = false;
        break;
      case '--no-restore':
        restore = false;
        break;
      case '--variant': {
        const variant = parseVariant(argv[++i]);
        if (variants.some((v) => v.name === variant.name)) throw new Error(`--variant name ${variant.name} is used twice`);
        variants.push(variant);
        break;
      }
      case '--levels': {
        const next = argv[i + 1];
        levels = parseLevels(next === undefined || next.startsWith('--') ? DEFAULT_LEVELS : argv[++i]);
        break;
      }
      case '--parallel': {
        const next = argv[i + 1];
        parallel = next === undefined || next.startsWith('--') ? 2 : positiveInt('--parallel', argv[++i]);
        if (parallel < 2) throw new Error('--parallel needs 2 or more jobs (1 is the single stream it is compared with)');
        break;
      }
      case '--runners':
        runners = true;
        break;
      case '--profile': {
        const value = argv[++i];
        if (value === undefined || value.startsWith('--')) throw new Error('--profile needs a directory');
        profileDir = value;
        break;
      }
      case '--name': {
        const value = argv[++i];
        if (value === undefined || !/^[A-Za-z0-9_-]+$/.test(value)) {
          throw new Error(`--name needs letters, digits, '-' or '_', got ${JSON.stringify(value ?? '')}`);
        }
        name = value;
        named = true;
        break;
      }
      default:
        throw new Error(`unknown option ${JSON.stringify(arg)}\n${USAGE}`);
    }
  }
  if (runners) {
    if (retention || levels !== undefined || parallel !== undefined) throw new Error('--runners is a mode of the dump suite of its own; drop --suite retention, --levels and --parallel');
    return { suite, backups, s3Backups, sizeMb, repeats, double: false, restore: false, name: named ? name : 'runners', quick, variants, profileDir, runners };
  }
  if (parallel !== undefined) {
    if (retention || levels !== undefined) throw new Error('--parallel is a mode of the dump suite of its own; drop --suite retention and --levels');
    return { suite, backups, s3Backups, sizeMb, repeats, double: false, restore: false, name: named ? name : 'parallel', quick, variants, profileDir, parallel };
  }
  if (levels !== undefined) {
    if (retention) throw new Error('--levels belongs to the dump suite; drop --suite retention or --levels');
    return { suite, backups, s3Backups, sizeMb, repeats, double: false, restore: false, name: named ? name : 'levels', quick, variants, profileDir, levels };
  }
  return { suite, backups, s3Backups, sizeMb, repeats, double, restore, name, quick, variants, profileDir };
}
