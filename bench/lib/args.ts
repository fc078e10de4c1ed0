/** Command-line options of `npm run bench` (pure parsing, no I/O). */

export interface BenchOptions {
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
  /** Part size handed to the dump core (MiB). @default - the core's own default */
  readonly partSizeMb?: number;
  /** Upload queue size handed to the dump core. @default - the core's own default */
  readonly queueSize?: number;
}

export const USAGE = `usage: npm run bench -- [--quick] [--size-mb N] [--repeats N] [--no-double] [--no-restore] [--name NAME]
  --quick        small smoke run: 30 MiB database, 1 repeat (overridable by the options after it)
  --size-mb N    size of the generated database in MiB, measured with pg_database_size (default 300)
  --repeats N    runs of each contender (default 3)
  --no-double    skip the doubled-size database (memory flatness check)
  --no-restore   skip the restore benchmark
  --name NAME    results file prefix (default "full", or "quick" with --quick)
  --part-size-mb N, --queue-size N
                 multipart part size / upload queue size for the dump core (default: the core's own defaults)`;

function positiveInt(flag: string, value: string | undefined): number {
  const n = Number(value);
  if (value === undefined || !Number.isInteger(n) || n < 1) {
    throw new Error(`${flag} needs a positive integer, got ${value === undefined ? 'nothing' : JSON.stringify(value)}`);
  }
  return n;
}

export function parseArgs(argv: readonly string[]): BenchOptions {
  const quick = argv.includes('--quick');
  let sizeMb = quick ? 30 : 300;
  let repeats = quick ? 1 : 3;
  let double = true;
  let restore = true;
  let name = quick ? 'quick' : 'full';
  let partSizeMb: number | undefined;
  let queueSize: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    switch (arg) {
      case '--quick':
        break;
      case '--size-mb':
        sizeMb = positiveInt(arg, argv[++i]);
        break;
      case '--repeats':
        repeats = positiveInt(arg, argv[++i]);
        break;
      case '--part-size-mb':
        partSizeMb = positiveInt(arg, argv[++i]);
        if (partSizeMb < 5) throw new Error(`--part-size-mb must be at least 5 (S3's minimum part size), got ${partSizeMb}`);
        break;
      case '--queue-size':
        queueSize = positiveInt(arg, argv[++i]);
        break;
      case '--no-double':
        double = false;
        break;
      case '--no-restore':
        restore = false;
        break;
      case '--name': {
        const value = argv[++i];
        if (value === undefined || !/^[A-Za-z0-9_-]+$/.test(value)) {
          throw new Error(`--name needs letters, digits, '-' or '_', got ${JSON.stringify(value ?? '')}`);
        }
        name = value;
        break;
      }
      default:
        throw new Error(`unknown option ${JSON.stringify(arg)}\n${USAGE}`);
    }
  }
  return { sizeMb, repeats, double, restore, name, quick, partSizeMb, queueSize };
}
