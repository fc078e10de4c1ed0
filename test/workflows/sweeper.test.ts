/**
 * The synthesized ScratchSweeper state machine, run locally with the real sweep handler against moto: a scratch
 * database and secret of an ended recovery test and a failover rehearsal's leftovers are deleted; the scratch database
 * of a running execution, one without our tags and a real failover's database are left, each with its reason in the
 * report. An ended recovery test's Aurora cluster goes writer instance first, then the cluster; a rehearsal cluster
 * whose deletion RDS refuses (deletion protection) ends the run FAILED with a report and a message on the topic.
 * Calls recorded for the IAM contract with the tags of what the test created (the tag conditions apply).
 */
import { randomBytes } from 'node:crypto';
import { CreateDBClusterCommand, CreateDBInstanceCommand, DeleteDBClusterCommand, ModifyDBClusterCommand, RDSClient } from '@aws-sdk/client-rds';
import { CreateSecretCommand, DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { SweepFailed } from '../../lambda/common/errors';
import { SWEEP_REPORT_PREFIX } from '../../lambda/common/names';
import { describeDbCluster, describeDbInstance, executionScopedIdentifier, resourceTags } from '../../lambda/rds/instances';
import { handler as sweepHandler, type SweepReport } from '../../lambda/retention/sweep.handler';
import { BackupBucket } from '../../lib/storage';
import { ScratchSweeper } from '../../lib/retention';
import { harnessEnv } from '../support/env';
import { createKmsKey, createTestBucket, createTopic, subscribeSnsInbox, type SnsInbox } from '../support/moto';
import { recordResourceTags } from '../support/record-iam-calls';
import { createTestStateMachine, type TestStateMachine } from '../support/stepfunctions';
import { threeTierVpc } from '../support/vpc';
import { LocalWorkflow, logicalIdOf } from '../support/workflow-harness';

const ACCOUNT = '123456789012';
const region = () => harnessEnv().awsRegion;
const rds = new RDSClient({});
const secrets = new SecretsManagerClient({});
const s3 = new S3Client({});

let recoveryTest: TestStateMachine;
let failover: TestStateMachine;
let workflow: LocalWorkflow;
let bucket: string;
let inbox: SnsInbox;
/** Protected clusters a test left, unprotected and deleted after the file. */
const protectedClusters: Array<{ cluster: string; instance: string }> = [];
const ids: Record<'ended' | 'running' | 'untagged' | 'rehearsal' | 'realFailover', string> = {} as never;
const secretArns: Record<'ended' | 'running' | 'rehearsal', string> = {} as never;

/** A moto instance (and optionally its secret) as the scratch / act handlers create them, tags recorded for the contract. */
async function leftover(prefix: string, machine: TestStateMachine, execution: string, tags: Array<{ Key: string; Value: string }>, secretPrefix?: string) {
  const executionArn = `arn:aws:states:${region()}:${ACCOUNT}:execution:${machine.name}:${execution}`;
  const id = executionScopedIdentifier(prefix, executionArn, execution);
  await rds.send(
    new CreateDBInstanceCommand({ DBInstanceIdentifier: id, Engine: 'postgres', DBInstanceClass: 'db.t3.micro', AllocatedStorage: 20, MasterUsername: 'cdkbdr_admin', MasterUserPassword: 'not-a-real-password-1', Tags: tags }),
  );
  recordResourceTags(`arn:aws:rds:${region()}:${ACCOUNT}:db:${id}`, Object.fromEntries(tags.map((t) => [t.Key, t.Value])));
  let secretArn: string | undefined;
  if (secretPrefix) {
    const created = await secrets.send(new CreateSecretCommand({ Name: `${secretPrefix}${id}`, SecretString: '{"username":"u","password":"p"}', Tags: tags }));
    secretArn = created.ARN!;
    recordResourceTags(secretArn, Object.fromEntries(tags.map((t) => [t.Key, t.Value])));
  }
  return { id, secretArn, executionArn };
}

type Tags = Array<{ Key: string; Value: string }>;
const tagRecord = (tags: Tags) => Object.fromEntries(tags.map((t) => [t.Key, t.Value]));

/**
 * An Aurora cluster and its writer instance (`<id>-1`) and secret as the scratch / act handlers create them for a
 * cluster source, tags recorded for the contract.
 */
async function clusterLeftover(prefix: string, machine: TestStateMachine, execution: string, tags: Tags, secretPrefix: string, deletionProtection = false) {
  const executionArn = `arn:aws:states:${region()}:${ACCOUNT}:execution:${machine.name}:${execution}`;
  const cluster = executionScopedIdentifier(prefix, executionArn, execution);
  const instance = `${cluster}-1`;
  await rds.send(
    new CreateDBClusterCommand({
      DBClusterIdentifier: cluster,
      Engine: 'aurora-postgresql',
      MasterUsername: 'cdkbdr_admin',
      MasterUserPassword: 'not-a-real-password-1',
      DeletionProtection: deletionProtection,
      Tags: tags,
    }),
  );
  await rds.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: instance, DBClusterIdentifier: cluster, Engine: 'aurora-postgresql', DBInstanceClass: 'db.r6g.large', Tags: tags }));
  recordResourceTags(`arn:aws:rds:${region()}:${ACCOUNT}:cluster:${cluster}`, tagRecord(tags));
  recordResourceTags(`arn:aws:rds:${region()}:${ACCOUNT}:db:${instance}`, tagRecord(tags));
  const created = await secrets.send(new CreateSecretCommand({ Name: `${secretPrefix}${cluster}`, SecretString: '{"username":"u","password":"p"}', Tags: tags }));
  recordResourceTags(created.ARN!, tagRecord(tags));
  if (deletionProtection) protectedClusters.push({ cluster, instance });
  return { cluster, instance, secretArn: created.ARN! };
}

const recoveryTestTags = (execution: string) =>
  resourceTags({ purpose: 'recovery-test', executionId: `arn:aws:states:${region()}:${ACCOUNT}:execution:${recoveryTest.name}:${execution}` });
const rehearsalTags = (execution: string) =>
  resourceTags({
    purpose: 'failover',
    executionId: `arn:aws:states:${region()}:${ACCOUNT}:execution:${failover.name}:${execution}`,
    extra: { 'cdk-backup-dr:dry-run': 'true', 'cdk-backup-dr:strategy': 'restore-snapshot' },
  });

beforeAll(async () => {
  recoveryTest = await createTestStateMachine('RecoveryTest');
  failover = await createTestStateMachine('Failover');
  const runningName = `weekly-${randomBytes(3).toString('hex')}`;
  await recoveryTest.start({ selection: { latest: true } }, runningName);
  const rt = (execution: string) => resourceTags({ purpose: 'recovery-test', executionId: `arn:aws:states:${region()}:${ACCOUNT}:execution:${recoveryTest.name}:${execution}` });
  const fo = (execution: string, dryRun: boolean) =>
    resourceTags({ purpose: 'failover', executionId: `arn:aws:states:${region()}:${ACCOUNT}:execution:${failover.name}:${execution}`, extra: { 'cdk-backup-dr:dry-run': String(dryRun), 'cdk-backup-dr:strategy': 'restore-snapshot' } });
  const endedName = `timed-out-${randomBytes(3).toString('hex')}`;
  const ended = await leftover('cdkbdr-rt-', recoveryTest, endedName, rt(endedName), 'cdk-backup-dr/scratch/');
  const running = await leftover('cdkbdr-rt-', recoveryTest, runningName, rt(runningName), 'cdk-backup-dr/scratch/');
  const untaggedName = `foreign-${randomBytes(3).toString('hex')}`;
  const untagged = await leftover('cdkbdr-rt-', recoveryTest, untaggedName, []);
  const rehearsalName = `rehearsal-${randomBytes(3).toString('hex')}`;
  const rehearsal = await leftover('cdkbdr-fo-', failover, rehearsalName, fo(rehearsalName, true), 'cdk-backup-dr/failover/');
  const realName = `outage-${randomBytes(3).toString('hex')}`;
  const real = await leftover('cdkbdr-fo-', failover, realName, fo(realName, false));
  Object.assign(ids, { ended: ended.id, running: running.id, untagged: untagged.id, rehearsal: rehearsal.id, realFailover: real.id });
  Object.assign(secretArns, { ended: ended.secretArn, running: running.secretArn, rehearsal: rehearsal.secretArn });

  const app = new App();
  const stack = new Stack(app, 'SweeperLocal', { env: { account: ACCOUNT, region: region() } });
  const backups = new BackupBucket(stack, 'Backups');
  const vpc = threeTierVpc(stack);
  const topic = new sns.Topic(stack, 'Topic');
  const sweeper = new ScratchSweeper(stack, 'Sweeper', {
    workflows: [sfn.StateMachine.fromStateMachineArn(stack, 'RecoveryTest', recoveryTest.arn), sfn.StateMachine.fromStateMachineArn(stack, 'Failover', failover.arn)],
    bucket: backups,
    vpc,
    securityGroup: new ec2.SecurityGroup(stack, 'Sg', { vpc }),
    logsKey: new kms.Key(stack, 'LogsKey', { enableKeyRotation: true }),
    notificationTopic: topic,
  });
  bucket = await createTestBucket({ prefix: 'sweeper' });
  const key = await createKmsKey('sweeper reports');
  const topicArn = await createTopic();
  workflow = new LocalWorkflow({
    template: Template.fromStack(stack).toJSON(),
    stateMachine: logicalIdOf(sweeper.stateMachine),
    region: region(),
    handlers: { [logicalIdOf(sweeper.sweepFunction)]: sweepHandler },
    resources: {
      [logicalIdOf(backups.bucket)]: bucket,
      [logicalIdOf(backups.encryptionKey)]: { ref: key.keyId, attributes: { Arn: key.arn } },
      [logicalIdOf(topic)]: topicArn,
    },
  });
  inbox = await subscribeSnsInbox(topicArn);
}, 300_000);

async function report(reportKey: string): Promise<SweepReport> {
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: reportKey }));
  return JSON.parse(await object.Body!.transformToString()) as SweepReport;
}

async function secretExists(arn: string): Promise<boolean> {
  try {
    const out = await secrets.send(new DescribeSecretCommand({ SecretId: arn }));
    return out.DeletedDate === undefined;
  } catch {
    return false;
  }
}

describe('ScratchSweeper state machine, locally against moto', () => {
  it('a dry run plans the deletions and deletes nothing', async () => {
    const result = await workflow.run({ dryRun: true }, { executionName: `sweep-dry-${Date.now().toString(36)}` });
    expect(result.status).toBe('SUCCEEDED');
    const out = (result.output as { result: { reportKey: string; deleted: number } }).result;
    expect(out.deleted).toBe(0);
    const r = await report(out.reportKey);
    expect(r.resources.filter((x) => x.outcome === 'planned').map((x) => x.id).sort()).toEqual([ids.ended, ids.rehearsal, secretArns.ended, secretArns.rehearsal].sort());
    expect(await describeDbInstance(region(), ids.ended)).toBeDefined();
  });

  it('deletes the leftovers of ended executions and leaves a running one\'s, an untagged one and a real failover\'s database', async () => {
    const result = await workflow.run({}, { executionName: `sweep-${Date.now().toString(36)}` });
    expect(result.status).toBe('SUCCEEDED');
    expect(result.visited).toEqual(['Sweep', 'Sweep succeeded']);
    const out = (result.output as { result: { reportKey: string; deleted: number; running: number } }).result;
    expect(out).toMatchObject({ deleted: 4, running: 2 });
    for (const id of [ids.ended, ids.rehearsal]) expect(await describeDbInstance(region(), id)).toBeUndefined();
    for (const arn of [secretArns.ended, secretArns.rehearsal]) expect(await secretExists(arn)).toBe(false);
    for (const id of [ids.running, ids.untagged, ids.realFailover]) expect(await describeDbInstance(region(), id)).toBeDefined();
    expect(await secretExists(secretArns.running)).toBe(true);
    const r = await report(out.reportKey);
    const byId = Object.fromEntries(r.resources.map((x) => [x.id, x]));
    expect(byId[ids.ended]).toMatchObject({ kind: 'instance', outcome: 'deleted', reason: 'its execution ended without deleting it' });
    expect(byId[ids.running]).toMatchObject({ outcome: 'running' });
    expect(byId[ids.untagged]).toMatchObject({ outcome: 'not-ours', reason: 'no cdk-backup-dr:creator=cdk-backup-dr tag' });
    expect(byId[ids.realFailover]).toMatchObject({ outcome: 'not-ours', reason: expect.stringContaining("a failover's database") });
  });

  it("deletes an ended recovery test's Aurora cluster: the writer instance, then the cluster, then its secret", async () => {
    const name = `cluster-${randomBytes(3).toString('hex')}`;
    const left = await clusterLeftover('cdkbdr-rt-', recoveryTest, name, recoveryTestTags(name), 'cdk-backup-dr/scratch/');
    const result = await workflow.run({}, { executionName: `sweep-cluster-${Date.now().toString(36)}` });
    expect(result.status).toBe('SUCCEEDED');
    const out = (result.output as { result: { reportKey: string; deleted: number } }).result;
    expect(out.deleted).toBe(3);
    expect(await describeDbInstance(region(), left.instance)).toBeUndefined();
    expect(await describeDbCluster(region(), left.cluster)).toBeUndefined();
    expect(await secretExists(left.secretArn)).toBe(false);
    const r = await report(out.reportKey);
    const deleted = r.resources.filter((x) => x.outcome === 'deleted');
    expect(deleted.map((x) => [x.kind, x.id])).toEqual([
      ['instance', left.instance],
      ['cluster', left.cluster],
      ['secret', left.secretArn],
    ]);
    expect(r.status).toBe('SUCCEEDED');
  });

  it('a deletion RDS refuses (a protected rehearsal cluster) is reported, published to the topic, and ends the run FAILED', async () => {
    const name = `protected-${randomBytes(3).toString('hex')}`;
    const left = await clusterLeftover('cdkbdr-fo-', failover, name, rehearsalTags(name), 'cdk-backup-dr/failover/', true);
    const executionName = `sweep-refused-${Date.now().toString(36)}`;
    const result = await workflow.run({}, { executionName });
    expect(result.status).toBe('FAILED');
    expect(result.visited).toEqual(['Sweep', 'Notify failure', 'Sweep failed']);
    expect(result.error).toBe(SweepFailed.NAME);

    // The refusal does not stop the rest: the writer instance and the secret went, the cluster is still there.
    expect(await describeDbInstance(region(), left.instance)).toBeUndefined();
    expect(await secretExists(left.secretArn)).toBe(false);
    expect(await describeDbCluster(region(), left.cluster)).toBeDefined();

    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: SWEEP_REPORT_PREFIX }));
    const reportKey = (listed.Contents ?? []).map((o) => o.Key!).find((k) => k.endsWith(`-${executionName}.json`));
    expect(reportKey).toBeDefined();
    const r = await report(reportKey!);
    expect(r.status).toBe('FAILED');
    expect(r.deleted).toBe(2);
    expect(r.errors).toEqual([expect.stringContaining(`cluster ${left.cluster}: InvalidParameterCombination`)]);
    expect(r.resources.find((x) => x.id === left.cluster)).toMatchObject({ kind: 'cluster', outcome: 'failed', reason: expect.stringMatching(/deletion protection/) });

    const failures = (await inbox.messages()).filter((m) => m.subject === 'cdk-backup-dr: sweep FAILED');
    expect(failures).toHaveLength(1);
    const published = JSON.parse(failures[0].message) as { Error: string; Cause: string };
    expect(published.Error).toBe(SweepFailed.NAME);
    expect(published.Cause).toContain(reportKey!);
    expect(published.Cause).toContain(left.cluster);
  });
});

afterAll(async () => {
  for (const { cluster } of protectedClusters) {
    await rds.send(new ModifyDBClusterCommand({ DBClusterIdentifier: cluster, DeletionProtection: false, ApplyImmediately: true }));
    await rds.send(new DeleteDBClusterCommand({ DBClusterIdentifier: cluster, SkipFinalSnapshot: true }));
  }
  rds.destroy();
  secrets.destroy();
  s3.destroy();
});
