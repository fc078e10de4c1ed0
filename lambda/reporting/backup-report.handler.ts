/**
 * Report handler: the last step of every BackupWorkflow run, successful or not.
 *
 * Validates the run summary the state machine collected, writes the JSON report to
 * `reports/backup/<YYYY>/<MM>/<DD>/<timestamp>-<executionName>.json` in BUCKET_NAME (SSE-KMS with
 * BUCKET_KMS_KEY_ARN), then publishes the run's metrics as CloudWatch EMF (namespace `CdkBackupDr`, one dimension
 * `Source` = SOURCE_ID): BackupSucceeded, BackupDurationSeconds, BackupBytes (runs with dumps) and
 * LastSuccessTimestamp (successful runs). Returns the report's key.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { ReportFailed } from '../common/errors';
import { requireEnv } from '../common/errors';
import { logger } from '../common/logger';
import { publishReportMetrics, putJsonReport } from './report-store';
import {
  BackupReport,
  SOURCE_DIMENSION,
  backupReportKey,
  backupRunMetrics,
  buildBackupReport,
  parseBackupReportEvent,
} from './backup-report';

export type { BackupReport, BackupReportEvent, BackupRunSummary, DumpRunResult, SnapshotRunResult, StepError } from './backup-report';

/** What the handler returns. */
export interface ReportResult {
  /** Key of the report object in BUCKET_NAME. */
  readonly reportKey: string;
  /** S3 version id of the report object, when the bucket is versioned. */
  readonly versionId?: string;
  readonly status: BackupReport['status'];
}

const s3 = new S3Client({});

/**
 * Lambda entry point.
 *
 * @throws InvalidInput for a malformed summary (nothing is written), MissingConfiguration for a missing environment
 *   variable, and S3 errors as they come (then no metric is published: a run whose report is missing is not a success).
 */
export async function handler(event: unknown): Promise<ReportResult> {
  const summary = parseBackupReportEvent(event);
  const bucket = requireEnv('BUCKET_NAME');
  const kmsKeyId = requireEnv('BUCKET_KMS_KEY_ARN');
  const source = requireEnv('SOURCE_ID');

  const report = buildBackupReport(summary, { source, finishedAt: new Date() });
  const reportKey = backupReportKey(report);
  let versionId;
  try {
    versionId = await putJsonReport(s3, { bucket, key: reportKey, kmsKeyId }, report);
  } catch (error) {
    const why = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    const status = (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
    throw new ReportFailed(
      `the ${report.status} backup report could not be written to s3://${bucket}/${reportKey}: ${why}${status !== undefined ? ` (HTTP ${status})` : ''}`,
    );
  }
  publishReportMetrics({ [SOURCE_DIMENSION]: source }, backupRunMetrics(report));
  logger.info('backup report written', {
    reportKey,
    status: report.status,
    dumps: report.totals.dumps,
    dumpBytes: report.totals.dumpBytes,
    snapshots: report.totals.snapshots,
  });
  return { reportKey, status: report.status, ...(versionId ? { versionId } : {}) };
}
