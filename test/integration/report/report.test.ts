/**
 * The report handler against moto's S3: the report object (content, SSE-KMS) and the EMF metrics it prints to stdout.
 */
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { handler } from '../../../lambda/reporting/backup-report.handler';
import type { BackupReport } from '../../../lambda/reporting/backup-report.handler';
import { logger } from '../../../lambda/common/logger';
import { createKmsKey, createTestBucket, type TestKmsKey } from '../../support/moto';

const SOURCE_ID = 'orders-db';
const ENV_NAMES = ['BUCKET_NAME', 'BUCKET_KMS_KEY_ARN', 'SOURCE_ID'] as const;
const savedEnv = Object.fromEntries(ENV_NAMES.map((name) => [name, process.env[name]]));

const SNAPSHOT = {
  kind: 'instance',
  snapshotId: 'cdkbdr-db1-20240131020000',
  snapshotArn: 'arn:aws:rds:us-east-1:123456789012:snapshot:cdkbdr-db1-20240131020000',
  region: 'us-east-1',
  status: 'creating',
};

function event(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const name = `run-${Math.random().toString(36).slice(2, 10)}`;
  return {
    workflow: 'backup',
    status: 'SUCCEEDED',
    executionId: `arn:aws:states:us-east-1:123456789012:execution:BackupWorkflow:${name}`,
    executionName: name,
    startedAt: new Date(Date.now() - 90_000).toISOString(),
    tiers: ['daily'],
    results: [
      {
        dumps: [
          { database: 'app', manifestKey: 'postgres/orders-db/app/x.manifest.json', bytes: 1000 },
          { database: 'crm', manifestKey: 'postgres/orders-db/crm/x.manifest.json', bytes: 234 },
        ],
        verification: [{ manifestKey: 'postgres/orders-db/app/x.manifest.json', verified: true }],
      },
      { snapshot: SNAPSHOT },
    ],
    ...overrides,
  };
}

/** One EMF document as Powertools prints it. */
interface EmfDocument {
  readonly _aws: {
    readonly Timestamp: number;
    readonly CloudWatchMetrics: ReadonlyArray<{
      readonly Namespace: string;
      readonly Dimensions: string[][];
      readonly Metrics: ReadonlyArray<{ readonly Name: string; readonly Unit: string }>;
    }>;
  };
  readonly [key: string]: unknown;
}

/** Runs `fn` and returns what it printed to stdout as EMF documents (log lines are skipped). */
async function captureEmf<T>(fn: () => Promise<T>): Promise<{ result?: T; error?: Error; emf: EmfDocument[] }> {
  const chunks: string[] = [];
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  });
  let result: T | undefined;
  let error: Error | undefined;
  try {
    result = await fn();
  } catch (e) {
    error = e as Error;
  } finally {
    spy.mockRestore();
  }
  const emf = chunks
    .join('')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((doc): doc is EmfDocument => '_aws' in doc);
  return { ...(result !== undefined ? { result } : {}), ...(error ? { error } : {}), emf };
}

/** Metric name → { value, unit, dimensions } over all EMF documents. */
function metricsOf(emf: EmfDocument[]): Record<string, { value: unknown; unit: string; namespace: string; dimensions: string[][]; source: unknown }> {
  const out: Record<string, { value: unknown; unit: string; namespace: string; dimensions: string[][]; source: unknown }> = {};
  for (const doc of emf) {
    for (const directive of doc._aws.CloudWatchMetrics) {
      for (const metric of directive.Metrics) {
        out[metric.Name] = {
          value: doc[metric.Name],
          unit: metric.Unit,
          namespace: directive.Namespace,
          dimensions: directive.Dimensions,
          source: doc.Source,
        };
      }
    }
  }
  return out;
}

let s3: S3Client;
let bucket: string;
let key: TestKmsKey;

beforeAll(async () => {
  logger.setLogLevel('WARN');
  s3 = new S3Client({});
  key = await createKmsKey('report bucket key');
  bucket = await createTestBucket({ prefix: 'reports', versioned: true });
  process.env.BUCKET_NAME = bucket;
  process.env.BUCKET_KMS_KEY_ARN = key.arn;
  process.env.SOURCE_ID = SOURCE_ID;
});

afterAll(() => {
  for (const name of ENV_NAMES) {
    if (savedEnv[name] === undefined) delete process.env[name];
    else process.env[name] = savedEnv[name];
  }
  s3.destroy();
});

async function readReport(
  reportKey: string,
): Promise<{ report: BackupReport; sse?: string; kmsKey?: string; contentType?: string; versionId?: string }> {
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: reportKey }));
  return {
    report: JSON.parse(await object.Body!.transformToString()) as BackupReport,
    sse: object.ServerSideEncryption,
    kmsKey: object.SSEKMSKeyId,
    contentType: object.ContentType,
    versionId: object.VersionId,
  };
}

async function reportKeys(): Promise<string[]> {
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'reports/' }));
  return (listed.Contents ?? []).map((o) => o.Key ?? '');
}

test('a successful run: the report is written with SSE-KMS and the four metrics are published with the Source dimension', async () => {
  const input = event();
  const before = Math.floor(Date.now() / 1000);
  const { result, error, emf } = await captureEmf(() => handler(input));
  const after = Math.ceil(Date.now() / 1000);
  expect(error).toBeUndefined();

  const started = new Date(input.startedAt as string);
  const day = started.toISOString().slice(0, 10).replace(/-/g, '/');
  expect(result?.reportKey).toMatch(new RegExp(`^reports/backup/${day}/\\d{8}T\\d{6}\\.\\d{3}Z-${input.executionName as string}\\.json$`));
  expect(result?.status).toBe('SUCCEEDED');
  const { report, sse, kmsKey, contentType, versionId } = await readReport(result!.reportKey);
  // The version id returned is the one S3 holds for the report (the bucket is versioned).
  expect(versionId).toEqual(expect.any(String));
  expect(result?.versionId).toBe(versionId);
  expect(sse).toBe('aws:kms');
  expect(kmsKey).toBe(key.arn);
  expect(contentType).toBe('application/json');
  expect(report).toMatchObject({
    schemaVersion: 1,
    workflow: 'backup',
    source: SOURCE_ID,
    status: 'SUCCEEDED',
    executionId: input.executionId,
    tiers: ['daily'],
    startedAt: started.toISOString(),
    totals: { dumps: 2, dumpBytes: 1234, snapshots: 1 },
    snapshot: SNAPSHOT,
  });
  expect(report.verification).toEqual([{ manifestKey: 'postgres/orders-db/app/x.manifest.json', verified: true }]);
  expect(report.durationSeconds).toBeGreaterThanOrEqual(90);

  const metrics = metricsOf(emf);
  expect(Object.keys(metrics).sort()).toEqual(['BackupBytes', 'BackupDurationSeconds', 'BackupSucceeded', 'LastSuccessTimestamp']);
  for (const metric of Object.values(metrics)) {
    expect(metric.namespace).toBe('CdkBackupDr');
    expect(metric.dimensions).toEqual([['Source']]);
    expect(metric.source).toBe(SOURCE_ID);
  }
  expect(metrics.BackupSucceeded).toMatchObject({ value: 1, unit: 'Count' });
  expect(metrics.BackupBytes).toMatchObject({ value: 1234, unit: 'Bytes' });
  expect(metrics.BackupDurationSeconds).toMatchObject({ value: report.durationSeconds, unit: 'Seconds' });
  expect(metrics.LastSuccessTimestamp.unit).toBe('None');
  expect(metrics.LastSuccessTimestamp.value).toBeGreaterThanOrEqual(before);
  expect(metrics.LastSuccessTimestamp.value).toBeLessThanOrEqual(after);
});

test('a failed run: the report keeps the error; BackupSucceeded is 0 and there is no LastSuccessTimestamp', async () => {
  const input = event({
    status: 'FAILED',
    results: undefined,
    error: { Error: 'SnapshotFailed', Cause: '{"errorType":"SnapshotFailed","errorMessage":"snapshot is \\"failed\\""}' },
  });
  const { result, error, emf } = await captureEmf(() => handler(input));
  expect(error).toBeUndefined();
  expect(result?.status).toBe('FAILED');

  const { report, sse } = await readReport(result!.reportKey);
  expect(sse).toBe('aws:kms');
  expect(report.status).toBe('FAILED');
  expect(report.error).toEqual({ error: 'SnapshotFailed', cause: '{"errorType":"SnapshotFailed","errorMessage":"snapshot is \\"failed\\""}' });

  const metrics = metricsOf(emf);
  expect(metrics.BackupSucceeded).toMatchObject({ value: 0, source: SOURCE_ID });
  expect(Object.keys(metrics).sort()).toEqual(['BackupDurationSeconds', 'BackupSucceeded']);
});

test('a malformed summary fails with InvalidInput: no report, no metric', async () => {
  const keysBefore = await reportKeys();
  const { error, emf } = await captureEmf(() => handler(event({ tiers: [] })));
  expect(error?.name).toBe('InvalidInput');
  expect(error?.message).toContain('tiers must be a non-empty array');
  expect(emf).toEqual([]);
  expect(await reportKeys()).toEqual(keysBefore);
});

test('when the report cannot be written a ReportFailed error names the S3 cause and no metric is published', async () => {
  process.env.BUCKET_NAME = `${bucket}-missing`;
  try {
    const { error, emf } = await captureEmf(() => handler(event()));
    expect(error?.name).toBe('ReportFailed');
    expect(error?.message).toMatch(/NoSuchBucket/);
    expect(emf).toEqual([]);
  } finally {
    process.env.BUCKET_NAME = bucket;
  }
});
