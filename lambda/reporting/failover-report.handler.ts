/**
 * Failover report handler: the last step of every Failover run, successful or not (after the cleanup of a dry run).
 *
 * Decides the outcome from what the run collected (lambda/reporting/failover-report), writes the JSON report to
 * `reports/failover/<YYYY>/<MM>/<DD>/<timestamp>-<executionName>.json` in BUCKET_NAME (SSE-KMS with
 * BUCKET_KMS_KEY_ARN), publishes the metrics as CloudWatch EMF (namespace `CdkBackupDr`, dimensions `Source` =
 * SOURCE_ID and `Mode` = rehearsal | failover): FailoverSucceeded, FailoverDurationSeconds, DataLossWindowSeconds,
 * FailoverRtoSeconds; and returns the outcome with the SNS subject, message and attributes the state machine
 * publishes. RTO_SECONDS (and RTO_ENFORCED, default `true`) set the RTO target the measured RTO is checked against.
 */
import { S3Client } from '@aws-sdk/client-s3';
import {
  FailoverReport,
  FailoverRunSummary,
  buildFailoverReport,
  failoverMetrics,
  failoverNotification,
  failoverReportKey,
  parseFailoverReportEvent,
} from './failover-report';
import { ReportHandlerResult, parseRtoTarget } from './recovery-workflow-report';
import { NotifiedReportKind, writeNotifiedReport } from './report-store';
import { METRIC_DIMENSIONS } from '../common/metrics';

export type { FailoverReport, FailoverReportEvent, FailoverRunState, FailoverTimings } from './failover-report';

/** What the handler returns (the state machine publishes `subject`/`message` and ends by `status`). */
export type FailoverReportResult = ReportHandlerResult;

const s3 = new S3Client({});

const FAILOVER_REPORT: NotifiedReportKind<FailoverRunSummary, FailoverReport> = {
  what: 'failover',
  parse: parseFailoverReportEvent,
  build: (summary, context) => buildFailoverReport(summary, context, parseRtoTarget(process.env.RTO_SECONDS, process.env.RTO_ENFORCED)),
  key: failoverReportKey,
  // An invalid input has no mode and publishes nothing (failoverMetrics is empty).
  metrics: (report) => ({ data: failoverMetrics(report), ...(report.mode !== undefined ? { dimensions: { [METRIC_DIMENSIONS.mode]: report.mode } } : {}) }),
  logFields: (report) => ({
    mode: report.mode ?? 'invalid-input',
    failureReasons: report.failureReasons.length,
    ...(report.timings.rtoSeconds !== undefined ? { rtoSeconds: report.timings.rtoSeconds } : {}),
    ...(report.dataLossWindowSeconds !== undefined ? { dataLossWindowSeconds: report.dataLossWindowSeconds } : {}),
  }),
  notification: failoverNotification,
};

/** Lambda entry point: {@link writeNotifiedReport} (its errors too). */
export async function handler(event: unknown): Promise<FailoverReportResult> {
  return writeNotifiedReport(s3, event, FAILOVER_REPORT);
}
