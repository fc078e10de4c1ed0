/**
 * A monthly storage cost estimate for one database's backups: the retained dumps by storage class (each dump's age
 * decides its class under the lifecycle), the replica copies, and RDS snapshots with their DR copies; with warnings
 * where the retention deletes a dump before its class's minimum storage duration (an early-deletion fee) and where a
 * restore would first need a Glacier restore (a fee and hours of delay). Pure: the CLI's `cost` command prints it.
 *
 * Prices are a dated table ({@link DEFAULT_PRICES}) the user overrides with a JSON file of the same shape.
 */
import { storageClassFacts } from '../lib/storage/storage-classes';

/** USD prices the estimate uses. */
export interface PriceTable {
  /** When these prices were taken from the AWS price pages, and for which region. */
  readonly asOf: string;
  readonly region: string;
  readonly currency: 'USD';
  /** Storage, per GB-month, by S3 storage class. */
  readonly s3GbMonth: Readonly<Record<string, number>>;
  /** Retrieval, per GB read, by storage class (standard retrieval for the Glacier classes). */
  readonly s3RetrievalGb: Readonly<Record<string, number>>;
  /** Hours until an archived object can be read (standard retrieval). */
  readonly restoreHours: Readonly<Record<string, number>>;
  /** RDS snapshot storage beyond the free backup allowance, per GB-month. */
  readonly rdsSnapshotGbMonth: number;
  /** Data transfer between regions (replication, snapshot copy), per GB. */
  readonly interRegionTransferGb: number;
}

/**
 * List prices for us-east-1 as published on the S3 and RDS pricing pages in 2025-01 (first-tier storage, standard
 * retrieval). Other regions differ by up to about 30 %: pass `--prices FILE` with the prices of yours.
 */
export const DEFAULT_PRICES: PriceTable = {
  asOf: '2025-01',
  region: 'us-east-1',
  currency: 'USD',
  s3GbMonth: { STANDARD: 0.023, STANDARD_IA: 0.0125, GLACIER_IR: 0.004, GLACIER: 0.0036, DEEP_ARCHIVE: 0.00099 },
  s3RetrievalGb: { STANDARD: 0, STANDARD_IA: 0.01, GLACIER_IR: 0.03, GLACIER: 0.01, DEEP_ARCHIVE: 0.02 },
  restoreHours: { GLACIER: 5, DEEP_ARCHIVE: 12 },
  rdsSnapshotGbMonth: 0.095,
  interRegionTransferGb: 0.02,
};

/** Checks a user's price table. @returns the problems, empty when usable */
export function priceTableProblems(value: unknown): string[] {
  if (typeof value !== 'object' || value === null) return ['the price table must be a JSON object shaped like the default (cdk-backup-dr cost --show-prices)'];
  const v = value as Record<string, unknown>;
  const problems: string[] = [];
  for (const field of ['s3GbMonth', 's3RetrievalGb', 'restoreHours'] as const) {
    const table = v[field];
    if (typeof table !== 'object' || table === null) problems.push(`${field} must be an object of storage class → number`);
    else for (const [k, n] of Object.entries(table)) if (typeof n !== 'number' || !(n >= 0)) problems.push(`${field}.${k} must be a number of 0 or more`);
  }
  for (const field of ['rdsSnapshotGbMonth', 'interRegionTransferGb'] as const) {
    if (typeof v[field] !== 'number' || !((v[field] as number) >= 0)) problems.push(`${field} must be a number of 0 or more`);
  }
  if (typeof v.asOf !== 'string') problems.push('asOf must say when the prices were taken (e.g. "2025-06")');
  return problems;
}

/** When dumps move between classes (days after creation), as BackupLifecycle.archive() schedules them. */
export interface LifecycleDays {
  readonly glacierIrAfter?: number;
  readonly glacierAfter?: number;
  readonly deepArchiveAfter?: number;
}

/** BackupLifecycle.archive()'s defaults. */
export const DEFAULT_LIFECYCLE: Required<LifecycleDays> = { glacierIrAfter: 30, glacierAfter: 120, deepArchiveAfter: 365 };

/** GFS retention as RetentionPolicy.gfs takes it. */
export interface RetentionCounts {
  readonly daily: number;
  readonly weekly: number;
  readonly monthly: number;
  readonly yearly: number;
}

/** What the estimate needs. */
export interface CostInput {
  /** Size of one dump (pg_dump -Fc, compressed), GB. */
  readonly dumpGb: number;
  /** Size of the database (what a snapshot's first copy stores), GB; 0 for no snapshots. */
  readonly databaseGb: number;
  /** Share of the database that changes per day (snapshots are incremental), 0-1. */
  readonly dailyChange: number;
  readonly retention: RetentionCounts;
  readonly lifecycle: LifecycleDays;
  /** Replicate dumps to a DR bucket (same lifecycle) and copy snapshots to the DR region. */
  readonly replica: boolean;
  /** Take daily snapshots, kept as many days as `retention.daily`. */
  readonly snapshots: boolean;
}

/** One line of the estimate. */
export interface CostLine {
  readonly item: string;
  readonly storageClass: string;
  readonly gb: number;
  readonly usdPerMonth: number;
}

/** The estimate. */
export interface CostEstimate {
  readonly prices: PriceTable;
  readonly lines: readonly CostLine[];
  readonly totalUsdPerMonth: number;
  readonly warnings: readonly string[];
}

/** How often each tier gets a new dump, days. */
const PERIOD_DAYS = { daily: 1, weekly: 7, monthly: 30, yearly: 365 } as const;

const DAY_AGES = {
  daily: (i: number) => i,
  weekly: (i: number) => 7 * (i + 1),
  monthly: (i: number) => 30 * (i + 1),
  yearly: (i: number) => 365 * (i + 1),
} as const;

/** The ages (days) of the dumps a GFS policy keeps in steady state, one per distinct day. */
export function retainedAges(retention: RetentionCounts): number[] {
  const ages = new Set<number>();
  for (const tier of ['daily', 'weekly', 'monthly', 'yearly'] as const) {
    for (let i = 0; i < retention[tier]; i += 1) ages.add(DAY_AGES[tier](i));
  }
  return [...ages].sort((a, b) => a - b);
}

/** The class a dump of `age` days is in. */
export function classAtAge(age: number, lifecycle: LifecycleDays): string {
  if (lifecycle.deepArchiveAfter !== undefined && age >= lifecycle.deepArchiveAfter) return 'DEEP_ARCHIVE';
  if (lifecycle.glacierAfter !== undefined && age >= lifecycle.glacierAfter) return 'GLACIER';
  if (lifecycle.glacierIrAfter !== undefined && age >= lifecycle.glacierIrAfter) return 'GLACIER_IR';
  return 'STANDARD';
}

/** The day a dump entered `storageClass` under `lifecycle`. */
function enteredAt(storageClass: string, lifecycle: LifecycleDays): number {
  return storageClass === 'DEEP_ARCHIVE' ? lifecycle.deepArchiveAfter! : storageClass === 'GLACIER' ? lifecycle.glacierAfter! : storageClass === 'GLACIER_IR' ? lifecycle.glacierIrAfter! : 0;
}

function price(table: Readonly<Record<string, number>>, storageClass: string): number {
  const value = table[storageClass];
  if (value === undefined) throw new RangeError(`the price table has no price for ${storageClass}`);
  return value;
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

/** Builds the estimate. */
export function estimateCost(input: CostInput, prices: PriceTable = DEFAULT_PRICES): CostEstimate {
  const ages = retainedAges(input.retention);
  const lines: CostLine[] = [];
  const warnings: string[] = [];
  const byClass = new Map<string, number>();
  for (const age of ages) {
    const storageClass = classAtAge(age, input.lifecycle);
    byClass.set(storageClass, (byClass.get(storageClass) ?? 0) + 1);
  }
  for (const copy of input.replica ? ['dumps (primary)', 'dumps (replica)'] : ['dumps']) {
    for (const [storageClass, count] of byClass) {
      const gb = count * input.dumpGb;
      lines.push({ item: `${copy}: ${count} kept`, storageClass, gb: round(gb, 1), usdPerMonth: round(gb * price(prices.s3GbMonth, storageClass)) });
    }
  }
  if (input.replica) {
    const gb = input.dumpGb * 30;
    lines.push({ item: 'replication transfer: 30 dumps', storageClass: '-', gb: round(gb, 1), usdPerMonth: round(gb * prices.interRegionTransferGb) });
  }
  if (input.snapshots && input.databaseGb > 0) {
    const kept = Math.max(1, input.retention.daily);
    const gb = input.databaseGb * (1 + input.dailyChange * (kept - 1));
    for (const copy of input.replica ? ['snapshots (primary)', 'snapshots (DR copies)'] : ['snapshots']) {
      lines.push({ item: `${copy}: ${kept} kept, incremental`, storageClass: 'RDS', gb: round(gb, 1), usdPerMonth: round(gb * prices.rdsSnapshotGbMonth) });
    }
    if (input.replica) {
      const transfer = input.databaseGb * input.dailyChange * 30;
      lines.push({ item: 'snapshot copy transfer: 30 increments', storageClass: '-', gb: round(transfer, 1), usdPerMonth: round(transfer * prices.interRegionTransferGb) });
    }
  }

  // Early deletion: a tier's dumps are deleted when the tier stops keeping them (the age of its oldest kept dump plus
  // one period); if that is less than the minimum storage duration after they entered their class, S3 bills the rest.
  const oldest = ages[ages.length - 1] ?? 0;
  for (const tier of ['daily', 'weekly', 'monthly', 'yearly'] as const) {
    const count = input.retention[tier];
    if (count === 0) continue;
    const deletedAt = DAY_AGES[tier](count - 1) + PERIOD_DAYS[tier];
    const storageClass = classAtAge(deletedAt - 1, input.lifecycle);
    const minimum = storageClassFacts(storageClass).minimumStorageDays;
    const days = deletedAt - enteredAt(storageClass, input.lifecycle);
    if (minimum > 0 && days < minimum) {
      const fee = input.dumpGb * price(prices.s3GbMonth, storageClass) * ((minimum - days) / 30);
      warnings.push(
        `early deletion: ${tier} dumps are deleted ${days} days after entering ${storageClass} (minimum ${minimum}): ` +
          `about ${fee.toFixed(2)} USD per deleted dump (${input.replica ? 'and as much for its replica; ' : ''}keep them longer or archive them later)`,
      );
    }
  }
  if (oldest >= (input.lifecycle.glacierAfter ?? Infinity)) {
    const cls = classAtAge(oldest, input.lifecycle);
    const retrieval = input.dumpGb * price(prices.s3RetrievalGb, cls);
    warnings.push(
      `dumps older than ${input.lifecycle.glacierAfter} days are in ${cls}: restoring one (a recovery test of an old backup, a failover to it) ` +
        `needs an S3 restore first: about ${retrieval.toFixed(2)} USD and ${prices.restoreHours[cls] ?? '?'} h per dump (standard retrieval); ` +
        'the RecoveryTest skips archived dumps',
    );
  } else if (oldest >= (input.lifecycle.glacierIrAfter ?? Infinity)) {
    warnings.push(
      `a recovery test of a dump older than ${input.lifecycle.glacierIrAfter} days reads it from GLACIER_IR: about ` +
        `${(input.dumpGb * price(prices.s3RetrievalGb, 'GLACIER_IR')).toFixed(2)} USD retrieval per test`,
    );
  }
  const total = round(lines.reduce((sum, l) => sum + l.usdPerMonth, 0));
  return { prices, lines, totalUsdPerMonth: total, warnings };
}

