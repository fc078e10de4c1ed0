/**
 * Report handler: the last step of every BackupWorkflow run, successful or not.
 *
 * Validates the run summary the state machine collected, writes the JSON report to
 * `reports/backup/<YYYY>/<MM>/<DD>/<timestamp>-<executionName>.json` in BUCKET_NAME (SSE-KMS with
 * BUCKET_KMS_KEY_ARN), then publishes the run's metrics as CloudWatch EMF (namespace `CdkBackupDr`, one dimension
 * `Source` = SOURCE_ID): BackupSucceeded, BackupDurationSeconds, BackupBytes (runs with dumps) and
 * LastSuccessTimestamp (successful runs). Returns the report's key and the run's outcome: FAILED (with `failure` and
 * the `notification` the state machine publishes) when the state machine caught an error or any database's dump or
 * verification failed.
 */
import { S3Client } from '@aws-sdk/client-s3';
import type { StepError } from './run-report';
import type { FormattedNotification } from './notification';
import { WorkflowReportKind, writeWorkflowReport } from './report-store';
import {
  BackupReport,
  BackupRunSummary,
  backupNotification,
  backupReportKey,
  backupRunMetrics,
  buildBackupReport,
  parseBackupReportEvent,
} from './backup-report';

export type { BackupReport, BackupReportEvent, BackupRunSummary, DatabaseOutcome, DatabaseRunResult, DumpRunResult, SnapshotRunResult } from './backup-report';
export type { StepError } from './run-report';

/** What the handler returns. */
export interface ReportResult {
  /** Key of the report object in BUCKET_NAME. */
  readonly reportKey: string;
  /** S3 version id of the report object, when the bucket is versioned. */
  readonly versionId?: string;
  readonly status: BackupReport['status'];
  /** On a FAILED run: its error (`{ Error, Cause }`), e.g. which databases failed; the state machine fails with it. */
  readonly failure?: StepError;
  /** On a FAILED run: what the state machine publishes (subject, message per protocol, attributes). */
  readonly notification?: FormattedNotification;
}

const s3 = new S3Client({});

const BACKUP_REPORT: WorkflowReportKind<BackupRunSummary, BackupReport> = {
  what: 'backup',
  parse: parseBackupReportEvent,
  build: buildBackupReport,
  key: backupReportKey,
  metrics: (report) => ({ data: backupRunMetrics(report) }),
  logFields: (report) => ({ dumps: report.totals.dumps, dumpBytes: report.totals.dumpBytes, snapshots: report.totals.snapshots, databasesFailed: report.totals.databasesFailed }),
  failure: (report) => (report.error ? `${report.error.error}${report.error.cause ? `: ${report.error.cause}` : ''}` : undefined),
};

/** Lambda entry point: {@link writeWorkflowReport} (its errors too). */
export async function handler(event: unknown): Promise<ReportResult> {
  const { report, reportKey, versionId, bucket } = await writeWorkflowReport(s3, event, BACKUP_REPORT);
  return {
    reportKey,
    ...(report.status === 'FAILED' ? { notification: backupNotification(report, reportKey, bucket) } : {}),
    status: report.status,
    ...(versionId ? { versionId } : {}),
    ...(report.error ? { failure: { Error: report.error.error, ...(report.error.cause !== undefined ? { Cause: report.error.cause } : {}) } } : {}),
  };
}
