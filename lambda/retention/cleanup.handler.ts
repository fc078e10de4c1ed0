/**
 * Cleanup handler: applies the retention policy to one target (`primary`: the backup bucket and the snapshots in this
 * region; `replica`: the replica bucket and the DR copies, in the DR region), writes the report to
 * `reports/cleanup/…` in the backup bucket, publishes the cleanup and snapshot-quota metrics, and throws
 * CleanupFailed when any deletion or listing failed (after the report), so the run ends FAILED.
 *
 * Environment: BUCKET_NAME, BUCKET_KMS_KEY_ARN, SOURCE_ID, RETENTION_POLICY (JSON rules), ORPHAN_GRACE_SECONDS,
 * OBJECT_LOCK, REMOVE_VERSIONS; for the replica REPLICA_BUCKET_NAME, DR_REGION, REPLICA_RETENTION_POLICY,
 * REPLICA_OBJECT_LOCK; for snapshots SNAPSHOT_KIND and SNAPSHOT_SOURCE (and DR_REGION for the copies);
 * IN_USE_STATE_MACHINES (comma-separated ARNs of the RecoveryTest / Failover state machines whose running executions'
 * picks are never deleted; when Step Functions cannot be asked, nothing is deleted and the run fails).
 */
import { S3Client } from '@aws-sdk/client-s3';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { CleanupFailed } from '../common/errors';
import { logger, metrics } from '../common/logger';
import { CLEANUP_DIMENSIONS, CLEANUP_METRICS, METRIC_DIMENSIONS, SNAPSHOT_QUOTA_METRICS } from '../common/metrics';
import { putTextObject } from '../aws/s3';
import { DumpCleanupResult, SnapshotCleanupResult, SnapshotQuota, cleanDumps, cleanSnapshots, manualSnapshotQuota } from './cleanup-core';
import { CleanupReport, cleanupReportKey, parseCleanupEvent, readCleanupConfig } from './cleanup-input';
import { InUseCheck, backupsInUse } from './in-use';

export type { CleanupEvent, CleanupReport, CleanupRequest, CleanupTaskEvent } from './cleanup-input';

const s3Clients = new Map<string, S3Client>();
function s3For(region: string): S3Client {
  let client = s3Clients.get(region);
  if (!client) {
    client = new S3Client({ region });
    s3Clients.set(region, client);
  }
  return client;
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** What the handler returns to the state machine: the report's key and counts, not the whole plan. */
export interface CleanupResult {
  readonly status: CleanupReport['status'];
  readonly target: CleanupReport['target'];
  readonly dryRun: boolean;
  readonly reportKey: string;
  readonly backupsKept: number;
  readonly objectsDeleted: number;
  readonly snapshotsDeleted: number;
}

export async function handler(event: unknown): Promise<CleanupResult> {
  // Everything is read and checked before the first listing: a bad request or deployment changes nothing.
  const input = parseCleanupEvent(event);
  const config = readCleanupConfig(process.env, input.target);
  const { home, reportBucket, kmsKeyId, source, region, bucket, rules } = config;

  const startedAt = new Date();
  const errors: string[] = [];
  let dumps: DumpCleanupResult | undefined;
  let snapshots: SnapshotCleanupResult | undefined;
  let quota: SnapshotQuota | undefined;
  // Ask Step Functions first: when it cannot say which backups running recovery tests and failovers picked, nothing
  // is deleted and the run fails.
  let inUse: InUseCheck | undefined;
  try {
    inUse = await backupsInUse(config.inUseStateMachines);
  } catch (error) {
    errors.push(`running executions of ${config.inUseStateMachines.join(', ')}: ${describeError(error)}; nothing was deleted`);
  }
  if (inUse) {
    const picked = inUse.inUse;
    try {
      dumps = await cleanDumps({
        s3: s3For(region),
        bucket,
        source,
        rules,
        now: startedAt,
        dryRun: input.dryRun,
        orphanGraceSeconds: config.orphanGraceSeconds,
        objectLock: config.objectLock,
        removeVersions: config.removeVersions,
        inUse: picked,
      });
      errors.push(...dumps.errors);
    } catch (error) {
      errors.push(`dumps in s3://${bucket}: ${describeError(error)}`);
    }
    if (config.snapshots) {
      const { kind, source: snapshotSource } = config.snapshots;
      try {
        snapshots = await cleanSnapshots({ region, kind, sourceIdentifier: snapshotSource, rules, now: startedAt, dryRun: input.dryRun, inUse: picked });
        errors.push(...snapshots.errors);
      } catch (error) {
        errors.push(`snapshots of ${snapshotSource} in ${region}: ${describeError(error)}`);
      }
    }
  }
  if (config.snapshots) quota = await manualSnapshotQuota(region);

  const report: CleanupReport = {
    workflow: 'cleanup',
    status: errors.length === 0 ? 'SUCCEEDED' : 'FAILED',
    target: input.target,
    dryRun: input.dryRun,
    source,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    policy: rules,
    ...(dumps ? { dumps } : {}),
    ...(snapshots ? { snapshots } : {}),
    ...(quota ? { quota } : {}),
    ...(inUse ? { inUse: { runningExecutions: inUse.runningExecutions, backups: Object.fromEntries(inUse.inUse) } } : {}),
    errors,
  };
  const reportKey = cleanupReportKey(startedAt, input.target, input.executionName);
  await putTextObject(s3For(home), reportBucket, reportKey, JSON.stringify(report, null, 2), 'application/json', kmsKeyId);

  const backupsKept = (dumps?.series ?? []).reduce((n, s) => n + s.kept, 0) + (snapshots?.series.kept ?? 0);
  // Exactly these dimensions (no `service`): the constructs' metricX() and the alarms select by them alone.
  const single = metrics.singleMetric();
  single.clearDefaultDimensions();
  single.setDefaultDimensions({ [METRIC_DIMENSIONS.source]: source, [CLEANUP_DIMENSIONS.target]: input.target });
  single.addMetric(CLEANUP_METRICS.succeeded, MetricUnit.Count, report.status === 'SUCCEEDED' ? 1 : 0);
  single.addMetric(CLEANUP_METRICS.backupsKept, MetricUnit.Count, backupsKept);
  single.addMetric(CLEANUP_METRICS.objectsDeleted, MetricUnit.Count, dumps?.objectsDeleted ?? 0);
  single.addMetric(CLEANUP_METRICS.bytesFreed, MetricUnit.Bytes, dumps?.bytesFreed ?? 0);
  single.addMetric(CLEANUP_METRICS.snapshotsDeleted, MetricUnit.Count, snapshots?.snapshotsDeleted ?? 0);
  single.addMetric(CLEANUP_METRICS.orphansSwept, MetricUnit.Count, input.dryRun ? 0 : (dumps?.swept.length ?? 0));
  single.addMetric(CLEANUP_METRICS.errors, MetricUnit.Count, errors.length);
  if (quota?.used !== undefined) {
    const q = metrics.singleMetric();
    q.clearDefaultDimensions();
    q.setDefaultDimensions({ [METRIC_DIMENSIONS.source]: source, [CLEANUP_DIMENSIONS.region]: region });
    q.addMetric(SNAPSHOT_QUOTA_METRICS.used, MetricUnit.Count, quota.used);
    if (quota.max !== undefined) q.addMetric(SNAPSHOT_QUOTA_METRICS.quota, MetricUnit.Count, quota.max);
  }
  logger.info('cleanup report written', { reportKey, status: report.status, target: input.target, dryRun: input.dryRun, errors: errors.length });

  if (errors.length > 0) {
    throw new CleanupFailed(`${errors.length} cleanup step(s) failed (report s3://${reportBucket}/${reportKey}): ${errors.slice(0, 3).join('; ')}`);
  }
  return {
    status: report.status,
    target: input.target,
    dryRun: input.dryRun,
    reportKey,
    backupsKept,
    objectsDeleted: dumps?.objectsDeleted ?? 0,
    snapshotsDeleted: snapshots?.snapshotsDeleted ?? 0,
  };
}
