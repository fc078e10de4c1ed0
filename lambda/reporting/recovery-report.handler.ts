/**
 * Recovery-report handler: the last step of every RecoveryTest run, successful or not (it runs after the cleanup).
 *
 * Decides the outcome from what the run collected (see lambda/reporting/recovery-report: SUCCEEDED only when every step and
 * check passed, the data was within the RPO and the cleanup finished), writes the JSON report to
 * `reports/recovery-test/<YYYY>/<MM>/<DD>/<timestamp>-<executionName>.json` in BUCKET_NAME (SSE-KMS with
 * BUCKET_KMS_KEY_ARN), publishes the metrics as CloudWatch EMF (namespace `CdkBackupDr`, dimension `Source` =
 * SOURCE_ID): RecoveryTestSucceeded, BackupAgeSeconds, RestoreDurationSeconds, RecoveryTestRtoSeconds; and returns the
 * outcome with the SNS subject, message and attributes the state machine publishes. RTO_SECONDS (and RTO_ENFORCED,
 * default `true`) set the RTO target the measured RTO is checked against.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { ReportHandlerResult, parseRtoTarget } from './recovery-workflow-report';
import { NotifiedReportKind, writeNotifiedReport } from './report-store';
import {
  RecoveryRunSummary,
  RecoveryTestReport,
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

const RECOVERY_TEST_REPORT: NotifiedReportKind<RecoveryRunSummary, RecoveryTestReport> = {
  what: 'recovery test',
  parse: parseRecoveryReportEvent,
  build: (summary, context) => buildRecoveryReport(summary, context, parseRtoTarget(process.env.RTO_SECONDS, process.env.RTO_ENFORCED)),
  key: recoveryReportKey,
  metrics: (report) => ({ data: recoveryTestMetrics(report) }),
  logFields: (report) => ({
    failureReasons: report.failureReasons.length,
    ...(report.timings.rtoSeconds !== undefined ? { rtoSeconds: report.timings.rtoSeconds } : {}),
    ...(report.dataAgeSeconds !== undefined ? { dataAgeSeconds: report.dataAgeSeconds } : {}),
  }),
  notification: recoveryNotification,
};

/** Lambda entry point: {@link writeNotifiedReport} (its errors too). */
export async function handler(event: unknown): Promise<RecoveryReportResult> {
  return writeNotifiedReport(s3, event, RECOVERY_TEST_REPORT);
}
