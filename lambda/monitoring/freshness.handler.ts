/**
 * Freshness handler: run by the BackupMonitoring freshness state machine every hour. For each target of
 * FRESHNESS_TARGETS (JSON: `[{ kind, bucket, source, lookBackSeconds }]`) it reads the newest reports in the bucket
 * (./freshness-core) and publishes, as CloudWatch EMF with the one dimension `Source`, how long ago the newest
 * SUCCEEDED run ended (LatestBackupAgeSeconds, LatestPassedRecoveryTestAgeSeconds,
 * LatestFailoverRehearsalAgeSeconds) and, for backups, LatestBackupSizeRatio. A target whose reports cannot be read
 * publishes nothing (its alarms treat missing data as breaching) and fails the run after the others are measured.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { ReportFailed, requireEnv } from '../common/errors';
import { logger, metrics } from '../common/logger';
import { METRIC_DIMENSIONS } from '../common/metrics';
import { FreshnessDatum, findGoodRuns, freshnessMetrics, parseFreshnessTargets } from './freshness-core';

/** Reports read per target at most (newest first). */
const MAX_READS = 200;
/** Earlier backups the size ratio compares with. */
const SIZE_HISTORY = 7;

const s3 = new S3Client({});

/** One measured target, as the handler returns it. */
export interface FreshnessResult {
  readonly kind: string;
  readonly source: string;
  readonly metrics: readonly FreshnessDatum[];
  readonly reads: number;
}

/** What the handler returns. */
export interface FreshnessOutput {
  readonly targets: readonly FreshnessResult[];
}

const UNITS = { Seconds: MetricUnit.Seconds, None: MetricUnit.NoUnit } as const;

/** Lambda entry point. @throws ReportFailed naming every target whose reports could not be read (after the others). */
export async function handler(): Promise<FreshnessOutput> {
  const targets = parseFreshnessTargets(requireEnv('FRESHNESS_TARGETS'));
  const now = new Date();
  const results: FreshnessResult[] = [];
  const failures: string[] = [];
  for (const target of targets) {
    try {
      const found = await findGoodRuns(s3, target, now, { maxReads: MAX_READS, sizeHistory: SIZE_HISTORY });
      const data = freshnessMetrics(target.kind, found, now);
      const single = metrics.singleMetric();
      single.clearDefaultDimensions();
      single.setDefaultDimensions({ [METRIC_DIMENSIONS.source]: target.source });
      for (const datum of data) single.addMetric(datum.name, UNITS[datum.unit], datum.value);
      results.push({ kind: target.kind, source: target.source, metrics: data, reads: found.reads });
      logger.info('freshness measured', { kind: target.kind, source: target.source, reads: found.reads, newest: found.runs[0]?.key ?? null });
    } catch (error) {
      failures.push(`${target.kind} reports of ${target.source} in s3://${target.bucket}: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
    }
  }
  if (failures.length > 0) throw new ReportFailed(`could not read: ${failures.join('; ')}`);
  return { targets: results };
}
