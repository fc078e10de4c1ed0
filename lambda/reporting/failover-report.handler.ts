/**
 * Failover report handler: the last step of every Failover run, successful or not (after the cleanup of a dry run).
 *
 * Decides the outcome from what the run collected (lambda/reporting/failover-report), writes the JSON report to
 * `reports/failover/<YYYY>/<MM>/<DD>/<timestamp>-<executionName>.json` in BUCKET_NAME (SSE-KMS with
 * BUCKET_KMS_KEY_ARN), publishes the metrics as CloudWatch EMF (namespace `CdkBackupDr`, dimensions `Source` =
 * SOURCE_ID and `Mode` = rehearsal | failover): FailoverSucceeded, FailoverDurationSeconds, DataLossWindowSeconds; and
 * returns the outcome with the SNS subject and message the state machine publishes.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { requireEnv } from '../common/errors';
import {
  buildFailoverReport,
  failoverMetrics,
  failoverNotification,
  failoverReportKey,
  parseFailoverReportEvent,
} from './failover-report';
import { logger } from '../common/logger';
import { ReportHandlerResult, reportHandlerResult } from './recovery-workflow-report';
import { publishReportMetrics, putJsonReport } from './report-store';
import { SOURCE_DIMENSION } from './backup-report';

export type { FailoverReport, FailoverReportEvent, FailoverRunState, FailoverTimings } from './failover-report';

/** What the handler returns (the state machine publishes `subject`/`message` and ends by `status`). */
export type FailoverReportResult = ReportHandlerResult;

/** The second dimension of the failover metrics. */
export const MODE_DIMENSION = 'Mode';

const s3 = new S3Client({});

/**
 * Lambda entry point.
 *
 * @throws InvalidInput for a malformed event (nothing is written), MissingConfiguration for a missing environment
 *   variable, S3 errors as they come (then no metric is published).
 */
export async function handler(event: unknown): Promise<FailoverReportResult> {
  const summary = parseFailoverReportEvent(event);
  const bucket = requireEnv('BUCKET_NAME');
  const kmsKeyId = requireEnv('BUCKET_KMS_KEY_ARN');
  const source = requireEnv('SOURCE_ID');

  const report = buildFailoverReport(summary, { source, finishedAt: new Date() });
  const reportKey = failoverReportKey(report);
  const versionId = await putJsonReport(s3, { bucket, key: reportKey, kmsKeyId }, report);
  if (report.mode !== undefined) publishReportMetrics({ [SOURCE_DIMENSION]: source, [MODE_DIMENSION]: report.mode }, failoverMetrics(report));
  logger.info('failover report written', {
    reportKey,
    status: report.status,
    mode: report.mode ?? 'invalid-input',
    failureReasons: report.failureReasons.length,
    ...(report.timings.rtoSeconds !== undefined ? { rtoSeconds: report.timings.rtoSeconds } : {}),
    ...(report.dataLossWindowSeconds !== undefined ? { dataLossWindowSeconds: report.dataLossWindowSeconds } : {}),
  });
  return reportHandlerResult(report, { reportKey, versionId }, failoverNotification(report, reportKey, bucket));
}
