/** `cost`: the monthly storage cost of one database's backups, by storage class, from a dated price table. */
import * as fs from 'node:fs';
import { DEFAULT_LIFECYCLE, DEFAULT_PRICES, estimateCost, priceTableProblems, type PriceTable } from '../cost';
import { decimal, emit, EXIT, helpRequested, parseOptions, textTable, USAGE_FOOTER, UsageError, wholeNumber, type CliCommand } from '../io';

const USAGE = `Usage: cdk-backup-dr cost --dump-size GB [options]

Estimates the monthly storage cost of one database's backups in steady state: the dumps a GFS retention keeps,
each in the storage class its age gives under the lifecycle (BackupLifecycle.archive() defaults: Glacier IR after
30 days, Glacier after 120, Deep Archive after 365), their replica copies and the replication transfer, and daily
RDS snapshots (incremental: the database once plus each day's changes) with their DR copies. Warns where the
retention deletes dumps before their class's minimum storage duration (early-deletion fee) and where a restore
would first need a Glacier restore (fee and hours). Prices: ${DEFAULT_PRICES.region} list prices of ${DEFAULT_PRICES.asOf}
(S3 and RDS pricing pages); pass --prices FILE for your region or a later date (--show-prices prints the table).
Requests, KMS and Lambda/Step Functions charges are not included (cents per month at one backup a day).

Options:
  --dump-size GB        size of one dump (pg_dump -Fc output, compressed), GB
  --database-size GB    size of the database, for snapshots (default 0: no snapshots)
  --daily-change PCT    share of the database changed per day, percent (default 2)
  --daily N             daily dumps kept (default 7)
  --weekly N            weekly dumps kept (default 4)
  --monthly N           monthly dumps kept (default 12)
  --yearly N            yearly dumps kept (default 0)
  --glacier-ir-after D  days until Glacier Instant Retrieval (default ${DEFAULT_LIFECYCLE.glacierIrAfter}; 0 = never)
  --glacier-after D     days until Glacier Flexible Retrieval (default ${DEFAULT_LIFECYCLE.glacierAfter}; 0 = never)
  --deep-archive-after D  days until Deep Archive (default ${DEFAULT_LIFECYCLE.deepArchiveAfter}; 0 = never)
  --no-replica          no DR replica bucket or snapshot copies
  --prices FILE         a JSON price table of the same shape as --show-prices prints
  --show-prices         print the price table in use and exit

${USAGE_FOOTER}`;

function readPrices(file: string | undefined): PriceTable {
  if (file === undefined) return DEFAULT_PRICES;
  let value: unknown;
  try {
    value = JSON.parse(fs.readFileSync(file, 'utf-8'));
  } catch (error) {
    throw new UsageError(`--prices ${file} cannot be read as JSON: ${(error as Error).message}`);
  }
  const problems = priceTableProblems(value);
  if (problems.length > 0) throw new UsageError(`--prices ${file}: ${problems.join('; ')}`);
  const table = value as PriceTable;
  return { ...DEFAULT_PRICES, ...table, region: table.region ?? 'as given', currency: 'USD' };
}

export const costCommand: CliCommand = {
  name: 'cost',
  summary: 'monthly storage cost per storage class for a database size, retention and lifecycle',
  usage: USAGE,
  async run(args, io) {
    const values = parseOptions(args, {
      'dump-size': { type: 'string' },
      'database-size': { type: 'string' },
      'daily-change': { type: 'string' },
      daily: { type: 'string' },
      weekly: { type: 'string' },
      monthly: { type: 'string' },
      yearly: { type: 'string' },
      'glacier-ir-after': { type: 'string' },
      'glacier-after': { type: 'string' },
      'deep-archive-after': { type: 'string' },
      'no-replica': { type: 'boolean' },
      prices: { type: 'string' },
      'show-prices': { type: 'boolean' },
    });
    if (helpRequested(values, io, USAGE)) return EXIT.ok;
    const prices = readPrices(values.prices);
    if (values['show-prices']) {
      io.stdout(`${JSON.stringify(prices, null, 2)}\n`);
      return EXIT.ok;
    }
    if (values['dump-size'] === undefined) throw new UsageError('--dump-size is required (GB of one compressed dump)');
    const dumpGb = decimal(values['dump-size'], '--dump-size', 0);
    const databaseGb = decimal(values['database-size'], '--database-size', 0);
    const dailyChange = decimal(values['daily-change'], '--daily-change', 2);
    if (dailyChange > 100) throw new UsageError(`--daily-change is a percentage from 0 to 100; got ${dailyChange}`);
    const days = (option: string, fallback: number): number | undefined => {
      const n = wholeNumber(values[option as 'glacier-after'], `--${option}`, fallback, 0, 36_500);
      return n === 0 ? undefined : n;
    };
    const lifecycle = {
      glacierIrAfter: days('glacier-ir-after', DEFAULT_LIFECYCLE.glacierIrAfter),
      glacierAfter: days('glacier-after', DEFAULT_LIFECYCLE.glacierAfter),
      deepArchiveAfter: days('deep-archive-after', DEFAULT_LIFECYCLE.deepArchiveAfter),
    };
    const ordered = [lifecycle.glacierIrAfter, lifecycle.glacierAfter, lifecycle.deepArchiveAfter].filter((d): d is number => d !== undefined);
    if (ordered.some((d, i) => i > 0 && d <= ordered[i - 1])) {
      throw new UsageError('the lifecycle days must grow: --glacier-ir-after < --glacier-after < --deep-archive-after (0 leaves a step out)');
    }
    const retention = {
      daily: wholeNumber(values.daily, '--daily', 7, 0, 3660),
      weekly: wholeNumber(values.weekly, '--weekly', 4, 0, 520),
      monthly: wholeNumber(values.monthly, '--monthly', 12, 0, 1200),
      yearly: wholeNumber(values.yearly, '--yearly', 0, 0, 100),
    };
    if (retention.daily + retention.weekly + retention.monthly + retention.yearly === 0) throw new UsageError('the retention keeps nothing: give --daily, --weekly, --monthly or --yearly');
    const estimate = estimateCost(
      { dumpGb, databaseGb, dailyChange: dailyChange / 100, retention, lifecycle, replica: !values['no-replica'], snapshots: databaseGb > 0 },
      prices,
    );
    emit(io, values.json, estimate, () =>
      textTable(
        ['item', 'class', 'GB', 'USD/month'],
        estimate.lines.map((l) => [l.item, l.storageClass, l.gb.toFixed(1), l.usdPerMonth.toFixed(2)]),
      ) +
        `total: ${estimate.totalUsdPerMonth.toFixed(2)} USD/month (prices: ${prices.region}, ${prices.asOf})\n` +
        estimate.warnings.map((w) => `warning: ${w}\n`).join(''),
    );
    return EXIT.ok;
  },
};
