/**
 * The synthesized BackupMonitoring freshness state machine, run locally with the real freshness handler against
 * moto: it reads the run reports of a RecoveryTest and a Failover (another stack of the same region, over an imported
 * bucket whose owner's bucket and key policies are recorded for the IAM contract) and publishes their ages as EMF.
 * A fresh recovery test stays under its alarm's threshold; a rehearsal older than 90 days is above the synthesized
 * `rehearsalOverdue` threshold (the alarm, with the topic as its ALARM action, would fire: CloudWatch's alarm
 * evaluation is not emulated); a target whose reports cannot be read fails the run after the others are measured.
 */
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { REPORT_PREFIXES, type FreshnessKind } from '../../lambda/monitoring/freshness-core';
import { handler as freshnessHandler } from '../../lambda/monitoring/freshness.handler';
import { datedReportKey } from '../../lambda/reporting/run-report';
import { BackupMonitoring, Failover, FailoverSource, FailoverStrategy, OperationsTopic, RecoveryTest, RecoveryTestSchedule } from '../../lib';
import { BackupBucket } from '../../lib/storage';
import { harnessEnv } from '../support/env';
import { createKmsKey, createTestBucket } from '../support/moto';
import { recordResourcesOwnedElsewhere } from '../support/record-iam-calls';
import { threeTierVpc } from '../support/vpc';
import { type JsonValue, LocalWorkflow, logicalIdOf } from '../support/workflow-harness';
import { LOCAL_ACCOUNT, bucketOwnerStack } from './recovery-test-support';

const SOURCE = 'fresh-orders';
const DAY = 86_400;
const s3 = new S3Client({});

let bucket: string;
let keyArn: string;

/**
 * The watched constructs (their own stack, over the imported bucket) and the BackupMonitoring stack that watches
 * them; `failoverBucket` is the bucket the Failover's reports are read from.
 */
function monitoringApp(failoverBucket: string) {
  const app = new App();
  const env = { account: LOCAL_ACCOUNT, region: harnessEnv().awsRegion };
  const watched = new Stack(app, 'Watched', { env });
  const watchedVpc = threeTierVpc(watched);
  const backups = BackupBucket.fromBucketAttributes(watched, 'Backups', { bucketName: bucket, encryptionKeyArn: keyArn });
  const recoveryTest = new RecoveryTest(watched, 'RecoveryTest', {
    bucket: backups,
    sourceName: SOURCE,
    vpc: watchedVpc,
    pgToolsLayer: lambda.LayerVersion.fromLayerVersionArn(watched, 'PgTools', `arn:aws:lambda:${env.region}:${LOCAL_ACCOUNT}:layer:pg-tools:1`),
    postgresVersion: 15,
    schedule: RecoveryTestSchedule.weekly(),
  });
  const failover = new Failover(watched, 'Failover', {
    source: FailoverSource.instance('fresh-orders-db'),
    primaryRegion: 'us-west-2',
    sourceName: SOURCE,
    database: 'orders',
    rpo: Duration.hours(24),
    bucket: failoverBucket === bucket ? backups : BackupBucket.fromBucketAttributes(watched, 'OtherBackups', { bucketName: failoverBucket, encryptionKeyArn: keyArn }),
    vpc: watchedVpc,
    strategies: [FailoverStrategy.restoreSnapshot({ instanceType: ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.MICRO) })],
  });

  const stack = new Stack(app, 'MonitoringLocal', { env });
  const operations = new OperationsTopic(stack, 'Operations');
  const monitoring = new BackupMonitoring(stack, 'Monitoring', { topic: operations.topic, vpc: threeTierVpc(stack), recoveryTest, failover });
  const template = Template.fromStack(stack).toJSON();
  return { stack, monitoring, template, topicId: logicalIdOf(operations.topic) };
}

/** A report as the report handlers write it (the fields the freshness function reads), `endedDaysAgo` days ago. */
async function putReport(kind: FreshnessKind, endedDaysAgo: number, status: 'SUCCEEDED' | 'FAILED', name: string): Promise<void> {
  const finishedAt = new Date(Date.now() - endedDaysAgo * DAY * 1000);
  const startedAt = new Date(finishedAt.getTime() - 600_000).toISOString();
  const key = datedReportKey(REPORT_PREFIXES[kind], startedAt, name);
  const body = { workflow: kind, source: SOURCE, status, startedAt, finishedAt: finishedAt.toISOString() };
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: JSON.stringify(body), ServerSideEncryption: 'aws:kms', SSEKMSKeyId: keyArn }));
}

interface Measured {
  readonly result: Awaited<ReturnType<LocalWorkflow['run']>>;
  /** EMF values the handler printed, by metric name, with their `Source`. */
  readonly metrics: Record<string, { value: number; source: unknown }>;
}

/** Runs the freshness state machine of `app`, collecting the EMF lines the handler prints. */
async function measure(app: ReturnType<typeof monitoringApp>, executionName: string): Promise<Measured> {
  const workflow = new LocalWorkflow({
    template: app.template,
    stateMachine: logicalIdOf(app.monitoring.freshnessStateMachine),
    region: harnessEnv().awsRegion,
    accountId: LOCAL_ACCOUNT,
    handlers: { [logicalIdOf(app.monitoring.freshnessFunction!)]: freshnessHandler },
  });
  const metrics: Measured['metrics'] = {};
  const write = process.stdout.write.bind(process.stdout);
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation(((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    if (!text.includes('"_aws"')) return write(chunk as string, ...(rest as []));
    for (const line of text.split('\n').filter((l) => l.includes('"_aws"'))) {
      const emf = JSON.parse(line) as Record<string, unknown> & { _aws: { CloudWatchMetrics: Array<{ Metrics: Array<{ Name: string }> }> } };
      for (const m of emf._aws.CloudWatchMetrics.flatMap((d) => d.Metrics)) metrics[m.Name] = { value: emf[m.Name] as number, source: emf.Source };
    }
    return true;
  }) as typeof process.stdout.write);
  try {
    return { result: await workflow.run({} as JsonValue, { executionName }), metrics };
  } finally {
    spy.mockRestore();
  }
}

/** The synthesized properties of `alarm`. */
function alarmProps(app: ReturnType<typeof monitoringApp>, alarm: { node: { defaultChild?: unknown } } | undefined): Record<string, unknown> {
  if (!alarm) throw new Error('no such alarm');
  return (app.template as { Resources: Record<string, { Properties: Record<string, unknown> }> }).Resources[logicalIdOf(alarm as never)].Properties;
}

beforeAll(async () => {
  bucket = await createTestBucket({ prefix: 'freshness', versioned: true });
  const key = await createKmsKey('freshness reports');
  keyArn = key.arn;
  const owner = bucketOwnerStack();
  recordResourcesOwnedElsewhere(owner.template, {
    region: harnessEnv().awsRegion,
    accountId: LOCAL_ACCOUNT,
    stackName: 'BackupsOwner',
    resources: { [owner.ids.bucket]: bucket, [owner.ids.key]: { ref: key.keyId, attributes: { Arn: keyArn } } },
  });
  // Recovery tests: passed a day ago, failed an hour ago. Rehearsals: the last success 91 days ago, failed since.
  await putReport('recovery-test', 1, 'SUCCEEDED', 'weekly-1');
  await putReport('recovery-test', 1 / 24, 'FAILED', 'weekly-2');
  await putReport('failover', 91, 'SUCCEEDED', 'drill-1');
  await putReport('failover', 30, 'FAILED', 'drill-2');
  await putReport('failover', 2, 'FAILED', 'drill-3');
}, 300_000);

afterAll(() => s3.destroy());

describe('BackupMonitoring freshness state machine, locally against moto', () => {
  it('measures each workflow from its newest good report: the recovery test is fresh, the rehearsal overdue (above the alarm\'s threshold)', async () => {
    const app = monitoringApp(bucket);
    const { result, metrics } = await measure(app, `freshness-${Date.now().toString(36)}`);
    expect(result.status).toBe('SUCCEEDED');
    expect(result.visited).toEqual(['Measure']);

    const testAge = metrics.LatestPassedRecoveryTestAgeSeconds;
    expect(testAge.source).toBe(SOURCE);
    expect(Math.abs(testAge.value - DAY)).toBeLessThan(300);
    const rehearsalAge = metrics.LatestFailoverRehearsalAgeSeconds;
    expect(Math.abs(rehearsalAge.value - 91 * DAY)).toBeLessThan(300);
    const output = result.output as { freshness: { targets: Array<{ kind: string; reads: number }> } };
    expect(output.freshness.targets.map((t) => t.kind)).toEqual(['recovery-test', 'failover']);

    // The synthesized alarms these ages feed: the recovery test is within interval + margin, the rehearsal is not.
    const topic = { Ref: app.topicId };
    const overdueTest = alarmProps(app, app.monitoring.recoveryTestOverdue);
    expect(overdueTest).toMatchObject({ MetricName: 'LatestPassedRecoveryTestAgeSeconds', ComparisonOperator: 'GreaterThanThreshold', Dimensions: [{ Name: 'Source', Value: SOURCE }] });
    expect(testAge.value).toBeLessThanOrEqual(overdueTest.Threshold as number);
    const overdueRehearsal = alarmProps(app, app.monitoring.rehearsalOverdue);
    expect(overdueRehearsal).toMatchObject({ MetricName: 'LatestFailoverRehearsalAgeSeconds', ComparisonOperator: 'GreaterThanThreshold', AlarmActions: [topic], OKActions: [topic] });
    expect(rehearsalAge.value).toBeGreaterThan(overdueRehearsal.Threshold as number);
  });

  it('a target whose reports cannot be read fails the run (freshnessFailed) after the others were measured', async () => {
    const missing = `freshness-missing-${Date.now().toString(36)}`;
    const app = monitoringApp(missing);
    const { result, metrics } = await measure(app, `freshness-fail-${Date.now().toString(36)}`);
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('ReportFailed');
    expect(result.cause).toContain(`failover reports of ${SOURCE} in s3://${missing}`);
    expect(result.cause).toMatch(/NoSuchBucket/);
    // The recovery test was still measured; the failover published nothing (its alarm treats missing data as breaching).
    expect(Math.abs(metrics.LatestPassedRecoveryTestAgeSeconds.value - DAY)).toBeLessThan(300);
    expect(metrics.LatestFailoverRehearsalAgeSeconds).toBeUndefined();
    expect(alarmProps(app, app.monitoring.rehearsalOverdue)).toMatchObject({ TreatMissingData: 'breaching' });
    const failed = alarmProps(app, app.monitoring.freshnessFailed);
    expect(JSON.stringify(failed.Metrics)).toContain(JSON.stringify({ Ref: logicalIdOf(app.monitoring.freshnessStateMachine) }));
  });
});
