/**
 * The synthesized BackupRetention state machine, run locally (local/'s runner) with the real cleanup handler against
 * moto: six daily dumps in the backup bucket and in the replica bucket (DR region), six daily snapshots of an RDS
 * instance with their DR copies, cleaned with RetentionPolicy.gfs({ daily: 3 }). A dry run plans and deletes nothing;
 * the primary run cleans the bucket and the primary-region snapshots; the replica run the replica bucket and the DR
 * copies; a run whose replica bucket is gone ends FAILED after publishing to the topic. The SDK calls are recorded for
 * the IAM contract (test/contract/), with the tags of the snapshots the test created.
 */
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectsCommand, GetObjectCommand, ListObjectVersionsCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CopyDBSnapshotCommand, CreateDBInstanceCommand, CreateDBSnapshotCommand, RDSClient } from '@aws-sdk/client-rds';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { backupKeys } from '../../lambda/backup/manifest';
import { handler as cleanupHandler } from '../../lambda/retention/cleanup.handler';
import type { CleanupReport } from '../../lambda/retention/cleanup-input';
import { listSnapshots } from '../../lambda/rds/client';
import { snapshotIdentifier, snapshotTags } from '../../lambda/rds/snapshot';
import { BackupRetention, RetentionPolicy } from '../../lib/retention';
import { BackupBucket } from '../../lib/storage';
import { harnessEnv } from '../support/env';
import { createKmsKey, createTestBucket, createTopic, subscribeSnsInbox, type SnsInbox } from '../support/moto';
import { recordResourceTags } from '../support/record-iam-calls';
import { createTestStateMachine, type TestStateMachine } from '../support/stepfunctions';
import { threeTierVpc } from '../support/vpc';
import { type JsonValue, LocalWorkflow, type LocalWorkflowResult, logicalIdOf } from '../support/workflow-harness';

const ACCOUNT = '123456789012';
const DR_REGION = 'us-west-2';
const SOURCE = 'retention-wf';
const DAY = 86_400_000;
const DAYS = 6;
const KEPT = 3;
/** The dump and the snapshot a running recovery test picked: the policy would delete them, so they are kept "in use". */
const PICKED_DUMP = 3;
const PICKED_SNAPSHOT = 4;

const primaryS3 = new S3Client({});
const drS3 = new S3Client({ region: DR_REGION });
let instance: string;
let bucket: string;
let replicaBucket: string;
let topicArn: string;
let inbox: SnsInbox;
let workflow: LocalWorkflow;
let recoveryTest: TestStateMachine;
let pickingExecution: string;
/** Backup times, newest first (one an hour ago, then a day apart). */
const times: number[] = [];

function retentionStack() {
  const app = new App();
  const suffix = randomBytes(3).toString('hex');
  const dr = new Stack(app, `RetentionDr${suffix}`, { env: { account: ACCOUNT, region: DR_REGION } });
  const stack = new Stack(app, 'RetentionLocal', { env: { account: ACCOUNT, region: harnessEnv().awsRegion } });
  const replica = new BackupBucket(dr, 'Replica');
  const backups = new BackupBucket(stack, 'Backups');
  backups.replicateTo(replica);
  const vpc = threeTierVpc(stack);
  const topic = new sns.Topic(stack, 'Topic');
  const retention = new BackupRetention(stack, 'Retention', {
    policy: RetentionPolicy.gfs({ daily: KEPT }),
    bucket: backups,
    sourceName: SOURCE,
    snapshots: { kind: 'instance', identifier: instance, drRegion: DR_REGION },
    backupInterval: Duration.days(1),
    vpc,
    securityGroup: new ec2.SecurityGroup(stack, 'Sg', { vpc }),
    logsKey: new kms.Key(stack, 'LogsKey', { enableKeyRotation: true }),
    notificationTopic: topic,
    inUseBy: [sfn.StateMachine.fromStateMachineArn(stack, 'RecoveryTest', recoveryTest.arn)],
  });
  const template = Template.fromStack(stack).toJSON();
  const fnId = logicalIdOf(retention.cleanupFunction);
  const env = (template.Resources[fnId] as { Properties: { Environment: { Variables: Record<string, string> } } }).Properties.Environment.Variables;
  return {
    template,
    replicaBucketName: env.REPLICA_BUCKET_NAME,
    ids: { machine: logicalIdOf(retention.stateMachine), cleanup: fnId, bucket: logicalIdOf(backups.bucket), key: logicalIdOf(backups.encryptionKey), topic: logicalIdOf(topic) },
  };
}

async function keys(s3: S3Client, name: string, prefix = `postgres/${SOURCE}/`): Promise<string[]> {
  const out: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: name, Prefix: prefix, ContinuationToken: token }));
    out.push(...(page.Contents ?? []).map((o) => o.Key!));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out.sort();
}

/** The manifests a policy of daily 3 keeps (the three newest) and the one in use. */
function expectedManifests(): string[] {
  return [...times.slice(0, KEPT), times[PICKED_DUMP]].map((t) => backupKeys(SOURCE, 'app', new Date(t)).manifestKey).sort();
}

async function snapshotIds(region: string): Promise<string[]> {
  return (await listSnapshots(region, 'instance', { sourceIdentifier: instance })).map((s) => s.snapshotId).sort();
}

async function report(result: LocalWorkflowResult): Promise<CleanupReport> {
  const listed = await primaryS3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'reports/cleanup/' }));
  const name = result.executionArn.split(':').pop()!;
  const key = (listed.Contents ?? []).map((o) => o.Key!).find((k) => k.endsWith(`-${name}.json`));
  if (!key) throw new Error(`no cleanup report for ${name}`);
  const object = await primaryS3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return JSON.parse(await object.Body!.transformToString()) as CleanupReport;
}

let runs = 0;
function run(input: Record<string, JsonValue>): Promise<LocalWorkflowResult> {
  runs += 1;
  return workflow.run(input, { executionName: `cleanup-${runs}-${Date.now().toString(36)}` });
}

beforeAll(async () => {
  const now = Date.now();
  for (let i = 0; i < DAYS; i++) times.push(now - 3_600_000 - i * DAY);
  instance = `db-${randomBytes(4).toString('hex')}`;
  const primaryRds = new RDSClient({});
  const drRds = new RDSClient({ region: DR_REGION });
  await primaryRds.send(
    new CreateDBInstanceCommand({
      DBInstanceIdentifier: instance,
      Engine: 'postgres',
      DBInstanceClass: 'db.t3.micro',
      AllocatedStorage: 20,
      MasterUsername: 'postgres',
      MasterUserPassword: 'not-a-real-password-1',
    }),
  );
  for (const time of times) {
    const id = snapshotIdentifier('instance', instance, new Date(time));
    const tags = snapshotTags({ sourceIdentifier: instance, tiers: ['daily'] });
    const created = await primaryRds.send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: instance, DBSnapshotIdentifier: id, Tags: tags }));
    const copyTags = snapshotTags({ sourceIdentifier: instance, tiers: ['daily'], copiedFrom: created.DBSnapshot!.DBSnapshotArn! });
    await drRds.send(new CopyDBSnapshotCommand({ SourceDBSnapshotIdentifier: created.DBSnapshot!.DBSnapshotArn!, TargetDBSnapshotIdentifier: id, Tags: copyTags }));
    recordResourceTags(`arn:aws:rds:${harnessEnv().awsRegion}:${ACCOUNT}:snapshot:${id}`, Object.fromEntries(tags.map((t) => [t.Key, t.Value])));
    recordResourceTags(`arn:aws:rds:${DR_REGION}:${ACCOUNT}:snapshot:${id}`, Object.fromEntries(copyTags.map((t) => [t.Key, t.Value])));
  }
  primaryRds.destroy();
  drRds.destroy();

  // A recovery test in the middle of its restore of an old dump, and one of an old snapshot (moto keeps them RUNNING).
  recoveryTest = await createTestStateMachine('RecoveryTest');
  pickingExecution = await recoveryTest.start({ selection: { dumpKey: backupKeys(SOURCE, 'app', new Date(times[PICKED_DUMP])).dumpKey } }, 'restoring-old-dump');
  await recoveryTest.start({ selection: { snapshotId: snapshotIdentifier('instance', instance, new Date(times[PICKED_SNAPSHOT])) } }, 'restoring-old-snapshot');
  topicArn = await createTopic();
  inbox = await subscribeSnsInbox(topicArn);
  const stack = retentionStack();
  bucket = await createTestBucket({ prefix: 'retention-wf', versioned: true });
  replicaBucket = stack.replicaBucketName;
  expect(replicaBucket).toMatch(/^[a-z0-9][a-z0-9.-]{2,62}$/);
  await drS3.send(new CreateBucketCommand({ Bucket: replicaBucket, CreateBucketConfiguration: { LocationConstraint: DR_REGION } }));
  const key = await createKmsKey('retention workflow backups');
  for (const s3 of [primaryS3, drS3]) {
    const target = s3 === primaryS3 ? bucket : replicaBucket;
    for (const time of times) {
      const { dumpKey, manifestKey } = backupKeys(SOURCE, 'app', new Date(time));
      await s3.send(new PutObjectCommand({ Bucket: target, Key: dumpKey, Body: `dump ${time}` }));
      await s3.send(new PutObjectCommand({ Bucket: target, Key: manifestKey, Body: '{}' }));
    }
  }
  workflow = new LocalWorkflow({
    template: stack.template,
    stateMachine: stack.ids.machine,
    region: harnessEnv().awsRegion,
    handlers: { [stack.ids.cleanup]: cleanupHandler },
    resources: {
      [stack.ids.bucket]: bucket,
      [stack.ids.key]: { ref: key.keyId, attributes: { Arn: key.arn } },
      [stack.ids.topic]: topicArn,
    },
  });
}, 300_000);

afterAll(() => {
  primaryS3.destroy();
  drS3.destroy();
});

describe('BackupRetention state machine, locally against moto', () => {
  it('a dry run returns the plan in its report and deletes nothing', async () => {
    const result = await run({ target: 'primary', dryRun: true });
    expect(result.status).toBe('SUCCEEDED');
    expect(result.visited).toEqual(['Clean', 'Cleanup succeeded']);
    expect(result.output).toMatchObject({ result: { status: 'SUCCEEDED', target: 'primary', dryRun: true, objectsDeleted: 0, snapshotsDeleted: 0, backupsKept: 2 * (KEPT + 1) } });
    const r = await report(result);
    expect(r).toMatchObject({ workflow: 'cleanup', status: 'SUCCEEDED', dryRun: true, target: 'primary', source: SOURCE, errors: [] });
    expect(r.dumps?.series).toEqual([expect.objectContaining({ series: `postgres/${SOURCE}/app/`, kept: KEPT + 1, deleted: DAYS - KEPT - 1 })]);
    expect(r.dumps?.series[0].items.map((i) => [i.keep, i.reasons])).toEqual([
      [true, ['daily 1 of 3', 'newest verified']],
      [true, ['daily 2 of 3']],
      [true, ['daily 3 of 3']],
      [true, [`in use by execution restoring-old-dump of ${recoveryTest.name}`]],
      [false, []],
      [false, []],
    ]);
    expect(r.snapshots?.series).toMatchObject({ kept: KEPT + 1, deleted: DAYS - KEPT - 1 });
    expect(r.snapshots?.series.items[PICKED_SNAPSHOT].reasons).toEqual([`in use by execution restoring-old-snapshot of ${recoveryTest.name}`]);
    expect(r.inUse?.runningExecutions).toContain(pickingExecution);
    expect(await keys(primaryS3, bucket)).toHaveLength(2 * DAYS);
    expect(await snapshotIds(harnessEnv().awsRegion)).toHaveLength(DAYS);
  });

  it('refuses a misspelt field before listing anything (a "dryrun" never becomes a real run), notifies and ends FAILED', async () => {
    const result = await run({ target: 'primary', dryrun: true });
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('CleanupFailed');
    expect(result.visited).toEqual(['Clean', 'Notify failure', 'Cleanup failed']);
    // The cause is the Lambda error as AWS reports it: errorType and errorMessage.
    expect(JSON.parse(result.cause!)).toMatchObject({ errorType: 'InvalidInput' });
    expect((JSON.parse(result.cause!) as { errorMessage: string }).errorMessage).toMatch(/^unknown field "dryrun": a cleanup request takes target \("primary" or "replica"\) and dryRun \(true or false\)/);
    expect(result.calls.map((c) => c.target).filter((t) => t.startsWith('lambda:'))).toHaveLength(1);
    expect(await keys(primaryS3, bucket)).toHaveLength(2 * DAYS);
    expect(await snapshotIds(harnessEnv().awsRegion)).toHaveLength(DAYS);
    const failures = (await inbox.messages()).filter((m) => m.subject === 'cdk-backup-dr: cleanup FAILED').map((m) => JSON.parse(m.message) as { Error: string });
    expect(failures).toEqual([expect.objectContaining({ Error: 'InvalidInput' })]);
  });

  it('the primary run deletes manifests and dumps beyond the policy and the primary snapshots, keeps what is in use, and leaves the replica alone', async () => {
    const result = await run({ target: 'primary' });
    expect(result.status).toBe('SUCCEEDED');
    expect(result.visited).toEqual(['Clean', 'Cleanup succeeded']);
    expect(result.output).toMatchObject({ result: { dryRun: false, objectsDeleted: 2 * (DAYS - KEPT - 1), snapshotsDeleted: DAYS - KEPT - 1 } });
    const left = await keys(primaryS3, bucket);
    expect(left.filter((k) => k.endsWith('.manifest.json'))).toEqual(expectedManifests());
    expect(left).toHaveLength(2 * (KEPT + 1));
    const expectedSnapshots = [...times.slice(0, KEPT), times[PICKED_SNAPSHOT]].map((t) => snapshotIdentifier('instance', instance, new Date(t))).sort();
    expect(await snapshotIds(harnessEnv().awsRegion)).toEqual(expectedSnapshots);
    // Deletions are not replicated: the replica and the DR copies wait for their own run.
    expect(await keys(drS3, replicaBucket)).toHaveLength(2 * DAYS);
    expect(await snapshotIds(DR_REGION)).toHaveLength(DAYS);
    // A versioned bucket keeps the deleted objects as noncurrent versions behind delete markers.
    const versions = await primaryS3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: `postgres/${SOURCE}/` }));
    expect(versions.DeleteMarkers).toHaveLength(2 * (DAYS - KEPT - 1));
    const r = await report(result);
    expect(r).toMatchObject({ status: 'SUCCEEDED', dumps: { objectsDeleted: 2 * (DAYS - KEPT - 1), calls: { ListObjectsV2: 1, DeleteObjects: 2 } }, snapshots: { snapshotsDeleted: DAYS - KEPT - 1 } });
    expect(r.quota?.region).toBe(harnessEnv().awsRegion);
  });

  it('the replica run (as its schedule starts it) cleans the replica bucket and the DR copies; a second run deletes nothing', async () => {
    const result = await run({ target: 'replica', dryRun: false });
    expect(result.status).toBe('SUCCEEDED');
    expect(result.output).toMatchObject({ result: { target: 'replica', objectsDeleted: 2 * (DAYS - KEPT - 1), snapshotsDeleted: DAYS - KEPT - 1 } });
    expect((await keys(drS3, replicaBucket)).filter((k) => k.endsWith('.manifest.json'))).toEqual(expectedManifests());
    expect(await snapshotIds(DR_REGION)).toHaveLength(KEPT + 1);
    const r = await report(result);
    expect(r).toMatchObject({ target: 'replica', dumps: { bucket: replicaBucket }, snapshots: { region: DR_REGION }, quota: { region: DR_REGION } });

    const again = await run({ target: 'replica', dryRun: false });
    expect(again.output).toMatchObject({ result: { objectsDeleted: 0, snapshotsDeleted: 0, backupsKept: 2 * (KEPT + 1) } });
  });

  it('a run that cannot list its bucket writes a FAILED report, publishes to the topic and ends FAILED', async () => {
    const all = await drS3.send(new ListObjectVersionsCommand({ Bucket: replicaBucket }));
    const objects = [...(all.Versions ?? []), ...(all.DeleteMarkers ?? [])].map((v) => ({ Key: v.Key!, VersionId: v.VersionId }));
    if (objects.length > 0) await drS3.send(new DeleteObjectsCommand({ Bucket: replicaBucket, Delete: { Objects: objects } }));
    await drS3.send(new DeleteBucketCommand({ Bucket: replicaBucket }));

    const result = await run({ target: 'replica', dryRun: false });
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('CleanupFailed');
    expect(result.visited).toEqual(['Clean', 'Notify failure', 'Cleanup failed']);
    expect(result.cause).toMatch(/1 cleanup step\(s\) failed \(report s3:\/\/.+\/reports\/cleanup\/.+\): dumps in s3:\/\/.+: NoSuchBucket/);
    const r = await report(result);
    expect(r).toMatchObject({ status: 'FAILED', target: 'replica', errors: [expect.stringMatching(/NoSuchBucket/)] });
    // The DR copies were still decided and left as the policy says.
    expect(r.snapshots?.series).toMatchObject({ kept: KEPT + 1, deleted: 0 });
    const messages = (await inbox.messages()).filter((m) => m.subject === 'cdk-backup-dr: cleanup FAILED');
    expect(messages.map((m) => (JSON.parse(m.message) as { Error: string }).Error)).toEqual(['InvalidInput', 'CleanupFailed']);
  });
});
