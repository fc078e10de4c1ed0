/**
 * A report handler's flow, the same for every workflow (backup, recovery test, failover): parse the event, decide the
 * outcome, write the JSON report, publish its metrics, log. What differs (the parsing, the report, its key, metrics
 * and log fields) is a {@link WorkflowReportKind} of pure functions from the workflow's report module.
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { ReportFailed, requireEnv } from '../common/errors';
import { logger, metrics } from '../common/logger';
import type { MetricDatum } from './backup-report';
import { METRIC_DIMENSIONS } from '../common/metrics';
import type { ReportContext, RunStatus } from './run-report';
import { ReportHandlerResult, ReportNotification, reportHandlerResult } from './recovery-workflow-report';

const UNITS: Readonly<Record<MetricDatum['unit'], (typeof MetricUnit)[keyof typeof MetricUnit]>> = {
  Count: MetricUnit.Count,
  Bytes: MetricUnit.Bytes,
  Seconds: MetricUnit.Seconds,
  None: MetricUnit.NoUnit,
};

/** Writes `report` as pretty JSON with SSE-KMS under `key`; returns the S3 version id when the bucket is versioned. */
async function putJsonReport(
  s3: S3Client,
  target: { readonly bucket: string; readonly key: string; readonly kmsKeyId: string },
  report: unknown,
): Promise<string | undefined> {
  const out = await s3.send(
    new PutObjectCommand({
      Bucket: target.bucket,
      Key: target.key,
      Body: `${JSON.stringify(report, null, 2)}\n`,
      ContentType: 'application/json',
      ServerSideEncryption: 'aws:kms',
      SSEKMSKeyId: target.kmsKeyId,
    }),
  );
  return out.VersionId;
}

/**
 * Publishes `data` (EMF) with exactly the given dimensions. A single-metric child of the shared instance is used so
 * that the shared instance's default `service` dimension does not end up on these metrics (alarms select them by
 * these dimensions alone), and the shared instance is left as it was.
 */
function publishReportMetrics(dimensions: Record<string, string>, data: readonly MetricDatum[]): void {
  if (data.length === 0) return;
  const single = metrics.singleMetric();
  single.clearDefaultDimensions();
  single.setDefaultDimensions(dimensions);
  for (const datum of data) single.addMetric(datum.name, UNITS[datum.unit], datum.value);
}

/** What differs between the workflows' report handlers: pure functions of the workflow's report module. */
export interface WorkflowReportKind<Summary, Report extends { readonly status: RunStatus }> {
  /** The workflow in messages: `backup`, `recovery test`, `failover`. */
  readonly what: string;
  /** Validates the event (throws InvalidInput). */
  readonly parse: (event: unknown) => Summary;
  readonly build: (summary: Summary, context: ReportContext) => Report;
  /** The report's key in the bucket. */
  readonly key: (report: Report) => string;
  /** The metrics, published with the dimension `Source` and `dimensions`; none when `data` is empty. */
  readonly metrics: (report: Report) => { readonly data: readonly MetricDatum[]; readonly dimensions?: Readonly<Record<string, string>> };
  /** What the log line adds to the key and the status. */
  readonly logFields: (report: Report) => Record<string, unknown>;
  /**
   * Why a FAILED run failed, in one line; a report that cannot be written says it too, since its error replaces the
   * run's own in the notification.
   */
  readonly failure?: (report: Report) => string | undefined;
}

/** A report {@link writeWorkflowReport} wrote. */
export interface WrittenReport<Report> {
  readonly report: Report;
  readonly bucket: string;
  /** Key of the report in `bucket`. */
  readonly reportKey: string;
  /** S3 version id of the report, when the bucket is versioned. */
  readonly versionId?: string;
}

/**
 * Parses `event`, builds the report, writes it to BUCKET_NAME (SSE-KMS with BUCKET_KMS_KEY_ARN), then publishes its
 * metrics (dimension `Source` = SOURCE_ID) and logs it.
 *
 * @throws InvalidInput for a malformed event (nothing is written), MissingConfiguration for a missing environment
 *   variable, ReportFailed naming the report and the S3 error when it cannot be written (then no metric is
 *   published: a run whose report is missing is not a success).
 */
export async function writeWorkflowReport<Summary, Report extends { readonly status: RunStatus }>(
  s3: S3Client,
  event: unknown,
  kind: WorkflowReportKind<Summary, Report>,
): Promise<WrittenReport<Report>> {
  const summary = kind.parse(event);
  const bucket = requireEnv('BUCKET_NAME');
  const kmsKeyId = requireEnv('BUCKET_KMS_KEY_ARN');
  const source = requireEnv('SOURCE_ID');

  const report = kind.build(summary, { source, finishedAt: new Date() });
  const reportKey = kind.key(report);
  let versionId: string | undefined;
  try {
    versionId = await putJsonReport(s3, { bucket, key: reportKey, kmsKeyId }, report);
  } catch (error) {
    const why = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    const status = (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
    const runFailure = kind.failure?.(report);
    throw new ReportFailed(
      `the ${report.status} ${kind.what} report could not be written to s3://${bucket}/${reportKey}: ${why}${status !== undefined ? ` (HTTP ${status})` : ''}` +
        (runFailure ? `; the run itself failed: ${runFailure}` : ''),
    );
  }
  const published = kind.metrics(report);
  publishReportMetrics({ [METRIC_DIMENSIONS.source]: source, ...published.dimensions }, published.data);
  logger.info(`${kind.what} report written`, { reportKey, status: report.status, ...kind.logFields(report) });
  return { report, bucket, reportKey, ...(versionId ? { versionId } : {}) };
}

/** A recovery workflow's report (recovery test, failover): its notification too. */
export interface NotifiedReportKind<Summary, Report extends { readonly status: RunStatus; readonly failureReasons: readonly string[] }>
  extends WorkflowReportKind<Summary, Report> {
  /** The SNS subject and message of the run whose report is at s3://`bucket`/`reportKey`. */
  readonly notification: (report: Report, reportKey: string, bucket: string) => ReportNotification;
}

/**
 * The recovery workflows' report handler: {@link writeWorkflowReport}, then what the state machine publishes and ends
 * by (the outcome, the notification and the failure reasons as the `Fail` cause).
 *
 * @throws as {@link writeWorkflowReport}
 */
export async function writeNotifiedReport<Summary, Report extends { readonly status: RunStatus; readonly failureReasons: readonly string[] }>(
  s3: S3Client,
  event: unknown,
  kind: NotifiedReportKind<Summary, Report>,
): Promise<ReportHandlerResult> {
  const written = await writeWorkflowReport(s3, event, kind);
  return reportHandlerResult(written.report, written, kind.notification(written.report, written.reportKey, written.bucket));
}
