/**
 * Recovery-report handler: the last step of every RecoveryTest run, successful or not (it runs after the cleanup).
 *
 * Decides the outcome from what the run collected (see lambda/reporting/recovery-report: SUCCEEDED only when every step and
 * check passed, the data was within the RPO and the cleanup finished), writes the JSON report to
 * `reports/recovery-test/<YYYY>/<MM>/<DD>/<timestamp>-<executionName>.json` in BUCKET_NAME (SSE-KMS with
 * BUCKET_KMS_KEY_ARN), publishes the metrics as CloudWatch EMF (namespace `CdkBackupDr`, dimension `Source` =
 * SOURCE_ID): RecoveryTestSucceeded, BackupAgeSeconds, RestoreDurationSeconds; and returns the outcome with the SNS
 * subject and message the state machine publishes.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { requireEnv } from '../common/errors';
import { logger } from '../common/logger';
import { ReportHandlerResult, reportHandlerResult } from './recovery-workflow-report';
import { publishReportMetrics, putJsonReport } from './report-store';
import {
  SOURCE_DIMENSION,
  buildRecoveryReport,
  parseRecoveryReportEvent,
  recoveryNotification,
  recoveryReportKey,
  recoveryTestMetrics,
} from './recovery-report';

export type { RecoveryReportEvent, RecoveryRunState, RecoveryTestReport, RecoveryTimings, ReportCheck } from './recovery-report';

/** What the handler returns (the state machine publishes `subject`/`message` and ends by `status`). */
export type RecoveryReportResult = ReportHandlerResult;

const s3 = new S3Client({});

/**
 * Lambda entry point.
 *
 * @throws InvalidInput for a malformed event (nothing is written), MissingConfiguration for a missing environment
 *   variable, S3 errors as they come (then no metric is published).
 */
export async function handler(event: unknown): Promise<RecoveryReportResult> {
  const summary = parseRecoveryReportEvent(event);
  const bucket = requireEnv('BUCKET_NAME');
  const kmsKeyId = requireEnv('BUCKET_KMS_KEY_ARN');
  const source = requireEnv('SOURCE_ID');

  const report = buildRecoveryReport(summary, { source, finishedAt: new Date() });
  const reportKey = recoveryReportKey(report);
  const versionId = await putJsonReport(s3, { bucket, key: reportKey, kmsKeyId }, report);
  publishReportMetrics({ [SOURCE_DIMENSION]: source }, recoveryTestMetrics(report));
  logger.info('recovery test report written', {
    reportKey,
    status: report.status,
    failureReasons: report.failureReasons.length,
    ...(report.timings.rtoSeconds !== undefined ? { rtoSeconds: report.timings.rtoSeconds } : {}),
    ...(report.dataAgeSeconds !== undefined ? { dataAgeSeconds: report.dataAgeSeconds } : {}),
  });
  return reportHandlerResult(report, { reportKey, versionId }, recoveryNotification(report, reportKey, bucket));
}
