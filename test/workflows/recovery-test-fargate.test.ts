/**
 * A dump RecoveryTest whose restore runs on the Fargate runner (BackupRunner.fargate), run by the local runner: the
 * Restore dump state starts the task entrypoint as a child process that restores with the host's pg_restore and
 * answers through the runner's loopback Step Functions endpoint; the scratch instance in moto is mapped to a database
 * on the harness server as for the Lambda (the task's event is mapped before the task starts, the same mapping).
 */
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Duration } from 'aws-cdk-lib';
import { runDump } from '../../lambda/backup/dump-core';
import type { RecoveryTestReport } from '../../lambda/reporting/recovery-report';
import { handler as unreportedEndHandler } from '../../lambda/reporting/unreported-end.handler';
import type { TargetInput } from '../../local/database-mapping';
import { BackupRunner, RECOVERY_TEST_STATES as S } from '../../lib';
import { seedSource } from '../integration/dump/support';
import { createScratchNetwork } from '../integration/recovery/network';
import { harnessEnv } from '../support/env';
import { createKmsKey, createTestBucket, createTopic } from '../support/moto';
import { createTestDatabase, dropTestDatabase, withPgClient, type TestDatabase } from '../support/postgres';
import { type JsonValue, LocalWorkflow } from '../support/workflow-harness';
import { recoveryHandlers, recoveryTestStack, ScratchEndpointMapping, tableContents, type TableContent } from './recovery-test-support';

const SOURCE = 'rt-fargate';
const asObject = (value: JsonValue | undefined): Record<string, JsonValue> => (value ?? {}) as Record<string, JsonValue>;
const s3 = new S3Client({});
let source: TestDatabase;
let fingerprint: TableContent[];
let bucket: string;
let manifestKey: string;
let stack: ReturnType<typeof recoveryTestStack>;
let resources: Record<string, string | { ref: string; attributes: Record<string, string> }>;
const mappings: ScratchEndpointMapping[] = [];

beforeAll(async () => {
  source = await createTestDatabase('rt_fargate');
  await seedSource(source.name);
  fingerprint = await withPgClient(source.name, tableContents);
  bucket = await createTestBucket({ prefix: 'recovery-fargate', versioned: true });
  const kmsKeyArn = (await createKmsKey('recovery test fargate backups')).arn;
  const topicArn = await createTopic();
  const network = await createScratchNetwork(`rtf-${Date.now().toString(36)}`);
  const { pg } = harnessEnv();
  manifestKey = (
    await runDump({
      target: { host: pg.host, port: pg.port, user: pg.user, password: pg.password, database: source.name, sslMode: 'disable' },
      bucket,
      kmsKeyId: kmsKeyArn,
      source: SOURCE,
      tiers: ['daily'],
      s3,
    })
  ).manifestKey;
  stack = recoveryTestStack({ sourceName: SOURCE, database: source.name, rpo: Duration.hours(24), runner: BackupRunner.fargate({ timeout: Duration.hours(1) }) });
  const family = (stack.template.Resources as Record<string, { Properties: { Family: string } }>)[stack.ids.restoreTask!].Properties.Family;
  resources = {
    [stack.ids.bucket]: bucket,
    [stack.ids.key]: { ref: kmsKeyArn.slice(kmsKeyArn.lastIndexOf('/') + 1), attributes: { Arn: kmsKeyArn } },
    [stack.ids.topic]: topicArn,
    [stack.ids.subnetGroup]: network.subnetGroupName,
    [stack.ids.scratchSecurityGroup]: { ref: network.securityGroupId, attributes: { GroupId: network.securityGroupId } },
    [stack.ids.restoreTask!]: `arn:aws:ecs:${harnessEnv().awsRegion}:123456789012:task-definition/${family}:1`,
  };
}, 300_000);

afterAll(async () => {
  for (const mapping of mappings) await mapping.destroy();
  await dropTestDatabase(source.name);
  s3.destroy();
});

it('restores the newest dump in a Fargate task (child process), verifies it against the manifest, cleans up and reports SUCCEEDED', async () => {
  const mapping = new ScratchEndpointMapping();
  mappings.push(mapping);
  let restored: TableContent[] | undefined;
  const workflow = new LocalWorkflow({
    template: stack.template,
    stateMachine: stack.ids.machine,
    region: harnessEnv().awsRegion,
    handlers: {
      ...recoveryHandlers(stack.ids, mapping, {}, { afterVerify: async (database, m) => void (restored = await m.withClient(database, tableContents)) }),
      [stack.ids.unreportedEnd]: unreportedEndHandler,
    },
    tasks: {
      [stack.ids.restoreTask!]: {
        entrypoint: 'lambda/runner/task-entrypoint.ts',
        // The same mapping as the restore Lambda's wrapper: the scratch endpoint in moto -> a database on the harness server.
        prepareOverrides: async (overrides) => {
          const event = JSON.parse(overrides.TASK_INPUT) as { target: TargetInput };
          return { ...overrides, TASK_INPUT: JSON.stringify({ ...event, target: await mapping.map(event.target) }) };
        },
      },
    },
    resources,
    extraEnv: { PG_RESTORE_PATH: 'pg_restore', POWERTOOLS_LOG_LEVEL: 'ERROR', RUNNER_HEARTBEAT_SECONDS: '0.2' },
  });
  const result = await workflow.run({ selection: { latest: true } } as JsonValue, { executionName: `rtf-${Date.now().toString(36)}` });
  expect({ status: result.status, error: result.error, cause: result.cause }).toEqual({ status: 'SUCCEEDED' });
  const restoreCalls = result.calls.filter((call) => call.state === S.restore);
  expect(restoreCalls.map((call) => call.target)).toEqual([`ecs:${stack.ids.restoreTask}`]);
  // SendTaskSuccess's output is the restore handler's, as the Lambda returns it.
  expect(restoreCalls[0].output).toMatchObject({ mode: 'stream', restoredBytes: expect.any(Number) });
  expect(JSON.parse(String((asObject(asObject(restoreCalls[0].input).Overrides).ContainerOverrides as Array<{ Environment: Array<{ Value: string }> }>)[0].Environment[1].Value))).toMatchObject({ manifestKey });
  expect(restored).toEqual(fingerprint);
  const reportKey = (result.calls.find((c) => c.state === S.report && c.output !== undefined)?.output as { reportKey?: string }).reportKey;
  const report = JSON.parse(String(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: reportKey }))).Body?.transformToString())) as RecoveryTestReport;
  expect(report).toMatchObject({ status: 'SUCCEEDED', cleanup: { status: 'done' } });
  expect(result.emulated.join('\n')).toMatch(/the container ran as a child process/);
});
