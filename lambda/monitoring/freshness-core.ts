/**
 * How long ago the last good run of each workflow was, read from the run reports in the bucket (`reports/<workflow>/
 * <YYYY>/<MM>/<DD>/<timestamp>-<execution>.json`, the audit evidence): the ages CloudWatch alarms cannot look back far
 * enough to see themselves (an alarm's evaluation spans at most seven days; a weekly recovery test plus its margin, or
 * a quarterly failover rehearsal, is longer). And, for backups, the newest backup's size against the median of the
 * ones before it: a dump that "succeeded" but is far smaller than usual means an emptied database or a broken dump.
 *
 * One listing per month of the look-back (newest first), one GET per report read, newest first, until what is wanted
 * is found or `maxReads` reports were read.
 */
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { getTextObjectOrUndefined } from '../aws/s3';
import { FRESHNESS_KINDS, REPORT_PREFIXES, type FreshnessKind, type FreshnessTarget } from './freshness-targets';
import { FRESHNESS_METRICS } from '../common/metrics';
import { InvalidInput } from '../common/errors';
import { JsonObject, expectNumber, expectObject, expectOneOf, expectString } from '../common/validate';

export { FRESHNESS_KINDS, REPORT_PREFIXES, type FreshnessKind, type FreshnessTarget } from './freshness-targets';

/**
 * Validates the FRESHNESS_TARGETS environment variable (a JSON array of {@link FreshnessTarget}).
 *
 * @throws InvalidInput naming the field
 */
export function parseFreshnessTargets(json: string): FreshnessTarget[] {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new InvalidInput('FRESHNESS_TARGETS must be JSON: an array of { kind, bucket, source, lookBackSeconds }');
  }
  if (!Array.isArray(value) || value.length === 0) throw new InvalidInput('FRESHNESS_TARGETS must be a non-empty array of { kind, bucket, source, lookBackSeconds }');
  return value.map((item, i) => {
    const target = expectObject(item, `FRESHNESS_TARGETS[${i}]`);
    return {
      kind: expectOneOf(target.kind, `FRESHNESS_TARGETS[${i}].kind`, FRESHNESS_KINDS),
      bucket: expectString(target.bucket, `FRESHNESS_TARGETS[${i}].bucket`),
      source: expectString(target.source, `FRESHNESS_TARGETS[${i}].source`),
      lookBackSeconds: expectNumber(target.lookBackSeconds, `FRESHNESS_TARGETS[${i}].lookBackSeconds`, 3600),
    };
  });
}

/** `<prefix><YYYY>/<MM>/` of every month from `to` back to `from` (UTC), newest first. */
export function monthPrefixes(prefix: string, from: Date, to: Date): string[] {
  const out: string[] = [];
  let year = to.getUTCFullYear();
  let month = to.getUTCMonth();
  const stopYear = from.getUTCFullYear();
  const stopMonth = from.getUTCMonth();
  while (year > stopYear || (year === stopYear && month >= stopMonth)) {
    out.push(`${prefix}${year}/${String(month + 1).padStart(2, '0')}/`);
    month -= 1;
    if (month < 0) {
      month = 11;
      year -= 1;
    }
  }
  return out;
}

/** When a report's run started, from its key (`…/<YYYYMMDDTHHMMSS.mmmZ>-<execution>.json`); undefined if it has none. */
export function reportKeyTime(key: string): Date | undefined {
  const match = /\/(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})\.(\d{3})Z-[^/]*\.json$/.exec(key);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s, ms] = match;
  const text = `${y}-${mo}-${d}T${h}:${mi}:${s}.${ms}Z`;
  const time = new Date(text);
  // Date rolls an impossible day over (Feb 30 → Mar 2): only a key that round-trips is a time.
  return Number.isNaN(time.getTime()) || time.toISOString() !== text ? undefined : time;
}

/** A report that counts as a good run: SUCCEEDED, of the source; with its end and (backups) its dump bytes. */
export interface GoodRun {
  readonly key: string;
  readonly finishedAt: Date;
  /** Backups with dumps: the total dump bytes. */
  readonly dumpBytes?: number;
}

/** A report's good run, or undefined when it is not one (another source, FAILED, malformed). */
export function goodRun(key: string, report: JsonObject, source: string): GoodRun | undefined {
  if (report.source !== source || report.status !== 'SUCCEEDED' || typeof report.finishedAt !== 'string') return undefined;
  const finishedAt = new Date(report.finishedAt);
  if (Number.isNaN(finishedAt.getTime())) return undefined;
  const totals = report.totals as JsonObject | undefined;
  const dumps = typeof totals?.dumps === 'number' ? totals.dumps : 0;
  const bytes = typeof totals?.dumpBytes === 'number' ? totals.dumpBytes : undefined;
  return { key, finishedAt, ...(dumps > 0 && bytes !== undefined ? { dumpBytes: bytes } : {}) };
}

/** What {@link findGoodRuns} found. */
export interface GoodRunsFound {
  /** Newest first. */
  readonly runs: readonly GoodRun[];
  /** Reports read (GETs). */
  readonly reads: number;
  /** The start of the oldest report looked at, or of the look-back when every report in it was read. */
  readonly searchedBack: Date;
}

/**
 * The newest good runs of `target`, newest first: the newest one, and for backups up to `sizeHistory` more with dumps
 * (for the size ratio). Reads at most `maxReads` reports.
 */
export async function findGoodRuns(
  s3: S3Client,
  target: FreshnessTarget,
  now: Date,
  options: { readonly maxReads: number; readonly sizeHistory: number },
): Promise<GoodRunsFound> {
  const from = new Date(now.getTime() - target.lookBackSeconds * 1000);
  const wanted = target.kind === 'backup' ? 1 + options.sizeHistory : 1;
  const runs: GoodRun[] = [];
  let reads = 0;
  const searchedBack = from;
  for (const prefix of monthPrefixes(REPORT_PREFIXES[target.kind], from, now)) {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: target.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    keys.sort().reverse();
    for (const key of keys) {
      const started = reportKeyTime(key);
      if (started === undefined || started < from || started > now) continue;
      if (reads >= options.maxReads) return { runs, reads, searchedBack: started };
      reads += 1;
      const text = await getTextObjectOrUndefined(s3, target.bucket, key);
      if (text === undefined) continue;
      let report: unknown;
      try {
        report = JSON.parse(text);
      } catch {
        continue;
      }
      if (typeof report !== 'object' || report === null || Array.isArray(report)) continue;
      const run = goodRun(key, report as JsonObject, target.source);
      if (!run) continue;
      // The age counts from the newest good run of any kind; the size history only from runs with dumps.
      if (runs.length === 0 || run.dumpBytes !== undefined) runs.push(run);
      if (runs.length >= wanted && (target.kind !== 'backup' || runs.filter((r) => r.dumpBytes !== undefined).length >= wanted)) {
        return { runs, reads, searchedBack: started };
      }
    }
  }
  return { runs, reads, searchedBack };
}

/** The median of `values` (non-empty). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Fewest earlier backups the size ratio is computed from. */
export const MIN_SIZE_HISTORY = 3;

/** A metric value to publish (unit: CloudWatch's name). */
export interface FreshnessDatum {
  readonly name: string;
  readonly unit: 'Seconds' | 'None';
  readonly value: number;
}

/**
 * The metrics of one target: the age of its newest good run, seconds (when none was found: how far back was searched,
 * a lower bound that exceeds the alarm's threshold); for backups, the newest backup's dump bytes over the median of
 * up to `sizeHistory` earlier ones, when at least {@link MIN_SIZE_HISTORY} are known.
 */
export function freshnessMetrics(kind: FreshnessKind, found: GoodRunsFound, now: Date): FreshnessDatum[] {
  const newest = found.runs[0];
  const ageSeconds = Math.max(0, Math.round((now.getTime() - (newest?.finishedAt ?? found.searchedBack).getTime()) / 1000));
  const name = kind === 'backup' ? FRESHNESS_METRICS.backupAgeSeconds : kind === 'recovery-test' ? FRESHNESS_METRICS.recoveryTestAgeSeconds : FRESHNESS_METRICS.rehearsalAgeSeconds;
  const out: FreshnessDatum[] = [{ name, unit: 'Seconds', value: ageSeconds }];
  if (kind === 'backup') {
    const sized = found.runs.filter((r) => r.dumpBytes !== undefined);
    const [latest, ...earlier] = sized;
    if (latest && earlier.length >= MIN_SIZE_HISTORY) {
      const typical = median(earlier.map((r) => r.dumpBytes as number));
      if (typical > 0) out.push({ name: FRESHNESS_METRICS.backupSizeRatio, unit: 'None', value: Math.round(((latest.dumpBytes as number) / typical) * 1000) / 1000 });
    }
  }
  return out;
}
