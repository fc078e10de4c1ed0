/**
 * Writing a workflow report and publishing its metrics: the I/O every report handler (backup, recovery test,
 * failover) shares. The report content and the metric values are built by pure functions elsewhere.
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { metrics } from '../common/logger';
import type { MetricDatum } from './backup-report';

const UNITS: Readonly<Record<MetricDatum['unit'], (typeof MetricUnit)[keyof typeof MetricUnit]>> = {
  Count: MetricUnit.Count,
  Bytes: MetricUnit.Bytes,
  Seconds: MetricUnit.Seconds,
  None: MetricUnit.NoUnit,
};

/** Writes `report` as pretty JSON with SSE-KMS under `key`; returns the S3 version id when the bucket is versioned. */
export async function putJsonReport(
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
export function publishReportMetrics(dimensions: Record<string, string>, data: readonly MetricDatum[]): void {
  if (data.length === 0) return;
  const single = metrics.singleMetric();
  single.clearDefaultDimensions();
  single.setDefaultDimensions(dimensions);
  for (const datum of data) single.addMetric(datum.name, UNITS[datum.unit], datum.value);
}
