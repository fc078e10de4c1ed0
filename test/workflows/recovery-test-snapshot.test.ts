/**
 * The RecoveryTest state machine for RDS instance snapshots, locally: the backup workflow's own snapshot (in moto) is
 * picked, restored into a scratch instance, given the scratch secret's password, verified with the validation
 * queries, and cleaned up. moto's restored instance has no server: its database is mapped to the snapshot's source
 * database on the harness server (see ./recovery-test-support), which the report lists as emulated.
 */
import { CreateDBSnapshotCommand } from '@aws-sdk/client-rds';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createDbInstance, describeDbInstance, generatePassword, scratchIdentifier } from '../../lambda/rds/instances';
import { rdsClient } from '../../lambda/rds/client';
import type { RecoveryTestReport } from '../../lambda/reporting/recovery-report';
import { snapshotTags } from '../../lambda/rds/snapshot';
import { scratchSecretName } from '../../lambda/aws/secrets';
import { RECOVERY_TEST_STATES as S, TestedBackups } from '../../lib';
import { seedSource } from '../integration/dump/support';
import { createScratchNetwork } from '../integration/recovery/network';
import { harnessEnv } from '../support/env';
import { createKmsKey, createTestBucket, createTopic, subscribeSnsInbox, type SnsInbox } from '../support/moto';
import { createTestDatabase, dropTestDatabase, type TestDatabase } from '../support/postgres';
import { LocalWorkflow, type LocalWorkflowResult } from '../support/workflow-harness';
import { recoveryHandlers, recoveryTestStack, ScratchEndpointMapping, secretExists } from './recovery-test-support';

const region = harnessEnv().awsRegion;
const source = `rt-snap-${Date.now().toString(36)}`;
const snapshotId = `cdkbdr-${source}-20240101000000`;
let data: TestDatabase;
let bucket: string;
let inbox: SnsInbox;
let workflow: LocalWorkflow;
let mapping: ScratchEndpointMapping;

beforeAll(async () => {
  data = await createTestDatabase('rt_snapshot_data');
  await seedSource(data.name);
  const network = await createScratchNetwork(`rtsnap-${Date.now().toString(36)}`);
  await createDbInstance(region, {
    subnetGroupName: network.subnetGroupName,
    securityGroupIds: [network.securityGroupId],
    identifier: source,
    engineVersion: '15',
    instanceClass: 'db.t4g.micro',
    masterUsername: 'app_owner',
    masterPassword: generatePassword(),
    tags: [],
  });
  await rdsClient(region).send(
    new CreateDBSnapshotCommand({ DBInstanceIdentifier: source, DBSnapshotIdentifier: snapshotId, Tags: snapshotTags({ sourceIdentifier: source, tiers: ['daily'] }) }),
  );
  bucket = await createTestBucket({ prefix: 'recovery-snapshot' });
  const key = await createKmsKey('recovery snapshot reports');
  const topicArn = await createTopic();
  inbox = await subscribeSnsInbox(topicArn);
  const stack = recoveryTestStack({
    sourceName: source,
    database: data.name,
    backups: TestedBackups.instanceSnapshots({ instanceIdentifier: source, database: data.name }),
    validationQueries: [{ name: 'orders-present', sql: 'SELECT count(*) = 7000 FROM sales.orders' }],
  });
  mapping = new ScratchEndpointMapping(data.name);
  workflow = new LocalWorkflow({
    template: stack.template,
    stateMachine: stack.ids.machine,
    region,
    handlers: recoveryHandlers(stack.ids, mapping, {}),
    resources: {
      [stack.ids.bucket]: bucket,
      [stack.ids.key]: { ref: key.keyId, attributes: { Arn: key.arn } },
      [stack.ids.topic]: topicArn,
      [stack.ids.subnetGroup]: network.subnetGroupName,
      [stack.ids.scratchSecurityGroup]: { ref: network.securityGroupId, attributes: { GroupId: network.securityGroupId } },
    },
  });
}, 120_000);

afterAll(async () => {
  await mapping.destroy();
  await dropTestDatabase(data.name);
});

async function reportOf(result: LocalWorkflowResult): Promise<RecoveryTestReport> {
  const call = result.calls.find((c) => c.state === S.report && c.output !== undefined);
  const key = (call?.output as { reportKey: string }).reportKey;
  const s3 = new S3Client({});
  try {
    return JSON.parse((await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body?.transformToString()) ?? '') as RecoveryTestReport;
  } finally {
    s3.destroy();
  }
}

describe('RecoveryTest of instance snapshots, locally', () => {
  it('restores the newest own snapshot, resets its password, verifies, cleans up and succeeds', async () => {
    const executionName = `snap-ok-${Date.now().toString(36)}`;
    const result = await workflow.run({ selection: { latest: true } }, { executionName });
    expect(result.status).toBe('SUCCEEDED');
    expect(result.visited).toEqual([
      'Selection given?',
      'Start run',
      S.pick,
      S.create,
      S.wait,
      S.setPassword,
      S.waitPassword,
      S.verify,
      S.cleanup,
      S.deleteDatabase,
      S.deleteSecret,
      S.report,
      S.notify,
      'Outcome?',
      S.passed,
    ]);
    const create = result.calls.find((c) => c.state === S.create);
    expect(create?.input).toMatchObject({ source: { type: 'snapshot', snapshotId, masterUsername: 'app_owner' } });

    const report = await reportOf(result);
    expect(report).toMatchObject({
      status: 'SUCCEEDED',
      kind: 'snapshot',
      backup: { kind: 'snapshot', id: snapshotId, snapshot: { snapshotKind: 'instance', sourceIdentifier: source } },
      cleanup: { status: 'done' },
    });
    expect(report.checks.map((c) => [c.name, c.passed])).toEqual([
      ['tables present', true],
      ['query orders-present', true],
      ['cleanup', true],
    ]);
    expect(report.timings.restoreSeconds).toBeUndefined();
    expect(report.timings.rtoSeconds).toBeCloseTo((report.timings.provisionSeconds ?? NaN) + (report.timings.verifySeconds ?? NaN), 2);
    expect(report.emulated?.[0]).toMatch(/the verify ran against the snapshot's source database/);

    const scratchId = scratchIdentifier(result.executionArn, executionName);
    expect(await describeDbInstance(region, scratchId)).toBeUndefined();
    expect(await secretExists(scratchSecretName(scratchId))).toBe(false);
    expect(await describeDbInstance(region, source)).toBeDefined();
    const messages = (await inbox.messages()).map((m) => JSON.parse(m.message) as { executionId: string; status: string });
    expect(messages).toContainEqual(expect.objectContaining({ executionId: result.executionArn, status: 'SUCCEEDED' }));
  });

  it('fails an unknown snapshot before restoring anything', async () => {
    const executionName = `snap-unknown-${Date.now().toString(36)}`;
    const result = await workflow.run({ selection: { snapshotId: 'cdkbdr-nothing-20200101000000' } }, { executionName });
    expect(result.status).toBe('FAILED');
    expect(result.cause).toMatch(/^pick failed with BackupNotFound: there is no instance snapshot "cdkbdr-nothing-20200101000000"/);
    expect(result.calls.map((c) => c.state)).not.toContain(S.create);
    expect(await describeDbInstance(region, scratchIdentifier(result.executionArn, executionName))).toBeUndefined();
    const messages = (await inbox.messages()).map((m) => JSON.parse(m.message) as { executionId: string; status: string });
    expect(messages).toContainEqual(expect.objectContaining({ executionId: result.executionArn, status: 'FAILED' }));
  });
});
