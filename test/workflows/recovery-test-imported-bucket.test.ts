/**
 * A RecoveryTest of a second app, whose stack imports the backup bucket that another app owns
 * (`BackupBucket.fromBucketAttributes` with the bucket's name and key ARN), run locally against moto and the harness'
 * PostgreSQL with the real handlers: it picks, restores and verifies a real dump from the imported bucket and writes
 * its report there. The owner app's bucket, bucket policy and key are recorded with the run
 * (recordResourcesOwnedElsewhere), so the IAM contract checks every call against the grants of the importing stack
 * and the owner's bucket policy and key policy, as AWS would.
 */
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { runDump } from '../../lambda/backup/dump-core';
import type { RecoveryTestReport } from '../../lambda/reporting/recovery-report';
import { RECOVERY_TEST_STATES as S } from '../../lib';
import { seedSource } from '../integration/dump/support';
import { createScratchNetwork } from '../integration/recovery/network';
import { harnessEnv } from '../support/env';
import { createKmsKey, createTestBucket, createTopic } from '../support/moto';
import { createTestDatabase, dropTestDatabase, withPgClient, type TestDatabase } from '../support/postgres';
import { recordResourcesOwnedElsewhere } from '../support/record-iam-calls';
import { type JsonValue, LocalWorkflow } from '../support/workflow-harness';
import {
  bucketOwnerStack,
  importedBucketRecoveryTestStack,
  LOCAL_ACCOUNT,
  recoveryHandlers,
  ScratchEndpointMapping,
  tableContents,
  type TableContent,
} from './recovery-test-support';

const SOURCE = 'rt-imported';
const s3 = new S3Client({});

let source: TestDatabase;
let fingerprint: TableContent[];
let bucket: string;
let keyArn: string;
let manifestKey: string;
let stack: ReturnType<typeof importedBucketRecoveryTestStack>;
let resources: Record<string, string | { ref: string; attributes: Record<string, string> }>;
const mapping = new ScratchEndpointMapping();

beforeAll(async () => {
  source = await createTestDatabase('rt_imported');
  await seedSource(source.name);
  fingerprint = await withPgClient(source.name, tableContents);

  // The owner app's bucket and key, as they exist in the account before the second app is deployed.
  bucket = await createTestBucket({ prefix: 'owned-elsewhere', versioned: true });
  const key = await createKmsKey('backups of another app');
  keyArn = key.arn;
  const { pg, awsRegion } = harnessEnv();
  const dump = await runDump({
    target: { host: pg.host, port: pg.port, user: pg.user, password: pg.password, database: source.name, sslMode: 'disable' },
    bucket,
    kmsKeyId: keyArn,
    source: SOURCE,
    tiers: ['daily'],
    s3,
    now: () => new Date(Date.now() - 60_000),
  });
  manifestKey = dump.manifestKey;

  const owner = bucketOwnerStack();
  recordResourcesOwnedElsewhere(owner.template, {
    region: awsRegion,
    accountId: LOCAL_ACCOUNT,
    stackName: 'BackupsOwner',
    resources: { [owner.ids.bucket]: bucket, [owner.ids.key]: { ref: key.keyId, attributes: { Arn: keyArn } } },
  });

  stack = importedBucketRecoveryTestStack({ bucketName: bucket, encryptionKeyArn: keyArn }, { sourceName: SOURCE, database: source.name });
  const network = await createScratchNetwork(`rti-${Date.now().toString(36)}`);
  resources = {
    [stack.ids.topic]: await createTopic(),
    [stack.ids.subnetGroup]: network.subnetGroupName,
    [stack.ids.scratchSecurityGroup]: { ref: network.securityGroupId, attributes: { GroupId: network.securityGroupId } },
  };
}, 300_000);

afterAll(async () => {
  await mapping.destroy();
  await dropTestDatabase(source.name);
});

describe('RecoveryTest of a second app against an imported bucket, locally against moto and PostgreSQL', () => {
  it('holds no bucket or bucket key of its own: the workflow only names the imported ones', () => {
    const types = Object.values((stack.template as { Resources: Record<string, { Type: string }> }).Resources).map((r) => r.Type);
    expect(types).not.toContain('AWS::S3::Bucket');
    expect(types).not.toContain('AWS::S3::BucketPolicy');
    expect(JSON.stringify(stack.template)).toContain(keyArn);
  });

  it('restores the newest dump from the imported bucket, verifies it, cleans up and reports into that bucket', async () => {
    let restored: TableContent[] | undefined;
    const workflow = new LocalWorkflow({
      template: stack.template,
      stateMachine: stack.ids.machine,
      region: harnessEnv().awsRegion,
      handlers: recoveryHandlers(stack.ids, mapping, {}, {
        afterVerify: async (database, m) => {
          restored = await m.withClient(database, tableContents);
        },
      }),
      resources,
    });
    const result = await workflow.run({ selection: { latest: true } } as JsonValue, { executionName: `imported-${Date.now().toString(36)}` });

    expect(result.status).toBe('SUCCEEDED');
    expect(result.visited).toEqual(expect.arrayContaining([S.pick, S.restore, S.verify, S.cleanup, S.report, S.passed]));
    expect(restored).toEqual(fingerprint);

    const reportKey = (result.calls.find((c) => c.state === S.report && c.output !== undefined)?.output as { reportKey?: string } | undefined)?.reportKey;
    expect(reportKey).toMatch(/^reports\/recovery-test\//);
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: reportKey }));
    expect(object.SSEKMSKeyId).toBe(keyArn);
    const report = JSON.parse((await object.Body?.transformToString()) ?? '') as RecoveryTestReport;
    expect(report).toMatchObject({ status: 'SUCCEEDED', source: SOURCE, backup: { id: manifestKey }, cleanup: { status: 'done' } });
  });
});
